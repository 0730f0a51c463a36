// One sync: fetch → routes → merge → plan → guard → apply → report. Reads like the pipeline drawn in ARCHITECTURE.md.
// Runs between two ports (ports.ts): Traefik's `fetch`, and HAProxy's `read` then `apply` of the value `read` returned.
// Decides nothing about *when* it runs (daemon.ts) and formats nothing for the terminal (output.ts).
import type { Config } from './config.js';
import { type Conflict, mergeDesired } from './core/desired.js';
import { downServices } from './core/failover.js';
import { isExposed } from './core/hosts.js';
import { MAP_NAMES, perMap } from './core/maps.js';
import { guardReason, isEmptyPlan, type MapPlan, planMap, summarisePlan } from './core/plan.js';
import type { ApplyMethod, ClusterReport, HealthReport, SyncReport } from './core/report.js';
import { routesFromRouters } from './core/routes.js';
import type { Cluster, Entry, MapName, Route, Skipped } from './core/types.js';
import { AgentError } from './errors.js';
import { assessClaims, type FailoverState, followFailovers } from './failover.js';
import type { ClusterRouters, FetchResult, ReadMark } from './io/traefik.js';
import { count, type Log } from './log.js';
import { conflictLine } from './output.js';
import type { Current, HaproxyPort, TraefikPort } from './ports.js';

export type { SyncReport } from './core/report.js';

/**
 * What a sync keeps of a cluster's last good answer (or, before any answer, what the map files say it serves): what was
 * derived from its routers, not the routers (15,000 of them hold ~4 MiB, their services ~1 MiB more). `settings` are
 * those the routes were derived with; when they change, the next answer is parsed again (lastReads).
 */
export type Snapshot =
  | {
      readonly kind: 'fetched';
      /** How many routers the answer had. */
      readonly routers: number;
      readonly settings: string;
      readonly derived: { readonly routes: readonly Route[]; readonly skipped: readonly Skipped[] };
      /** Router → its service, for the routers whose service has no server UP (core/failover.ts downServices). */
      readonly down: ReadonlyMap<string, string>;
      readonly at: number;
    }
  | { readonly kind: 'seeded'; readonly routes: readonly Route[]; readonly at: number };

/** What one sync runs with: built per sync (deps.ts) from the config in force; tests swap a port. */
export type SyncDeps = {
  readonly config: Config;
  readonly log: Log;
  readonly now: () => number;
  readonly traefik: TraefikPort;
  readonly haproxy: HaproxyPort;
};
export type SyncState = {
  snapshots: Map<string, Snapshot>;
  conflicts: Map<string, Conflict>;
  skipped: Set<string>;
  /** Each cluster's last good answer while it keeps answering, as the fetcher knows it (digest, syntax, version):
   * handed back as `last`; the fetcher returns that very mark for an identical answer, and its snapshot stands. */
  reads: Map<string, ReadMark>;
  /** What HAProxy served after the last sync, as it knew it (its desired maps once applied, else what it read): the next
   * read answers a live map still listed exactly so with these entries, instead of parsing them again. */
  served?: Record<MapName, readonly Entry[]>;
  guard?: GuardEpisode;
} & FailoverState;
export type SyncOptions = { readonly dryRun?: boolean; readonly force?: boolean };

export function newSyncState(): SyncState {
  return {
    snapshots: new Map(),
    conflicts: new Map(),
    skipped: new Set(),
    reads: new Map(),
    claims: new Map(),
    failovers: new Map(),
  };
}

/**
 * Run one sync. Never throws for expected failures: they land in `report.error` (and the log).
 * @example const report = await syncOnce(deps, state, { dryRun: true });
 */
