import type { Redactor } from '../../shared/redact';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * Structured JSON lines for operator logs. Every line is redacted after serialization, so a secret
 * in any field (or in an error message) is masked however it got there. Never log message bodies,
 * replies or tool inputs: log ids, types, counts and sizes.
 */
export class Logger {
  constructor(
    private readonly write: (line: string) => void,
    private readonly redactor: Redactor,
    private readonly base: Readonly<Record<string, unknown>> = {},
  ) {}

  child(fields: Record<string, unknown>): Logger {
    return new Logger(this.write, this.redactor, { ...this.base, ...fields });
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.emit('debug', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.emit('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.emit('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.emit('error', msg, fields);
  }

  private emit(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    const record: Record<string, unknown> = { time: new Date().toISOString(), level, msg, ...this.base };
    for (const [key, value] of Object.entries(fields))
      record[key] = value instanceof Error ? errorFields(value) : value;
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch {
      line = JSON.stringify({ time: record.time, level, msg, ...this.base, note: 'unserializable fields dropped' });
    }
    this.write(`${this.redactor.redact(line)}\n`);
  }
}

export function errorFields(error: Error): Record<string, unknown> {
  return { name: error.name, message: error.message.slice(0, 500) };
}
