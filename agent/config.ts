// The config file: written form (what the operator types) → resolved form (defaults filled, cross-field rules checked).
// Every problem is reported at once as `path: message`; defaults live only in withDefaults().
import { readFile, stat } from 'node:fs/promises';
import type { ErrorObject } from 'ajv';
import { validate as validateCron } from 'node-cron';
import schema from '../schemas/config.schema.json' with { type: 'json' }; // read for "did you mean": the keys allowed where one is unknown
import { asciiLower, type Expose, normaliseHost } from './core/hosts.js';
import { DEFAULT_MAP_DIR, MAP_KINDS, perMap } from './core/maps.js';
import type { Cluster, MapName } from './core/types.js';
import { ConfigError } from './errors.js';
import { validateConfig as validateWritten } from './generated/validators.js'; // schemas/config.schema.json, compiled by build.sh

export const DEFAULT_CONFIG_PATH = '/usr/local/etc/routeagent/config.json';

export type StaticRoute = { readonly host: string; readonly backends: Partial<Record<MapName, string>> };
export type HaproxyConfig = {
  readonly bin: string;
  readonly config: string;
  readonly socket: string;
  readonly maps: Record<MapName, string>;
  readonly reload?: string;
  readonly timeoutMs: number;
};
/** A CARP pair: the node whose `vhid` is MASTER leads; the other mirrors it over HTTP (`peer`, `listen`). */
export type HaConfig = {
  readonly vhid: number;
  readonly peer: string;
  readonly listen: { readonly address: string; readonly port: number };
  readonly tokenFile: string;
  readonly ifconfig: string;
};
export type Config = {
  readonly clusters: readonly Cluster[];
  readonly expose: Expose;
  readonly static: readonly StaticRoute[];
  readonly pins: Readonly<Record<string, string>>;
  readonly conflicts: 'sticky' | 'priority';
  readonly haproxy: HaproxyConfig;
  readonly schedule: string;
  readonly guard: { readonly maxRemovalRatio: number };
  readonly statusFile: string;
  readonly metrics: { readonly enabled: boolean; readonly address: string; readonly port: number };
  readonly failover: { readonly enabled: boolean; readonly downAfter: number; readonly upAfter: number };
  /** Absent: a single router. */
  readonly ha?: HaConfig;
};

