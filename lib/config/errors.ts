/**
 * A problem the platform engineer fixes in their config, lock file or repository (never a bug in
 * Cubicle): `cdk synth` prints its message alone, without a stack trace, and exits 1.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
    // The message says everything; a stack trace would only bury it in the CLI's output.
    this.stack = message;
  }
}
