import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AdminCreateUserCommand,
  AdminDeleteUserCommand,
  AdminDisableUserCommand,
  AdminEnableUserCommand,
  AdminUpdateUserAttributesCommand,
  AdminUserGlobalSignOutCommand,
  AliasExistsException,
  CognitoIdentityProviderClient,
  ListUsersCommand,
  UsernameExistsException,
  type AttributeType,
} from '@aws-sdk/client-cognito-identity-provider';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sendResponse } from '../../../runtime/control-plane/custom-resource';
import { DirectorySyncError, syncDirectory, type DirectoryUser } from '../../../runtime/control-plane/directory-sync';

/**
 * The directory sync against a fake user pool. Cognito has no local stand-in, so the fake sits at the SDK
 * client boundary (aws-sdk-client-mock) and keeps the state the real service would: users with their
 * password/MFA state, enabled flags, verified-email aliases (unique), 60-user pages.
 */

const POOL = 'eu-west-1_AbCdEf123';

interface FakeUser {
  username: string;
  email: string;
  enabled: boolean;
  /** Stands for everything an update must keep: the password and the MFA enrolment. */
  secret: string;
  signedOut: number;
}

class FakePool {
  readonly users = new Map<string, FakeUser>();
  readonly mock = mockClient(CognitoIdentityProviderClient);
  readonly client = new CognitoIdentityProviderClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  private created = 0;

  constructor() {
    this.mock.on(ListUsersCommand).callsFake((input) => {
      expect(input.UserPoolId).toBe(POOL);
      const all = [...this.users.values()].sort((a, b) => (a.username < b.username ? -1 : 1));
      const start = Number(input.PaginationToken ?? 0);
      const page = all.slice(start, start + (input.Limit ?? 60));
      return {
        Users: page.map((u) => ({
          Username: u.username,
          Enabled: u.enabled,
          Attributes: [
            { Name: 'email', Value: u.email },
            { Name: 'email_verified', Value: 'true' },
          ],
        })),
        PaginationToken: start + page.length < all.length ? String(start + page.length) : undefined,
      };
    });
    this.mock.on(AdminCreateUserCommand).callsFake((input) => {
      if (this.users.has(input.Username!))
        throw new UsernameExistsException({ message: 'User account already exists', $metadata: {} });
      const email = emailOf(input.UserAttributes);
      const holder = this.aliasHolder(email);
      if (holder && !input.ForceAliasCreation)
        throw new AliasExistsException({ message: 'An account with the given email already exists.', $metadata: {} });
      if (holder) holder.email = `${holder.username}@released.invalid`; // the alias moves to the new user
      this.users.set(input.Username!, {
        username: input.Username!,
        email,
        enabled: true,
        secret: `pw+mfa-${++this.created}`,
        signedOut: 0,
      });
      return {};
    });
    this.mock.on(AdminUpdateUserAttributesCommand).callsFake((input) => {
      const user = this.get(input.Username!);
      const email = emailOf(input.UserAttributes);
      const holder = this.aliasHolder(email);
      if (holder && holder !== user)
        throw new AliasExistsException({ message: 'An account with the given email already exists.', $metadata: {} });
      user.email = email;
      return {};
    });
    this.mock.on(AdminDisableUserCommand).callsFake((input) => {
      this.get(input.Username!).enabled = false;
      return {};
    });
    this.mock.on(AdminEnableUserCommand).callsFake((input) => {
      this.get(input.Username!).enabled = true;
      return {};
    });
    this.mock.on(AdminUserGlobalSignOutCommand).callsFake((input) => {
      this.get(input.Username!).signedOut += 1;
      return {};
    });
    this.mock.on(AdminDeleteUserCommand).rejects(new Error('the sync must never delete a user'));
  }

  add(username: string, email: string, enabled = true): FakeUser {
    const user = { username, email, enabled, secret: `pw+mfa-of-${username}`, signedOut: 0 };
    this.users.set(username, user);
    return user;
  }

  writes(): number {
    return this.mock.calls().filter((c) => !(c.args[0] instanceof ListUsersCommand)).length;
  }

  sync(
    roster: readonly DirectoryUser[],
    options: { deadline?: number; now?: () => number; concurrency?: number } = {},
  ) {
    return syncDirectory(this.client, roster, { userPoolId: POOL, ...options });
  }

  private get(username: string): FakeUser {
    const user = this.users.get(username);
    if (!user) throw new Error(`UserNotFoundException: ${username}`);
    return user;
  }

  private aliasHolder(email: string): FakeUser | undefined {
    return [...this.users.values()].find((u) => u.email.toLowerCase() === email.toLowerCase());
  }
}

