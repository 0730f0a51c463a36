// A node of a CARP pair (config `ha`): at every sync, read the CARP state to know the role, then either decide and apply
// (leader: syncOnce, as a single router does) or mirror the leader (follower: mirror.ts). Also answers the peer's
// `GET /v1/state` with the map files this node holds: as they stood right after its last sync that ended without error,
// kept in memory, and only when the files are what that sync produced. Without `ha` every call is a plain syncOnce.
import { readFile } from 'node:fs/promises';
import { createHaproxyPort } from './apply.js';
import type { Config, HaConfig } from './config.js';
import { type CarpState, type Role, roleOf } from './core/carp.js';
import { isExposed } from './core/hosts.js';
import { MAP_NAMES } from './core/maps.js';
import { buildPeerState, digest, type Mirror, mirrorOf, type PeerState, refusedEntry } from './core/peerstate.js';
import { renderMap } from './core/render.js';
import type { HaStatus } from './core/status.js';
import type { Entry, MapName } from './core/types.js';
import { AgentError } from './errors.js';
import { readCarpState } from './io/carp.js';
import { fetchPeerState, readToken } from './io/peer.js';
import { type PeerServer, servePeerState } from './io/peerserver.js';
import type { Log } from './log.js';
import { mirrorOnce } from './mirror.js';
import { type SyncDeps, type SyncOptions, type SyncReport, type SyncState, syncOnce } from './sync.js';

export type PairReport = SyncReport & { ha?: HaStatus };
export type Pair = {
  /** The role of the last sync (undefined before the first, or without `ha`). */
  role(): Role | undefined;
  /** One sync in this node's current role. */
  sync(deps: SyncDeps, opts?: SyncOptions): Promise<PairReport>;
  /** Answer the peer on `ha.listen` (restarted when it changed; stopped without `ha`). */
  serve(config: Config): Promise<void>;
  stop(): Promise<void>;
};

