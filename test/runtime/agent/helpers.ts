import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { RecordSealer } from '../../../runtime/shared/envelope';
import { sealDecision, sealInboxBody } from '../../../runtime/shared/sealed-rows';
import { readEvents } from '../../../runtime/shared/event-log';
import {
  newSortableId,
  type ApprovalRow,
  type EventRow,
  type InboxRow,
  type SessionRow,
} from '../../../runtime/shared/rows';
import { pairKey, type TableName } from '../../../runtime/shared/tables';
import { opened, openedApprovals, startRelayEnv, type RelayEnv, type Task } from '../relay/support/relay-env';
import type { StoredApprovalRow } from '../../../runtime/shared/sealed-rows';
import type { AwsCredentials } from '../../../runtime/shared/sigv4-connect';
import { createHash } from 'node:crypto';
import { fakeKms } from '../../support/fake-kms';

export const REPO = path.join(__dirname, '..', '..', '..');
const FAKE_CLI = path.join(__dirname, 'fixtures', 'fake-cli.cjs');
const HARNESS = path.join(__dirname, 'fixtures', 'harness.ts');
/** The workbench daemon as the image runs it (the committed bundle). */
export const WORKBENCH = path.join(REPO, 'runtime', 'agent', 'dist', 'workbench.cjs');

export const PROVIDER_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:cubicle/alice/provider-AbCdEf';
export const CRM_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:cubicle/alice/crm-AbCdEf';
/** Each test user's key in the fake KMS the harness installs (keys derive from their ARNs). */
export const userKeyArn = (userId: string) => `arn:aws:kms:us-east-1:111111111111:key/key-of-${userId}`;
/** Seals messages as the control plane does on POST /messages. */
export const sealer = new RecordSealer(fakeKms('us-east-1').client, async (userId) => userKeyArn(userId));
/** Shaped like nothing TOKEN_PATTERNS knows, so only value-based redaction can catch it. */
export const PROVIDER_SECRET = 'zq7-provider-Secret-41f0c9e2b8d6a7';
export const CRM_SECRET = 'crm-token-9Xk2Lm8Qp4Rs7Tv1';

export interface Db {
  readonly doc: DynamoDBDocumentClient;
  /** The relay the agent talks to (test/runtime/relay/support/relay-env.ts): dynalite, handlers, local ws adapter. */
  readonly relay: RelayEnv;
  readonly tables: Record<TableName, string>;
  close(): Promise<void>;
}

/** dynalite with the control-plane tables and the relay in front of them. */
export async function startDb(): Promise<Db> {
  const relay = await startRelayEnv();
  return { doc: relay.dynamo.doc, relay, tables: relay.dynamo.tables, close: () => relay.close() };
}

/** A directory with `claude`, `codex` and `gemini` on PATH, each the fake CLI in that CLI's format. */
export function fakeBin(root: string): string {
  const bin = path.join(root, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const name of ['claude', 'codex', 'gemini']) {
    const file = path.join(bin, name);
    writeFileSync(file, `#!/bin/sh\nexec "${process.execPath}" "${FAKE_CLI}" ${name} "$@"\n`);
    chmodSync(file, 0o755);
  }
  return bin;
}

export interface Pair {
  readonly userId: string;
  readonly agentId: string;
  readonly pk: string;
}

export function pair(agentId: string, userId = 'alice'): Pair {
  return { userId, agentId, pk: pairKey(userId, agentId) };
}

