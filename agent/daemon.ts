// The daemon's lifecycle: start (config, control socket, schedule, config watch, metrics server, first sync), reload
// (a new config in force, or the old one kept) and stop (drain the queue, close everything). It decides *when* to sync
// through its parts in daemon/: queue.ts (one sync at a time, requests answered by the next one), triggers.ts (schedule,
// config watch, CARP watch), signals.ts (wired by main.ts), control.ts (the socket's requests), runner.ts (one sync and its status),
// metrics-server.ts. It does not decide *what* to sync (sync.ts) and never exits the process (main.ts does).
import type { FSWatcher } from 'chokidar';
import { type Config, configProblemLine, readConfig } from './config.js';
import { renderMetrics } from './core/metrics.js';
import { serveDaemon, takeControl } from './daemon/control.js';
import { createMetricsServer, type MetricsServer } from './daemon/metrics-server.js';
import { createSyncQueue, type SyncQueue } from './daemon/queue.js';
import { createSyncRunner } from './daemon/runner.js';
import { type CarpWatch, createSchedule, type Schedule, watchCarp, watchConfig } from './daemon/triggers.js';
import { createSyncDeps } from './deps.js';
import { AgentError, ConfigError } from './errors.js';
import { type Control, controlPathFor } from './io/control.js';
import { readStatus } from './io/statusfile.js';
import type { Log } from './log.js';
import { createPair, type Pair } from './pair.js';
import { newSyncState, type SyncDeps, type SyncReport } from './sync.js';

export type DaemonOptions = {
  readonly configPath: string;
  readonly log: Log;
  /** Tests and the demo swap edges here; production uses createSyncDeps. */
  readonly makeDeps?: (config: Config, log: Log) => SyncDeps;
  /** Called after every sync (tests, demo). */
  readonly onSync?: (report: SyncReport) => void;
};
export type Daemon = {
  /** Queue a sync; coalesces with one already waiting. */
  trigger(reason: string): void;
  /** Queue a sync (coalesced likewise) and resolve with its report: a sync that starts after this call. */
  requestSync(force: boolean): Promise<SyncReport>;
  /** Re-read the config file; the previous config stays when the new one is invalid. */
  reload(reason: string): Promise<boolean>;
  /** Finish the current sync, stop every timer and watcher, release the control socket. */
  stop(): Promise<void>;
  readonly config: () => Config;
  readonly metricsAddress: () => string | undefined;
};

/** The parts of a running daemon, and the config in force (replaced by a valid reload). */
type Parts = {
  config: Config;
  readonly opts: DaemonOptions;
  readonly control: Control;
  readonly queue: SyncQueue<SyncReport>;
  readonly schedule: Schedule;
  readonly metrics: MetricsServer;
  /** A CARP pair (config `ha`): leads or mirrors; otherwise a plain syncOnce. */
  readonly pair: Pair;
  /** A CARP pair: a role flip syncs at once, not at the next schedule tick. */
  readonly carp: CarpWatch;
  watcher?: FSWatcher | undefined;
};

/** Load the config (hard error when invalid), take the control socket (the lock), and start syncing. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { log } = opts;
  const makeDeps = opts.makeDeps ?? createSyncDeps;
  const { config, warnings } = await readConfig(opts.configPath);
  for (const w of warnings) log.warn(`config ${opts.configPath}: ${w}`);
  const control = await takeControl(config);
  const state = newSyncState();
  const pair = createPair(log, state);
  // The runner reads the config in force through `d`, which is complete before the first sync (queue.trigger below).
  const runner = createSyncRunner({
    log,
    decide: (force) => pair.sync(makeDeps(d.config, log), { force }),
    statusFile: () => d.config.statusFile,
    status: await readStatus(config.statusFile),
    onSync: opts.onSync,
  });
  const queue = createSyncQueue(runner.run);
  const d: Parts = {
    config,
    opts,
    control,
    queue,
    schedule: createSchedule(log, () => queue.trigger('schedule')),
    metrics: createMetricsServer(log, () => renderMetrics(runner.counters, runner.status())),
    pair,
    carp: watchCarp(log, pair.role, (reason) => queue.trigger(reason)),
  };
  const reload = (reason: string) => reloadConfig(d, reason);
  d.watcher = watchConfig(opts.configPath, log, reload);
  serveDaemon(control, { sync: queue.request, status: runner.status });
  d.schedule.restart(config.schedule);
  await d.metrics.restart(config.metrics);
  await pair.serve(config);
  d.carp.restart(config.ha);
  log.info(`daemon: started (pid ${process.pid}), ${config.clusters.length} clusters, schedule "${config.schedule}"`);
  queue.trigger('start');

  return {
    trigger: queue.trigger,
    requestSync: queue.request,
    reload,
    config: () => d.config,
    metricsAddress: d.metrics.address,
    stop: () => stopDaemon(d),
  };
}

/** Put a valid config in force (schedule and metrics follow it) and sync; keep the current one when it is not. */
async function reloadConfig(d: Parts, reason: string): Promise<boolean> {
  const { configPath: path, log } = d.opts;
  try {
    const next = await readConfig(path);
    for (const w of next.warnings) log.warn(`config ${path}: ${w}`);
    if (controlPathFor(next.config.haproxy.maps.hosts) !== d.control.path) {
      log.warn(`config ${path}: map folder changed; restart routeagent to move its control socket (keeping ${d.control.path})`);
    }
    const scheduleChanged = next.config.schedule !== d.config.schedule;
    const metricsChanged = JSON.stringify(next.config.metrics) !== JSON.stringify(d.config.metrics);
    d.config = next.config;
    if (scheduleChanged) d.schedule.restart(d.config.schedule);
    if (metricsChanged) await d.metrics.restart(d.config.metrics);
    await d.pair.serve(d.config);
    d.carp.restart(d.config.ha);
    log.info(`config ${path}: reloaded (${reason})`);
    d.queue.trigger(`config ${reason}`);
    return true;
  } catch (e) {
    if (!(e instanceof AgentError)) throw e;
    const problems = e instanceof ConfigError ? e.problems : [e.message];
    for (const p of problems) log.error(`${configProblemLine(path, p)}; keeping previous config`);
    return false;
  }
}

/** No new syncs; the running one finishes; then the timers, the watcher, the metrics server and the socket close. */
async function stopDaemon(d: Parts): Promise<void> {
  const drained = d.queue.close();
  d.schedule.stop();
  d.carp.stop();
  await d.watcher?.close();
  d.watcher = undefined;
  await drained;
  await d.metrics.stop();
  await d.pair.stop();
  await d.control.release();
  d.opts.log.info('daemon: stopped');
}
