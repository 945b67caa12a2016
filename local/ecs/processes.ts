/**
 * Process groups of a local task. On Fargate everything in a task dies with it; locally a task is a
 * supervisor process whose agent CLI runs in a process group of its own (runtime/agent/src/child.ts), so
 * the launcher keeps track of every group under the supervisor (from /proc) and kills them all when
 * the task ends. A process is identified by pid and start time, so a reused pid is never signalled.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';

export interface ProcessGroup {
  readonly pgid: number;
  /** Members seen in the group (pid and start time, in clock ticks since boot). */
  readonly members: ReadonlyArray<{ readonly pid: number; readonly start: number }>;
}

interface Stat {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  readonly start: number;
  readonly state: string;
}

const HAS_PROC = existsSync('/proc/self/stat');

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces or parentheses itself.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { pid, state: fields[0], ppid: Number(fields[1]), pgid: Number(fields[2]), start: Number(fields[19]) };
  } catch {
    return undefined;
  }
}

/** Start time of a live (non-zombie) process, or undefined. */
export function processStart(pid: number): number | undefined {
  if (!HAS_PROC) {
    try {
      process.kill(pid, 0);
      return 0;
    } catch {
      return undefined;
    }
  }
  const stat = readStat(pid);
  return stat && stat.state !== 'Z' ? stat.start : undefined;
}

/** Every process group with a member under `root` (root's own group included). */
export function groupsUnder(root: number): ProcessGroup[] {
  if (!HAS_PROC) return [];
  const all = allStats();
  const children = new Map<number, Stat[]>();
  for (const stat of all) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  const groups = new Map<number, { pid: number; start: number }[]>();
  const queue = all.filter((s) => s.pid === root);
  while (queue.length > 0) {
    const stat = queue.shift()!;
    if (stat.state !== 'Z')
      groups.set(stat.pgid, [...(groups.get(stat.pgid) ?? []), { pid: stat.pid, start: stat.start }]);
    queue.push(...(children.get(stat.pid) ?? []));
  }
  return [...groups].map(([pgid, members]) => ({ pgid, members }));
}

/** Adds the members of `more` to `known` (groups seen at different times). */
export function mergeGroups(known: readonly ProcessGroup[], more: readonly ProcessGroup[]): ProcessGroup[] {
  const merged = new Map<number, Map<string, { pid: number; start: number }>>();
  for (const group of [...known, ...more]) {
    const members = merged.get(group.pgid) ?? new Map();
    for (const m of group.members) members.set(`${m.pid}:${m.start}`, m);
    merged.set(group.pgid, members);
  }
  return [...merged].map(([pgid, members]) => ({ pgid, members: [...members.values()] }));
}

/**
 * Signals the group if one of its recorded members is still alive and still in it (so a pid or pgid
 * reused by an unrelated process is never signalled); false when the group is gone.
 */
export function signalGroup(group: ProcessGroup, signal: NodeJS.Signals): boolean {
  const alive = HAS_PROC
    ? group.members.some((m) => {
        const stat = readStat(m.pid);
        return stat !== undefined && stat.state !== 'Z' && stat.start === m.start && stat.pgid === group.pgid;
      })
    : group.members.some((m) => processStart(m.pid) !== undefined);
  if (!alive) return false;
  try {
    process.kill(-group.pgid, signal);
    return true;
  } catch {
    return false;
  }
}

function allStats(): Stat[] {
  const all: Stat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) all.push(stat);
  }
  return all;
}
