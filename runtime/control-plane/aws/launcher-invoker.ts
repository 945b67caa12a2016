import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { Launcher, LaunchRequest } from '../launcher';
import { traced } from './tracing';

/**
 * The launcher function invoked asynchronously (`Event`): the caller learns that the launch was queued,
 * never its outcome, which lands in the session row. The payload is the request's three ids, nothing else.
 */
export function lambdaLauncher(functionName: string, lambda: LambdaClient = traced(new LambdaClient({}))): Launcher {
  return {
    async launch(request: LaunchRequest) {
      const { userId, agentId, sessionId } = request;
      const out = await lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'Event',
          Payload: new TextEncoder().encode(JSON.stringify({ userId, agentId, sessionId })),
        }),
      );
      if (out.StatusCode !== 202) throw new Error(`the launcher answered ${out.StatusCode ?? 'nothing'}`);
      return undefined;
    },
  };
}
