// A node of a CARP pair (config `ha`): at every sync, read the CARP state to know the role, then either decide and apply
// (leader: syncOnce, as a single router does) or mirror the leader (follower: mirror.ts). Also answers the peer's
// `GET /v1/state` with the map files this node holds. Without `ha` every call is a plain syncOnce.
import { readFile } from 'node:fs/promises';
import { createHaproxyPort } from './apply.js';
import type { Config, HaConfig } from './config.js';
import { roleOf, type CarpState, type Role } from './core/carp.js';
import { buildPeerState, digest, mirrorOf, type PeerState } from './core/peerstate.js';
import type { HaStatus } from './core/status.js';
import { MAP_NAMES } from './core/maps.js';
import type { MapName } from './core/types.js';
import { AgentError } from './errors.js';
import { readCarpState } from './io/carp.js';
import { fetchPeerState, readToken } from './io/peer.js';
import { servePeerState, type PeerServer } from './io/peerserver.js';
import type { Log } from './log.js';
import { mirrorOnce } from './mirror.js';
import { syncOnce, type SyncDeps, type SyncOptions, type SyncReport, type SyncState } from './sync.js';

export type PairReport = SyncReport & { ha?: HaStatus };
export type Pair = {
  /** One sync in this node's current role. */
  sync(deps: SyncDeps, opts?: SyncOptions): Promise<PairReport>;
  /** Answer the peer on `ha.listen` (restarted when it changed; stopped without `ha`). */
  serve(config: Config): Promise<void>;
  stop(): Promise<void>;
};

export function createPair(log: Log, state: SyncState): Pair {
  let role: Role | undefined;
  let carp: CarpState = 'missing';
  let config: Config | undefined;
  let at: string | undefined; // the sync that produced the maps this node holds (a follower: the leader's)
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
    const [report, peer] = await Promise.all([syncOnce(deps, state, opts), askPeer(ha, LEADER_ASK_MS)]);
    at = report.at;
    return { ...report, ha: await haStatus(deps.config, ha, { ...peerSeen(ha, peer) }, false) };
  };

  const follow = async (deps: SyncDeps, ha: HaConfig, opts: SyncOptions): Promise<PairReport> => {
    const started = deps.now();
    const peer = await askPeer(ha);
    const checked = 'state' in peer ? mirrorOf(peer.state) : { error: peer.error };
    if ('error' in checked) {
      const error = `ha: not mirroring: ${checked.error}; keeping the current maps, the next sync retries`;
      if (error !== trouble) log.warn(error);
      trouble = error;
      return { ...emptyReport(started, deps.now(), error, state), ha: await haStatus(deps.config, ha, peerSeen(ha, peer), false) };
    }
    const mirrorDeps = { ...deps, haproxy: createHaproxyPort(deps.config.haproxy, { fileOnlyWithoutHaproxy: true }) };
    const r = await mirrorOnce(mirrorDeps, state, checked.mirror, opts);
    if (r.report.error !== undefined && r.report.error !== trouble) log.warn(r.report.error);
    else if (r.mirrored && trouble !== undefined) log.info(`ha: mirroring ${ha.peer} again (its sync ${checked.mirror.at})`);
    trouble = r.report.error ?? (r.mirrored ? undefined : trouble);
    if (r.mirrored) {
      at = checked.mirror.at;
      lastMirror = { leaderAt: checked.mirror.at, at: r.report.at };
    }
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

  const document = async (): Promise<PeerState> => {
    const cfg = config!;
    return buildPeerState({
      role: role ?? 'follower',
      carp,
      ...(at !== undefined ? { at } : {}),
      texts: await mapTexts(cfg.haproxy.maps),
      failover: { claims: [...state.claims], failovers: [...state.failovers] },
    });
  };

  return {
    async sync(deps, opts = {}) {
      config = deps.config;
      const ha = deps.config.ha;
      if (!ha) return syncOnce(deps, state, opts);
      return (await readRole(ha)) === 'leader' ? lead(deps, ha, opts) : follow(deps, ha, opts);
    },
    async serve(cfg) {
      config = cfg;
      const listen = cfg.ha ? `${cfg.ha.listen.address}:${cfg.ha.listen.port}` : undefined;
      if (server?.listen === listen) return;
      await server?.peer.close();
      server = undefined;
      if (!cfg.ha || !listen) return;
      const tokenFile = cfg.ha.tokenFile;
      const peer = await servePeerState(cfg.ha.listen, () => readToken(tokenFile), document, log);
      if (peer) server = { listen, peer };
    },
    async stop() {
      await server?.peer.close();
      server = undefined;
    },
  };
}

type PeerAnswer = { state: PeerState } | { error: string; why: 'unreachable' | 'token' | 'answer' };

const LEADER_ASK_MS = 2_000;

async function askPeer(ha: HaConfig, timeoutMs?: number): Promise<PeerAnswer> {
  try {
    return { state: await fetchPeerState(ha.peer, await readToken(ha.tokenFile), timeoutMs) };
  } catch (e) {
    if (!(e instanceof AgentError)) throw e;
    return { error: e.message, why: 'why' in e ? (e.why as 'unreachable' | 'token' | 'answer') : 'answer' };
  }
}

async function mapTexts(paths: Record<MapName, string>): Promise<Record<MapName, string>> {
  const texts = await Promise.all(MAP_NAMES.map((m) => readFile(paths[m], 'utf8').catch(() => '')));
  return Object.fromEntries(MAP_NAMES.map((m, i) => [m, texts[i]!])) as Record<MapName, string>;
}

// A follower that did not mirror: nothing planned or applied; the failovers it holds are the last mirrored ones.
function emptyReport(started: number, now: number, error: string, state: SyncState): SyncReport {
  const none = { add: [], change: [], remove: [] };
  return {
    at: new Date(started).toISOString(),
    durationMs: now - started,
    maps: { hosts: {}, sni: {} },
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
