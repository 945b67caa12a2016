import { describe, expect, it } from 'vitest';
import { CUSTOM_CREDENTIAL_PATTERNS } from '../../../lib/constructs/credential-masking';
import { MASK, Redactor } from '../../../runtime/shared/redact';
import { PROVIDER_TOKEN_SHAPES } from '../../../runtime/shared/providers';
import { TOKEN_SHAPES } from '../../../runtime/shared/token-shapes';
import { tokenSample } from '../../support/token-samples';

const own = TOKEN_SHAPES.filter((shape) => !PROVIDER_TOKEN_SHAPES.some((p) => p.name === shape.name));

describe('token shapes', () => {
  it('holds every provider shape, and names each shape once', () => {
    for (const shape of PROVIDER_TOKEN_SHAPES) expect(TOKEN_SHAPES.map((s) => s.name)).toContain(shape.name);
    expect(new Set(TOKEN_SHAPES.map((s) => s.name)).size).toBe(TOKEN_SHAPES.length);
  });

  for (const shape of own) {
    it(`${shape.name}: the redactor masks a sample${shape.inLogsPolicy ? ', and so does the logs policy' : ''}`, () => {
      const sample = tokenSample(shape.name);
      const redacted = new Redactor().redact(`key=${sample} ok`);
      expect(redacted).not.toContain(sample.slice(-8));
      expect(redacted).toContain(MASK);
      if (shape.inLogsPolicy) expect(new RegExp(shape.regex).test(`key=${sample}`)).toBe(true);
    });
  }

  it('the logs policy is exactly the shapes marked for it, in registry order', () => {
    expect(CUSTOM_CREDENTIAL_PATTERNS).toEqual(
      TOKEN_SHAPES.filter((s) => s.inLogsPolicy).map((s) => [s.name, s.regex]),
    );
  });

  it('keeps "Bearer" readable in the runtime, where CloudWatch masks it with the token', () => {
    expect(new Redactor().redact(`Authorization: ${tokenSample('BearerToken')}`)).toBe(`Authorization: Bearer ${MASK}`);
  });
});
