import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTaskArn } from '../../../runtime/agent/src/ecs-metadata';
import { startTaskEndpoint, type TaskEndpoint } from './fixtures/task-endpoint';

const TASK_ARN = 'arn:aws:ecs:eu-west-1:111111111111:task/acme-cluster/0123456789abcdef';

/** A metadata endpoint that misbehaves: `/hang/task` never answers, `/junk/task` is not JSON, `/big/task` never ends. */
function badEndpoint(): Promise<{ base: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.url === '/junk/task') {
      res.end('<html>not metadata</html>');
    } else if (req.url === '/big/task') {
      res.write('{"TaskARN":"');
      const timer = setInterval(() => res.write('x'.repeat(64 * 1024)), 5);
      res.on('close', () => clearInterval(timer));
    }
    // /hang/task: headers never come.
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }),
    ),
  );
}

let endpoint: TaskEndpoint;
let bad: { base: string; server: Server };
beforeAll(async () => {
  endpoint = await startTaskEndpoint(TASK_ARN);
  bad = await badEndpoint();
});
afterAll(async () => {
  await endpoint.close();
  bad.server.closeAllConnections();
  await new Promise<void>((resolve) => bad.server.close(() => resolve()));
});

describe('readTaskArn (ECS task metadata v4)', () => {
  it('reads the task ARN from <ECS_CONTAINER_METADATA_URI_V4>/task', async () => {
    await expect(readTaskArn(endpoint.injected)).resolves.toBe(TASK_ARN);
    expect(endpoint.requests.at(-1)).toEqual({
      path: `${new URL(endpoint.injected.ECS_CONTAINER_METADATA_URI_V4).pathname}/task`,
      status: 200,
    });
  });

  it('is absent outside ECS, and on a 404, a body that is not JSON or not an http:// URL', async () => {
    await expect(readTaskArn({})).resolves.toBeUndefined();
    await expect(
      readTaskArn({ ECS_CONTAINER_METADATA_URI_V4: `${endpoint.base}/v4/guessed` }),
    ).resolves.toBeUndefined();
    await expect(readTaskArn({ ECS_CONTAINER_METADATA_URI_V4: `${bad.base}/junk` })).resolves.toBeUndefined();
    await expect(readTaskArn({ ECS_CONTAINER_METADATA_URI_V4: 'not a url' })).resolves.toBeUndefined();
  });

  it('gives up after its timeout on an endpoint that never answers, and on one whose answer never ends', async () => {
    for (const which of ['hang', 'big']) {
      const started = Date.now();
      await expect(
        readTaskArn({ ECS_CONTAINER_METADATA_URI_V4: `${bad.base}/${which}` }, 300),
      ).resolves.toBeUndefined();
      expect(Date.now() - started, which).toBeLessThan(2_000);
    }
  });
});
