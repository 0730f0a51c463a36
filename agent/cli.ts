// Command line → Command. Pure: no process, no I/O; main.ts runs the command and owns the exit code.
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH } from './config.js';
import { DEFAULT_SNIPPET_TARGET, isSnippetTarget, SNIPPET_TARGETS, type SnippetTarget } from './core/snippet.js';
import { UsageError } from './errors.js';

export type Command =
  | { readonly verb: 'run'; readonly config: string }
  | { readonly verb: 'sync'; readonly config: string; readonly dryRun: boolean; readonly json: boolean; readonly force: boolean }
  | { readonly verb: 'check'; readonly config: string }
  | { readonly verb: 'status'; readonly config: string; readonly json: boolean; readonly peer: boolean }
  | { readonly verb: 'snippet'; readonly config: string; readonly target: SnippetTarget }
  | { readonly verb: 'help' }
  | { readonly verb: 'version' };

export const USAGE = 'usage: routeagent run|sync|check|status|snippet [--config FILE] [--dry-run] [--json] [--force] [--peer] [--target T]';

export const HELP = `${USAGE}

  run       the daemon: sync on the schedule, on config change, on SIGHUP (reload) and SIGUSR2 (sync now)
  sync      one sync; --dry-run prints the plan and changes nothing, --json prints the report, --force passes the guard
  check     validate the config, reach each cluster, run haproxy -c, check the backends the config names
  status    the last sync's outcome (--json: the status file); exits 1 when unhealthy;
            --peer (CARP pair): compare this node's maps with the peer's, exits 1 when they differ
  snippet   the HAProxy frontend lines for the maps: --target ${SNIPPET_TARGETS.join('|')} (default ${DEFAULT_SNIPPET_TARGET}):
            pfSense's Advanced pass thru, OPNsense's Option pass-through, or both frontends whole for a plain HAProxy

  --config FILE   default ${DEFAULT_CONFIG_PATH}`;

const FLAGS: Record<string, readonly string[]> = {
  run: [],
  sync: ['dry-run', 'json', 'force'],
  check: [],
  status: ['json', 'peer'],
  snippet: ['target'],
};

/** Parse argv (without node and the script); throws UsageError with a one-line reason. */
export function parseCommand(argv: readonly string[]): Command {
  const { values, positionals } = parseArgv(argv);
  if (values.help || positionals[0] === 'help') return { verb: 'help' };
  if (values.version) return { verb: 'version' };
  const verb = positionals[0];
  if (verb === undefined) throw new UsageError('missing command');
  const allowed = FLAGS[verb];
  if (!allowed) throw new UsageError(`unknown command "${verb}"`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  for (const flag of ['dry-run', 'json', 'force', 'peer', 'target'] as const) {
    if (values[flag] !== undefined && values[flag] !== false && !allowed.includes(flag))
      throw new UsageError(`${verb} does not take --${flag}`);
  }
  if (values.config === '') throw new UsageError('--config needs a file path');
  const config = values.config ?? DEFAULT_CONFIG_PATH;
  switch (verb) {
    case 'sync':
      return { verb, config, dryRun: values['dry-run'] ?? false, json: values.json ?? false, force: values.force ?? false };
    case 'status':
      return { verb, config, json: values.json ?? false, peer: values.peer ?? false };
    case 'snippet':
      return { verb, config, target: snippetTarget(values.target) };
    case 'run':
    case 'check':
      return { verb, config };
    default:
      throw new UsageError(`unknown command "${verb}"`);
  }
}

function snippetTarget(name: string | undefined): SnippetTarget {
  if (name === undefined) return DEFAULT_SNIPPET_TARGET;
  if (!isSnippetTarget(name)) throw new UsageError(`unknown target "${name}" (valid: ${SNIPPET_TARGETS.join(', ')})`);
  return name;
}

// node's parseArgs, its error cut to one line (usage errors print one line and the usage).
function parseArgv(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string', short: 'c' },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
        force: { type: 'boolean' },
        peer: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
        target: { type: 'string' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]!.replace(/\. To specify a positional.*$/, ''));
  }
}