function emailOf(attributes: AttributeType[] | undefined): string {
  expect(attributes).toContainEqual({ Name: 'email_verified', Value: 'true' });
  return attributes!.find((a) => a.Name === 'email')!.Value!;
}

const roster = (...ids: string[]): DirectoryUser[] => ids.map((id) => ({ id, email: `${id}@acme.example` }));

let pool: FakePool;
beforeEach(() => {
  pool = new FakePool();
});
afterEach(() => {
  pool.mock.restore();
});

describe('directory sync', () => {
  it('creates every roster user with a verified email and an email invitation', async () => {
    const result = await pool.sync(roster('alice', 'bruno'));
    expect(result).toEqual({ created: ['alice', 'bruno'], emailUpdated: [], enabled: [], disabled: [], unchanged: 0 });
    const creates = pool.mock.commandCalls(AdminCreateUserCommand).map((c) => c.args[0].input);
    expect(creates.map((i) => [i.Username, i.DesiredDeliveryMediums, i.UserAttributes])).toEqual([
      [
        'alice',
        ['EMAIL'],
        [
          { Name: 'email', Value: 'alice@acme.example' },
          { Name: 'email_verified', Value: 'true' },
        ],
      ],
      [
        'bruno',
        ['EMAIL'],
        [
          { Name: 'email', Value: 'bruno@acme.example' },
          { Name: 'email_verified', Value: 'true' },
        ],
      ],
    ]);
  });

  it('is idempotent: a second run reads the pool and writes nothing', async () => {
    await pool.sync(roster('alice', 'bruno', 'chen'));
    pool.mock.resetHistory();
    const again = await pool.sync(roster('alice', 'bruno', 'chen'));
    expect(again).toEqual({ created: [], emailUpdated: [], enabled: [], disabled: [], unchanged: 3 });
    expect(pool.writes()).toBe(0);
    expect(pool.mock.commandCalls(ListUsersCommand)).toHaveLength(1);
  });

  it('updates a changed email in place: the same user keeps password and MFA, nothing is deleted or re-created', async () => {
    const alice = pool.add('alice', 'alice@acme.example');
    const result = await pool.sync([{ id: 'alice', email: 'alice.smith@acme.example' }]);
    expect(result.emailUpdated).toEqual(['alice']);
    expect(pool.users.get('alice')).toBe(alice);
    expect(alice).toMatchObject({ email: 'alice.smith@acme.example', secret: 'pw+mfa-of-alice', enabled: true });
    expect(pool.mock.commandCalls(AdminCreateUserCommand)).toEqual([]);
    expect(pool.mock.commandCalls(AdminDeleteUserCommand)).toEqual([]);
  });

  it('treats an email differing only in case as unchanged', async () => {
    pool.add('alice', 'Alice@ACME.example');
    expect((await pool.sync(roster('alice'))).unchanged).toBe(1);
    expect(pool.writes()).toBe(0);
  });

  it('disables and signs out a removed user, never deletes them; re-adding enables the same user again', async () => {
    pool.add('alice', 'alice@acme.example');
    const bruno = pool.add('bruno', 'bruno@acme.example');
    const removed = await pool.sync(roster('alice'));
    expect(removed.disabled).toEqual(['bruno']);
    expect(bruno).toMatchObject({ enabled: false, signedOut: 1, secret: 'pw+mfa-of-bruno' });
    expect(pool.mock.commandCalls(AdminDeleteUserCommand)).toEqual([]);

    pool.mock.resetHistory();
    expect((await pool.sync(roster('alice'))).disabled).toEqual([]); // already disabled: nothing to do
    expect(pool.writes()).toBe(0);

    const readded = await pool.sync(roster('alice', 'bruno'));
    expect(readded).toMatchObject({ enabled: ['bruno'], created: [] });
    expect(pool.users.get('bruno')).toBe(bruno);
    expect(bruno).toMatchObject({ enabled: true, secret: 'pw+mfa-of-bruno' });
  });

  it('moves an address between two roster users in one run (swap), whatever the order', async () => {
    const alice = pool.add('alice', 'a@acme.example');
    const bruno = pool.add('bruno', 'b@acme.example');
    // Both addresses are taken when the updates start: one must wait for the other.
    pool.add('tmp', 'tmp@acme.example');
    const result = await pool.sync([
      { id: 'alice', email: 'b@acme.example' },
      { id: 'bruno', email: 'c@acme.example' },
    ]);
    expect(result.emailUpdated).toEqual(['alice', 'bruno']);
    expect(result.disabled).toEqual(['tmp']);
    expect([alice.email, bruno.email]).toEqual(['b@acme.example', 'c@acme.example']);
  });

  it('gives a new user an address a removed user still holds (the roster is the truth)', async () => {
    const old = pool.add('old', 'desk@acme.example');
    const result = await pool.sync([{ id: 'new', email: 'desk@acme.example' }]);
    expect(result).toMatchObject({ created: ['new'], disabled: ['old'] });
    expect(pool.users.get('new')!.email).toBe('desk@acme.example');
    expect(old.enabled).toBe(false);
  });

  it('reads every page of a large pool and syncs 2,500 users, then writes nothing on a second run', async () => {
    const ids = Array.from({ length: 2500 }, (_, i) => `u${String(i).padStart(4, '0')}`);
    for (const id of ids.slice(0, 1000)) pool.add(id, `${id}@acme.example`);
    pool.add('gone', 'gone@acme.example');
    const result = await pool.sync(roster(...ids));
    expect(result.created).toHaveLength(1500);
    expect(result.unchanged).toBe(1000);
    expect(result.disabled).toEqual(['gone']);
    expect(pool.mock.commandCalls(ListUsersCommand)).toHaveLength(Math.ceil(1001 / 60));
    pool.mock.resetHistory();
    expect((await pool.sync(roster(...ids))).unchanged).toBe(2500);
    expect(pool.writes()).toBe(0);
    expect(pool.mock.commandCalls(ListUsersCommand)).toHaveLength(Math.ceil(2501 / 60));
  });

  it('keeps at most `concurrency` calls in flight', async () => {
    let inFlight = 0;
    let most = 0;
    pool.mock.on(AdminCreateUserCommand).callsFake(async () => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 2));
      inFlight -= 1;
      return {};
    });
    await pool.sync(roster(...Array.from({ length: 40 }, (_, i) => `u${i}`)), { concurrency: 5 });
    expect(most).toBe(5);
  });

  it('stops at the deadline with a clear error; the next run finishes the job', async () => {
    let clock = 0;
    pool.mock.on(AdminCreateUserCommand).callsFake((input) => {
      clock += 1;
      pool.add(input.Username!, emailOf(input.UserAttributes));
      return {};
    });
    const ids = Array.from({ length: 30 }, (_, i) => `u${String(i).padStart(2, '0')}`);
    await expect(pool.sync(roster(...ids), { deadline: 10, now: () => clock, concurrency: 1 })).rejects.toThrow(
      new DirectorySyncError(
        'ran out of time after 11 of 30 directory changes; deploy again to finish (the sync is idempotent)',
      ),
    );
    const rest = await pool.sync(roster(...ids));
    expect(rest.created).toHaveLength(19);
    expect(rest.unchanged).toBe(11);
  });

  it('reports failed changes after trying every other one', async () => {
    pool.mock
      .on(AdminCreateUserCommand, { Username: 'bad' })
      .rejects(Object.assign(new Error('Invalid email address format.'), { name: 'InvalidParameterException' }));
    await expect(pool.sync(roster('alice', 'bad', 'chen'))).rejects.toThrow(
      '1 of 3 directory changes failed (first: InvalidParameterException: Invalid email address format.); the next deploy retries them',
    );
    expect([...pool.users.keys()].sort()).toEqual(['alice', 'chen']);
  });
});

