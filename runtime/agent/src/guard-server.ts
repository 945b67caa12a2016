import { rmSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { listenExchangeSocket } from './exchange-socket';
import type { GuardRequest, GuardResponse } from './guard-protocol';

const MAX_REQUEST_BYTES = 1024 * 1024;

/**
 * Unix-socket server the hook command talks to. One request line, one answer line per connection.
 * Anything malformed is answered with a denial.
 */
export class GuardServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly socketPath: string,
    private readonly handle: (request: GuardRequest) => Promise<GuardResponse>,
    /** Told about every request refused unread (malformed, oversized, a forged answer): the operator log. */
    private readonly refused: (why: string) => void = () => undefined,
  ) {}

  async listen(): Promise<void> {
    this.server = await listenExchangeSocket(this.socketPath, (socket) => this.accept(socket));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setEncoding('utf8');
    let buffer = '';
    let answered = false;
    const answer = (response: GuardResponse) => {
      if (answered) return;
      answered = true;
      if (!socket.destroyed) socket.end(`${JSON.stringify(response)}\n`);
    };
    socket.on('data', (data: string) => {
      if (answered) return;
      buffer += data;
      if (buffer.length > MAX_REQUEST_BYTES) {
        this.refused('oversized request');
        return answer({ decision: 'deny', reason: 'tool call too large to review' });
      }
      const end = buffer.indexOf('\n');
      if (end === -1) return;
      let request: GuardRequest;
      try {
        request = JSON.parse(buffer.slice(0, end)) as GuardRequest;
        if (request.v !== 1 || typeof request.tool !== 'string') throw new Error('bad request');
      } catch {
        this.refused('unreadable request');
        return answer({ decision: 'deny', reason: 'unreadable tool call' });
      }
      this.handle(request).then(answer, () => answer({ decision: 'deny', reason: 'the tool guard failed; denied' }));
    });
  }
}
