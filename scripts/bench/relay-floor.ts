/**
 * The relay's share of an agent's start-to-ready, alone (bench:runtime bundles this file and runs it as a process):
 * connect to the runtime relay with SigV4, claim the session's nonce, append `session.started`, print "ready".
 * Every supervisor must do at least this before it serves the inbox, with the same client code; the rest of its
 * start (secrets, workbench, skills, the guard socket) runs beside it. What it takes is set by node's start and the
 * relay stand-in (dynalite and the real handlers in the bench's process), not by the supervisor.
 */
import { RelayClient } from '../../runtime/agent/src/relay-client';

async function main(): Promise<void> {
  const { env } = process;
  const relay = new RelayClient({
    url: env.CUBICLE_RELAY_URL!,
    region: env.AWS_REGION ?? 'us-east-1',
    credentials: async () => ({
      accessKeyId: env.AWS_ACCESS_KEY_ID!,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY!,
      sessionToken: env.AWS_SESSION_TOKEN,
    }),
    log: { info: () => undefined, warn: (msg) => process.stderr.write(`${msg}\n`) },
  });
  await relay.start();
  await relay.call({ op: 'event', type: 'session.started', requestId: 'task-relay-floor', data: {} });
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => void relay.close(0).then(() => process.exit(0)));
}

void main().catch((error: Error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});
