// The daemon decides *when* to sync: at start, on the cron schedule, when the config file changes, on SIGHUP (reload),
// SIGUSR2 (sync now) and a `sync` request on the control socket. One sync at a time; triggers that arrive during a sync
// coalesce into one more, and a request is answered with the report of a sync that started after it arrived.
// It does not decide *what* to sync (sync.ts) and never exits the process (main.ts does).
import { createServer, type Server } from 'node:http';
import { watch, type FSWatcher } from 'chokidar';
import { schedule, type ScheduledTask } from 'node-cron';
import { configProblemLine, readConfig, type Config } from './config.js';
import { renderMetrics, type Counters } from './core/metrics.js';
import type { Status } from './core/status.js';
import { createSyncDeps } from './deps.js';
import { AgentError, ConfigError } from './errors.js';
import { controlPathFor, describeHolder, holdControl, type Control } from './io/control.js';
import { readStatus, recordStatus } from './io/statusfile.js';
import type { Log } from './log.js';
import { newSyncState, syncOnce, type SyncDeps, type SyncReport } from './sync.js';
import { VERSION } from './version.js';

function cronLog(log: Log): NonNullable<Parameters<typeof schedule>[2]>['logger'] {
  const text = (m: string | Error) => `schedule: ${m instanceof Error ? m.message : m}`;
  return { info: (m) => log.debug(text(m)), warn: (m) => log.warn(text(m)), error: (m) => log.error(text(m)), debug: (m) => log.debug(text(m)) };
}

/** Someone waiting for the report of the next sync (a `routeagent sync` asking over the control socket). */
type Waiter = { readonly force: boolean; readonly done: (r: SyncReport | AgentError) => void };
/** The one sync queued behind the running one: why, and who waits for it. */
type Queued = { readonly reason: string; readonly waiters: Waiter[] };

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

