/**
 * Masks secret values before text reaches a log line or a table row. Two layers:
 * the exact values a process loaded (and the encodings they commonly reappear in), and token shapes
 * that should never be logged whoever owns them.
 */

import { redactorPatterns } from './token-shapes';

export const MASK = '[REDACTED]';

/** Token shapes masked whoever owns them (runtime/shared/token-shapes.ts; CloudWatch masks a subset). */
export const TOKEN_PATTERNS: readonly RegExp[] = redactorPatterns();

/** Secrets shorter than this are not masked by value (they would mask ordinary text). */
export const MIN_SECRET_LENGTH = 6;

export class Redactor {
  private readonly values = new Set<string>();
  private sorted: string[] = [];

  /** Registers a secret value and its JSON-escaped, URL-encoded and base64 forms. */
  add(secret: string | undefined): void {
    if (!secret || secret.length < MIN_SECRET_LENGTH) return;
    const forms = [
      secret,
      JSON.stringify(secret).slice(1, -1),
      JSON.stringify(JSON.stringify(secret).slice(1, -1)).slice(1, -1),
      encodeURIComponent(secret),
      Buffer.from(secret, 'utf8').toString('base64'),
      Buffer.from(secret, 'utf8').toString('base64url'),
    ];
    for (const form of forms) if (form.length >= MIN_SECRET_LENGTH) this.values.add(form);
    // Multi-line secrets (PEM, JSON blobs) also leak line by line.
    for (const line of secret.split(/\r?\n/)) if (line.trim().length >= 16) this.values.add(line.trim());
    // Longest first, so a value that contains another is masked whole.
    this.sorted = [...this.values].sort((a, b) => b.length - a.length);
  }

  /** Registers a JSON secret: the whole text and every string leaf long enough to be bearer material. */
  addJson(text: string, depth = 0): void {
    this.add(text);
    try {
      visitStrings(JSON.parse(text), (s) => {
        if (s.length >= 16) this.add(s);
        // JSON inside JSON (a credential file stored as a string value).
        if (depth < 3 && /^\s*[[{]/.test(s)) this.addJson(s, depth + 1);
      });
    } catch {
      // not JSON: the whole text is already registered
    }
  }

  get size(): number {
    return this.values.size;
  }

  redact(text: string): string {
    let out = text;
    for (const value of this.sorted) if (out.includes(value)) out = out.split(value).join(MASK);
    for (const pattern of TOKEN_PATTERNS) out = out.replace(pattern, MASK);
    return out;
  }

  /** Redacts every string inside a JSON-like value (keys included). */
  redactValue<T>(value: T): T {
    return mapStrings(value, (s) => this.redact(s)) as T;
  }
}

function visitStrings(value: unknown, fn: (s: string) => void): void {
  if (typeof value === 'string') fn(value);
  else if (Array.isArray(value)) value.forEach((v) => visitStrings(v, fn));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => visitStrings(v, fn));
}

function mapStrings(value: unknown, fn: (s: string) => string): unknown {
  if (typeof value === 'string') return fn(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, fn));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [fn(k), mapStrings(v, fn)]));
  }
  return value;
}
