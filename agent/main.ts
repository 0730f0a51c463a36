// Entry point: argv → command; `--help`, `version`, `snippet` and `status` here, every other verb in verbs.ts (loaded
// only for them). The only file that calls process.exit.
// Exit codes: 0 ok; 1 `check` found problems, a one-shot sync failed or was guarded, `status` unhealthy; 2 bad usage or an
// unreadable/invalid config (for every verb, `check` included: the rc.d script refuses `start` on 2 and only warns on 1).
import { type Command, HELP, parseCommand, USAGE } from './cli.js';
import { type Config, readConfig } from './config.js';
import { renderSnippet } from './core/snippet.js';
import { healthProblems, type Status } from './core/status.js';
import { catchSignals } from './daemon/signals.js';
import { AgentError, ConfigError } from './errors.js';
import { askControl, controlPathFor } from './io/control.js';
import { readStatus } from './io/statusfile.js';
import { createLog } from './log.js';
import { formatStatus, formatStatusJson } from './output.js';
import type { VerbCommand, VerbContext } from './verbs.js';
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
  // Signals are caught before the daemon's code loads: see daemon/signals.ts.
  if (cmd.verb === 'run') return verb(cmd, { out, err, log, signals: catchSignals() });

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
  if (cmd.verb === 'snippet') {
    out(renderSnippet(config.haproxy.maps, cmd.target));
    return 0;
  }
  if (cmd.verb === 'status' && !cmd.peer) return status(config, cmd.json);
  return verb(cmd as VerbCommand, { out, err, log, config: { config, warnings } });
}

async function verb(cmd: VerbCommand, ctx: VerbContext): Promise<number> {
  const { runVerb } = await import('./verbs.js');
  return runVerb(cmd, ctx);
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
