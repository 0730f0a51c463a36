// Every process the bench starts is registered here, so it is ended on exit, on an error and on Ctrl-C (SIGINT/SIGTERM):
// by its own pid, never by name. Daemonised haproxy (-D) forks away from its parent, so its pids are added as they appear.
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { alive } from '../../test/harness/wait.js';

const children = new Set<ChildProcess>();
const loosePids = new Set<number>();
const cleanups: (() => Promise<void> | void)[] = [];

/** Spawn and register; the child is killed at exit unless it ended before. */
export function track(cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const child = spawn(cmd, args, opts);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** A pid the bench caused to exist without being its parent (haproxy -D, its reloads). */
export function trackPid(pid: number): void {
  if (pid > 0) loosePids.add(pid);
}

/** Work to undo at exit (tmp dirs, servers); runs before the kills, last registered first. */
export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

/** Pids of running processes whose command line contains `needle` (e.g. a unique tmp config path of ours). */
export function pidsWithArg(needle: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmdline.includes(needle) && procState(Number(name)) !== 'Z') pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** SIGTERM (or `signal`), then SIGKILL after `graceMs`; resolves when it is gone. */
export async function stopPid(pid: number, graceMs = 2000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!alive(pid)) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(20);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  loosePids.delete(pid);
}

export async function stopChild(child: ChildProcess, graceMs = 2000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

let cleaning: Promise<void> | undefined;

/** True once cleanup began (Ctrl-C): what fails after that is the stop itself, not a result. */
export function stopping(): boolean {
  return cleaning !== undefined;
}

/** End everything registered; safe to call more than once. */
export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse())
      await Promise.resolve()
        .then(fn)
        .catch(() => undefined);
    for (const child of children) child.kill('SIGTERM');
    for (const pid of loosePids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline && ([...children].length > 0 || [...loosePids].some(alive))) await sleep(25);
    for (const child of children) child.kill('SIGKILL');
    for (const pid of loosePids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  })();
  return cleaning;
}

/** Clean up on Ctrl-C / SIGTERM (exit 130/143) and on a normal exit path that calls cleanupAll itself. */
export function installSignalCleanup(): void {
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.once(sig, () => {
      process.stderr.write(`\nbench: ${sig}: stopping every process it started…\n`);
      void cleanupAll().finally(() => process.exit(code));
    });
  }
  // Last resort if something throws synchronously past us: kill what we know without waiting.
  process.once('exit', () => {
    for (const child of children) child.kill('SIGKILL');
    for (const pid of loosePids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** `fn` that runs once; later calls get the first call's promise. */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** VmRSS of a process in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/** Where a process's resident memory lives, from /proc/<pid>/smaps, in MiB. */
export type RssParts = {
  /** Pages of mapped files: the node binary (its code and embedded data) and shared libraries. */
  readonly files: number;
  /** The main thread's C heap (`[heap]`, glibc malloc): Buffers' memory, among others. */
  readonly cHeap: number;
  /** Anonymous mappings: V8's heap pages, large objects, other threads' malloc arenas. */
  readonly anon: number;
};

export function rssParts(pid: number): RssParts {
  const parts = { files: 0, cHeap: 0, anon: 0 };
  let into: keyof RssParts = 'anon';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) {
      const name = mapping[1]!;
      into = name.startsWith('/') ? 'files' : name === '[heap]' ? 'cHeap' : 'anon';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) parts[into] += Number(rss[1]) / 1024;
  }
  return parts;
}

// /proc/<pid>/stat after "(comm) ": field 3 (state) is index 0.
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

function procState(pid: number): string | undefined {
  try {
    return statFields(pid)[0];
  } catch {
    return undefined;
  }
}
