import { ECSClient } from '@aws-sdk/client-ecs';
import { traced } from './tracing';

/** Standard retry mode backs off on ThrottlingException; the reaper adds its own backoff on top. */
export function ecsClient(): ECSClient {
  return traced(new ECSClient({ maxAttempts: 4, retryMode: 'standard' }));
}
