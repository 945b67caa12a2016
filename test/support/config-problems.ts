import { expect } from 'vitest';
import { ConfigError, parseConfigText, ParseOptions } from '../../lib/config/load';

/** The problem lines (`path: message`) of a config that must fail. */
export function problemLines(text: string, options: ParseOptions = {}): string[] {
  try {
    parseConfigText(text, 'test.yaml', options);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
  }
  throw new Error('expected the config to be rejected');
}
