/**
 * `npm run bench:runtime`: how long the agent entrypoint (the bundle the image runs) takes from spawn
 * to "ready", against a bare `node` start, and how much memory the supervisor holds at rest.
 *
 * AWS is faked: DynamoDB is dynalite on loopback, Secrets Manager a minimal local endpoint for
 * GetSecretValue (the bundle carries its own SDK copy, so it cannot be mocked in-process).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TABLES } from '../runtime/shared/tables';

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const REPO = path.join(__dirname, '..');
const ENTRYPOINT = path.join(REPO, 'runtime', 'agent', 'dist', 'entrypoint.cjs');
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:bench-provider-AbCdEf';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function fakeSecretsManager(): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      if (target !== 'secretsmanager.GetSecretValue') {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: 'InvalidRequestException', message: target }));
        return;
      }
      const { SecretId } = JSON.parse(body) as { SecretId: string };
      res.end(JSON.stringify({ ARN: SecretId, Name: 'bench', SecretString: 'bench-api-key-0123456789', VersionId: 'v1' }));
    });
  });
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Spawns a process and resolves when its stdout carries a line matching `ready`. */
function timeToLine(command: string, args: string[], env: NodeJS.ProcessEnv, ready: (line: string) => boolean) {
  return new Promise<{ ms: number; pid: number; stop: () => Promise<void> }>((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let buffer = '';
    let stderr = '';
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      buffer += d;
      for (const line of buffer.split('\n').slice(0, -1)) {
        if (ready(line)) {
          const ms = performance.now() - started;
          child.stdout.removeAllListeners('data');
          child.stdout.resume();
          return resolve({
            ms,
            pid: child.pid!,
            stop: async () => {
              child.kill('SIGTERM');
              await exited;
            },
          });
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before ready:\n${buffer}${stderr}`)));
  });
}

function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  return kb / 1024;
}

async function main(): Promise<void> {
  const dynalite = require('dynalite') as (options: { createTableMs: number }) => Server;
  const db = dynalite({ createTableMs: 0 });
  const sm = fakeSecretsManager();
  const [dbUrl, smUrl] = await Promise.all([listen(db), listen(sm)]);
  const client = new DynamoDBClient({ endpoint: dbUrl, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const names: Record<string, string> = {};
  for (const spec of Object.values(TABLES)) {
    const sortKey = 'sortKey' in spec ? spec.sortKey : undefined;
    names[spec.envVar] = `bench-${spec.id}`;
    await client.send(
      new CreateTableCommand({
        TableName: names[spec.envVar],
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, ...(sortKey ? [{ AttributeName: sortKey.name, AttributeType: sortKey.type }] : [])],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, ...(sortKey ? [{ AttributeName: sortKey.name, KeyType: 'RANGE' as const }] : [])],
      }),
    );
  }
  const root = mkdtempSync(path.join(tmpdir(), 'cubicle-bench-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NODE_NO_WARNINGS: '1',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_ENDPOINT_URL_DYNAMODB: dbUrl,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: smUrl,
    CUBICLE_DEPLOYMENT: 'bench',
    CUBICLE_USER_ID: 'alice',
    CUBICLE_AGENT_ID: 'sales',
    CUBICLE_PROVIDER: 'anthropic',
    CUBICLE_OUTBOUND_POLICY: 'confirm',
    CUBICLE_SKILLS: 'crm-notes@1.2.0',
    CUBICLE_CONNECTIONS: '[]',
    CUBICLE_PROVIDER_SECRET_ARN: SECRET_ARN,
    CUBICLE_MAX_TASK_DURATION_MS: '600000',
    CUBICLE_IDLE_TIMEOUT_MS: '600000',
    CUBICLE_RUN_DIR: path.join(root, 'run'),
    CUBICLE_WORKSPACE: root,
    CUBICLE_SKILLS_SOURCE: path.join(REPO, 'runtime', 'agent', 'skills'),
    ...names,
  };

  const bare: number[] = [];
  const agent: number[] = [];
  const rss: number[] = [];
  try {
    // One warm-up each (file cache), not counted.
    await (await timeToLine(process.execPath, ['-e', 'console.log("ready")'], env, (l) => l === 'ready')).stop();
    await (await timeToLine(process.execPath, [ENTRYPOINT], env, (l) => l.includes('"msg":"ready"'))).stop();
    for (let i = 0; i < RUNS; i += 1) {
      const b = await timeToLine(process.execPath, ['-e', 'console.log("ready")'], env, (l) => l === 'ready');
      bare.push(b.ms);
      await b.stop();
      const a = await timeToLine(process.execPath, [ENTRYPOINT], env, (l) => l.includes('"msg":"ready"'));
      agent.push(a.ms);
      await new Promise((r) => setTimeout(r, 1_000)); // at rest: polling an empty inbox
      rss.push(rssMiB(a.pid));
      await a.stop();
    }
  } finally {
    client.destroy();
    await new Promise<void>((r) => db.close(() => r()));
    await new Promise<void>((r) => sm.close(() => r()));
    rmSync(root, { recursive: true, force: true });
  }

  const row = (label: string, values: number[], unit: string) =>
    `${label.padEnd(34)} median ${quantile(values, 0.5).toFixed(1).padStart(7)} ${unit}   p90 ${quantile(values, 0.9).toFixed(1).padStart(7)} ${unit}`;
  const ratio = quantile(agent, 0.5) / quantile(bare, 0.5);
  console.log(`runs: ${RUNS} (node ${process.version}, ${process.platform}/${process.arch})`);
  console.log(row('bare node start → first line', bare, 'ms'));
  console.log(row('entrypoint start → ready', agent, 'ms'));
  console.log(`${'start-to-ready ratio (median)'.padEnd(34)} ${ratio.toFixed(2)}×`);
  console.log(row('supervisor RSS at rest', rss, 'MiB'));
  console.log(JSON.stringify({ runs: RUNS, bareMedianMs: quantile(bare, 0.5), readyMedianMs: quantile(agent, 0.5), ratio, rssMedianMiB: quantile(rss, 0.5) }));
}

void main().catch((error) => {
  console.error(error);
  process.exit(1);
});
