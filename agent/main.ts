// Entry point: argv → command, wiring, signals (HUP reload, USR2 sync, TERM/INT stop). The only file that calls process.exit.
// Exit codes: 0 ok; 1 `check` found problems, a one-shot sync failed or was guarded, `status` unhealthy; 2 bad usage or an
// unreadable/invalid config (for every verb, `check` included: the rc.d script refuses `start` on 2 and only warns on 1).
import { type Command, HELP, parseCommand, USAGE } from './cli.js';
import { type Config, configProblemLine, readConfig } from './config.js';
import { renderSnippet } from './core/snippet.js';
import { healthProblems, type Status } from './core/status.js';
import { catchSignals } from './daemon/signals.js';
// daemon.js (chokidar, node-cron), deps.js and preflight.js (got) load only for the verbs that use them: `status`,
// `snippet` and `--help` start without them (a cold start on a small router is mostly module loading).
import type { Daemon } from './daemon.js';
import { AgentError, ConfigError } from './errors.js';
import { askControl, type Control, controlPathFor, type Hello, holdControl } from './io/control.js';
import { readStatus, recordStatus } from './io/statusfile.js';
import { createLog, type Log } from './log.js';
import { checkLine, formatPlan, formatPlanJson, formatStatus, formatStatusJson } from './output.js';
import type { SyncReport } from './sync.js';
import { VERSION } from './version.js';

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
  if (cmd.verb === 'help' || cmd.verb === 'version') {
    out(cmd.verb === 'help' ? `${HELP}\n` : `routeagent ${VERSION}\n`);
    return 0;
  }
  const log = createLog(err, process.env['ROUTEAGENT_DEBUG'] ? 'debug' : 'info');
  if (cmd.verb === 'run') return runDaemon(cmd.config, log);

  let config: Config;
  let warnings: string[]; // printed by `check` only (and logged at daemon start): other verbs would repeat them at every run
  try {
    ({ config, warnings } = await readConfig(cmd.config));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) err(`${p}\n`);
    err(`routeagent: ${e.message}; nothing done\n`);
    return 2;
  }
  try {
    switch (cmd.verb) {
      case 'snippet':
        out(renderSnippet(config.haproxy.maps, cmd.target));
        return 0;
      case 'status':
        return cmd.peer ? await (await import('./peercheck.js')).comparePeer(config, out, err) : await status(config, cmd.json);
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
      daemon.version === VERSION
        ? `control socket ${path}: the daemon (pid ${daemon.pid}) answered the sync without a report; see its log`
        : `control socket ${path}: the daemon (pid ${daemon.pid}) runs routeagent ${daemon.version}, whose report this ${VERSION} cannot read; the daemon did sync (see its log); restart it ("service routeagent restart") to run this version`,
    );
  return printReport(report, cmd);
}

function isSyncReport(v: unknown): v is SyncReport {
  const r = v as SyncReport;
  return (
    typeof r === 'object' && r !== null && Array.isArray(r.maps?.hosts) && typeof r.plan === 'object' && typeof r.clusters === 'object'
  );
}

const STATUS_MAX_AGE_SEC = 600;

async function status(config: Config, json: boolean): Promise<number> {
  const s = await statusFromHolder(config);
  if (!s) {
    err(`routeagent: no status at ${config.statusFile} (no sync has run yet, or the daemon cannot write there)\n`);
    return 1;
  }
  const problems = healthProblems(s, Date.now(), STATUS_MAX_AGE_SEC);
  out(json ? formatStatusJson(s) : formatStatus(s, problems));
  return problems.length ? 1 : 0;
}

// The running agent's status (the daemon's own, newer than the file when a write failed), else the status file. A holder
// that does not answer is not a reason to print nothing: say so, and read the file.
async function statusFromHolder(config: Config) {
  const path = controlPathFor(config.haproxy.maps.hosts);
  try {
    const s = await askControl(path, { op: 'status' }, 10_000);
    if (s !== undefined) return (s ?? undefined) as Status | undefined;
  } catch (e) {
    if (!(e instanceof AgentError)) throw e;
    err(`routeagent: ${e.message}; reading ${config.statusFile} instead\n`);
  }
  return readStatus(config.statusFile);
}

async function runDaemon(configPath: string, log: Log): Promise<number> {
  const signals = catchSignals(); // before the daemon loads: see daemon/signals.ts
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

// process.exit() drops whatever a pipe has not taken yet (a `sync --json` report of a few hundred KB, for one):
// an empty write's callback runs once everything written before it has been flushed.
const flushed = () =>
  Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((resolve) => s.write('', () => resolve()))));

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
