import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApiHandler } from '../../../runtime/control-plane/api';
import { originSecretFetcher } from '../../../runtime/control-plane/aws/origin-secret';
import { createCredentialsHandler } from '../../../runtime/control-plane/credentials';
import { originChecked } from '../../../runtime/control-plane/handlers/origin';
import type { HttpEvent, HttpResult } from '../../../runtime/control-plane/http';
import {
  CACHE_TTL_MS,
  matchesAny,
  MISMATCH_REFRESH_MS,
  ORIGIN_VERIFY_HEADER,
  ORIGIN_VERIFY_SECRET_ENV,
  OriginVerifier,
  REFUSED_MESSAGE,
  withOriginCheck,
} from '../../../runtime/control-plane/origin-verify';
import { AUTH, Clock, httpEvent, silentLogger } from './support/fixtures';

const CURRENT = 'c'.repeat(40) + 'CURRENT0123456789abcdefghijkl';
const PREVIOUS = 'p'.repeat(40) + 'PREVIOUS012345678abcdefghijkl';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:OriginVerifySecret-AbCdEf';

/** A fetcher over a mutable list of values, counting reads. */
function fakeSecret(values: string[] = [CURRENT]) {
  const state = { values, reads: 0, fail: false };
  const fetchValues = async () => {
    state.reads += 1;
    if (state.fail) throw new Error('Secrets Manager unreachable');
    return [...state.values];
  };
  return { state, fetchValues };
}

const withHeader = (event: HttpEvent, value: string | undefined): HttpEvent => ({
  ...event,
  headers: value === undefined ? { ...event.headers } : { ...event.headers, [ORIGIN_VERIFY_HEADER]: value },
});

const body = (result: HttpResult) => JSON.parse(result.body as string);

describe('matchesAny (constant-time comparison)', () => {
  it('accepts any listed value, refuses others, of any length, and never matches an empty expected value', () => {
    expect(matchesAny(CURRENT, [CURRENT, PREVIOUS])).toBe(true);
    expect(matchesAny(PREVIOUS, [CURRENT, PREVIOUS])).toBe(true);
    expect(matchesAny(CURRENT.slice(0, -1), [CURRENT])).toBe(false);
    expect(matchesAny(`${CURRENT}x`, [CURRENT])).toBe(false);
    expect(matchesAny('', [''])).toBe(false);
    expect(matchesAny('x', [])).toBe(false);
  });
});

describe('OriginVerifier', () => {
  let clock: Clock;
  beforeEach(() => {
    clock = new Clock();
  });

  it('refuses a missing or empty header without reading the secret', async () => {
    const secret = fakeSecret();
    const verifier = new OriginVerifier({ fetchValues: secret.fetchValues, now: clock.now });
    expect(await verifier.verify(undefined)).toBe('refused');
    expect(await verifier.verify('')).toBe('refused');
    expect(secret.state.reads).toBe(0);
  });

  it('accepts the current and the previous version, refuses anything else, reading the secret once per TTL', async () => {
    const secret = fakeSecret([CURRENT, PREVIOUS]);
    const verifier = new OriginVerifier({ fetchValues: secret.fetchValues, now: clock.now });
    expect(await verifier.verify(CURRENT)).toBe('accepted');
    expect(await verifier.verify(PREVIOUS)).toBe('accepted');
    expect(await verifier.verify('forged')).toBe('refused');
    expect(secret.state.reads).toBe(1);
    clock.advance(CACHE_TTL_MS);
    expect(await verifier.verify(CURRENT)).toBe('accepted');
    expect(secret.state.reads).toBe(2);
  });

  it('during a rotation: accepts the new value as soon as CloudFront sends it, and the old one while it is AWSPREVIOUS', async () => {
    const secret = fakeSecret([PREVIOUS]);
    const verifier = new OriginVerifier({ fetchValues: secret.fetchValues, now: clock.now });
    expect(await verifier.verify(PREVIOUS)).toBe('accepted');
    // put-secret-value: the new value is AWSCURRENT, the old one AWSPREVIOUS; CloudFront still sends the old one.
    secret.state.values = [CURRENT, PREVIOUS];
    clock.advance(MISMATCH_REFRESH_MS);
    expect(await verifier.verify(PREVIOUS)).toBe('accepted'); // from the cache
    // The deploy has reached an edge location: it sends the new value, which the cache does not hold yet.
    expect(await verifier.verify(CURRENT)).toBe('accepted');
    expect(await verifier.verify(PREVIOUS)).toBe('accepted');
    expect(secret.state.reads).toBe(2);
  });

  it('a flood of forged values costs at most one read per interval', async () => {
    const secret = fakeSecret();
    const verifier = new OriginVerifier({ fetchValues: secret.fetchValues, now: clock.now });
    for (let i = 0; i < 50; i++) expect(await verifier.verify(`forged-${i}`)).toBe('refused');
    expect(secret.state.reads).toBe(1);
    clock.advance(MISMATCH_REFRESH_MS);
    for (let i = 0; i < 50; i++) expect(await verifier.verify(`forged-${i}`)).toBe('refused');
    expect(secret.state.reads).toBe(2);
  });

  it('concurrent first requests share one read', async () => {
    const secret = fakeSecret();
    const verifier = new OriginVerifier({ fetchValues: secret.fetchValues, now: clock.now });
    const verdicts = await Promise.all(Array.from({ length: 10 }, () => verifier.verify(CURRENT)));
    expect(verdicts).toEqual(Array(10).fill('accepted'));
    expect(secret.state.reads).toBe(1);
  });

  it('fails closed when the secret was never readable; keeps the last values when a later read fails', async () => {
    const secret = fakeSecret();
    secret.state.fail = true;
    const verifier = new OriginVerifier({ fetchValues: secret.fetchValues, now: clock.now });
    await expect(verifier.verify(CURRENT)).rejects.toThrow(/unreachable/);
    secret.state.fail = false;
    expect(await verifier.verify(CURRENT)).toBe('accepted');
    secret.state.fail = true;
    clock.advance(CACHE_TTL_MS + 1);
    expect(await verifier.verify(CURRENT)).toBe('accepted');
    expect(await verifier.verify('forged')).toBe('refused');
  });
});

