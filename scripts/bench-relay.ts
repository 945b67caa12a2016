/**
 * `npm run bench:relay`: the relay on this machine, through the local `ws` adapter (local/relay/) with
 * the real handlers against dynalite, as test/runtime/relay does.
 *
 * 1. Event append → device latency: events appended one at a time (EventLog, as the relay's runtime
 *    handler appends them), each timed until a subscribed device's `ws` client has it (median, p99).
 * 2. Runtime frames per second: the supervisor's relay client sending one operation per frame (each
 *    waits for its ack), and operations per second when many are queued (batched into frames).
 */
import { performance } from 'node:perf_hooks';
import { RelayClient } from '../runtime/agent/src/relay-client';
import { EventLog } from '../runtime/shared/event-log';
import { pairKey } from '../runtime/shared/tables';
import { ISSUER } from '../test/support/tokens';
import { openDevice } from '../test/runtime/relay/support/clients';
import { startRelayEnv } from '../test/runtime/relay/support/relay-env';
import { TEST_CHAIN } from '../test/support/chain-key';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 300);
const FRAMES = Number(process.env.BENCH_FRAMES ?? 300);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING = '1';
  const env = await startRelayEnv({ deviceRate: { frames: 1_000_000, windowMs: 60_000 } });
  try {
    // 1. Latency.
    const device = await openDevice(env.deviceUrl, ISSUER.tokenFor('carol'));
    device.send({ type: 'subscribe', agentId: 'seven' });
    await device.next((m) => m.type === 'subscribed');
    const log = new EventLog(env.dynamo.doc, env.dynamo.tables.events, pairKey('carol', 'seven'), TEST_CHAIN);
    const latencies: number[] = [];
    for (let i = 0; i < EVENTS; i += 1) {
      const start = performance.now();
      const row = await log.append({ type: 'reply', requestId: 'bench', data: { text: `event ${i}` } });
      await device.next((m) => m.type === 'event' && m.seq === row.sk, 10_000, device.received.length - 1);
      latencies.push(performance.now() - start);
    }
    await device.close();
    latencies.sort((a, b) => a - b);

    // 2. Runtime frames.
    const task = await env.wake('carol', 'eight');
    const client = new RelayClient({
      url: env.runtimeUrl,
      region: 'eu-west-1',
      credentials: async () => task.credentials,
      log: { info: () => undefined, warn: () => undefined },
    });
    await client.start();
    let start = performance.now();
    for (let i = 0; i < FRAMES; i += 1) await client.call({ op: 'ping' });
    const framesPerSecond = FRAMES / ((performance.now() - start) / 1000);
    start = performance.now();
    await Promise.all(
      Array.from({ length: FRAMES }, (_, i) =>
        client.call({ op: 'event', type: 'reply', requestId: 'bench', data: { text: `op ${i}` } }),
      ),
    );
    const batchedOpsPerSecond = FRAMES / ((performance.now() - start) / 1000);
    await client.close();

    console.log('\nRelay through the local ws adapter (real handlers, dynalite on loopback, this machine)\n');
    console.table([
      {
        measure: 'event append → device (median)',
        value: `${percentile(latencies, 50).toFixed(1)} ms`,
        samples: EVENTS,
      },
      { measure: 'event append → device (p99)', value: `${percentile(latencies, 99).toFixed(1)} ms`, samples: EVENTS },
      { measure: 'runtime frames per second (1 op each, acked)', value: framesPerSecond.toFixed(0), samples: FRAMES },
      {
        measure: 'runtime event appends per second (batched frames)',
        value: batchedOpsPerSecond.toFixed(0),
        samples: FRAMES,
      },
    ]);
    console.log(
      "Latency includes the append (one conditional PutItem), the stream stand-in, the fan-out (a Query of the\npair's listeners, a PostToConnection over HTTP, a cursor UpdateItem) and the WebSocket frame. In AWS the\nstream adds its own delay (typically well under a second) and DynamoDB is faster than dynalite.",
    );
  } finally {
    await env.close();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
