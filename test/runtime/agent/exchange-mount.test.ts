/**
 * The exchange volume as the task definition mounts it in the workbench: read-only
 * (lib/constructs/agent-containers.ts). A unix socket on a read-only mount can still be connected to (Linux
 * checks write permission on a socket inode, not the file system's read-only flag, as with a docker.sock
 * mounted `:ro`), so the workbench reaches the supervisor's sockets; it cannot remove, replace or add
 * anything there. Run for real where the machine allows a mount namespace and another uid: the
 * supervisor's side listens with its own helper (exchange-socket.ts), the workbench's side is a process
 * in its own mount namespace with the directory remounted read-only, as uid 65534.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listenExchangeSocket } from '../../../runtime/agent/src/exchange-socket';

const root = process.getuid?.() === 0;
const canMount =
  root &&
  spawnSync(
    'unshare',
    ['--mount', 'sh', '-c', 'd=$(mktemp -d) && mount --bind "$d" "$d" && mount -o remount,bind,ro "$d"'],
    { stdio: 'ignore', timeout: 5_000 },
  ).status === 0;
const canSwitchUid =
  root &&
  spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'true'], {
    stdio: 'ignore',
    timeout: 5_000,
  }).status === 0;
const why = !root
  ? 'tests do not run as root'
  : !canMount
    ? 'unshare cannot make a mount namespace here'
    : 'setpriv is not available';

const dir = mkdtempSync(path.join(tmpdir(), 'cubicle-exchange-'));
// Traversable by the workbench's uid, as the task's /run is (mkdtemp makes it 0700).
chmodSync(dir, 0o755);
const servers: Server[] = [];
afterAll(async () => {
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** The workbench side: connects, then tries to remove, replace and add, reporting each outcome as JSON. */
const WORKBENCH_SIDE = `
const fs = require('node:fs'), net = require('node:net'), path = require('node:path');
const [socketPath] = process.argv.slice(1);
const out = {};
const attempt = (name, fn) => { try { fn(); out[name] = 'done'; } catch (e) { out[name] = e.code; } };
attempt('unlink', () => fs.unlinkSync(socketPath));
attempt('rename', () => fs.renameSync(socketPath, socketPath + '.old'));
attempt('create', () => fs.writeFileSync(path.join(path.dirname(socketPath), 'planted.sock'), 'x'));
const listen = new Promise((resolve) => {
  const s = net.createServer();
  s.on('error', (e) => resolve(e.code));
  s.listen(path.join(path.dirname(socketPath), 'fake.sock'), () => { s.close(); resolve('done'); });
});
listen.then((code) => {
  out.listen = code;
  const c = net.connect(socketPath);
  c.setEncoding('utf8');
  c.on('data', (d) => { out.reply = d.trim(); c.end(); });
  c.on('error', (e) => { out.connect = e.code; });
  c.on('close', () => { process.stdout.write(JSON.stringify(out)); process.exit(0); });
});
`;

describe.skipIf(!(canMount && canSwitchUid))(
  `the exchange volume, read-only in the workbench${canMount && canSwitchUid ? '' : ` (skipped: ${why})`}`,
  () => {
    const run = async (name: string, asOtherUid: boolean) => {
      const exchange = path.join(dir, name);
      const socketPath = path.join(exchange, 'workbench.sock');
      servers.push(await listenExchangeSocket(socketPath, (socket) => socket.end('from the supervisor\n')));
      const user = asOtherUid ? 'setpriv --reuid=65534 --regid=65534 --clear-groups ' : '';
      const script = `mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec ${user}"$1" -e "$2" "$3"`;
      // Asynchronously: the supervisor's side answers from this process.
      const child = spawn(
        'unshare',
        ['--mount', 'sh', '-c', script, exchange, process.execPath, WORKBENCH_SIDE, socketPath],
        { stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 },
      );
      const result = { stdout: '', stderr: '', status: null as number | null };
      child.stdout.on('data', (d: Buffer) => (result.stdout += d));
      child.stderr.on('data', (d: Buffer) => (result.stderr += d));
      result.status = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(result.status, result.stderr).toBe(0);
      // Nothing was added or replaced, as the supervisor sees its directory.
      expect(spawnSync('ls', ['-A', exchange], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)).toEqual([
        'workbench.sock',
      ]);
      return JSON.parse(result.stdout) as Record<string, string>;
    };

    it("the read-only mount alone (same uid, as in local mode) refuses unlink, rename, a new file and a socket of its own, and the supervisor's socket still answers", async () => {
      expect(await run('same-uid', false)).toEqual({
        unlink: 'EROFS',
        rename: 'EROFS',
        create: 'EROFS',
        listen: 'EROFS',
        reply: 'from the supervisor',
      });
    });

    it("as another uid on the read-only mount (the task's layout): the same refusals, and the socket still answers", async () => {
      const out = await run('other-uid', true);
      expect(out.connect).toBeUndefined();
      expect(out.reply).toBe('from the supervisor');
      for (const name of ['unlink', 'rename', 'create', 'listen'])
        expect(['EROFS', 'EACCES'], name).toContain(out[name]);
    });
  },
);
