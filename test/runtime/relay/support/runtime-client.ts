/**
 * A hand-driven runtime connection for attack tests: signs the upgrade like the supervisor, then sends
 * whatever frames a test crafts (valid, forged, replayed, reordered, for another pair).
 */
import WebSocket from 'ws';
import { frameMac } from '../../../../runtime/shared/relay-mac';
import type { RuntimeOp } from '../../../../runtime/shared/relay-protocol';
import { signConnect, type AwsCredentials } from '../../../../runtime/shared/sigv4-connect';
import { wrap, type Client } from './clients';

export interface RawRuntime extends Client {
  connectionId: string;
  nonce?: Buffer;
  /** A signed frame of `ops` with sequence `seq` (under `nonce`, default the claimed one). */
  frame(seq: number, ops: RuntimeOp[], options?: { nonce?: Buffer; connectionId?: string }): string;
  claim(): Promise<Record<string, any>>;
  resume(nonce: Buffer): Promise<Record<string, any>>;
}

export async function openRuntime(url: string, credentials: AwsCredentials | undefined): Promise<RawRuntime> {
  const headers = credentials ? await signConnect(url, credentials, 'eu-west-1') : {};
  const ws = new WebSocket(url, { headers });
  const client = wrap(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      ws.on('error', () => undefined);
      resolve();
    });
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`handshake refused: ${res.statusCode}`), { status: res.statusCode }));
      ws.terminate();
    });
    ws.once('error', reject);
  });
  const raw: RawRuntime = {
    ...client,
    connectionId: '',
    frame(seq, ops, options = {}) {
      const body = JSON.stringify({ ops });
      const nonce = options.nonce ?? raw.nonce;
      if (!nonce) throw new Error('no nonce');
      return JSON.stringify({
        type: 'frame',
        seq,
        body,
        mac: frameMac(nonce, 'runtime', options.connectionId ?? raw.connectionId, seq, body),
      });
    },
    async claim() {
      client.send({ type: 'claim' });
      const answer = await client.next((m) => m.type === 'claimed' || m.type === 'error');
      if (answer.type === 'claimed') {
        raw.nonce = Buffer.from(answer.nonce, 'base64url');
        raw.connectionId = answer.connectionId;
      }
      return answer;
    },
    async resume(nonce) {
      const from = client.received.length;
      client.send({ type: 'hello' });
      const hello = await client.next((m) => m.type === 'hello', 5_000, from);
      raw.connectionId = hello.connectionId;
      raw.nonce = nonce;
      client.send({ type: 'resume', body: '{}', mac: frameMac(nonce, 'runtime', raw.connectionId, 0, '{}') });
      return client.next((m) => m.type === 'resumed' || m.type === 'error', 5_000, from);
    },
  };
  return raw;
}
