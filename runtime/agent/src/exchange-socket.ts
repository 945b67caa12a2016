import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import * as path from 'node:path';

/**
 * A unix socket the supervisor serves to the workbench, in the exchange directory. The directory is the
 * supervisor's (mode 0755): the workbench, another uid, can connect to its sockets (mode 0666) but cannot
 * replace them with its own.
 */
export async function listenExchangeSocket(socketPath: string, accept: (socket: Socket) => void): Promise<Server> {
  mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o755 });
  rmSync(socketPath, { force: true });
  const server = createServer(accept);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  chmodSync(socketPath, 0o666);
  return server;
}
