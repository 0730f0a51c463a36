// The real thing: `node dist/routeagent.js run --config F` as a child process, its log lines collected as they come.
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sleep, stopChild, track } from './procs.js';

export const BUNDLE = fileURLToPath(new URL('../../dist/routeagent.js', import.meta.url));

export type DaemonProc = {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly startedAt: number; // performance.now() just before spawn
  /** Every log line so far, with when it arrived (performance.now()). */
  readonly lines: { text: string; at: number }[];
  /** Resolves with the index of the first line from `from` on that matches. */
  waitLine(re: RegExp, timeoutMs: number, from?: number): Promise<number>;
  stop(): Promise<void>;
};

export function startDaemonProc(configPath: string, opts: { debug?: boolean; nodeArgs?: string[] } = {}): DaemonProc {
  const env = { ...process.env };
  if (opts.debug) env['ROUTEAGENT_DEBUG'] = '1';
  else delete env['ROUTEAGENT_DEBUG'];
  const startedAt = performance.now();
  const child = track(process.execPath, [...(opts.nodeArgs ?? []), BUNDLE, 'run', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const lines: { text: string; at: number }[] = [];
  let waiters: (() => void)[] = [];
  let partial = '';
  const onData = (d: Buffer) => {
    const at = performance.now();
    const parts = (partial + d.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) lines.push({ text, at });
    const w = waiters;
    waiters = [];
    for (const fn of w) fn();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exited = false;
  child.once('exit', () => {
    exited = true;
    for (const fn of waiters) fn();
  });
  return {
    child,
    pid: child.pid ?? -1,
    startedAt,
    lines,
    async waitLine(re, timeoutMs, from = 0) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const i = lines.findIndex((l, j) => j >= from && re.test(l.text));
        if (i >= 0) return i;
        if (exited) throw new Error(`daemon exited before a line matched ${re}:\n${lines.slice(-10).map((l) => l.text).join('\n')}`);
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`no daemon line matched ${re} within ${timeoutMs} ms; last lines:\n${lines.slice(-10).map((l) => l.text).join('\n')}`);
        await Promise.race([new Promise<void>((r) => waiters.push(r)), sleep(Math.min(left, 250))]);
      }
    },
    stop: () => stopChild(child, 10_000, 'SIGTERM'),
  };
}
