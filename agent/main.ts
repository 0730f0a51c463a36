// Entry point: argv → command, wiring, signals (HUP reload, USR2 sync, TERM/INT stop). The only file that calls process.exit.
// Exit codes: 0 ok; 1 `check` found problems, a one-shot sync failed or was guarded, `status` unhealthy; 2 bad usage or an
// unreadable/invalid config (for every verb, `check` included: the rc.d script refuses `start` on 2 and only warns on 1).
import { access, unlink, writeFile } from 'node:fs/promises';
import { HELP, USAGE, parseCommand, type Command } from './cli.js';
import { configProblemLine, readConfig, type Config } from './config.js';
import { renderSnippet } from './core/snippet.js';
import { formatStatus, healthProblems } from './core/status.js';
// daemon.js (chokidar, node-cron), deps.js and preflight.js (got) load only for the verbs that use them: `status`,
// `snippet` and `--help` start without them (a cold start on a small router is mostly module loading).
import type { Daemon } from './daemon.js';
import { AgentError, ConfigError } from './errors.js';
import { acquireLock, forcePathFor, lockHolder, lockPathFor, type Lock } from './io/lock.js';
import { readStatus, recordStatus } from './io/statusfile.js';
import { count, createLog, type Log } from './log.js';
import { newSyncState, syncOnce, type SyncReport } from './sync.js';
import { formatPlan } from './report.js';

export const VERSION = '0.1.0';

const out = (s: string) => process.stdout.write(s);
const err = (s: string) => process.stderr.write(s);

