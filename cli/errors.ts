/** Exit codes (README "For employees") and the one-line error every command ends with on failure. */
import { ApiError } from '../console/src/core/api';

export const EXIT = {
  ok: 0,
  /** Anything else: the service failed, the network is down. */
  failure: 1,
  /** The command line is wrong, or a value given to it is not usable. */
  usage: 2,
  /** Not signed in, or the sign-in expired. */
  auth: 3,
  /** No such agent, approval or credential target (or not yours). */
  notFound: 4,
  /** Refused: already decided, expired, not on the roster, invalid request. */
  refused: 5,
  /** `send` gave up waiting for the reply. */
  timeout: 6,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The exit code and the one line for any error. */
export function explain(error: unknown): { code: number; line: string } {
  if (error instanceof CliError) return { code: error.exitCode, line: error.message };
  if (error instanceof ApiError) {
    const line = error.requestId ? `${error.message} (request id: ${error.requestId})` : error.message;
    const code =
      error.status === 401
        ? EXIT.auth
        : error.status === 404
          ? EXIT.notFound
          : error.status === 0 || error.status >= 500
            ? EXIT.failure
            : EXIT.refused;
    return { code, line };
  }
  return { code: EXIT.failure, line: (error as Error)?.message ?? String(error) };
}
