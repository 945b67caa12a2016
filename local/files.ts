import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Writes a file owner-only (0600) by writing a temporary file beside it and renaming it over the old
 * one, so a crash leaves either the old or the new content, never half of one.
 */
export function writeFileAtomic(file: string, content: string | Buffer): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, typeof content === 'string' ? Buffer.from(content, 'utf8') : content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