/** One `path: message` line per schema violation, with the offending property named where ajv knows it. */
export function describeSchemaErrors(errors: readonly ErrorObject[]): string[] {
  return errors.map((e) => {
    const where = e.instancePath || '/';
    if (e.keyword === 'additionalProperties') {
      const key = String(e.params['additionalProperty']);
      const near = nearestKey(key, knownKeys(e.schemaPath));
      return `${where}: unknown property "${key}"${near ? `; did you mean "${near}"?` : ''}`;
    }
    if (e.keyword === 'enum')
      return `${where}: must be one of ${(e.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    return `${where}: ${e.message ?? 'is invalid'}`;
  });
}

// The properties the schema allows where ajv found an unknown one: its schemaPath ends in /additionalProperties, and the
// object schema it points into lists them (every such object in config.schema.json is inline, so no $ref to follow).
function knownKeys(schemaPath: string): string[] {
  let node: unknown = schema;
  for (const part of schemaPath.replace(/^#\//, '').split('/').slice(0, -1)) node = (node as Record<string, unknown> | undefined)?.[part];
  const props = (node as { properties?: Record<string, unknown> } | undefined)?.properties;
  return props ? Object.keys(props) : [];
}

/** The known key a typo most likely meant: the closest within 2 edits (case ignored), when only one is that close. */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  const scored = known
    .map((k) => ({ k, d: editDistance(key.toLowerCase(), k.toLowerCase()) }))
    .filter((x) => x.d <= Math.min(2, Math.floor(x.k.length / 2)));
  const best = Math.min(...scored.map((x) => x.d));
  const at = scored.filter((x) => x.d === best);
  return at.length === 1 ? at[0]!.k : undefined;
}

// Levenshtein distance: insertions, deletions and substitutions each cost 1.
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * Validate and resolve a parsed config file.
 * @example parseConfig(JSON.parse(text)) → { config } | { errors: ['/clusters/0/api: must match format "uri"'] }
 */
export function parseConfig(json: unknown): { config: Config; errors?: undefined } | { config?: undefined; errors: string[] } {
  if (!validateWritten(json)) return { errors: describeSchemaErrors(validateWritten.errors ?? []) };
  const config = withDefaults(json as Written);
  const errors = crossFieldRules(config);
  return errors.length ? { errors } : { config };
}

type Written = {
  clusters: (Omit<Cluster, 'priority' | 'timeoutMs'> & { priority?: number; timeoutMs?: number })[];
  expose: Partial<Expose>;
  static?: StaticRoute[];
  pins?: Record<string, string>;
  conflicts?: 'sticky' | 'priority';
  haproxy?: Partial<Omit<HaproxyConfig, 'maps'>> & { maps?: Partial<Record<MapName, string>> };
  schedule?: string;
  guard?: { maxRemovalRatio?: number };
  statusFile?: string;
  metrics?: { enabled?: boolean; address?: string; port?: number };
  failover?: { enabled?: boolean; downAfter?: number; upAfter?: number };
  ha?: Omit<HaConfig, 'ifconfig'> & { ifconfig?: string };
};

function withDefaults(w: Written): Config {
  const lower = (hosts: readonly string[] | undefined) => (hosts ?? []).map((h) => asciiLower(h).replace(/\.$/, ''));
  return {
    clusters: w.clusters.map((c) => ({ ...c, priority: c.priority ?? 0, timeoutMs: c.timeoutMs ?? 5000 })),
    expose: { domains: lower(w.expose.domains), hosts: lower(w.expose.hosts), exclude: lower(w.expose.exclude) },
    static: (w.static ?? []).map((s) => ({ host: asciiLower(s.host).replace(/\.$/, ''), backends: s.backends })),
    pins: Object.fromEntries(Object.entries(w.pins ?? {}).map(([h, c]) => [asciiLower(h).replace(/\.$/, ''), c])),
    conflicts: w.conflicts ?? 'sticky',
    haproxy: {
      bin: w.haproxy?.bin ?? '/usr/local/sbin/haproxy',
      config: w.haproxy?.config ?? '/var/etc/haproxy/haproxy.cfg',
      socket: w.haproxy?.socket ?? '/tmp/haproxy.socket',
      maps: perMap((m) => w.haproxy?.maps?.[m] ?? `${DEFAULT_MAP_DIR}/${MAP_KINDS[m].file}`),
      ...(w.haproxy?.reload !== undefined ? { reload: w.haproxy.reload } : {}),
      timeoutMs: w.haproxy?.timeoutMs ?? 5000,
    },
    schedule: w.schedule ?? '*/15 * * * * *',
    guard: { maxRemovalRatio: w.guard?.maxRemovalRatio ?? 0.5 },
    statusFile: w.statusFile ?? '/var/run/routeagent/status.json',
    metrics: { enabled: w.metrics?.enabled ?? false, address: w.metrics?.address ?? '127.0.0.1', port: w.metrics?.port ?? 9498 },
    failover: { enabled: w.failover?.enabled ?? true, downAfter: w.failover?.downAfter ?? 2, upAfter: w.failover?.upAfter ?? 3 },
    ...(w.ha ? { ha: { ...w.ha, ifconfig: w.ha.ifconfig ?? '/sbin/ifconfig' } } : {}),
  };
}

function crossFieldRules(c: Config): string[] {
  const errors: string[] = [];
  const names = new Map<string, number>();
  const owner = new Map<string, string>(); // backend → cluster: seeding from map files needs each backend to name one cluster
  c.clusters.forEach((cl, i) => {
    const first = names.get(cl.name);
    if (first !== undefined) errors.push(`/clusters/${i}/name: duplicate cluster name "${cl.name}" (also /clusters/${first})`);
    else names.set(cl.name, i);
    for (const [map, backend] of Object.entries(cl.backends) as [MapName, string][]) {
      const other = owner.get(backend);
      if (other !== undefined && other !== cl.name)
        errors.push(`/clusters/${i}/backends/${map}: backend "${backend}" is also used by cluster "${other}"`);
      owner.set(backend, cl.name);
    }
    const url = URL.canParse(cl.api) ? new URL(cl.api) : undefined;
    // Quote the URL without anything between // and @: that part may be credentials.
    if (!url?.hostname) errors.push(`/clusters/${i}/api: "${cl.api.replace(/\/\/[^/]*@/, '//…@')}" is not a valid http(s) URL`);
    else if (url.username || url.password) errors.push(`/clusters/${i}/api: credentials in the URL are not allowed; use auth`);
    if (cl.auth) {
      const a = cl.auth as Record<string, string | undefined>;
      const basic = a['username'] !== undefined;
      if (basic && (a['token'] !== undefined || a['tokenFile'] !== undefined))
        errors.push(`/clusters/${i}/auth: use either username/password or token, not both`);
      if (basic && (a['password'] === undefined) === (a['passwordFile'] === undefined))
        errors.push(`/clusters/${i}/auth: needs exactly one of password, passwordFile`);
      if (!basic && (a['password'] !== undefined || a['passwordFile'] !== undefined))
        errors.push(`/clusters/${i}/auth: password needs a username`);
      if (!basic && (a['token'] === undefined) === (a['tokenFile'] === undefined))
        errors.push(`/clusters/${i}/auth: needs exactly one of token, tokenFile`);
    }
  });
  const checkHost = (path: string, h: string, wildcardOk = false) => {
    const name = wildcardOk && h.startsWith('*.') ? h.slice(2) : h;
    const r = normaliseHost(name);
    if ('error' in r) errors.push(`${path}: ${r.error}`);
  };
  for (const [i, d] of c.expose.domains.entries()) checkHost(`/expose/domains/${i}`, d);
  for (const [i, h] of c.expose.hosts.entries()) checkHost(`/expose/hosts/${i}`, h);
  for (const [i, h] of c.expose.exclude.entries()) checkHost(`/expose/exclude/${i}`, h, true);
  const seenStatic = new Set<string>();
  c.static.forEach((s, i) => {
    checkHost(`/static/${i}/host`, s.host);
    if (seenStatic.has(s.host)) errors.push(`/static/${i}/host: duplicate static host "${s.host}"`);
    seenStatic.add(s.host);
  });
  for (const [host, cluster] of Object.entries(c.pins)) {
    checkHost(`/pins/${host}`, host);
    if (!names.has(cluster)) errors.push(`/pins/${host}: unknown cluster "${cluster}"`);
  }
  if (c.haproxy.maps.hosts === c.haproxy.maps.sni) errors.push(`/haproxy/maps: hosts and sni must be different files`);
  for (const [map, path] of Object.entries(c.haproxy.maps)) {
    // pfSense deletes /var/etc/haproxy on every Apply and at boot (pfSense rewrites that folder from its GUI config).
    if (path.startsWith('/var/etc/haproxy'))
      errors.push(`/haproxy/maps/${map}: ${path} is inside /var/etc/haproxy, which pfSense wipes on every Apply`);
    // OPNsense's os-haproxy rewrites its own Map Files under /tmp/haproxy/mapfiles at every start and reload (setup.sh).
    if (path.startsWith('/tmp/haproxy/')) {
      errors.push(
        `/haproxy/maps/${map}: ${path} is inside /tmp/haproxy, which OPNsense's HAProxy plugin rewrites at every start and reload; keep routeagent's maps in /usr/local/etc/routeagent/maps`,
      );
    }
  }
  if (c.ha) {
    const peer = URL.canParse(c.ha.peer) ? new URL(c.ha.peer) : undefined;
    if (!peer?.hostname) errors.push(`/ha/peer: "${c.ha.peer.replace(/\/\/[^/]*@/, '//…@')}" is not a valid http(s) URL`);
    else if (peer.username || peer.password)
      errors.push('/ha/peer: credentials in the URL are not allowed; the token comes from tokenFile');
  }
  if (!validateCron(c.schedule)) errors.push(`/schedule: "${c.schedule}" is not a valid cron expression`);
  return errors;
}

/** Warnings that do not stop the agent (printed by `check` and logged at start). */
export function configWarnings(c: Config, fileMode?: number): string[] {
  const warnings: string[] = [];
  // One line for both maps: they usually sit in one folder, and one cause deserves one warning.
  const volatile = Object.entries(c.haproxy.maps).filter(([, path]) => path.startsWith('/var/') || path.startsWith('/tmp/'));
  if (volatile.length) {
    const which = volatile.map(([map, path]) => `${map} ${path}`).join(' and ');
    warnings.push(`/haproxy/maps: ${which} may be lost at reboot on a RAM disk; prefer /usr/local/etc/routeagent/maps`);
  }
  const inline = c.clusters.filter((cl) => cl.auth && ('password' in cl.auth || 'token' in cl.auth)).map((cl) => cl.name);
  if (inline.length && fileMode !== undefined && (fileMode & 0o004) !== 0) {
    warnings.push(
      `config is world-readable and holds secrets of cluster${inline.length > 1 ? 's' : ''} ${inline.join(', ')}; chmod 600 it or use passwordFile/tokenFile`,
    );
  }
  return warnings;
}

// V8 quotes the text around a bad token (`..."assword": 'hunter2'}"`), and the log goes to syslog: keep only what is
// wrong and where (line and column), never the file's content.
function describeJsonError(message: string, text: string): string {
  const token = /^Unexpected token '(.)', /.exec(message);
  const at = /at position (\d+)/.exec(message);
  const what = token
    ? `unexpected character ${JSON.stringify(token[1])}`
    : message.replace(/ in JSON at position \d+$/, '').replace(/, ".*$/s, '');
  const pos = at ? Number(at[1]) : token ? firstBadToken(text, token[1]!) : undefined;
  if (pos === undefined || pos < 0) return what;
  const before = text.slice(0, pos).split('\n');
  return `${what} at line ${before.length} column ${before[before.length - 1]!.length + 1}`;
}

// V8 reports no position for an unexpected token; the first occurrence outside a string is where parsing stopped.
function firstBadToken(text: string, ch: string): number {
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === ch) return i;
  }
  return -1;
}

/** `config <file>: <problem>` for the log; file-level problems already start with the file's path, so it is not repeated. */
export function configProblemLine(path: string, problem: string): string {
  return problem.startsWith(`${path}: `) ? `config ${problem}` : `config ${path}: ${problem}`;
}

// A newcomer's first run: say where a config comes from, not only that this one is absent.
function missingConfigProblem(path: string): string {
  if (path === DEFAULT_CONFIG_PATH)
    return `${path}: no such file; rc.d/install.sh writes a sample config there to edit, or name another file with --config FILE`;
  return `${path}: no such file; check the path given to --config (rc.d/install.sh writes a sample config to ${DEFAULT_CONFIG_PATH})`;
}

/** Read, parse and resolve the config file; throws ConfigError listing every problem. */
export async function readConfig(path: string): Promise<{ config: Config; warnings: string[] }> {
  let text: string;
  let mode: number;
  try {
    [text, mode] = await Promise.all([readFile(path, 'utf8'), stat(path).then((s) => s.mode)]);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(path, [missingConfigProblem(path)], 'missing');
    throw new ConfigError(path, [`${path}: cannot read (${code ?? (e as Error).message})`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(path, [`${path}: not valid JSON (${describeJsonError((e as Error).message, text)})`]);
  }
  const parsed = parseConfig(json);
  if (parsed.errors) throw new ConfigError(path, parsed.errors);
  return { config: parsed.config, warnings: configWarnings(parsed.config, mode) };
}
