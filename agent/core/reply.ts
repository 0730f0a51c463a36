// All knowledge of HAProxy's runtime-API reply text lives here (verified on HAProxy 2.6).
// Pure: parsers take the raw reply (as read to EOF from one connection) and return data, or undefined when the
// reply is not the expected shape; io/runtime.ts turns that into an error naming the command and the reply.
import type { Entry } from './types.js';

export type ShowInfo = { readonly version: string; readonly pid: number; readonly startTimeSec: number };
export type MapListing = {
  readonly id: number;
  readonly path: string;
  readonly currVer: number;
  readonly nextVer: number;
  /** The entries of every version, staged ones included; absent when HAProxy does not print the counters (before 2.4). */
  readonly entryCount?: number;
};
export type BackendMode = 'http' | 'tcp';

/** prepare/add @v/commit map exist from HAProxy 2.4 on: older versions are applied by reload. */
export const MIN_RUNTIME_VERSION = '2.4';

/** HAProxy closes the connection without a byte when a payload exceeds tune.bufsize: never a success. */
const EMPTY_REPLY = 'empty reply (HAProxy closed the connection)';

/** A write command succeeded: the reply is only newlines ("\n"). A zero-byte reply is a failure, not a success. */
export function isOk(reply: string): boolean {
  return reply.length > 0 && reply.replace(/\r?\n/g, '') === '';
}

/** The reply as one short line for operator messages: its first non-blank line, or a note that it was empty. */
export function describeReply(reply: string): string {
  if (reply.length === 0) return EMPTY_REPLY;
  const first = firstLine(reply);
  return first === '' ? 'ok' : first.length > 200 ? `${first.slice(0, 200)}…` : first;
}

/** `show info` → Version, Pid, Start_time_sec; undefined when there is no Version line. */
export function parseShowInfo(reply: string): ShowInfo | undefined {
  const fields = new Map<string, string>();
  for (const line of lines(reply)) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  const version = fields.get('Version');
  if (!version) return undefined;
  return { version, pid: Number(fields.get('Pid') ?? NaN), startTimeSec: Number(fields.get('Start_time_sec') ?? NaN) };
}

// "3 (/tmp/hat/maps/hosts.map) pattern loaded from file '…' used by map at file 'haproxy.cfg' line 20. curr_ver=0 next_ver=0 entry_cnt=2"
// HAProxy >= 2.4 ends each line with "curr_ver=N next_ver=N entry_cnt=N"; older ones print only "%d (%s) %s" (versions 0,
// no entry count).
const MAP_LINE = /^(\d+) \((.*)\) (.*)$/;
const MAP_VERSIONS = / curr_ver=(\d+) next_ver=(\d+) entry_cnt=(\d+)$/;

/** `show map` (no argument) → the maps the running config loaded; undefined when the reply is not that list. */
export function parseMapList(reply: string): MapListing[] | undefined {
  const all = lines(reply).filter((l) => l !== '');
  if (all[0] === undefined || !all[0].startsWith('# id')) return undefined; // even a config without maps prints the header
  const maps: MapListing[] = [];
  for (const line of all.slice(1)) {
    const m = MAP_LINE.exec(line);
    if (!m) return undefined;
    const v = MAP_VERSIONS.exec(line);
    maps.push({
      id: Number(m[1]),
      path: m[2]!,
      currVer: Number(v?.[1] ?? 0),
      nextVer: Number(v?.[2] ?? 0),
      ...(v ? { entryCount: Number(v[3]) } : {}),
    });
  }
  return maps;
}

// "0x5649f3992d60 app1.example.test be_app1": the value is the rest of the line and may hold spaces.
const ENTRY_LINE = /^0x[0-9a-f]+ (\S+) (.*)$/;

