/**
 * Sending to connected clients through API Gateway's @connections API (PostToConnection,
 * DeleteConnection). The same SDK calls reach the local adapter (local/relay/) through the client's
 * `endpoint`, so this code is what runs in AWS and locally.
 */
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';

export interface Poster {
  /** Sends one text frame; false when the connection is gone (the caller forgets it). */
  post(connectionId: string, message: unknown): Promise<boolean>;
  /** Closes the connection (the client sees the socket close). */
  close(connectionId: string): Promise<void>;
}

const isGone = (error: unknown) => error instanceof GoneException || (error as Error)?.name === 'GoneException';

export function managementPoster(client: ApiGatewayManagementApiClient): Poster {
  return {
    async post(connectionId, message) {
      try {
        const data = typeof message === 'string' ? message : JSON.stringify(message);
        await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from(data, 'utf8') }));
        return true;
      } catch (error) {
        if (isGone(error)) return false;
        throw error;
      }
    },
    async close(connectionId) {
      try {
        await client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
      } catch (error) {
        if (!isGone(error)) throw error;
      }
    },
  };
}

/** A management client for one API stage's callback URL (`https://<api>.execute-api.<region>.amazonaws.com/<stage>`). */
export function managementClient(endpoint: string): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({ endpoint, maxAttempts: 3 });
}
