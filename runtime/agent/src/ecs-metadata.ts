/**
 * The task's own ARN from the ECS task metadata endpoint (v4), recorded in the session's `session.started` event.
 * Absent outside ECS. Read with node:http, which the supervisor has loaded anyway: a first `fetch` loads undici,
 * ~35 ms of CPU at start (issue 15: start-to-ready). The endpoint is plain HTTP on the task's link-local address.
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-fargate.html
 */
import { get } from 'node:http';

/** Metadata answers are a few KB; anything much larger is not the endpoint's. */
const MAX_BYTES = 256 * 1024;

export function readTaskArn(env: NodeJS.ProcessEnv, timeoutMs = 2_000): Promise<string | undefined> {
  const base = env.ECS_CONTAINER_METADATA_URI_V4;
  if (!base) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const fail = () => resolve(undefined);
    try {
      const request = get(`${base}/task`, { signal: AbortSignal.timeout(timeoutMs) }, (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          return fail();
        }
        const chunks: Buffer[] = [];
        let bytes = 0;
        response.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > MAX_BYTES) request.destroy();
          else chunks.push(chunk);
        });
        response.on('error', fail);
        response.on('aborted', fail);
        response.on('end', () => {
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { TaskARN?: unknown };
            resolve(typeof body.TaskARN === 'string' ? body.TaskARN : undefined);
          } catch {
            fail();
          }
        });
      });
      request.on('error', fail);
    } catch {
      fail(); // not an http:// URL
    }
  });
}