export async function syncOnce(deps: SyncDeps, state: SyncState, opts: SyncOptions = {}): Promise<SyncReport> {
  const { config, log } = deps;
  const started = deps.now();
  const [fetched, read] = await Promise.all([
    deps.traefik.fetch(lastReads(state, config)),
    deps.haproxy.read({ dryRun: opts.dryRun ?? false, ...(state.served ? { likely: state.served } : {}) }).then(
      (current): Current => current,
      (e: unknown) => {
        if (e instanceof AgentError) return { error: e };
        throw e;
      },
    ),
  ]);
  if ('error' in read) {
    // Without what HAProxy serves now there is nothing to plan against: no sticky owners, no guard, no seed for a cluster that is down.
    const error = `${read.error.message}; nothing planned or applied, the next sync retries`;
    log.warn(error);
    const clusters = updateSnapshots(deps, state, fetched, undefined, started);
    const plans = MAP_NAMES.map((m) => planMap(m, [], []));
    const health = { failovers: [...state.failovers.values()], unhealthyClaims: 0, downBackends: [] };
    return report(
      deps,
      { maps: perMap(() => []), plans, conflicts: [], skipped: [], clusters, started, health },
      { applied: false, method: 'none', error },
    );
  }
  const current = read.maps;
  const clusters = updateSnapshots(deps, state, fetched, current, started);

  // Each cluster's list, then flat(): not push(...list), as a call takes at most ~120,000 arguments and a cluster may have
  // more routes than that, nor a for…of per route, which allocates in this once-per-sync code (V8 rarely optimises it).
  const routeLists: (readonly Route[])[] = [];
  const skippedLists: (readonly Skipped[])[] = [];
  for (const cluster of config.clusters) {
    const snap = state.snapshots.get(cluster.name);
    if (!snap) continue;
    if (snap.kind === 'seeded' || snap.settings !== settingsOf(cluster, config.expose)) {
      // Routes kept from before a config edit (the cluster has not answered since): the allowlist in force still applies.
      const kept = snap.kind === 'seeded' ? snap.routes : snap.derived.routes;
      routeLists.push(kept.filter((r) => isExposed(r.host, config.expose)));
      continue;
    }
    routeLists.push(snap.derived.routes);
    skippedLists.push(snap.derived.skipped);
  }
  const routes = routeLists.flat();
  const skipped = skippedLists.flat();
  const unhealthy = assessClaims(config, state, {
    routes,
    snapshots: state.snapshots,
    answered: clusters,
    backendStatus: read.backendStatus,
    current,
  });
  const merge = {
    clusters: config.clusters,
    routes,
    static: config.static,
    pins: config.pins,
    policy: config.conflicts,
    current,
    unhealthy,
  };
  const { maps, conflicts, failedOver } = mergeDesired(merge);
  logConflicts(log, state, conflicts);
  const at = new Date(started).toISOString();
  const health = followFailovers(log, config, state, { failedOver, conflicts, at, backendStatus: read.backendStatus });
  logSkipped(log, state, skipped);
  const plans = MAP_NAMES.map((m) => planMap(m, current[m], maps[m]));
  const base = { maps, plans, conflicts, skipped, clusters, started, current, health };

  if (opts.dryRun) return report(deps, base, { applied: false, method: 'none' });
  const held = opts.force ? [] : heldBack(config, plans, current);
  const guard = guardNotices(state.guard, held, deps.now());
  if (guard.episode) state.guard = guard.episode;
  else delete state.guard;
  for (const n of guard.notices) log[n.level](n.message);
  // The desired maps when HAProxy already serves them (their entries, not the parse of its dump, stay in memory), else
  // what was read, until an apply makes them the desired maps.
  const unchanged = plans.every(isEmptyPlan);
  state.served = unchanged ? maps : current;
  if (held.length) return report(deps, base, { applied: false, method: 'none', held });
  try {
    const outcome = await deps.haproxy.apply(maps, read, log);
    if (outcome.applied) state.served = maps;
    if (outcome.applied || !unchanged) {
      log.info(
        `sync: ${plans.map(summarisePlan).join(', ')}; ${outcome.applied ? `applied by ${outcome.method}` : 'nothing applied'} in ${deps.now() - started} ms`,
      );
    }
    return report(deps, base, outcome);
  } catch (e) {
    if (!(e instanceof AgentError)) throw e;
    log.warn(e.message);
    return report(deps, base, { applied: false, method: 'none', error: e.message });
  }
}

function updateSnapshots(
  deps: SyncDeps,
  state: SyncState,
  fetched: ReadonlyMap<string, FetchResult>,
  current: Record<MapName, readonly Entry[]> | undefined, // undefined: HAProxy's maps could not be read, so nothing can be seeded
  started: number,
): Record<string, ClusterReport> {
  // A cluster no longer in the config loses its snapshot, also when the config changed while this sync was fetching:
  // if a cluster of that name comes back, it starts fresh (seeded from the maps), not from routers of long ago.
  for (const memo of [state.snapshots, state.reads]) {
    for (const name of [...memo.keys()]) if (!deps.config.clusters.some((c) => c.name === name)) memo.delete(name);
  }
  const clusters: Record<string, ClusterReport> = {};
  // A snapshot is dated by the start of the sync that took it, as the report is: a cluster's `stale since` is then the `at`
  // of an earlier (or, when seeded, this) sync, never a moment after the `last sync` time shown above it.
  const now = started;
  for (const cluster of deps.config.clusters) {
    const result = fetched.get(cluster.name);
    if (result?.ok) {
      const snap = fetchedSnapshot(state, cluster, result.value, deps.config.expose, now);
      state.snapshots.set(cluster.name, snap);
      clusters[cluster.name] = { ok: true, routers: snap.routers };
      continue;
    }
    // A cluster that comes back is read afresh (its version too: it may have been upgraded while away).
    state.reads.delete(cluster.name);
    const error = result ? result.error.message : `traefik[${cluster.name}]: not fetched`;
    let snap = state.snapshots.get(cluster.name);
    if (!snap) {
      if (!current) {
        deps.log.warn(`${error}; its routes are unknown until HAProxy's maps can be read`);
        clusters[cluster.name] = { ok: false, routers: 0, error };
        continue;
      }
      // A fresh start while the cluster is down: what the maps point at its backends now is its last known state.
      snap = { kind: 'seeded', routes: seedRoutes(cluster.name, cluster.backends, current), at: now };
      state.snapshots.set(cluster.name, snap);
    }
    const kept =
      snap.kind === 'seeded'
        ? `${count(snap.routes.length, 'entry', 'entries')} from the current maps`
        : `${count(snap.routers, 'router', 'routers')} from ${clock(snap.at)}`;
    deps.log.warn(`${error}; keeping ${kept}`);
    clusters[cluster.name] = {
      ok: false,
      routers: snap.kind === 'fetched' ? snap.routers : 0,
      error,
      staleSince: new Date(snap.at).toISOString(),
    };
  }
  return clusters;
}