/** Load the config (hard error when invalid), take the control socket (the lock), and start syncing. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { log } = opts;
  const makeDeps = opts.makeDeps ?? createSyncDeps;
  let { config, warnings } = await readConfig(opts.configPath);
  for (const w of warnings) log.warn(`config ${opts.configPath}: ${w}`);
  const control = await takeControl(config);
  const state = newSyncState();
  const counters: Counters = { syncs: { ok: 0, failed: 0, held: 0 }, failovers: 0 };
  let status: Status | undefined = await readStatus(config.statusFile);
  let running: Promise<void> | undefined;
  let pending: Queued | undefined;
  let stopping = false;
  let task: ScheduledTask | undefined;
  let metrics: Server | undefined;

  /** One sync; undefined when it failed unexpectedly (a bug, logged with its stack). */
  const runOne = async (reason: string, force: boolean): Promise<SyncReport | undefined> => {
    if (force) log.info('sync: forced by "routeagent sync --force"; the guard does not apply to this sync');
    log.debug(`sync: starting (${reason}${force ? ', forced' : ''})`);
    try {
      const report = await syncOnce(makeDeps(config, log), state, { force });
      status = await recordStatus(config.statusFile, report, status).catch((e: Error) => {
        log.warn(`status ${config.statusFile}: cannot write (${e.message}); next sync retries`);
        return status;
      });
      counters.syncs[report.error !== undefined ? 'failed' : report.held?.length ? 'held' : 'ok']++;
      counters.failovers += report.failovers.filter((f) => f.since === report.at).length; // started by this sync
      opts.onSync?.(report);
      return report;
    } catch (e) {
      counters.syncs.failed++;
      log.error(`sync: unexpected failure: ${(e as Error).stack ?? String(e)}; retrying at the next trigger`);
      return undefined;
    }
  };

  // The queue of one: whatever arrives while a sync runs joins the next one. A request waits for that next sync, never
  // the running one (it may have read the clusters before the request, and without its --force).
  const drain = async () => {
    while (pending && !stopping) {
      const { reason, waiters } = pending;
      pending = undefined;
      const report = await runOne(reason, waiters.some((w) => w.force));
      for (const w of waiters) w.done(report ?? new AgentError('ERR_SYNC', 'the sync failed unexpectedly; see the daemon log'));
    }
    running = undefined;
  };

  const enqueue = (reason: string, waiter?: Waiter) => {
    if (stopping) return waiter?.done(stoppingError());
    pending ??= { reason, waiters: [] };
    if (waiter) pending.waiters.push(waiter);
    running ??= drain();
  };
  const trigger = (reason: string) => enqueue(reason);
  const requestSync = (force: boolean) =>
    new Promise<SyncReport>((resolve, reject) =>
      enqueue(force ? 'routeagent sync --force' : 'routeagent sync', { force, done: (r) => (r instanceof AgentError ? reject(r) : resolve(r)) }),
    );

  const startSchedule = () => {
    task?.destroy();
    // node-cron's own notices (a missed tick while the machine was busy) go through our log: one line, level first.
    task = schedule(config.schedule, () => trigger('schedule'), { name: 'routeagent-sync', logger: cronLog(log) });
  };

  // closeAllConnections: a scraper's keep-alive connection must not hold a stop or a reload up.
  const stopMetrics = async () => {
    const server = metrics;
    metrics = undefined;
    if (!server) return;
    const closed = new Promise<void>((r) => server.close(() => r()));
    server.closeAllConnections();
    await closed;
  };

  const startMetrics = async () => {
    await stopMetrics();
    if (!config.metrics.enabled) return;
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(renderMetrics(counters, status));
    });
    await new Promise<void>((resolve) => {
      const failedToListen = (e: Error) => {
        log.warn(`metrics: cannot listen on ${config.metrics.address}:${config.metrics.port} (${e.message}); metrics off`);
        resolve();
      };
      server.once('error', failedToListen);
      server.listen(config.metrics.port, config.metrics.address, () => {
        // Listening: a later server error (EMFILE on accept, …) is logged, never left unhandled to kill the daemon.
        server.off('error', failedToListen);
        server.on('error', (e) => log.warn(`metrics: ${e.message}; still serving`));
        metrics = server;
        log.info(`metrics: serving http://${hostPort(server)}/metrics`);
        resolve();
      });
    });
  };

  const reload = async (reason: string): Promise<boolean> => {
    try {
      const next = await readConfig(opts.configPath);
      for (const w of next.warnings) log.warn(`config ${opts.configPath}: ${w}`);
      if (controlPathFor(next.config.haproxy.maps.hosts) !== control.path) {
        log.warn(`config ${opts.configPath}: map folder changed; restart routeagent to move its control socket (keeping ${control.path})`);
      }
      const scheduleChanged = next.config.schedule !== config.schedule;
      const metricsChanged = JSON.stringify(next.config.metrics) !== JSON.stringify(config.metrics);
      config = next.config;
      if (scheduleChanged) startSchedule();
      if (metricsChanged) await startMetrics();
      log.info(`config ${opts.configPath}: reloaded (${reason})`);
      trigger(`config ${reason}`);
      return true;
    } catch (e) {
      if (!(e instanceof AgentError)) throw e;
      const problems = e instanceof ConfigError ? e.problems : [e.message];
      for (const p of problems) log.error(`${configProblemLine(opts.configPath, p)}; keeping previous config`);
      return false;
    }
  };

  let watcher: FSWatcher | undefined = watch(opts.configPath, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 300, pollInterval: 50 } });
  watcher.on('change', () => void reload('file changed'));
  watcher.on('add', () => void reload('file created'));
  watcher.on('unlink', () => log.warn(`config ${opts.configPath}: file deleted; keeping previous config until it is back`));
  watcher.on('error', (e) => log.warn(`config ${opts.configPath}: watch failed (${(e as Error).message}); SIGHUP still reloads`));

  control.serve({ sync: requestSync, status: async () => status });
  startSchedule();
  await startMetrics();
  log.info(`daemon: started (pid ${process.pid}), ${config.clusters.length} clusters, schedule "${config.schedule}"`);
  trigger('start');

  return {
    trigger,
    requestSync,
    reload,
    config: () => config,
    metricsAddress: () => (metrics ? hostPort(metrics) : undefined),
    async stop() {
      stopping = true;
      task?.destroy();
      await watcher?.close();
      watcher = undefined;
      await running;
      for (const w of pending?.waiters ?? []) w.done(stoppingError());
      pending = undefined;
      await stopMetrics();
      await control.release();
      log.info('daemon: stopped');
    },
  };
}

/** Bind the control socket, or refuse to start naming the agent that holds it. */
async function takeControl(config: Config): Promise<Control> {
  const path = controlPathFor(config.haproxy.maps.hosts);
  const held = await holdControl(path, { pid: process.pid, role: 'daemon', version: VERSION });
  if (held.kind === 'held') return held.control;
  throw new AgentError('ERR_LOCKED', `control socket ${path}: ${describeHolder(held.holder)} drives these maps; exiting`);
}

function stoppingError(): AgentError {
  return new AgentError('ERR_STOPPING', 'the daemon is stopping; no sync run for this request');
}

function hostPort(server: Server): string {
  const a = server.address();
  if (!a || typeof a !== 'object') return String(a);
  return `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}
