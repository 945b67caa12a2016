import { describe, expect, it } from 'vitest';
import {
  MODEL_SESSION_MIN_REMAINING_MS,
  ModelCredentialSource,
  modelSessionName,
} from '../../../runtime/agent/src/model-credentials';

/** The model session's bookkeeping (runtime/agent/src/model-credentials.ts); the real flow is in e2e-providers. */
describe('model sessions', () => {
  it("name the pair for CloudTrail, within STS's 64 characters, one name per pair", () => {
    expect(modelSessionName('bruno', 'research')).toBe('bruno.research');
    const long = modelSessionName('a'.repeat(40), 'b'.repeat(40));
    const other = modelSessionName('a'.repeat(40), `${'b'.repeat(39)}c`);
    expect(long).toHaveLength(64);
    expect(long).toMatch(/^a{40}\.b{14}-[0-9a-f]{8}$/);
    expect(other).not.toBe(long);
  });

  it('assume once for runs that ask together, reuse the session while enough is left, and redact what they hand out', async () => {
    let now = 1_000_000;
    const calls: unknown[] = [];
    const redacted: string[] = [];
    const source = new ModelCredentialSource({
      roleArn: 'arn:aws:iam::111111111111:role/cubicle/acme/acme-bedrock-invoker',
      sessionName: 'bruno.research',
      now: () => now,
      redact: (s) => redacted.push(s),
      assume: async (request) => {
        calls.push(request);
        await new Promise((r) => setTimeout(r, 5));
        return {
          Credentials: {
            AccessKeyId: `ASIA${calls.length}`,
            SecretAccessKey: `secret-${calls.length}`,
            SessionToken: `token-${calls.length}`,
            Expiration: new Date(now + 3_600_000),
          },
          $metadata: {},
        };
      },
    });
    const [a, b] = await Promise.all([source.forRun(), source.forRun()]);
    expect(calls).toEqual([
      {
        roleArn: 'arn:aws:iam::111111111111:role/cubicle/acme/acme-bedrock-invoker',
        sessionName: 'bruno.research',
        durationSeconds: 3600,
      },
    ]);
    expect(a).toBe(b);
    now += 3_600_000 - MODEL_SESSION_MIN_REMAINING_MS; // exactly the minimum left: still reused
    expect((await source.forRun()).accessKeyId).toBe('ASIA1');
    now += 1;
    expect((await source.forRun()).accessKeyId).toBe('ASIA2');
    expect(redacted).toEqual(['secret-1', 'token-1', 'secret-2', 'token-2']);
  });
});