async function main(argv: readonly string[]): Promise<number> {
  let cmd: Command;
  try {
    cmd = parseCommand(argv);
  } catch (e) {
    err(`routeagent: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (cmd.verb === 'help') return out(HELP + '\n'), 0;
  if (cmd.verb === 'version') return out(`routeagent ${VERSION}\n`), 0;
  const log = createLog(err, process.env['ROUTEAGENT_DEBUG'] ? 'debug' : 'info');
  if (cmd.verb === 'run') return runDaemon(cmd.config, log);

  let config: Config;
  try {
    const loaded = await readConfig(cmd.config);
    config = loaded.config;
    for (const w of loaded.warnings) err(`warning: ${w}\n`);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) err(`${p}\n`);
    err(`routeagent: config ${cmd.config} is invalid (${count(e.problems.length, 'problem', 'problems')}); nothing done\n`);
    return 2;
  }
  try {
    switch (cmd.verb) {
      case 'snippet':
        out(renderSnippet(config.haproxy.maps));
        return 0;
      case 'status':
        return await status(config, cmd.json);
      case 'check': {
        const { preflight } = await import('./preflight.js');
        const problems = await preflight(config, out);
        for (const p of problems) err(`problem: ${p}\n`);
        return problems.length ? 1 : 0;
      }
      case 'sync':
        return await sync(config, log, cmd);
    }
  } catch (e) {
    // An expected failure (a lock that cannot be created, …) is one line for the operator, not a stack trace.
    if (!(e instanceof AgentError)) throw e;
    err(`routeagent: ${e.message}\n`);
    return 1;
  }
}

type SyncCommand = Extract<Command, { verb: 'sync' }>;
const LOCK_WAIT_MS = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sync(config: Config, log: Log, cmd: SyncCommand): Promise<number> {
  let release = async () => undefined as unknown;
  if (!cmd.dryRun) {
    const lock = await lockOrAskDaemon(config, cmd);
    if (typeof lock === 'number') return lock;
    release = lock.release;
  }
  try {
    const { createSyncDeps } = await import('./deps.js');
    const report = await syncOnce(createSyncDeps(config, cmd.json ? createLog(err, 'warn') : log), newSyncState(), { dryRun: cmd.dryRun, force: cmd.force });
    if (!cmd.dryRun) await recordStatus(config.statusFile, report).catch((e: Error) => log.warn(`status ${config.statusFile}: cannot write (${e.message})`));
    out(cmd.json ? JSON.stringify(jsonReport(report), null, 2) + '\n' : formatPlan(report, cmd.dryRun));
    return report.error !== undefined || report.held?.length ? 1 : 0;
  } finally {
    await release();
  }
}

// The lock, or the exit code of having asked the daemon that holds it. A one-shot sync that holds it is waited for,
// never signalled: it has no SIGUSR2 handler, and the signal's default action would kill it mid-apply.
async function lockOrAskDaemon(config: Config, cmd: SyncCommand): Promise<Lock | number> {
  const lockPath = lockPathFor(config.haproxy.maps.hosts);
  const deadline = Date.now() + LOCK_WAIT_MS;
  let told = false;
  for (;;) {
    const holder = await lockHolder(lockPath);
    if (holder !== undefined && holder.pid !== process.pid) {
      if (holder.role !== 'sync') {
        const code = await askDaemon(config, holder.pid, cmd);
        if (code !== undefined) return code;
        continue; // it was gone before the signal: its lock is stale now
      }
      if (Date.now() > deadline) {
        err(`routeagent: a one-shot routeagent sync (pid ${holder.pid}) still holds ${lockPath} after ${LOCK_WAIT_MS / 1000} s; nothing done\n`);
        return 1;
      }
      if (!told) err(`routeagent: a one-shot routeagent sync (pid ${holder.pid}) holds ${lockPath}; waiting for it to end\n`);
      told = true;
      await sleep(100);
      continue;
    }
    try {
      return await acquireLock(lockPath, 'sync');
    } catch (e) {
      if (!(e instanceof AgentError) || e.code !== 'ERR_LOCKED') throw e; // taken between the look and the grab: look again
    }
  }
}

// A daemon already drives these maps: ask it to sync (and pass the guard, with --force) instead of racing it, then report
// the first sync that started after the request (with --force: one that read the marker, so the guard did not hold).
// undefined: the daemon was gone before it could be asked.
async function askDaemon(config: Config, pid: number, cmd: SyncCommand): Promise<number | undefined> {
  const forcePath = forcePathFor(config.haproxy.maps.hosts);
  const asked = Date.now();
  if (cmd.force) {
    await writeFile(forcePath, `${process.pid}\n`).catch((e: NodeJS.ErrnoException) => {
      throw new AgentError('ERR_FORCE', `cannot leave the --force request ${forcePath} for the daemon (pid ${pid}): ${e.code ?? e.message}; nothing done (run as root?)`, false);
    });
  }
  try {
    process.kill(pid, 'SIGUSR2');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ESRCH') {
      if (cmd.force) await unlink(forcePath).catch(() => undefined);
      throw new AgentError('ERR_SIGNAL', `cannot ask the daemon (pid ${pid}) to sync: ${code ?? (e as Error).message}; nothing done (run as root, or use "service routeagent sync")`, false);
    }
    if (cmd.force) await unlink(forcePath).catch(() => undefined);
    return undefined;
  }
  // A notice, not the result: stderr, so that `--json` leaves stdout to the JSON.
  err(`routeagent: the daemon (pid ${pid}) drives these maps; asked it to sync${cmd.force ? ' with --force' : ''}\n`);
  const deadline = Date.now() + LOCK_WAIT_MS;
  while (Date.now() < deadline) {
    await sleep(100);
    const s = await readStatus(config.statusFile);
    if (!s || Date.parse(s.at) < asked) continue;
    if (cmd.force && (s.guard.held || (await access(forcePath).then(() => true, () => false)))) continue;
    // The daemon keeps its report; what it shares is the status (with --json: the status file's object).
    out(cmd.json ? JSON.stringify(s, null, 2) + '\n' : formatStatus(s, healthProblems(s, Date.now(), Number.POSITIVE_INFINITY)));
    return s.outcome === 'ok' ? 0 : 1;
  }
  err(`routeagent: the daemon (pid ${pid}) did not report a sync within ${LOCK_WAIT_MS / 1000} s; see its log\n`);
  return 1;
}

/** Exactly the `sync --json` shape of shared/DESIGN.md (plus `held`/`error` when they apply). */
function jsonReport(r: SyncReport) {
  return {
    maps: r.maps,
    plan: r.plan,
    conflicts: r.conflicts,
    skipped: r.skipped,
    clusters: Object.fromEntries(Object.entries(r.clusters).map(([n, c]) => [n, { ok: c.ok, routers: c.routers, ...(c.error !== undefined ? { error: c.error } : {}) }])),
    applied: r.applied,
    ...(r.held ? { held: r.held } : {}),
    ...(r.error !== undefined ? { error: r.error } : {}),
  };
}

const STATUS_MAX_AGE_SEC = 600;

async function status(config: Config, json: boolean): Promise<number> {
  const s = await readStatus(config.statusFile);
  if (!s) {
    err(`routeagent: no status at ${config.statusFile} (no sync has run yet, or the daemon cannot write there)\n`);
    return 1;
  }
  const problems = healthProblems(s, Date.now(), STATUS_MAX_AGE_SEC);
  out(json ? JSON.stringify(s, null, 2) + '\n' : formatStatus(s, problems));
  return problems.length ? 1 : 0;
}

async function runDaemon(configPath: string, log: Log): Promise<number> {
  // Handlers first: without one, SIGHUP and SIGUSR2 kill a node process, and the lock (which `routeagent sync` reads to
  // find whom to signal) is taken before start-up ends. Signals that arrive while starting are replayed once it has.
  let daemon: Daemon | undefined;
  const early = new Set<'SIGHUP' | 'SIGUSR2'>();
  process.on('SIGHUP', () => (daemon ? void daemon.reload('SIGHUP') : early.add('SIGHUP')));
  process.on('SIGUSR2', () => (daemon ? daemon.trigger('SIGUSR2') : early.add('SIGUSR2')));
  const stopSignal = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  try {
    const { startDaemon } = await import('./daemon.js');
    daemon = await startDaemon({ configPath, log });
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const p of e.problems) log.error(configProblemLine(configPath, p));
      log.error(`daemon: not started: config ${configPath} is invalid`);
      return 2;
    }
    if (e instanceof AgentError) {
      log.error(e.message);
      return 1;
    }
    throw e;
  }
  if (early.has('SIGHUP')) void daemon.reload('SIGHUP');
  if (early.has('SIGUSR2')) daemon.trigger('SIGUSR2');
  const sig = await stopSignal;
  log.info(`daemon: ${sig}: finishing the current sync, then exiting`);
  await daemon.stop();
  return 0;
}

// process.exit() drops whatever a pipe has not taken yet (a `sync --json` report of a few hundred KB, for one):
// an empty write's callback runs once everything written before it has been flushed.
const flushed = () => Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((resolve) => s.write('', () => resolve()))));

main(process.argv.slice(2)).then(
  async (code) => {
    await flushed();
    process.exit(code);
  },
  async (e: unknown) => {
    // Not an AgentError: a bug. Print everything we know.
    err(`routeagent: internal error (please report): ${(e as Error)?.stack ?? String(e)}\n`);
    await flushed();
    process.exit(70);
  },
);