describe('custom resource response', () => {
  async function capture(
    run: (url: string) => Promise<void>,
  ): Promise<{ body: unknown; contentType: string | undefined; method: string | undefined }> {
    let seen: { body: unknown; contentType: string | undefined; method: string | undefined } | undefined;
    const server = createServer((req: IncomingMessage, res) => {
      let text = '';
      req.on('data', (d) => (text += d));
      req.on('end', () => {
        seen = { body: JSON.parse(text), contentType: req.headers['content-type'], method: req.method };
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}/presigned?X-Amz-Signature=abc`);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    return seen!;
  }

  const event = (url: string): CloudFormationCustomResourceEvent => ({
    RequestType: 'Update',
    ServiceToken: 'arn:aws:lambda:eu-west-1:111111111111:function:sync',
    ResponseURL: url,
    StackId: 'arn:aws:cloudformation:eu-west-1:111111111111:stack/acme-ControlPlane/1',
    RequestId: 'req-1',
    LogicalResourceId: 'DirectorySync',
    ResourceType: 'Custom::CubicleDirectorySync',
    PhysicalResourceId: `directory-sync-${POOL}`,
    ResourceProperties: { ServiceToken: 'x', UserPoolId: POOL },
    OldResourceProperties: { ServiceToken: 'x', UserPoolId: POOL },
  });

  it('PUTs SUCCESS with the counts to the presigned URL, with the empty content type it was signed for', async () => {
    const seen = await capture((url) =>
      sendResponse(event(url), {
        status: 'SUCCESS',
        physicalResourceId: `directory-sync-${POOL}`,
        data: { Created: 2 },
      }),
    );
    expect(seen.method).toBe('PUT');
    expect(seen.contentType ?? '').toBe('');
    expect(seen.body).toEqual({
      Status: 'SUCCESS',
      PhysicalResourceId: `directory-sync-${POOL}`,
      StackId: 'arn:aws:cloudformation:eu-west-1:111111111111:stack/acme-ControlPlane/1',
      RequestId: 'req-1',
      LogicalResourceId: 'DirectorySync',
      Data: { Created: 2 },
    });
  });

  it('PUTs FAILED with the reason, cut to stay under the response size limit', async () => {
    const seen = await capture((url) =>
      sendResponse(event(url), {
        status: 'FAILED',
        physicalResourceId: 'p',
        reason: `DirectorySyncError: ${'x'.repeat(5000)}`,
      }),
    );
    expect(seen.body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'p' });
    expect((seen.body as { Reason: string }).Reason).toHaveLength(1000);
  });
});

describe('the directory-sync function (bundled as deployed, in its own process)', () => {
  /** Runs the bundle and returns the response CloudFormation received, the exit code and the logs (stdout and stderr). */
  async function invoke(event: Record<string, unknown>): Promise<{ body: any; code: number | null; stdout: string }> {
    const { buildSync } = await import('esbuild');
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const { spawn } = await import('node:child_process');
    const dir = mkdtempSync(path.join(tmpdir(), 'cubicle-dirsync-'));
    let body: unknown;
    const server = createServer((req: IncomingMessage, res) => {
      let text = '';
      req.on('data', (d) => (text += d));
      req.on('end', () => {
        body = JSON.parse(text);
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      buildSync({
        entryPoints: [
          path.join(__dirname, '..', '..', '..', 'runtime', 'control-plane', 'handlers', 'directory-sync.ts'),
        ],
        bundle: true,
        platform: 'node',
        format: 'cjs',
        outfile: path.join(dir, 'index.js'),
        logLevel: 'error',
      });
      writeFileSync(
        path.join(dir, 'roster.json'),
        JSON.stringify({
          identity: { kind: 'cognito' },
          users: [{ id: 'alice', email: 'alice@acme.example', agents: [] }],
        }),
      );
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/presigned`;
      const script = `require(${JSON.stringify(path.join(dir, 'index.js'))}).handler(${JSON.stringify({ ...event, ResponseURL: url })}, { getRemainingTimeInMillis: () => 60000, functionName: 'f', awsRequestId: 'r' }).then(() => process.exit(0), (e) => { console.error(e); process.exit(2); })`;
      const child = spawn(process.execPath, ['-e', script], {
        env: {
          PATH: process.env.PATH,
          AWS_REGION: 'eu-west-1',
          AWS_ACCESS_KEY_ID: 'x',
          AWS_SECRET_ACCESS_KEY: 'x',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: '1',
        },
      });
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stdout += d));
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      return { body, code, stdout };
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const base = {
    StackId: 'arn:aws:cloudformation:eu-west-1:111111111111:stack/acme-ControlPlane/1',
    RequestId: 'req-9',
    LogicalResourceId: 'DirectorySync',
    ResourceType: 'Custom::CubicleDirectorySync',
    ServiceToken: 'x',
  };

  it('answers SUCCESS to a Delete and touches no user (the pool and its users are kept)', async () => {
    const { body, code } = await invoke({
      ...base,
      RequestType: 'Delete',
      PhysicalResourceId: `directory-sync-${POOL}`,
      ResourceProperties: { ServiceToken: 'x', UserPoolId: POOL },
    });
    expect(code).toBe(0);
    expect(body).toEqual({
      Status: 'SUCCESS',
      PhysicalResourceId: `directory-sync-${POOL}`,
      StackId: base.StackId,
      RequestId: 'req-9',
      LogicalResourceId: 'DirectorySync',
    });
  }, 60_000);

  it('answers FAILED with the reason rather than leaving CloudFormation waiting, and logs no email', async () => {
    const { body, code, stdout } = await invoke({
      ...base,
      RequestType: 'Create',
      ResourceProperties: { ServiceToken: 'x', UserPoolId: 'not a pool' },
    });
    expect(code).toBe(0);
    expect(body).toMatchObject({
      Status: 'FAILED',
      Reason: 'Error: UserPoolId is not a Cognito user pool id',
      PhysicalResourceId: 'directory-sync-not a pool',
    });
    expect(stdout).toContain('directory sync failed');
    expect(stdout).not.toContain('alice@acme.example');
  }, 60_000);
});
