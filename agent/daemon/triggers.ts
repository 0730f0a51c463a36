// The daemon's own triggers: the cron schedule and the watch on the config file. Each only calls back (a sync, a
// reload); the queue (queue.ts) serialises what they ask for. Signals are in signals.ts, control requests in control.ts.
import { watch, type FSWatcher } from 'chokidar';
import { schedule as cron, type ScheduledTask } from 'node-cron';
import type { Log } from '../log.js';

export type Schedule = {
  /** Replace the running schedule (if any) with `expr`. */
  restart(expr: string): void;
  stop(): void;
};

/** A node-cron schedule that calls `tick` on each firing; its own notices go through `log`. */
export function createSchedule(log: Log, tick: () => void): Schedule {
  let task: ScheduledTask | undefined;
  return {
    restart(expr) {
      task?.destroy();
      task = cron(expr, tick, { name: 'routeagent-sync', logger: cronLog(log) });
    },
    stop: () => task?.destroy(),
  };
}

// node-cron's own notices (a missed tick while the machine was busy) go through our log: one line, level first.
function cronLog(log: Log): NonNullable<NonNullable<Parameters<typeof cron>[2]>['logger']> {
  const text = (m: string | Error) => `schedule: ${m instanceof Error ? m.message : m}`;
  return { info: (m) => log.debug(text(m)), warn: (m) => log.warn(text(m)), error: (m) => log.error(text(m)), debug: (m) => log.debug(text(m)) };
}

/** Watch the config file: a change or a re-creation reloads it; a deletion keeps the config in force. */
export function watchConfig(path: string, log: Log, reload: (reason: string) => unknown): FSWatcher {
  const watcher = watch(path, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 300, pollInterval: 50 } });
  watcher.on('change', () => void reload('file changed'));
  watcher.on('add', () => void reload('file created'));
  watcher.on('unlink', () => log.warn(`config ${path}: file deleted; keeping previous config until it is back`));
  watcher.on('error', (e) => log.warn(`config ${path}: watch failed (${(e as Error).message}); SIGHUP still reloads`));
  return watcher;
}
