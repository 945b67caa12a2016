/**
 * The task's own ARN from the ECS task metadata endpoint (v4), so the heartbeat only touches the
 * Sessions row while that row still names this task. Absent outside ECS.
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-fargate.html
 */
export async function readTaskArn(env: NodeJS.ProcessEnv, timeoutMs = 2_000): Promise<string | undefined> {
  const base = env.ECS_CONTAINER_METADATA_URI_V4;
  if (!base) return undefined;
  try {
    const response = await fetch(`${base}/task`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return undefined;
    const body = (await response.json()) as { TaskARN?: unknown };
    return typeof body.TaskARN === 'string' ? body.TaskARN : undefined;
  } catch {
    return undefined;
  }
}