/** `show map [@v] <path>` → entries in HAProxy's order; "\n" is an empty map; undefined on an error text. */
export function parseShowMap(reply: string): Entry[] | undefined {
  const entries: Entry[] = [];
  // Walks the reply with indexOf rather than lines(): a 50,000-entry map is a 2 MB reply, read several times per sync.
  for (let start = 0; start < reply.length; ) {
    const nl = reply.indexOf('\n', start);
    const lineEnd = nl < 0 ? reply.length : nl;
    const end = reply.charCodeAt(lineEnd - 1) === 0x0d && lineEnd > start ? lineEnd - 1 : lineEnd; // one CR dropped
    if (end > start) {
      const entry = entryAt(reply, start, end);
      if (!entry) return undefined;
      entries.push(entry);
    }
    start = lineEnd + 1;
  }
  // Every reply ends with an empty line; a listing without it was cut short (HAProxy died mid-dump) and must not be
  // read as a smaller map: a restart would seed a down cluster from it and lose hosts.
  if (entries.length > 0 && !reply.endsWith('\n\n') && !reply.endsWith('\r\n\r\n')) return undefined;
  return entries;
}

// One entry line, reply[p, end). A line of printable ASCII (every line routeagent writes) is read in place: no line
// string, no match array, as a 50,000-entry dump has 50,000 of them. Any other line goes through ENTRY_LINE itself.
function entryAt(reply: string, p: number, end: number): Entry | undefined {
  let space = -1; // the space after the key
  let q = p + 2;
  if (reply.charCodeAt(p) !== 0x30 || reply.charCodeAt(p + 1) !== 0x78)
    q = -1; // "0x"
  else while (q < end && isLowerHex(reply.charCodeAt(q))) q++;
  const hexEnd = q;
  for (let i = p; i < end; i++) {
    const c = reply.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return entryByRegex(reply.slice(p, end));
    if (c === 0x20 && space < 0 && i > hexEnd) space = i;
  }
  if (hexEnd <= p + 2 || reply.charCodeAt(hexEnd) !== 0x20 || space <= hexEnd + 1) return entryByRegex(reply.slice(p, end));
  return { key: reply.slice(hexEnd + 1, space), backend: reply.slice(space + 1, end) };
}

function entryByRegex(line: string): Entry | undefined {
  const m = ENTRY_LINE.exec(line);
  return m ? { key: m[1]!, backend: m[2]! } : undefined;
}

/**
 * Does a `show map` reply list exactly `entries`, in this order? A one-pass check on the raw text, with no objects made.
 * false means only "not in this exact form": parse it (parseShowMap) and compare as a multiset. Entries must be
 * renderMap-valid (non-empty, no blanks), so a line that matches here is the line parseShowMap would read the same way.
 */
export function listsExactly(reply: string, entries: readonly Entry[]): boolean {
  const matcher = createListMatcher(entries);
  matcher.push(reply);
  return matcher.end();
}

export type ListMatcher = { push(text: string): void; end(): boolean };

/**
 * listsExactly fed piece by piece as the reply arrives: a 50,000-entry `show map @v` is checked while HAProxy still
 * writes it, and the reply is never joined into one string. end() says what listsExactly would say of the whole text.
 */
export function createListMatcher(entries: readonly Entry[]): ListMatcher {
  let i = 0; // the next entry to see
  let ended = false; // the empty line after the entries has been seen
  let ok = true;
  let carry = ''; // a line not yet complete
  // One complete line, reply[p, nl): the next entry (`0x<lower hex> key value`), or an empty line once all are seen.
  const line = (reply: string, p: number, nl: number): boolean => {
    if (i === entries.length) {
      ended = p === nl;
      return ended;
    }
    const { key, backend } = entries[i++]!;
    if (key === '' || backend === '') return false;
    if (reply.charCodeAt(p) !== 0x30 || reply.charCodeAt(p + 1) !== 0x78) return false; // "0x"
    let q = p + 2;
    while (isLowerHex(reply.charCodeAt(q))) q++;
    if (q === p + 2 || reply.charCodeAt(q) !== 0x20) return false;
    const k = q + 1; // slice equality: ~2× faster than startsWith at an offset or a char loop (bench/)
    const b = k + key.length + 1;
    const end = b + backend.length;
    return end === nl && reply.slice(k, b - 1) === key && reply.charCodeAt(b - 1) === 0x20 && reply.slice(b, end) === backend;
  };
  return {
    push(text) {
      if (!ok) return;
      const reply = carry === '' ? text : carry + text;
      let p = 0;
      for (let nl = reply.indexOf('\n'); nl >= 0 && ok; nl = reply.indexOf('\n', p)) {
        ok = line(reply, p, nl);
        p = nl + 1;
      }
      carry = p < reply.length ? reply.slice(p) : '';
    },
    // Every entry, then the empty line that ends every reply (cut short without it), then nothing but empty lines.
    end: () => ok && carry === '' && i === entries.length && (ended || entries.length === 0),
  };
}

function isLowerHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66);
}

/**
 * `prepare map <path>;show map` → the new version number ("New version created: N"), and the maps as `show map` listed
 * them right after it (absent when that listing is not there); undefined when no version was created.
 */
export function parsePrepared(reply: string): { version: number; maps?: MapListing[] } | undefined {
  const m = /^New version created: (\d+)$/.exec(firstLine(reply));
  if (!m) return undefined;
  const end = reply.indexOf('\n\n');
  const maps = end < 0 ? undefined : parseMapList(reply.slice(end + 2));
  return { version: Number(m[1]), ...(maps ? { maps } : {}) };
}

/** `show stat -1 2 -1` (CSV, backends only) → backend name → mode; columns found by header name, not index. */
export function parseShowStat(reply: string): Map<string, BackendMode> | undefined {
  const backends = new Map<string, BackendMode>();
  const ok = eachBackendRow(reply, 'mode', (name, m) => {
    if (m === 'http' || m === 'tcp') backends.set(name, m);
  });
  return ok ? backends : undefined;
}

/**
 * `show stat -1 2 -1` → backend name → its `status` cell. On 2.6 a backend row reads UP while some server can take traffic
 * (a server without `check` always counts), and DOWN once every server is DOWN or in MAINT (verified: a backend whose only
 * server was `disable`d reads DOWN); MAINT is accepted too, as other versions print it for a disabled backend.
 */
export function parseBackendStatus(reply: string): Map<string, string> | undefined {
  const status = new Map<string, string>();
  const ok = eachBackendRow(reply, 'status', (name, s) => status.set(name, s));
  return ok ? status : undefined;
}

/** Is a backend `status` cell one that routes nothing (DOWN, MAINT, and their "(via …)" / "x/y" variants)? */
export function isBackendDown(status: string): boolean {
  return /^(DOWN|MAINT)\b/.test(status);
}

// The CSV of `show stat`: columns are found by header name (their index moves between versions); false when not that CSV.
function eachBackendRow(reply: string, column: string, visit: (backend: string, cell: string) => void): boolean {
  const rows = lines(reply).filter((l) => l !== '');
  const header = rows[0];
  if (header === undefined || !header.startsWith('# ')) return false;
  const columns = header.slice(2).split(',');
  const name = columns.indexOf('pxname');
  const kind = columns.indexOf('svname');
  const wanted = columns.indexOf(column);
  if (name < 0 || kind < 0 || wanted < 0) return false;
  for (const row of rows.slice(1)) {
    const cells = row.split(',');
    if (cells[kind] === 'BACKEND') visit(cells[name]!, cells[wanted] ?? '');
  }
  return true;
}

/** Does HAProxy `version` ("2.6.12-1+deb12u4", "3.0-dev5") reach `min` ("2.4")? Compares the numeric dotted prefix. */
export function versionAtLeast(version: string, min: string): boolean {
  const have = numericParts(version);
  const want = numericParts(min);
  for (let i = 0; i < Math.max(have.length, want.length); i++) {
    const a = have[i] ?? 0;
    const b = want[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

function numericParts(version: string): number[] {
  const m = /^\d+(\.\d+)*/.exec(version.trim());
  return m ? m[0].split('.').map(Number) : [];
}

function lines(reply: string): string[] {
  return reply.split('\n').map((l) => l.replace(/\r$/, ''));
}

function firstLine(reply: string): string {
  return (
    lines(reply)
      .find((l) => l.trim() !== '')
      ?.trim() ?? ''
  );
}