export function workDir(): { root: string; cleanup(): void } {
  const root = mkdtempSync(path.join(tmpdir(), 'cubicle-rt-'));
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/**
 * What a file of runtime tests shares: dynalite with the relay, started before the file's tests and closed
 * after them, and a work directory removed after them. `db` can be handed around at once; its fields are
 * the started one's. `settleMs`: time left, before closing, for a stopped agent's last requests.
 */
export function agentTestBed(options: { settleMs?: number } = {}): { db: Db; dir: ReturnType<typeof workDir> } {
  let started: Db | undefined;
  const current = (): Db => {
    if (!started) throw new Error('the test bed starts in beforeAll: use db inside a test or a hook');
    return started;
  };
  const dir = workDir();
  beforeAll(async () => {
    started = await startDb();
  });
  afterAll(async () => {
    if (options.settleMs) await new Promise((r) => setTimeout(r, options.settleMs));
    await started?.close();
    dir.cleanup();
  });
  const db: Db = {
    get doc() {
      return current().doc;
    },
    get relay() {
      return current().relay;
    },
    get tables() {
      return current().tables;
    },
    close: () => current().close(),
  };
  return { db, dir };
}

/** The environment the fleet's task definition sets, plus short test timings. */
export function agentEnv(
  db: Db,
  p: Pair,
  root: string,
  overrides: Record<string, string | undefined> = {},
): Record<string, string> {
  const credentials = taskCredentials(p);
  const env: Record<string, string | undefined> = {
    PATH: `${fakeBin(root)}:${process.env.PATH}`,
    CUBICLE_DEPLOYMENT: 'acme',
    CUBICLE_USER_ID: p.userId,
    CUBICLE_AGENT_ID: p.agentId,
    CUBICLE_PROVIDER: 'anthropic',
    CUBICLE_OUTBOUND_POLICY: 'confirm',
    CUBICLE_SKILLS: 'crm-notes@1.2.0',
    CUBICLE_CONNECTIONS: JSON.stringify([{ id: 'crm', hosts: ['acme.my.salesforce.com'], secretArn: CRM_ARN }]),
    CUBICLE_PROVIDER_SECRET_ARN: PROVIDER_ARN,
    CUBICLE_USER_KEY_ARN: userKeyArn(p.userId),
    CUBICLE_MAX_TASK_DURATION_MS: '60000',
    CUBICLE_IDLE_TIMEOUT_MS: '60000',
    CUBICLE_RELAY_URL: db.relay.runtimeUrl,
    CUBICLE_STOP_GRACE_MS: '1000',
    // Messages and decisions are pushed: a long safety re-read proves the push works.
    CUBICLE_POLL_INTERVAL_MS: '30000',
    CUBICLE_HEARTBEAT_INTERVAL_MS: '200',
    CUBICLE_APPROVAL_TIMEOUT_MS: '5000',
    CUBICLE_APPROVAL_POLL_MS: '30000',
    CUBICLE_RELAY_START_TIMEOUT_MS: '10000',
    CUBICLE_RUN_DIR: path.join(root, 'run'),
    CUBICLE_EXCHANGE_DIR: path.join(root, 'exchange'),
    CUBICLE_WORKSPACE: path.join(root, 'workspace'),
    CUBICLE_SKILLS_SOURCE: path.join(REPO, 'runtime', 'agent', 'skills'),
    AWS_REGION: 'eu-west-1',
    // The task role's credentials (the relay's IAM stand-in knows them as the pair's role session).
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_SESSION_TOKEN: credentials.sessionToken,
    NODE_NO_WARNINGS: '1',
    HARNESS_SECRETS: JSON.stringify({ [PROVIDER_ARN]: PROVIDER_SECRET, [CRM_ARN]: CRM_SECRET }),
    ...overrides,
  };
  mkdirSync(env.CUBICLE_WORKSPACE!, { recursive: true });
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

export interface AgentProcess {
  /** The supervisor. */
  readonly proc: ChildProcess;
  /** The workbench daemon: a second process, with an environment of its own (no AWS variable). */
  readonly workbench: ChildProcess;
  readonly spawnedAt: number;
  /** Everything the supervisor wrote to stdout and stderr, as bytes. */
  output(): Buffer;
  logs(): Record<string, unknown>[];
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** What the workbench container gets from the task definition and its entrypoint: no AWS variable at all. */
export function workbenchEnv(env: Record<string, string>): Record<string, string> {
  return {
    PATH: env.PATH,
    NODE_NO_WARNINGS: '1',
    CUBICLE_EXCHANGE_DIR: env.CUBICLE_EXCHANGE_DIR,
    CUBICLE_RUN_DIR: env.CUBICLE_RUN_DIR,
    // The EFS home stand-in: next to the workspace, kept across wakes like the access point.
    CUBICLE_HOME_DIR: env.CUBICLE_HOME_DIR ?? path.join(env.CUBICLE_WORKSPACE, '.cubicle', 'home'),
    CUBICLE_SKILLS_SOURCE: env.CUBICLE_SKILLS_SOURCE,
  };
}

/** How the workbench process is started (default: the daemon, plainly, with workbenchEnv). */
export interface WorkbenchLaunch {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
}

/** Starts the task's two parts as real processes: the entrypoint (through the harness) and the workbench. */
export function spawnAgent(env: Record<string, string>, launch?: WorkbenchLaunch): AgentProcess {
  const spawnedAt = Date.now();
  const proc = spawn(process.execPath, ['--import', 'tsx', HARNESS], {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const wb = launch ?? { command: process.execPath, args: [WORKBENCH], env: workbenchEnv(env) };
  const workbench = spawn(wb.command, [...wb.args], {
    cwd: env.CUBICLE_WORKSPACE,
    env: wb.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: Buffer[] = [];
  for (const stream of [proc.stdout!, proc.stderr!, workbench.stdout!, workbench.stderr!])
    stream.on('data', (d: Buffer) => chunks.push(d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  // The workbench ends with the supervisor's socket; never leave one behind a test.
  void exited.then(() => setTimeout(() => workbench.kill('SIGKILL'), 5_000).unref());
  const output = () => Buffer.concat(chunks);
  const logs = () =>
    output()
      .toString('utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    proc,
    workbench,
    spawnedAt,
    output,
    logs,
    exited,
    waitForLog: (msg, timeoutMs = 15_000) =>
      waitFor(
        () => logs().find((l) => l.msg === msg),
        timeoutMs,
        `log "${msg}"\n${output().toString('utf8').slice(-3000)}`,
      ),
  };
}

export async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The pair's task credentials in these tests (fixed per pair; putSession binds them to the new task). */
export function taskCredentials(p: Pair): AwsCredentials {
  const h = (label: string) => createHash('sha256').update(`${label}/${p.pk}`).digest('hex');
  return {
    accessKeyId: `AKIA${h('id').slice(0, 16).toUpperCase()}`,
    secretAccessKey: h('secret'),
    sessionToken: h('token'),
  };
}

/** A running session as a wake leaves it (session id, task ARN, relay nonce); the pair's credentials name its task. */
export async function putSession(db: Db, p: Pair, extra: Partial<SessionRow> = {}): Promise<Task> {
  return db.relay.runningSession(p.userId, p.agentId, extra, taskCredentials(p));
}

export async function getSession(db: Db, p: Pair): Promise<SessionRow | undefined> {
  return (await db.doc.send(new GetCommand({ TableName: db.tables.sessions, Key: { pk: p.pk }, ConsistentRead: true })))
    .Item as SessionRow | undefined;
}

/** What the control plane does on POST /messages (the body sealed under the user's key). */
export async function sendMessage(db: Db, p: Pair, body: unknown, extra: Partial<InboxRow> = {}): Promise<InboxRow> {
  const createdAt = Date.now();
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const sk = extra.sk ?? newSortableId(createdAt);
  const row: InboxRow = {
    pk: p.pk,
    sk,
    requestId: `req-${Math.random().toString(36).slice(2, 10)}`,
    // With its id and (scheduled) policy, as records.ts putMessage seals it.
    body: await sealInboxBody(sealer, p.pk, {
      messageId: sk,
      text,
      ...(extra.schedule ? { schedule: extra.schedule } : {}),
    }),
    createdAt,
    ...extra,
  };
  // As the API posts it; a row given a state (a crashed task's leftovers) is a fixture, written unchecked.
  const writer = Object.keys(extra).every((k) => k === 'schedule') ? db.relay.dynamo.as('api') : db.relay.dynamo.seed;
  await writer.send(new PutCommand({ TableName: db.tables.inbox, Item: row }));
  return row;
}

export async function getInbox(db: Db, p: Pair, sk: string): Promise<InboxRow | undefined> {
  return (
    await db.doc.send(new GetCommand({ TableName: db.tables.inbox, Key: { pk: p.pk, sk }, ConsistentRead: true }))
  ).Item as InboxRow | undefined;
}

/** The pair's events as stored (data sealed): what the chain is verified on. */
export function storedEvents(db: Db, p: Pair): Promise<EventRow[]> {
  return readEvents(db.doc, db.tables.events, p.pk);
}

/** The pair's events with their data opened, as the employee reads them. */
export async function events(db: Db, p: Pair): Promise<EventRow[]> {
  return opened(await readEvents(db.doc, db.tables.events, p.pk));
}

/**
 * One task answering `bodies` in turn: the session row, a real supervisor and workbench, each message sent
 * and waited for until it ends (done or failed), then the task stopped. Every test that runs whole
 * messages through a task goes through here.
 */
export async function runMessages(
  db: Db,
  p: Pair,
  env: Record<string, string>,
  bodies: readonly unknown[],
): Promise<{ messages: InboxRow[]; agent: AgentProcess; all: EventRow[] }> {
  await putSession(db, p);
  const agent = spawnAgent(env);
  const messages: InboxRow[] = [];
  try {
    for (const body of bodies) {
      const message = await sendMessage(db, p, body);
      messages.push(message);
      await waitForEvent(
        db,
        p,
        (e) => e.messageId === message.sk && (e.type === 'message.done' || e.type === 'message.failed'),
      );
    }
  } finally {
    agent.proc.kill('SIGTERM');
    await agent.exited;
  }
  return { messages, agent, all: await events(db, p) };
}

export async function waitForEvent(
  db: Db,
  p: Pair,
  match: (e: EventRow) => boolean,
  timeoutMs = 15_000,
): Promise<EventRow> {
  return waitFor(async () => (await events(db, p)).find(match), timeoutMs, 'event');
}

export async function approvals(db: Db, p: Pair): Promise<ApprovalRow[]> {
  const out = await db.doc.send(
    new QueryCommand({
      TableName: db.tables.approvals,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': p.pk },
      ConsistentRead: true,
    }),
  );
  return openedApprovals((out.Items ?? []) as StoredApprovalRow[]);
}

/** What the control plane does when the employee answers an approval. */
export async function decide(db: Db, p: Pair, approvalId: string, decision: 'approved' | 'denied'): Promise<void> {
  // As the API records it for the verified employee: with the decision sealed under the user's key.
  const decisionSeal = await sealDecision(sealer, p.pk, { approvalId, decision, decidedBy: p.userId });
  await db.relay.dynamo.as('api').send(
    new UpdateCommand({
      TableName: db.tables.approvals,
      Key: { pk: p.pk, sk: approvalId },
      UpdateExpression: 'SET decision = :d, decidedAt = :now, decidedBy = :who, decisionSeal = :seal',
      ConditionExpression:
        'attribute_exists(sk) AND attribute_not_exists(decision) AND attribute_not_exists(expiredAt)',
      ExpressionAttributeValues: { ':d': decision, ':now': Date.now(), ':who': p.userId, ':seal': decisionSeal },
    }),
  );
}

/** False for gone and zombie processes (a killed process stays a zombie until its new parent reaps it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}
