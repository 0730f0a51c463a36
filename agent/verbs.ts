// The verbs that sync, check a router or run the daemon: what main.ts does not do itself. main.ts loads this file with
// import() for those verbs only. The bundle carries it, with all it imports (the sync pipeline, the daemon, got,
// chokidar), as code that V8 compiles only then (scripts/bundle.mjs): `status`, `snippet` and `--help` never parse it.
// In the bundle its modules are copies of main.ts's own, so nothing but plain values crosses between the two (the
// command, the config, the output functions, the log, the caught signals) and its own failures are caught here.
import type { Command } from './cli.js';
import { type Config, configProblemLine } from './config.js';
import type { Signals } from './daemon/signals.js';
import type { Daemon } from './daemon.js';
import { AgentError, ConfigError } from './errors.js';
import { askControl, type Control, controlPathFor, type Hello, holdControl } from './io/control.js';
import { readStatus, recordStatus } from './io/statusfile.js';
import { createLog, type Log } from './log.js';
import { checkLine, formatPlan, formatPlanJson } from './output.js';
import type { SyncReport } from './sync.js';
import { VERSION } from './version.js';

/** The verbs run here: `status` only with --peer (main.ts answers a plain `status`). */
export type VerbCommand = Extract<Command, { verb: 'run' | 'sync' | 'check' | 'status' }>;
/** What main.ts hands over: where output goes, the log, and the config it read (every verb but `run` reads it there). */
export type VerbContext = {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
  readonly log: Log;
  readonly config?: { readonly config: Config; readonly warnings: string[] };
  /** `run`: the signals main.ts caught before loading this file. */
  readonly signals?: Signals;
};

let out: (s: string) => void;
let err: (s: string) => void;

/** Run `cmd`; resolves with the process's exit code. Throws only what is not an AgentError (a bug). */
export async function runVerb(cmd: VerbCommand, ctx: VerbContext): Promise<number> {
  ({ out, err } = ctx);
  const { log } = ctx;
  if (cmd.verb === 'run') return runDaemon(cmd.config, log, ctx.signals!);
  const { config, warnings } = ctx.config!;
  try {
    switch (cmd.verb) {
      case 'status':
        return await (await import('./peercheck.js')).comparePeer(config, out, err);
      case 'check': {
        const { preflight } = await import('./preflight.js');
        const problems = await preflight(config, out, { path: cmd.config, warnings });
        for (const p of problems) err(checkLine('problem', p));
        return problems.length ? 1 : 0;
      }
      case 'sync':
        return await sync(config, log, cmd);
    }
  } catch (e) {
    // An expected failure (a control socket that cannot be created, …) is one line for the operator, not a stack trace.
    if (!(e instanceof AgentError)) throw e;
    err(`routeagent: ${e.message}\n`);
    return 1;
  }
}

type SyncCommand = Extract<Command, { verb: 'sync' }>;
/** How long a one-shot waits for another one-shot to finish. */
const WAIT_MS = 60_000;
/** How long a one-shot waits for the daemon's answer: its running sync, then the one it runs for this request. */
const DAEMON_REPLY_MS = 120_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The process that changes the maps holds the control socket: this one-shot (until it ends), or the daemon, which is asked
// to sync and sends back the report of that sync. A dry run changes nothing, so it needs neither.
async function sync(config: Config, log: Log, cmd: SyncCommand): Promise<number> {
  if (cmd.dryRun) return syncHere(config, log, cmd);
  const path = controlPathFor(config.haproxy.maps.hosts);
  for (;;) {
    const got = await controlOrDaemon(config, path);
    if (typeof got === 'number') return got;
    if ('pid' in got) {
      const code = await syncViaDaemon(path, got, cmd);
      if (code !== undefined) return code;
      continue; // the daemon went away before it answered: its socket is stale now
    }
    try {
      return await syncHere(config, log, cmd);
    } finally {
      await got.release();
    }
  }
}

