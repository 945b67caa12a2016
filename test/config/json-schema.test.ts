import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configJsonSchema } from '../../lib/config/json-schema';
import { REPO_ROOT } from '../support/example-config';

describe('config/schema.json', () => {
  it('is current with the zod schema (run `npm run schema` after changing lib/config/schema.ts)', () => {
    const committed = JSON.parse(readFileSync(path.join(REPO_ROOT, 'config', 'schema.json'), 'utf8'));
    expect(committed).toEqual(configJsonSchema());
  });

  it('is what the example points editors at', () => {
    const example = readFileSync(path.join(REPO_ROOT, 'config', 'example.yaml'), 'utf8');
    expect(example.split('\n')[0]).toBe('# yaml-language-server: $schema=./schema.json');
  });

  it('describes durations and ids as the file writes them', () => {
    const schema = configJsonSchema() as any;
    expect(schema.properties.runtime.properties.maxTaskDuration.type).toBe('string');
    expect(schema.properties.users.items.properties.id.pattern).toBe('^[a-z][a-z0-9-]*$');
    expect(schema.additionalProperties).toBe(false);
  });
});