export function createPair(log: Log, state: SyncState): Pair {
  let role: Role | undefined;
  let carp: CarpState = 'missing';
  let _config: Config | undefined;
  let held: Held | undefined; // what this node serves its peer; undefined: 503
  let token: string | undefined; // read at every sync and reload, never per request
  let tokenTrouble: string | undefined; // why the token cannot be read, logged once
  let lastMirror: { leaderAt: string; at: string } | undefined;
  let trouble: string | undefined; // the follower's last reason not to mirror, logged once
  let server: { listen: string; peer: PeerServer } | undefined;

  const readRole = async (ha: HaConfig): Promise<Role> => {
    const was = role === undefined ? undefined : `${role} ${carp}`;
    try {
      carp = await readCarpState(ha.ifconfig, ha.vhid);
    } catch (e) {
      if (!(e instanceof AgentError)) throw e;
      if (carp !== 'missing' || role === undefined) log.warn(`${e.message}; following`);
      carp = 'missing';
    }
    role = roleOf(carp);
    if (was !== `${role} ${carp}`) {
      const seen = carp === 'missing' ? `no CARP vhid ${ha.vhid} in "${ha.ifconfig}" output` : `CARP vhid ${ha.vhid} is ${carp}`;
      if (role === 'leader') log.info(`ha: ${seen}; this node leads: it decides and applies${was ? ' from the maps it holds' : ''}`);
      else log.info(`ha: ${seen}; this node follows ${ha.peer}: it mirrors the leader's maps`);
    }
    return role;
  };

  const lead = async (deps: SyncDeps, ha: HaConfig, opts: SyncOptions): Promise<PairReport> => {
    // The leader asks its peer only to show it in status: briefly, so a follower that is gone never holds a sync up.
    const [report, peer] = await Promise.all([syncOnce(deps, state, opts), askPeer(ha, token, LEADER_ASK_MS)]);
    const ended = report.error === undefined && !report.held?.length;
    if (!opts.dryRun) await keep(deps.config, ended ? { at: report.at, entries: report.maps } : undefined);
    return { ...report, ha: await haStatus(deps.config, ha, { ...peerSeen(ha, peer) }, false) };
  };

  const follow = async (deps: SyncDeps, ha: HaConfig, opts: SyncOptions): Promise<PairReport> => {
    const started = deps.now();
    const peer = await askPeer(ha, token);
    const checked = 'state' in peer ? mirrorable(peer.state, deps.config) : { error: peer.error };
    if ('error' in checked) {
      const error = `ha: not mirroring: ${checked.error}; keeping the current maps, the next sync retries`;
      if (error !== trouble) log.warn(error);
      trouble = error;
      if (!opts.dryRun) await keep(deps.config, undefined);
      const current = await deps.haproxy.read({ dryRun: opts.dryRun ?? false }).then((c) => c.maps, unreadable);
      return { ...emptyReport(started, deps.now(), error, state, current), ha: await haStatus(deps.config, ha, peerSeen(ha, peer), false) };
    }
    const mirrorDeps = { ...deps, haproxy: createHaproxyPort(deps.config.haproxy, { fileOnlyWithoutHaproxy: true }) };
    const r = await mirrorOnce(mirrorDeps, state, checked.mirror, opts);
    if (r.report.error !== undefined && r.report.error !== trouble) log.warn(r.report.error);
    else if (r.mirrored && trouble !== undefined) log.info(`ha: mirroring ${ha.peer} again (its sync ${checked.mirror.at})`);
    trouble = r.report.error ?? (r.mirrored ? undefined : trouble);
    if (r.mirrored) lastMirror = { leaderAt: checked.mirror.at, at: r.report.at };
    if (!opts.dryRun) await keep(deps.config, r.mirrored ? { at: checked.mirror.at, entries: checked.mirror.entries } : undefined);
    return { ...r.report, ha: await haStatus(deps.config, ha, peerSeen(ha, peer), r.fileOnly) };
  };

  const peerSeen = (ha: HaConfig, peer: PeerAnswer): HaStatus['peer'] => ({
    url: ha.peer,
    reachable: 'state' in peer || peer.why !== 'unreachable',
    ...('state' in peer ? { role: peer.state.role } : { error: peer.error }),
    ...(lastMirror ? { lastMirror } : {}),
  });

  const haStatus = async (cfg: Config, ha: HaConfig, peer: HaStatus['peer'], fileOnly: boolean): Promise<HaStatus> => {
    const texts = await mapTexts(cfg.haproxy.maps);
    const digests = Object.fromEntries(MAP_NAMES.map((m) => [m, digest(texts[m])])) as Record<MapName, string>;
    return { role: role ?? 'follower', vhid: ha.vhid, carp, peer, ...(fileOnly ? { fileOnly } : {}), digests };
  };

  // After a sync (produced: the maps it decided or mirrored, undefined when it ended with an error or held): read the
  // files once and keep them if they are exactly what this node's pipeline produced, by this sync or, when it produced
  // nothing, by the one kept before. A missing file, or one that is not that rendering, is never served: a follower
  // would take it for the leader's decision (e.g. a new master whose first apply failed, with no files yet).
  const keep = async (cfg: Config, produced: { at: string; entries: Record<MapName, readonly Entry[]> } | undefined): Promise<void> => {
    const want = produced ? { at: produced.at, texts: renderAll(produced.entries) } : held && { at: held.at, texts: held.texts };
    const files = await fileTexts(cfg.haproxy.maps);
    held = want && MAP_NAMES.every((m) => files[m] === want.texts[m]) ? want : undefined;
  };

  const document = (): PeerState | undefined =>
    held &&
    buildPeerState({
      role: role ?? 'follower',
      carp,
      at: held.at,
      texts: held.texts,
      failover: { claims: [...state.claims], failovers: [...state.failovers] },
    });

  // The token is read at every sync and (re)start of the server; when it cannot be, the peer is answered 503 and the log
  // says so once, not once per request (anyone who reaches the port could flood it).
  const refreshToken = async (ha: HaConfig): Promise<void> => {
    try {
      token = await readToken(ha.tokenFile);
      if (tokenTrouble !== undefined) log.info(`ha: token file ${ha.tokenFile} is readable again; answering the peer`);
      tokenTrouble = undefined;
    } catch (e) {
      if (!(e instanceof AgentError)) throw e;
      token = undefined;
      if (e.message !== tokenTrouble)
        log.warn(`${e.message}; the peer is answered 503 and not asked until it is readable (read again at every sync)`);
      tokenTrouble = e.message;
    }
  };

  return {
    role: () => role,
    async sync(deps, opts = {}) {
      _config = deps.config;
      const ha = deps.config.ha;
      if (!ha) return syncOnce(deps, state, opts);
      await refreshToken(ha);
      return (await readRole(ha)) === 'leader' ? lead(deps, ha, opts) : follow(deps, ha, opts);
    },
    async serve(cfg) {
      _config = cfg;
      if (cfg.ha) await refreshToken(cfg.ha);
      const listen = cfg.ha ? `${cfg.ha.listen.address}:${cfg.ha.listen.port}` : undefined;
      if (server?.listen === listen) return;
      await server?.peer.close();
      server = undefined;
      if (!cfg.ha || !listen) return;
      const peer = await servePeerState(cfg.ha.listen, () => token, document, log);
      if (peer) server = { listen, peer };
    },
    async stop() {
      await server?.peer.close();
      server = undefined;
    },
  };
}

