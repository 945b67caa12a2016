/**
 * Where local processes' logs go: one file per source under `<data>/logs/` (the functions' and the
 * agents' structured lines, as CloudWatch would hold them), and also to stderr with `--verbose`.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';

export class LogSink {
  private readonly streams = new Map<string, WriteStream>();
  private closed = false;

  constructor(
    readonly dir: string,
    private readonly verbose: boolean,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Appends everything `source` writes to `<dir>/<file>`; with --verbose, also to stderr, prefixed. */
  follow(source: Readable, file: string, prefix: string): void {
    const out = this.stream(file);
    source.on('data', (chunk: Buffer) => {
      // A process may still print while local mode stops; after close() its lines go nowhere.
      if (!this.closed) out.write(chunk);
      if (this.verbose) process.stderr.write(chunk.toString('utf8').replace(/^(?=.)/gm, `[${prefix}] `));
    });
  }

  /** One line from local mode itself (`local.log`). */
  line(message: string, fields: Record<string, unknown> = {}): void {
    const text = `${JSON.stringify({ time: new Date().toISOString(), msg: message, ...fields })}\n`;
    if (!this.closed) this.stream('local.log').write(text);
    if (this.verbose) process.stderr.write(`[local] ${text}`);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.streams.values()].map((s) => new Promise<void>((resolve) => s.end(resolve))));
    this.streams.clear();
  }

  private stream(file: string): WriteStream {
    let out = this.streams.get(file);
    if (!out) {
      const full = path.join(this.dir, file);
      mkdirSync(path.dirname(full), { recursive: true, mode: 0o700 });
      out = createWriteStream(full, { flags: 'a', mode: 0o600 });
      this.streams.set(file, out);
    }
    return out;
  }
}
