// `haproxy -c` on the running config with staged maps swapped in, so a map is validated before it goes live;
// plus parseConfigBackends/readConfigBackends, the offline stand-in for `show stat` when the socket cannot be reached.
// `-c` opens and parses every map file but does not check that map values name backends (HAProxy 2.6, verified).
import { execFile } from 'node:child_process';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { MAP_NAMES, perMap } from '../core/maps.js';
import type { BackendMode } from '../core/reply.js';
import type { MapName } from '../core/types.js';
import { ApplyError } from '../errors.js';

export type CheckInput = {
  readonly bin: string;
  readonly config: string; // the running HAProxy config
  readonly mapPaths: Record<MapName, string>; // live map paths, as the config spells them
  readonly staged: Record<MapName, string>; // what to load instead (may equal the live path for an unchanged map)
  readonly timeoutMs?: number;
};
export type CheckResult = { readonly ok: boolean; readonly alerts: string[]; readonly loaded: Record<MapName, boolean> };

/** Run `<bin> -c -f <copy>` where the copy loads the staged maps; never touches the live config or maps. */
export async function checkConfig(input: CheckInput): Promise<CheckResult> {
  const text = await readConfig(input.config);
  const loaded = perMap(() => false);
  let copy = text;
  for (const m of MAP_NAMES) {
    loaded[m] = pathPattern(input.mapPaths[m]).test(text);
    copy = copy.replace(pathPattern(input.mapPaths[m]), () => input.staged[m]);
  }
  const copyPath = join(dirname(input.staged[MAP_NAMES[0]!]), `.${basename(input.config)}.check-${process.pid}.cfg`);
  try {
    await writeFile(copyPath, copy, { mode: 0o600 });
  } catch (err) {
    throw new ApplyError('check', `haproxy -c: cannot write the config copy ${copyPath} (${(err as Error).message})`, { cause: err });
  }
  try {
    const { code, output, spawnError } = await runCheck(input.bin, copyPath, dirname(input.config), input.timeoutMs ?? 30_000);
    if (spawnError) throw new ApplyError('check', `haproxy -c: cannot run ${input.bin}: ${spawnError}`);
    // Alerts name the copy; point them at the file the operator knows. Line numbers are unchanged.
    const alerts = parseAlerts(output).map((a) => a.split(copyPath).join(input.config));
    if (code !== 0 && alerts.length === 0) alerts.push(`exit ${code}: ${output.trim().split('\n').pop() ?? ''}`);
    return { ok: code === 0, alerts, loaded };
  } finally {
    await unlink(copyPath).catch(() => undefined);
  }
}

/** The text after `[ALERT]    (pid) : ` of every alert in `haproxy -c` output. */
export function parseAlerts(output: string): string[] {
  return output
    .split(/\n|(?=\[(?:ALERT|WARNING|NOTICE)\])/)
    .map((l) => /^\[ALERT\]\s*(?:\(\d+\)\s*)?:\s*(.*?)\s*$/.exec(l)?.[1])
    .filter((a): a is string => a !== undefined && a !== '');
}

const SECTIONS =
  /^(global|defaults|frontend|backend|listen|peers|resolvers|userlist|program|cache|mailers|http-errors|ring|log-forward|crt-store|traces)$/;

/** Backend and listen sections of a config → their mode (own `mode` line, else the last `defaults`, else tcp). */
export function parseConfigBackends(text: string): Map<string, BackendMode> {
  const backends = new Map<string, BackendMode>();
  let defaultMode: BackendMode = 'tcp';
  let section: { kind: string; name: string; mode?: BackendMode } | undefined;
  const close = () => {
    if (section?.kind === 'defaults' && section.mode) defaultMode = section.mode;
    if ((section?.kind === 'backend' || section?.kind === 'listen') && section.name)
      backends.set(section.name, section.mode ?? defaultMode);
  };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const words = line.split(/\s+/);
    if (SECTIONS.test(words[0]!)) {
      close();
      section = { kind: words[0]!, name: words[1] ?? '' };
    } else if (section && words[0] === 'mode' && (words[1] === 'http' || words[1] === 'tcp')) {
      section.mode = words[1];
    }
  }
  close();
  return backends;
}

/** The backends of the config file at `path` and their modes; what apply checks against when the socket is gone. */
export async function readConfigBackends(path: string): Promise<Map<string, BackendMode>> {
  try {
    return parseConfigBackends(await readFile(path, 'utf8'));
  } catch (err) {
    throw new ApplyError(
      'backends',
      `haproxy config ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); live maps unchanged`,
    );
  }
}

async function readConfig(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new ApplyError(
      'check',
      `haproxy config ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      { cause: err },
    );
  }
}

/** A map path as it appears in the config, not as part of a longer path (`/m/hosts.map` ≠ `/m/hosts.map.old`). */
function pathPattern(path: string): RegExp {
  const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![\\w./-])${escaped}(?![\\w./-])`, 'g');
}

function runCheck(
  bin: string,
  cfg: string,
  cwd: string,
  timeoutMs: number,
): Promise<{ code: number; output: string; spawnError?: string }> {
  return new Promise((resolve) => {
    // cwd = the config's folder, so relative paths in the copy resolve as they do for the running HAProxy.
    execFile(bin, ['-c', '-f', cfg], { cwd, timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (!err) return resolve({ code: 0, output });
      const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean; signal?: string };
      if (typeof e.code === 'string') return resolve({ code: -1, output, spawnError: e.code === 'ENOENT' ? 'not found' : e.code });
      if (e.killed || e.signal) return resolve({ code: -1, output, spawnError: `no answer within ${timeoutMs} ms (killed)` });
      resolve({ code: typeof e.code === 'number' ? e.code : 1, output });
    });
  });
}
