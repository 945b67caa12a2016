/**
 * Runs one control-plane function the way the Lambda runtime does: loads the bundle (its cold start
 * validates the environment and reads roster.json beside it), then calls `handler(event, context)` for
 * each invocation the parent sends over IPC, with a context whose remaining time counts down from the
 * function's timeout. Its stdout/stderr are the function's log (the parent writes them to a file).
 *
 * `node host.js <bundle> <timeoutMs> <functionName>`
 */
import { randomUUID } from 'node:crypto';

interface Invocation {
  readonly id: number;
  readonly event: unknown;
}

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

const [bundle, timeoutArg, functionName] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg);

function reply(message: unknown): void {
  if (process.connected) process.send!(message);
}

let handler: Handler;
try {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  handler = (require(bundle) as { handler: Handler }).handler;
  if (typeof handler !== 'function') throw new Error(`${bundle} exports no handler`);
} catch (error) {
  reply({ ready: false, error: (error as Error).message });
  process.exit(1);
}

process.on('message', (message: Invocation) => {
  void invoke(message);
});
// The parent went away: nothing can invoke this function any more.
process.on('disconnect', () => process.exit(0));
process.on('unhandledRejection', (error) => {
  process.stderr.write(`unhandled rejection in ${functionName}: ${(error as Error)?.stack ?? String(error)}\n`);
});

async function invoke({ id, event }: Invocation): Promise<void> {
  const requestId = randomUUID();
  const deadline = Date.now() + timeoutMs;
  const context = {
    awsRequestId: requestId,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    logGroupName: `/local/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`)),
        timeoutMs,
      );
    });
    const result = await Promise.race([handler(event, context), timeout]);
    reply({ id, result: result ?? null });
  } catch (error) {
    reply({
      id,
      error: { name: (error as Error).name ?? 'Error', message: (error as Error).message ?? String(error) },
    });
  } finally {
    clearTimeout(timer);
  }
}

reply({ ready: true });