async function syncHere(config: Config, log: Log, cmd: SyncCommand): Promise<number> {
  const [{ createSyncDeps }, { createPair }, { newSyncState }] = await Promise.all([
    import('./deps.js'),
    import('./pair.js'),
    import('./sync.js'),
  ]);
  const quiet = cmd.json ? createLog(err, 'warn') : log;
  const report = await createPair(quiet, newSyncState()).sync(createSyncDeps(config, quiet), { dryRun: cmd.dryRun, force: cmd.force });
  if (!cmd.dryRun)
    await recordStatus(config.statusFile, report).catch((e: Error) => log.warn(`status ${config.statusFile}: cannot write (${e.message})`));
  return printReport(report, cmd);
}

function printReport(report: SyncReport, cmd: SyncCommand): number {
  out(cmd.json ? formatPlanJson(report) : formatPlan(report, cmd.dryRun));
  return report.error !== undefined || report.held?.length ? 1 : 0;
}

// The socket (held now, answering status from the status file), the daemon that holds it, or an exit code. Another
// one-shot is waited for, never signalled or asked: it applies what it planned, then this one plans again.
async function controlOrDaemon(config: Config, path: string): Promise<Control | Hello | number> {
  const deadline = Date.now() + WAIT_MS;
  let told = false;
  for (;;) {
    const held = await holdControl(path, { pid: process.pid, role: 'sync', version: VERSION });
    if (held.kind === 'held') {
      held.control.serve({ status: () => readStatus(config.statusFile) });
      return held.control;
    }
    const { holder } = held;
    if (holder.role === 'daemon') return holder;
    if (Date.now() > deadline) {
      err(`routeagent: a one-shot routeagent sync (pid ${holder.pid}) still holds ${path} after ${WAIT_MS / 1000} s; nothing done\n`);
      return 1;
    }
    if (!told) err(`routeagent: a one-shot routeagent sync (pid ${holder.pid}) holds ${path}; waiting for it to end\n`);
    told = true;
    await sleep(100);
  }
}

// The daemon runs a sync for this request (with its --force) and answers with that sync's report, printed exactly as a
// sync run here would be. undefined: the daemon was gone before it could be asked.
async function syncViaDaemon(path: string, daemon: Hello, cmd: SyncCommand): Promise<number | undefined> {
  // A notice, not the result: stderr, so that `--json` leaves stdout to the JSON.
  err(`routeagent: the daemon (pid ${daemon.pid}) drives these maps; asked it to sync${cmd.force ? ' with --force' : ''}\n`);
  const report = await askControl(path, { op: 'sync', force: cmd.force }, DAEMON_REPLY_MS).catch((e: unknown) => {
    if (!(e instanceof AgentError)) throw e;
    throw new AgentError(e.code, `${e.message}; the daemon (pid ${daemon.pid}) may still run the sync: see its log`);
  });
  if (report === undefined) return undefined;
  if (!isSyncReport(report))
    throw new AgentError(
      'ERR_CONTROL',
      `control socket ${path}: the daemon (pid ${daemon.pid}) answered the sync without a report; see its log`,
    );
  return printReport(report, cmd);
}

function isSyncReport(v: unknown): v is SyncReport {
  const r = v as SyncReport;
  return typeof r === 'object' && r !== null && typeof r.maps === 'object' && typeof r.plan === 'object' && typeof r.clusters === 'object';
}

async function runDaemon(configPath: string, log: Log, signals: Signals): Promise<number> {
  let daemon: Daemon;
  try {
    const { startDaemon } = await import('./daemon.js');
    daemon = await startDaemon({ configPath, log });
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const p of e.problems) log.error(configProblemLine(configPath, p));
      log.error(`daemon: not started: ${e.message}`);
      return 2;
    }
    if (e instanceof AgentError) {
      log.error(e.message);
      return 1;
    }
    throw e;
  }
  signals.attach(daemon);
  const sig = await signals.stopped;
  log.info(`daemon: ${sig}: finishing the current sync, then exiting`);
  await daemon.stop();
  return 0;
}