/** The routes of a cluster depend on its answer and on these settings. */
function settingsOf(cluster: Cluster, expose: Config['expose']): string {
  return JSON.stringify([cluster.backends, cluster.entryPoints ?? null, expose]);
}

/**
 * Each cluster's last read, to hand to the fetcher. Where the settings changed since its routes were derived, the mark
 * goes without its digest: the server (and its version) is the same, but its answer, even an identical one, is parsed
 * again, as the routers it would take to derive new routes are not kept.
 */
function lastReads(state: SyncState, config: Config): Map<string, ReadMark> {
  const last = new Map<string, ReadMark>();
  for (const cluster of config.clusters) {
    const mark = state.reads.get(cluster.name);
    if (!mark) continue;
    const snap = state.snapshots.get(cluster.name);
    const current = snap?.kind === 'fetched' && snap.settings === settingsOf(cluster, config.expose);
    last.set(cluster.name, current ? mark : { ...mark, digest: '' });
  }
  return last;
}

// An identical answer is the mark handed to the fetcher, returned as it was: its snapshot stands (lastReads made sure
// its settings did too), re-dated. A new answer is parsed into routes and the routers with a service down, and its
// routers and services are then let go.
function fetchedSnapshot(
  state: SyncState,
  cluster: Cluster,
  answer: ClusterRouters | ReadMark,
  expose: Config['expose'],
  at: number,
): Extract<Snapshot, { kind: 'fetched' }> {
  const before = state.snapshots.get(cluster.name);
  if (!('routers' in answer)) {
    if (before?.kind !== 'fetched' || state.reads.get(cluster.name) !== answer) {
      throw new Error(`traefik[${cluster.name}]: the fetcher returned a read this sync did not hand it`);
    }
    return { ...before, at };
  }
  const { routers, services, syntax, version, api, digest } = answer;
  state.reads.set(cluster.name, { syntax, ...(version !== undefined ? { version } : {}), api, digest });
  return {
    kind: 'fetched',
    routers: routers.length,
    settings: settingsOf(cluster, expose),
    derived: routesFromRouters(cluster, routers, syntax, expose),
    down: downServices(routers, services),
    at,
  };
}

function seedRoutes(cluster: string, backends: Partial<Record<MapName, string>>, current: Record<MapName, readonly Entry[]>): Route[] {
  return MAP_NAMES.flatMap((map) =>
    current[map]
      .filter((e) => backends[map] !== undefined && e.backend === backends[map])
      .map((e) => ({ map, host: e.key, cluster, router: '(current map)' })),
  );
}

// Removals the config explains (host no longer exposed, backend of a cluster no longer configured) do not count:
// the operator asked for them. What is left is a cluster that suddenly lost its routes.
function heldBack(config: Config, plans: MapPlan[], current: Record<MapName, readonly Entry[]>): string[] {
  const known = new Set(config.clusters.flatMap((c) => Object.values(c.backends)));
  return plans.flatMap((p) => {
    const unexplained = p.remove.filter((e) => known.has(e.backend) && isExposed(e.key, config.expose));
    const reason = guardReason({ ...p, remove: unexplained }, current[p.map].length, config.guard.maxRemovalRatio);
    return reason ? [reason] : [];
  });
}

function logConflicts(log: Log, state: SyncState, conflicts: readonly Conflict[]): void {
  const now = new Map(conflicts.map((c) => [`${c.map} ${c.host}`, c]));
  for (const [key, c] of now) {
    const before = state.conflicts.get(key);
    if (!before || before.winner !== c.winner || before.claimants.join() !== c.claimants.join()) {
      log.warn(conflictLine(c, 'routing'));
    }
  }
  for (const [key, c] of state.conflicts) {
    if (!now.has(key)) log.info(`conflict ended: ${c.host} (${c.map}) no longer claimed by several clusters`);
  }
  state.conflicts = now;
}

