// The real thing: `node dist/routeagent.js run --config F` as a child process, its log lines collected as they come.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sleep, stopChild, track } from './procs.js';

export const BUNDLE = fileURLToPath(new URL('../../dist/routeagent.js', import.meta.url));

/** The node flags rc.d/routeagent starts node with (its routeagent_node_flags default): the bench runs node as shipped. */
export const RCD_NODE_FLAGS: readonly string[] = (() => {
  const script = readFileSync(fileURLToPath(new URL('../../rc.d/routeagent', import.meta.url)), 'utf8');
  const m = /^: "\$\{routeagent_node_flags=([^}]*)\}"$/m.exec(script);
  if (!m) throw new Error('rc.d/routeagent: no routeagent_node_flags default found');
  return m[1]!.split(/\s+/).filter((f) => f !== '');
})();

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

/** `nodeArgs` default: the flags rc.d passes. */
export function startDaemonProc(configPath: string, opts: { debug?: boolean; nodeArgs?: readonly string[] } = {}): DaemonProc {
  const env = { ...process.env };
  if (opts.debug) env['ROUTEAGENT_DEBUG'] = '1';
  else delete env['ROUTEAGENT_DEBUG'];
  const startedAt = performance.now();
  const child = track(process.execPath, [...(opts.nodeArgs ?? RCD_NODE_FLAGS), BUNDLE, 'run', '--config', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
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
        if (exited)
          throw new Error(
            `daemon exited before a line matched ${re}:\n${lines
              .slice(-10)
              .map((l) => l.text)
              .join('\n')}`,
          );
        const left = deadline - performance.now();
        if (left <= 0)
          throw new Error(
            `no daemon line matched ${re} within ${timeoutMs} ms; last lines:\n${lines
              .slice(-10)
              .map((l) => l.text)
              .join('\n')}`,
          );
        await Promise.race([new Promise<void>((r) => waiters.push(r)), sleep(Math.min(left, 250))]);
      }
    },
    stop: () => stopChild(child, 10_000, 'SIGTERM'),
  };
}
