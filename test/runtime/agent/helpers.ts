import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { RecordSealer } from '../../../runtime/shared/envelope';
import { readEvents } from '../../../runtime/shared/event-log';
import { newSortableId, type ApprovalRow, type EventRow, type InboxRow, type SessionRow } from '../../../runtime/shared/rows';
import { pairKey, TABLES } from '../../../runtime/shared/tables';
import { fakeKms } from '../../support/fake-kms';

export const REPO = path.join(__dirname, '..', '..', '..');
const FAKE_CLI = path.join(__dirname, 'fixtures', 'fake-cli.cjs');
const HARNESS = path.join(__dirname, 'fixtures', 'harness.ts');

export const PROVIDER_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:cubicle/alice/provider-AbCdEf';
export const CRM_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:cubicle/alice/crm-AbCdEf';
/** Each test user's key in the fake KMS the harness installs (keys derive from their ARNs). */
export const userKeyArn = (userId: string) => `arn:aws:kms:us-east-1:111111111111:key/key-of-${userId}`;
/** Seals messages as the control plane does on POST /messages. */
export const sealer = new RecordSealer(fakeKms('us-east-1').client, async (userId) => userKeyArn(userId));
/** Shaped like nothing TOKEN_PATTERNS knows, so only value-based redaction can catch it. */
export const PROVIDER_SECRET = 'zq7-provider-Secret-41f0c9e2b8d6a7';
export const CRM_SECRET = 'crm-token-9Xk2Lm8Qp4Rs7Tv1';

const TABLE_NAMES = { sessions: 'test-sessions', inbox: 'test-inbox', events: 'test-events', approvals: 'test-approvals' } as const;

export interface Db {
  readonly endpoint: string;
  readonly doc: DynamoDBDocumentClient;
  close(): Promise<void>;
}