type PeerAnswer = { state: PeerState } | { error: string; why: 'unreachable' | 'token' | 'answer' };
/** The map files a node serves its peer, byte for byte, and the start of the sync that produced them (a follower: the leader's). */
type Held = { readonly at: string; readonly texts: Record<MapName, string> };

const LEADER_ASK_MS = 2_000;

async function askPeer(ha: HaConfig, token: string | undefined, timeoutMs?: number): Promise<PeerAnswer> {
  try {
    return { state: await fetchPeerState(ha.peer, token ?? (await readToken(ha.tokenFile)), timeoutMs) };
  } catch (e) {
    if (!(e instanceof AgentError)) throw e;
    return { error: e.message, why: 'why' in e ? (e.why as 'unreachable' | 'token' | 'answer') : 'answer' };
  }
}

// What a follower may mirror: a leader's document that is whole and consistent (mirrorOf), every entry of which this
// node's own config allows. The guard is the leader's and is not judged again; the allowlist is each operator's.
function mirrorable(s: PeerState, cfg: Config): { mirror: Mirror } | { error: string } {
  const checked = mirrorOf(s);
  if ('error' in checked) return checked;
  const allowed = (m: MapName, host: string) =>
    isExposed(host, cfg.expose) || cfg.static.some((r) => r.host === host && r.backends[m] !== undefined);
  const refused = refusedEntry(checked.mirror, allowed);
  return refused === undefined ? checked : { error: `the leader's sync ${checked.mirror.at}: ${refused}` };
}

/** The map files' texts for status digests; a file that cannot be read counts as empty there. */
async function mapTexts(paths: Record<MapName, string>): Promise<Record<MapName, string>> {
  const texts = await fileTexts(paths);
  return Object.fromEntries(MAP_NAMES.map((m) => [m, texts[m] ?? ''])) as Record<MapName, string>;
}

/** The map files' texts; undefined for a file that cannot be read (missing included). */
async function fileTexts(paths: Record<MapName, string>): Promise<Record<MapName, string | undefined>> {
  const texts = await Promise.all(MAP_NAMES.map((m) => readFile(paths[m], 'utf8').catch(() => undefined)));
  return Object.fromEntries(MAP_NAMES.map((m, i) => [m, texts[i]])) as Record<MapName, string | undefined>;
}

function renderAll(entries: Record<MapName, readonly Entry[]>): Record<MapName, string> {
  return Object.fromEntries(MAP_NAMES.map((m) => [m, renderMap(entries[m])])) as Record<MapName, string>;
}

function unreadable(e: unknown): undefined {
  if (!(e instanceof AgentError)) throw e;
  return undefined;
}

// A follower that did not mirror: nothing planned or applied; its maps are the ones it holds (what HAProxy serves, or
// the files), so `maps` stays the complete state and status counts what is served; the failovers are the last mirrored.
function emptyReport(
  started: number,
  now: number,
  error: string,
  state: SyncState,
  current: Record<MapName, readonly Entry[]> | undefined,
): SyncReport {
  const none = { add: [], change: [], remove: [] };
  return {
    at: new Date(started).toISOString(),
    durationMs: now - started,
    maps: { hosts: current?.hosts ?? [], sni: current?.sni ?? [] },
    ...(current ? { served: Object.fromEntries(MAP_NAMES.map((m) => [m, current[m].length])) as Record<MapName, number> } : {}),
    plan: { hosts: none, sni: none },
    conflicts: [],
    skipped: [],
    clusters: {},
    applied: false,
    method: 'none',
    error,
    failovers: [...state.failovers.values()],
    unhealthyClaims: 0,
    downBackends: [],
  };
}
