// The one agent-process harness: the built bundle as a user runs it, `node dist/routeagent.js …`, as a one-shot command
// (runBundle) or as a process whose output lines can be awaited (startAgent). Every process started here is tracked;
// killAll() (call it in `after`) SIGKILLs whatever is still alive.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WAIT_MS } from './wait.js';

export { until } from './wait.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BUNDLE = join(ROOT, 'dist', 'routeagent.js');

export type Exit = { code: number | null; signal: NodeJS.Signals | null };
export type Ran = Exit & { stdout: string; stderr: string };

const live = new Set<ChildProcess>();

/** Throws a clear error when the bundle was not built (npm test builds it; a single file needs ./build.sh first). */
export function assertBuilt(): void {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run ./build.sh first`);
}

/** Build dist/routeagent.js when it is missing or older than any file under agent/ (npm test builds it first anyway). */
export function ensureBundle(): void {
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce(
      (t, e) => Math.max(t, e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs),
      0,
    );
  if (existsSync(BUNDLE) && statSync(BUNDLE).mtimeMs >= newest(join(ROOT, 'agent'))) return;
  execFileSync(join(ROOT, 'build.sh'), { cwd: ROOT, stdio: 'inherit' });
}

function launch(args: readonly string[], env: Record<string, string | undefined>): ChildProcess {
  const { ROUTEAGENT_DEBUG: _debug, ...inherited } = process.env;
  const child = spawn(process.execPath, [BUNDLE, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...inherited, ...env } });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Run one command to its end (at most `timeoutMs`, then SIGKILL and reject). */
export function runBundle(
  args: readonly string[],
  opts: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<Ran> {
  const child = launch(args, opts.env ?? {});
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timeoutMs = opts.timeoutMs ?? 2 * WAIT_MS;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`routeagent ${args.join(' ')}: no exit within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export type Agent = {
  readonly pid: number;
  /**
   * Every output line so far, stderr and stdout in the order they arrived: the daemon logs to stderr, one line per
   * event; a command's result (status, sync) goes to stdout.
   */
  readonly lines: string[];
  /** Resolves when the process has exited (and its output is drained). */
  readonly exited: Promise<Exit>;
  /** The first line at index >= `from` that matches, waiting up to `timeoutMs`; returns its index. */
  waitFor(match: RegExp | string, opts?: { from?: number; timeoutMs?: number }): Promise<number>;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it exited. */
  stop(graceMs?: number): Promise<Exit>;
  /** SIGKILL at once (a crash, or teardown that must not wait); resolves with how it exited. */
  kill(): Promise<Exit>;
};

/** Start a command and follow its output (normally `run --config F`; also `status`, whose exit code the caller awaits). */
export function startAgent(args: readonly string[], opts: { env?: Record<string, string | undefined> } = {}): Agent {
  const child = launch(args, opts.env ?? {});
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const follow = (stream: NodeJS.ReadableStream) => {
    let partial = '';
    stream.on('data', (d: Buffer) => {
      const parts = (partial + d.toString()).split('\n');
      partial = parts.pop()!;
      lines.push(...parts);
      for (const w of waiters) w();
    });
    stream.on('end', () => partial && lines.push(partial));
  };
  follow(child.stderr!);
  follow(child.stdout!);
  const exited = new Promise<Exit>((resolve) =>
    child.once('close', (code, signal) => {
      for (const w of waiters) w();
      resolve({ code, signal });
    }),
  );
  let done = false;
  void exited.then(() => (done = true));
  const matches = (l: string, m: RegExp | string) => (typeof m === 'string' ? l === m : m.test(l));

  return {
    pid: child.pid!,
    lines,
    exited,
    waitFor(match, { from = 0, timeoutMs = WAIT_MS } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const i = lines.findIndex((l, j) => j >= from && matches(l, match));
          if (i >= 0) return finish(() => resolve(i));
          if (done)
            return finish(() => reject(new Error(`routeagent exited before logging ${String(match)}; its log:\n${lines.join('\n')}`)));
        };
        const timer = setTimeout(
          () =>
            finish(() =>
              reject(new Error(`routeagent did not log ${String(match)} within ${timeoutMs} ms; its log:\n${lines.join('\n')}`)),
            ),
          timeoutMs,
        );
        const finish = (fn: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          fn();
        };
        waiters.add(check);
        check();
      });
    },
    signal(sig) {
      if (!done) child.kill(sig);
    },
    async stop(graceMs = 5000) {
      if (!done) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      return exited;
    },
    async kill() {
      if (!done) child.kill('SIGKILL');
      return exited;
    },
  };
}

/** SIGKILL every process started here that is still running, and wait for each to go. */
export async function killAll(): Promise<void> {
  await Promise.all(
    [...live].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}
