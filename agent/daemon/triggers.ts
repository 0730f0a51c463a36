// The daemon's own triggers: the cron schedule, the watch on the config file and, on a node of a CARP pair, the watch on
// the CARP state. Each only calls back (a sync, a reload); the queue (queue.ts) serialises what they ask for. Signals
// are in signals.ts, control requests in control.ts.
import { type FSWatcher, watch } from 'chokidar';
import { schedule as cron, type ScheduledTask } from 'node-cron';
import type { HaConfig } from '../config.js';
import { type CarpState, type Role, roleOf } from '../core/carp.js';
import { readCarpState } from '../io/carp.js';
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
  return {
    info: (m) => log.debug(text(m)),
    warn: (m) => log.warn(text(m)),
    error: (m) => log.error(text(m)),
    debug: (m) => log.debug(text(m)),
  };
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

/** How often a node of a CARP pair reads its CARP state between syncs: ifconfig is cheap, and a new master leads at once. */
export const CARP_POLL_MS = 2_000;

export type CarpWatch = {
  /** Watch `ha`'s vhid from now on (a reload may change it); stop watching without `ha`. */
  restart(ha: HaConfig | undefined): void;
  stop(): void;
};

/**
 * Read the CARP state every `everyMs` and call `flip` when the role it gives is not the role of the last sync
 * (`synced`), so that a new master decides at once rather than at the next schedule tick. Each flip is logged and
 * asked for once; a failing ifconfig counts as following (the sync that reads it says why).
 */
export function watchCarp(log: Log, synced: () => Role | undefined, flip: (reason: string) => void, everyMs = CARP_POLL_MS): CarpWatch {
  let timer: NodeJS.Timeout | undefined;
  let generation = 0;
  let asked: CarpState | undefined; // the state a flip was last asked for: not asked again while it lasts
  const poll = async (ha: HaConfig, gen: number) => {
    const state = await readCarpState(ha.ifconfig, ha.vhid).catch((): CarpState => 'missing');
    if (gen !== generation) return; // stopped or restarted meanwhile
    const was = synced();
    const role = roleOf(state);
    if (was !== undefined && role !== was && asked !== state) {
      const seen =
        state === 'missing' ? `CARP vhid ${ha.vhid} is gone from the "${ha.ifconfig}" output` : `CARP vhid ${ha.vhid} is now ${state}`;
      log.info(`ha: ${seen}; syncing now to ${role === 'leader' ? 'lead' : 'follow'}`);
      flip(`CARP ${state}`);
    }
    asked = role === was ? undefined : state;
    timer = setTimeout(() => void poll(ha, gen), everyMs).unref();
  };
  const stop = () => {
    generation++;
    clearTimeout(timer);
    timer = undefined;
    asked = undefined;
  };
  return {
    restart(ha) {
      stop();
      if (ha) timer = setTimeout(() => void poll(ha, generation), everyMs).unref();
    },
    stop,
  };
}