/** dynalite on loopback with the four control-plane tables. */
export async function startDb(): Promise<Db> {
  // dynalite ships no types.
  const dynalite = require('dynalite') as (options: { createTableMs: number }) => Server;
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  for (const [key, spec] of Object.entries(TABLES)) {
    const sortKey = 'sortKey' in spec ? spec.sortKey : undefined;
    await client.send(
      new CreateTableCommand({
        TableName: TABLE_NAMES[key as keyof typeof TABLE_NAMES],
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, ...(sortKey ? [{ AttributeName: sortKey.name, AttributeType: sortKey.type }] : [])],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, ...(sortKey ? [{ AttributeName: sortKey.name, KeyType: 'RANGE' as const }] : [])],
      }),
    );
  }
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return {
    endpoint,
    doc,
    close: async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
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

/** The environment the fleet's task definition sets, plus short test timings. */
export function agentEnv(db: Db, p: Pair, root: string, overrides: Record<string, string | undefined> = {}): Record<string, string> {
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
    [TABLES.sessions.envVar]: TABLE_NAMES.sessions,
    [TABLES.inbox.envVar]: TABLE_NAMES.inbox,
    [TABLES.events.envVar]: TABLE_NAMES.events,
    [TABLES.approvals.envVar]: TABLE_NAMES.approvals,
    CUBICLE_STOP_GRACE_MS: '1000',
    CUBICLE_POLL_INTERVAL_MS: '100',
    CUBICLE_HEARTBEAT_INTERVAL_MS: '200',
    CUBICLE_APPROVAL_TIMEOUT_MS: '5000',
    CUBICLE_APPROVAL_POLL_MS: '100',
    CUBICLE_RUN_DIR: path.join(root, 'run'),
    CUBICLE_WORKSPACE: path.join(root, 'workspace'),
    CUBICLE_SKILLS_SOURCE: path.join(REPO, 'runtime', 'agent', 'skills'),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDTESTONLY',
    AWS_SECRET_ACCESS_KEY: 'test-secret-access-key',
    AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
    NODE_NO_WARNINGS: '1',
    HARNESS_SECRETS: JSON.stringify({ [PROVIDER_ARN]: PROVIDER_SECRET, [CRM_ARN]: CRM_SECRET }),
    ...overrides,
  };
  mkdirSync(env.CUBICLE_WORKSPACE!, { recursive: true });
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

export interface AgentProcess {
  readonly proc: ChildProcess;
  readonly spawnedAt: number;
  /** Everything the supervisor wrote to stdout and stderr, as bytes. */
  output(): Buffer;
  logs(): Record<string, unknown>[];
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** Starts the entrypoint (through the harness) as a real process. */
export function spawnAgent(env: Record<string, string>): AgentProcess {
  const spawnedAt = Date.now();
  const proc = spawn(process.execPath, ['--import', 'tsx', HARNESS], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  proc.stdout!.on('data', (d: Buffer) => chunks.push(d));
  proc.stderr!.on('data', (d: Buffer) => chunks.push(d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const output = () => Buffer.concat(chunks);
  const logs = () =>
    output()
      .toString('utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    proc,
    spawnedAt,
    output,
    logs,
    exited,
    waitForLog: (msg, timeoutMs = 15_000) =>
      waitFor(() => logs().find((l) => l.msg === msg), timeoutMs, `log "${msg}"\n${output().toString('utf8').slice(-3000)}`),
  };
}

export async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function putSession(db: Db, p: Pair, extra: Partial<SessionRow> = {}): Promise<void> {
  await db.doc.send(new PutCommand({ TableName: TABLE_NAMES.sessions, Item: { pk: p.pk, status: 'RUNNING', startedAt: Date.now(), ...extra } }));
}

export async function getSession(db: Db, p: Pair): Promise<SessionRow | undefined> {
  return (await db.doc.send(new GetCommand({ TableName: TABLE_NAMES.sessions, Key: { pk: p.pk }, ConsistentRead: true }))).Item as SessionRow | undefined;
}

/** What the control plane does on POST /messages (the body sealed under the user's key). */
export async function sendMessage(db: Db, p: Pair, body: unknown, extra: Partial<InboxRow> = {}): Promise<InboxRow> {
  const createdAt = Date.now();
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const row: InboxRow = {
    pk: p.pk,
    sk: newSortableId(createdAt),
    requestId: `req-${Math.random().toString(36).slice(2, 10)}`,
    body: await sealer.seal({ userId: p.userId, agentId: p.agentId, record: 'inbox.body' }, text),
    createdAt,
    ...extra,
  };
  await db.doc.send(new PutCommand({ TableName: TABLE_NAMES.inbox, Item: row }));
  return row;
}

export async function getInbox(db: Db, p: Pair, sk: string): Promise<InboxRow | undefined> {
  return (await db.doc.send(new GetCommand({ TableName: TABLE_NAMES.inbox, Key: { pk: p.pk, sk }, ConsistentRead: true }))).Item as InboxRow | undefined;
}

export function events(db: Db, p: Pair): Promise<EventRow[]> {
  return readEvents(db.doc, TABLE_NAMES.events, p.pk);
}

export async function waitForEvent(db: Db, p: Pair, match: (e: EventRow) => boolean, timeoutMs = 15_000): Promise<EventRow> {
  return waitFor(async () => (await events(db, p)).find(match), timeoutMs, 'event');
}

export async function approvals(db: Db, p: Pair): Promise<ApprovalRow[]> {
  const out = await db.doc.send(
    new QueryCommand({ TableName: TABLE_NAMES.approvals, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': p.pk }, ConsistentRead: true }),
  );
  return (out.Items ?? []) as ApprovalRow[];
}

/** What the control plane does when the employee answers an approval. */
export async function decide(db: Db, p: Pair, approvalId: string, decision: 'approved' | 'denied'): Promise<void> {
  await db.doc.send(
    new UpdateCommand({
      TableName: TABLE_NAMES.approvals,
      Key: { pk: p.pk, sk: approvalId },
      UpdateExpression: 'SET decision = :d, decidedAt = :now, decidedBy = :who',
      ConditionExpression: 'attribute_exists(sk) AND attribute_not_exists(decision) AND attribute_not_exists(expiredAt)',
      ExpressionAttributeValues: { ':d': decision, ':now': Date.now(), ':who': p.userId },
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