describe('withOriginCheck around the real API and credential handlers', () => {
  let verifier: OriginVerifier;
  let secret: ReturnType<typeof fakeSecret>;
  const logger = silentLogger();
  const api = createApiHandler({ auth: AUTH, logger, lifecycle: {} as never, records: {} as never });
  const sm = new SecretsManagerClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  let smMock: ReturnType<typeof mockClient>;
  const credentials = createCredentialsHandler({
    auth: AUTH,
    logger,
    secrets: sm,
    deployment: 'acme',
    events: {} as never,
  });
  beforeAll(() => {
    smMock = mockClient(sm);
  });
  afterAll(() => smMock.restore());

  beforeEach(() => {
    secret = fakeSecret([CURRENT, PREVIOUS]);
    verifier = new OriginVerifier({ fetchValues: secret.fetchValues, now: new Clock().now });
    smMock.reset();
    smMock.on(PutSecretValueCommand).resolves({});
  });

  const refusedCases: Array<[string, HttpEvent]> = [
    ['an unknown route (would be 404)', httpEvent('GET /v1/nothing', { user: 'alice' })],
    ['no token (would be 401)', httpEvent('GET /v1/agents')],
    ['someone not on the roster', httpEvent('GET /v1/agents', { user: 'mallory' })],
    [
      "another user's agent (would be 404)",
      httpEvent('GET /v1/agents/{agentId}', { user: 'bruno', pathParameters: { agentId: 'sales' } }),
    ],
    [
      'a malformed body (would be 400)',
      httpEvent('POST /v1/agents/{agentId}/messages', {
        user: 'alice',
        pathParameters: { agentId: 'sales' },
        rawBody: '{',
      }),
    ],
  ];

  it.each(refusedCases)(
    'refuses %s without the header: 403 JSON before routing, roster or body',
    async (_what, event) => {
      const inner = vi.fn(api);
      const result = await withOriginCheck(verifier, logger, inner)(withHeader(event, undefined));
      expect(result.statusCode).toBe(403);
      expect(result.headers?.['content-type']).toBe('application/json; charset=utf-8');
      expect(body(result)).toEqual({ message: REFUSED_MESSAGE, requestId: event.requestContext.requestId });
      expect(inner).not.toHaveBeenCalled();
    },
  );

  it.each(refusedCases)('refuses %s with a wrong header the same way', async (_what, event) => {
    const inner = vi.fn(api);
    for (const wrong of ['forged', CURRENT.toLowerCase(), `${CURRENT} `, PREVIOUS.slice(1)]) {
      const result = await withOriginCheck(verifier, logger, inner)(withHeader(event, wrong));
      expect(result.statusCode).toBe(403);
      expect(body(result).message).toBe(REFUSED_MESSAGE);
    }
    expect(inner).not.toHaveBeenCalled();
  });

  it('with the current or the previous value, the request reaches the handler and its own errors', async () => {
    const checked = withOriginCheck(verifier, logger, api);
    for (const value of [CURRENT, PREVIOUS]) {
      const unknown = await checked(withHeader(httpEvent('GET /v1/nothing', { user: 'alice' }), value));
      expect([unknown.statusCode, body(unknown).message]).toEqual([404, 'No such route.']);
      const stranger = await checked(withHeader(httpEvent('GET /v1/agents', { user: 'mallory' }), value));
      expect(stranger.statusCode).toBe(403);
      expect(body(stranger).message).toMatch(/not on the Cubicle roster/);
      const other = await checked(
        withHeader(
          httpEvent('GET /v1/agents/{agentId}', { user: 'bruno', pathParameters: { agentId: 'sales' } }),
          value,
        ),
      );
      expect(other.statusCode).toBe(404);
    }
  });

  it('the credential writer writes nothing for a request without the header, and writes with it', async () => {
    const event = httpEvent('PUT /v1/credentials/{provider}', {
      user: 'alice',
      pathParameters: { provider: 'anthropic' },
      body: { value: 'sk-test-0123456789' },
    });
    const checked = withOriginCheck(verifier, logger, credentials);
    expect((await checked(withHeader(event, undefined))).statusCode).toBe(403);
    expect((await checked(withHeader(event, 'forged'))).statusCode).toBe(403);
    expect(smMock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect((await checked(withHeader(event, PREVIOUS))).statusCode).toBe(204);
    expect(smMock.commandCalls(PutSecretValueCommand)).toHaveLength(1);
  });

  it('answers 503 JSON (and calls nothing) when the secret cannot be read at all', async () => {
    secret.state.fail = true;
    const inner = vi.fn(api);
    const result = await withOriginCheck(
      verifier,
      logger,
      inner,
    )(withHeader(httpEvent('GET /v1/agents', { user: 'alice' }), CURRENT));
    expect(result.statusCode).toBe(503);
    expect(body(result)).toMatchObject({ message: expect.stringMatching(/temporarily unavailable/) });
    expect(inner).not.toHaveBeenCalled();
  });

  it('finds the header whatever its case (API Gateway lower-cases it; a test event may not)', async () => {
    const inner = vi.fn(async () => ({ statusCode: 200 }));
    const event = httpEvent('GET /v1/agents', { user: 'alice' });
    const result = await withOriginCheck(
      verifier,
      logger,
      inner,
    )({ ...event, headers: { 'X-Cubicle-Origin-Verify': CURRENT } });
    expect(result.statusCode).toBe(200);
  });
});

describe('the entry wiring: originChecked reads AWSCURRENT and AWSPREVIOUS from Secrets Manager', () => {
  const mockSecretsManager = () => mockClient(SecretsManagerClient);
  let sm: ReturnType<typeof mockSecretsManager>;
  const previousEnv = process.env[ORIGIN_VERIFY_SECRET_ENV];
  beforeAll(() => {
    sm = mockSecretsManager();
  });
  afterAll(() => sm.restore());
  beforeEach(() => {
    sm.reset();
    process.env[ORIGIN_VERIFY_SECRET_ENV] = SECRET_ARN;
    process.env.AWS_REGION ??= 'eu-west-1';
  });
  afterEach(() => {
    if (previousEnv === undefined) delete process.env[ORIGIN_VERIFY_SECRET_ENV];
    else process.env[ORIGIN_VERIFY_SECRET_ENV] = previousEnv;
  });

  it("accepts both versions, refuses others, and asks for exactly this secret's two stages", async () => {
    sm.on(GetSecretValueCommand, { SecretId: SECRET_ARN, VersionStage: 'AWSCURRENT' }).resolves({
      SecretString: CURRENT,
    });
    sm.on(GetSecretValueCommand, { SecretId: SECRET_ARN, VersionStage: 'AWSPREVIOUS' }).resolves({
      SecretString: PREVIOUS,
    });
    const inner = vi.fn(async () => ({ statusCode: 200 }));
    const checked = originChecked(inner);
    const handler = (e: HttpEvent) => checked(e, silentLogger());
    const event = httpEvent('GET /v1/agents', { user: 'alice' });
    expect((await handler(withHeader(event, undefined))).statusCode).toBe(403);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    expect((await handler(withHeader(event, CURRENT))).statusCode).toBe(200);
    expect((await handler(withHeader(event, PREVIOUS))).statusCode).toBe(200);
    expect((await handler(withHeader(event, 'forged'))).statusCode).toBe(403);
    expect(inner).toHaveBeenCalledTimes(2);
    expect(sm.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: SECRET_ARN, VersionStage: 'AWSCURRENT' },
      { SecretId: SECRET_ARN, VersionStage: 'AWSPREVIOUS' },
    ]);
  });

  it('a secret never rotated has no AWSPREVIOUS: only the current value is accepted', async () => {
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves({ SecretString: CURRENT });
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).rejects(
      new ResourceNotFoundException({ message: 'no such version', $metadata: {} }),
    );
    const fetch = originSecretFetcher(new SecretsManagerClient({ region: 'eu-west-1' }), SECRET_ARN);
    expect(await fetch()).toEqual([CURRENT]);
  });

  it('any other read error fails the request closed (503), never open', async () => {
    sm.on(GetSecretValueCommand).rejects(new Error('AccessDeniedException'));
    const inner = vi.fn(async () => ({ statusCode: 200 }));
    const result = await originChecked(inner)(
      withHeader(httpEvent('GET /v1/agents', { user: 'alice' }), CURRENT),
      silentLogger(),
    );
    expect(result.statusCode).toBe(503);
    expect(inner).not.toHaveBeenCalled();
  });

  it('refuses to start without a valid secret ARN in the environment', () => {
    process.env[ORIGIN_VERIFY_SECRET_ENV] = 'not-an-arn';
    expect(() => originChecked(vi.fn())).toThrow(
      /CUBICLE_ORIGIN_VERIFY_SECRET_ARN must be a Secrets Manager secret ARN/,
    );
    delete process.env[ORIGIN_VERIFY_SECRET_ENV];
    expect(() => originChecked(vi.fn())).toThrow(/CUBICLE_ORIGIN_VERIFY_SECRET_ARN is not set/);
  });
});