// Each skipped router is news once: logged when it first appears, not at every poll. A flood (a cluster with thousands
// of host-less routers) is cut at MAX_SKIPPED_LOG lines; `sync --dry-run --json` lists every one.
const MAX_SKIPPED_LOG = 20;
function logSkipped(log: Log, state: SyncState, skipped: readonly Skipped[]): void {
  const key = (s: Skipped) => `${s.cluster}\u0000${s.router}\u0000${s.reason}`;
  const fresh = skipped.filter((s) => !state.skipped.has(key(s)));
  for (const s of fresh.slice(0, MAX_SKIPPED_LOG)) log.info(`skipped: router ${s.router} of cluster ${s.cluster}: ${s.reason}`);
  if (fresh.length > MAX_SKIPPED_LOG)
    log.info(
      `skipped: ${count(fresh.length - MAX_SKIPPED_LOG, 'more router', 'more routers')}; "routeagent sync --dry-run --json" lists each with its reason`,
    );
  state.skipped = new Set(skipped.map(key));
}

type Base = {
  maps: Record<MapName, Entry[]>;
  plans: MapPlan[];
  conflicts: Conflict[];
  skipped: Skipped[];
  clusters: Record<string, ClusterReport>;
  started: number;
  health: HealthReport;
  current?: Record<MapName, readonly Entry[]>; // what HAProxy served before this sync; undefined when it could not be read
};

function report(deps: SyncDeps, b: Base, outcome: { applied: boolean; method: ApplyMethod; held?: string[]; error?: string }): SyncReport {
  const plan = Object.fromEntries(
    b.plans.map((p) => [p.map, { add: [...p.add], change: [...p.change], remove: [...p.remove] }]),
  ) as SyncReport['plan'];
  // Unless this sync applied its plan, HAProxy still serves what it served before (an apply that failed part-way is
  // caught as drift by the next sync, which reads the live maps again).
  const servedMaps = outcome.applied ? b.maps : b.current;
  return {
    at: new Date(b.started).toISOString(),
    durationMs: deps.now() - b.started,
    maps: b.maps,
    ...(servedMaps ? { served: Object.fromEntries(MAP_NAMES.map((m) => [m, servedMaps[m].length])) as Record<MapName, number> } : {}),
    plan,
    conflicts: b.conflicts,
    skipped: b.skipped,
    clusters: b.clusters,
    applied: outcome.applied,
    method: outcome.method,
    ...b.health,
    ...(outcome.held?.length ? { held: outcome.held } : {}),
    ...(outcome.error !== undefined ? { error: outcome.error } : {}),
  };
}

/** A guard episode: the maps held, since when, and when the operator was last told. */
export type GuardEpisode = { readonly maps: string; readonly since: number; readonly remindedAt: number };
export type GuardNotice = { readonly level: 'warn' | 'info'; readonly message: string };

/** How often a guard that keeps holding is mentioned again: often enough to be seen, rarely enough not to drown the log. */
export const GUARD_REMIND_MS = 10 * 60_000;

/**
 * What to log about the guard after one sync's check, and the episode that follows. Pure: `nowMs` is the clock.
 * A held plan is logged when it starts (or when the set of held maps changes), reminded at most every GUARD_REMIND_MS
 * while it lasts, and logged once when it ends; a poll that holds again for the same maps says nothing new.
 */
export function guardNotices(
  episode: GuardEpisode | undefined,
  held: readonly string[],
  nowMs: number,
): { episode?: GuardEpisode; notices: GuardNotice[] } {
  if (!held.length) {
    if (!episode) return { notices: [] };
    return {
      notices: [{ level: 'info', message: `guard: no longer holding (held since ${clock(episode.since)}); syncs apply their plans again` }],
    };
  }
  const maps = held.map((h) => h.slice(0, h.indexOf(':'))).join(' ');
  const tail = 'not applied, live maps unchanged (run "routeagent sync --force" if this is intended)';
  if (!episode || episode.maps !== maps) {
    return {
      episode: { maps, since: nowMs, remindedAt: nowMs },
      notices: held.map((h) => ({ level: 'warn', message: `guard: ${h}; ${tail}` })),
    };
  }
  if (nowMs - episode.remindedAt < GUARD_REMIND_MS) return { episode, notices: [] };
  return {
    episode: { ...episode, remindedAt: nowMs },
    notices: held.map((h) => ({ level: 'warn', message: `guard: still holding since ${clock(episode.since)}: ${h}; ${tail}` })),
  };
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}
