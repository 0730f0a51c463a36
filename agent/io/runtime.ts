// HAProxy runtime API client: one connection per command (write, half-close, read to EOF), bounded by timeoutMs,
// and replaceMap, the atomic prepare → add @v → check @v → commit sequence (HAProxy management guide, "prepare map" / "commit map").
// Reply text is interpreted only by core/reply.ts; this file knows sockets and the order of commands.
import { createConnection, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { byKey, renderPayload, sameEntries } from '../core/render.js';
import {
  type BackendMode,
  createListMatcher,
  describeReply,
  isOk,
  type MapListing,
  parseBackendStatus,
  parseMapList,
  parsePrepared,
  parseShowInfo,
  parseShowMap,
  parseShowStat,
  type ShowInfo,
} from '../core/reply.js';
import type { Entry } from '../core/types.js';
import { HaproxyReplyError } from '../errors.js';

export type RuntimeOptions = { readonly timeoutMs?: number; readonly maxPayloadBytes?: number };
export type ReplaceResult = { readonly version: number; readonly entries: number; readonly chunks: number };

export type Runtime = {
  readonly address: string;
  /** Send one command (and an optional payload of whole lines); resolves with the raw reply. */
  send(cmd: string, payload?: string): Promise<string>;
  info(): Promise<ShowInfo>;
  listMaps(): Promise<MapListing[]>;
  /**
   * `show map [@version] <path>`. With `likely` (entries as parseShowMap reads them or as renderMap writes them), a reply
   * that lists exactly those is checked as it arrives and answered with `likely` itself, never joined or parsed.
   */
  showMap(path: string, opts?: { readonly version?: number; readonly likely?: readonly Entry[] }): Promise<readonly Entry[]>;
  backends(): Promise<Map<string, BackendMode>>;
  /** Backend name → its `show stat` status (UP, DOWN, MAINT…). */
  backendStatus(): Promise<Map<string, string>>;
  /** Atomically replace the live entries of map `path` with `entries`; throws without committing on any bad reply. */
  replaceMap(path: string, entries: readonly Entry[]): Promise<ReplaceResult>;
};

const CONNECT_ERRORS: Record<string, string> = {
  ENOENT: 'not found (is HAProxy running?)',
  ECONNREFUSED: 'connection refused (is HAProxy running?)',
  ENOTSOCK: 'not a socket (is the stats socket path right?)',
  EACCES: 'permission denied (run routeagent as root or fix the socket mode)',
  EPERM: 'permission denied (run routeagent as root or fix the socket mode)',
};

/** `address` is a unix socket path, or `ipv4@host:port` / `host:port` for a TCP stats socket. */
export function createRuntime(address: string, options: RuntimeOptions = {}): Runtime {
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxPayloadBytes = options.maxPayloadBytes ?? 8000;
  let queue: Promise<unknown> = Promise.resolve(); // one replaceMap at a time: versions are shared per map

  const send = async (cmd: string, payload?: string): Promise<string> => text(await exchange(address, cmd, payload, timeoutMs));

  async function run<T>(cmd: string, parse: (reply: string) => T | undefined): Promise<T> {
    const reply = await send(cmd);
    const parsed = parse(reply);
    if (parsed === undefined) throw new HaproxyReplyError(`haproxy: ${cmd}: ${JSON.stringify(describeReply(reply))}`);
    return parsed;
  }

  const info = () => run('show info', parseShowInfo);
  const listMaps = () => run('show map', parseMapList);
  const backends = () => run('show stat -1 2 -1', parseShowStat);
  const backendStatus = () => run('show stat -1 2 -1', parseBackendStatus);
  const showMap = async (path: string, opts: { readonly version?: number; readonly likely?: readonly Entry[] } = {}) => {
    const cmd = `show map ${opts.version === undefined ? '' : `@${opts.version} `}${mapArg(path)}`;
    return opts.likely ? listing(cmd, opts.likely) : run(cmd, parseShowMap);
  };

  async function replace(path: string, entries: readonly Entry[]): Promise<ReplaceResult> {
    const arg = mapArg(path);
    const sorted = byKey(entries); // the order HAProxy lists them in: the order they were added
    const chunks = renderPayload(sorted, maxPayloadBytes);
    // The entry count before the adds comes with the prepare, in the same exchange (the CLI runs `;`-separated commands
    // in order): one round trip fewer per map, which is most of the cost of replacing a small map.
    const reply = await send(`prepare map ${arg};show map`).catch((err: Error) => {
      throw new HaproxyReplyError(`${err.message}; live map unchanged`, { cause: err });
    });
    const prepared = parsePrepared(reply);
    if (!prepared) throw new HaproxyReplyError(`haproxy: prepare map ${arg}: ${JSON.stringify(describeReply(reply))}; live map unchanged`);
    const { version } = prepared;
    try {
      const before = prepared.maps && countOf(prepared.maps, path);
      for (const chunk of chunks) await mustBeOk(`add map @${version} ${arg} <<`, chunk);
      const problem = await stagedProblem(path, version, entries, sorted, before);
      if (problem) throw new HaproxyReplyError(`haproxy: ${problem}`);
      await mustBeOk(`commit map @${version} ${arg}`);
    } catch (err) {
      // Uncommitted versions are also purged by the next commit; clearing now just frees them early.
      await send(`clear map @${version} ${arg}`).catch(() => undefined);
      const message = err instanceof Error ? err.message : String(err);
      throw new HaproxyReplyError(`${message}; not committed, live map unchanged`, { cause: err });
    }
    // No dump after the commit. `commit map @v` swaps the version just checked in whole, atomically, and answered ok:
    // what is live is what was checked. What could still differ is a later change by someone else (`set map`, `add map`
    // without @v, a restart); that is drift, which the next sync's `show map` (readLive) compares with the desired
    // entries and repairs, as it does for drift at any other time.
    return { version, entries: entries.length, chunks: chunks.length };
  }

  /**
   * The check before the commit: why version @v must not go live, or undefined when it holds exactly `entries`.
   *
   * With entry counts (HAProxy >= 2.4) the staged version is counted, not dumped. `show map` lists each map's entry_cnt,
   * the entries of all its versions; between the listing that came with the prepare and the one after the adds, only
   * this replace's adds should have changed it. A rise of exactly `entries.length` proves @v holds as many entries as
   * lines were sent. That each line is the entry meant is settled before HAProxy sees it: renderPayload writes one
   * `key backend` line per entry and refuses any key outside [a-z0-9._-] or backend outside [A-Za-z0-9._:-] (so no
   * blank, line break, `#` or non-ASCII byte), so HAProxy splits each line into exactly that key and that value; and
   * every `add map @v` answered ok, where HAProxy answers an error, or closes the connection, for a line it does not
   * add. The count catches a line lost on the way, and another client changing the same map meanwhile (adding to @v,
   * deleting, clearing): then nothing is committed and the next sync tries again. So a version is never committed
   * half-filled, nor with another client's entries in it. What only a dump would catch, HAProxy storing other bytes
   * than the ones it acknowledged, is drift that the next sync's `show map` finds and repairs. Without counts (a listing
   * without this map, or without its counters) @v is dumped and compared entry by entry instead.
   */
  async function stagedProblem(
    path: string,
    version: number,
    entries: readonly Entry[],
    sorted: readonly Entry[],
    before: number | undefined,
  ): Promise<string | undefined> {
    const after = before === undefined ? undefined : countOf(await listMaps(), path);
    if (before !== undefined && after !== undefined) {
      const added = after - before;
      return added === entries.length
        ? undefined
        : `show map: the entry count of ${mapArg(path)} rose by ${added} while @${version} was filled, expected ${entries.length} (lines lost, or another client changed the map)`;
    }
    const staged = await differing(path, version, entries, sorted);
    return staged
      ? `show map @${version} ${mapArg(path)}: staged version holds ${staged.length} entries, expected ${entries.length}`
      : undefined;
  }

  /** What `show map @v <path>` lists when it is not exactly `entries`; undefined when it is. */
  async function differing(
    path: string,
    version: number,
    entries: readonly Entry[],
    sorted: readonly Entry[],
  ): Promise<readonly Entry[] | undefined> {
    const listed = await listing(`show map @${version} ${mapArg(path)}`, sorted);
    return listed === sorted || sameEntries(listed, entries) ? undefined : listed;
  }

  /**
   * A `show map` listing: `expected` itself when the reply lists exactly it, in order (the usual case, checked as the reply
   * arrives, without joining or parsing 50,000 lines), else what parseShowMap reads. createListMatcher says "exactly"
   * only of a listing parseShowMap would read as those very entries.
   */
  async function listing(cmd: string, expected: readonly Entry[]): Promise<readonly Entry[]> {
    const matcher = createListMatcher(expected);
    const decoder = new StringDecoder('utf8');
    const chunks = await exchange(address, cmd, undefined, timeoutMs, (data) => matcher.push(decoder.write(data)));
    matcher.push(decoder.end());
    if (matcher.end()) return expected;
    const reply = text(chunks);
    const listed = parseShowMap(reply);
    if (listed === undefined) throw new HaproxyReplyError(`haproxy: ${cmd}: ${JSON.stringify(describeReply(reply))}`);
    return listed;
  }

  async function mustBeOk(cmd: string, payload?: string): Promise<void> {
    const reply = await send(cmd, payload);
    if (!isOk(reply)) throw new HaproxyReplyError(`haproxy: ${cmd}: ${JSON.stringify(describeReply(reply))}`);
  }

  function replaceMap(path: string, entries: readonly Entry[]): Promise<ReplaceResult> {
    const next = queue.then(() => replace(path, entries));
    queue = next.catch(() => undefined);
    return next;
  }

  return { address, send, info, listMaps, showMap, backends, backendStatus, replaceMap };
}

/** Map `path`'s entry_cnt in a `show map` listing (every version's entries), or undefined when it is not listed once with one. */
function countOf(maps: readonly MapListing[], path: string): number | undefined {
  const listed = maps.filter((m) => m.path === path);
  return listed.length === 1 ? listed[0]!.entryCount : undefined;
}

/** Did this error come from not reaching the socket at all (as opposed to a bad or late reply)? */
export function isUnreachable(err: unknown): boolean {
  const code = connectCode(err);
  return err instanceof HaproxyReplyError && code !== undefined && code in CONNECT_ERRORS;
}

/** Did nothing listen on the socket (no file, or a file nobody accepts on)? EACCES, ENOTSOCK… mean something may run there. */
export function isNothingListening(err: unknown): boolean {
  const code = connectCode(err);
  return err instanceof HaproxyReplyError && (code === 'ENOENT' || code === 'ECONNREFUSED');
}

function connectCode(err: unknown): string | undefined {
  return (err as { cause?: NodeJS.ErrnoException } | undefined)?.cause?.code;
}

/** A map path as a CLI argument: the CLI splits words on blanks and `;`, so such paths cannot be named safely. */
function mapArg(path: string): string {
  if (!/^[^\s;\\#]+$/.test(path))
    throw new HaproxyReplyError(`map path ${JSON.stringify(path)}: contains a blank, ';', '\\' or '#', which the HAProxy CLI cannot take`);
  return path;
}

function connect(address: string): Socket {
  const tcp = /^(?:ipv4@)?([^/@]+):(\d+)$/.exec(address);
  return tcp ? createConnection({ host: tcp[1]!, port: Number(tcp[2]) }) : createConnection({ path: address });
}

function text(chunks: readonly Buffer[]): string {
  return Buffer.concat(chunks).toString('utf8');
}

/** One command on its own connection; resolves with the reply's pieces, each also handed to `onData` as it comes. */
function exchange(
  address: string,
  cmd: string,
  payload: string | undefined,
  timeoutMs: number,
  onData?: (data: Buffer) => void,
): Promise<Buffer[]> {
  if (/[\r\n]/.test(cmd))
    return Promise.reject(new HaproxyReplyError(`haproxy ${address}: command contains a newline: ${JSON.stringify(cmd)}`));
  return new Promise((resolve, reject) => {
    const socket = connect(address);
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(chunks);
    };
    const timer = setTimeout(() => finish(new HaproxyReplyError(`haproxy ${address}: ${cmd}: no reply within ${timeoutMs} ms`)), timeoutMs);
    socket.on('connect', () => {
      // The payload ends with an empty line; then half-close so HAProxy (and a master CLI) knows we are done (management guide §9.4, payloads).
      socket.end(payload === undefined ? `${cmd}\n` : `${cmd}\n${payload}${payload.endsWith('\n') ? '' : '\n'}\n`);
    });
    socket.on('data', (data: Buffer) => {
      chunks.push(data);
      onData?.(data);
    });
    socket.on('end', () => finish(undefined));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const known = err.code ? CONNECT_ERRORS[err.code] : undefined;
      const what = known && !socket.bytesWritten ? `socket ${address}: ${known}` : `haproxy ${address}: ${cmd}: ${err.code ?? err.message}`;
      finish(new HaproxyReplyError(what, { cause: err }));
    });
  });
}
