// Failover across clusters: why a claim (cluster C serves host H in map M) is unhealthy at this sync, the counters that
// decide when it counts as unhealthy (and healthy again), and which failovers start and end.
// Pure and time-free: it counts syncs, never milliseconds; the choice itself is mergeDesired's (desired.ts).
//
// one claim, downAfter 2, upAfter 3:  sync observation → counted
//   healthy  healthy  unhealthy  unhealthy  healthy  healthy  healthy
//   healthy  healthy  healthy    UNHEALTHY  UNHEALTHY UNHEALTHY healthy
// so a claim that flaps every sync never reaches downAfter: the host never moves back and forth.
// The counters live in memory only. A fresh start (a restart, a one-shot sync) reads the earlier failovers from the maps:
// an unhealthy claim first seen while the current maps route its host to another cluster counts as unhealthy at once,
// or the first sync would send the host back to the dead cluster until downAfter syncs moved it away again.
import { type Conflict, claimKey, type FailedOver } from './desired.js';
import { MAP_NAMES } from './maps.js';
import { byteOrder } from './order.js';
import { isBackendDown } from './reply.js';
import type { Cluster, Entry, MapName, Route, Router, ServiceHealth } from './types.js';

export type FailoverSettings = { readonly enabled: boolean; readonly downAfter: number; readonly upAfter: number };

/** One claim's counters: consecutive unhealthy (`down`) and healthy (`up`) syncs, whether it counts as unhealthy, and the last why. */
export type ClaimCount = {
  readonly down: number;
  readonly up: number;
  readonly unhealthy: boolean;
  readonly reason: string;
  /** Counted unhealthy at its first observation because the current maps already routed its host elsewhere. */
  readonly routedAround?: true;
};

/** A host that routes away from its preferred cluster `from` because that claim is unhealthy; `since` is the sync that started it. */
export type Failover = {
  readonly host: string;
  readonly map: MapName;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
  readonly since: string;
};
export type FailoverEnd = { readonly failover: Failover; readonly why: string; readonly winner?: string };

/** A cluster backend that HAProxy's health checks report as routing nothing. */
export type DownBackend = { readonly cluster: string; readonly map: MapName; readonly backend: string; readonly status: string };

type HealthCluster = Pick<Cluster, 'name' | 'backends'>;
type CurrentMaps = Readonly<Record<MapName, readonly Entry[]>>;
/** What one sync knows about each cluster's health. */
export type HealthInput = {
  readonly clusters: readonly HealthCluster[];
  /** Clusters whose API did not answer this sync (their routes come from the last snapshot). */
  readonly stale: ReadonlySet<string>;
  /** `show stat` status per backend; undefined when HAProxy could not be asked (then every backend counts as UP). */
  readonly backendStatus: ReadonlyMap<string, string> | undefined;
  /** Per cluster, from its last answer: each router whose service has no server UP → that service (downServices). */
  readonly downServices: ReadonlyMap<string, ReadonlyMap<string, string>>;
};

/** The cluster backends HAProxy reports DOWN (or MAINT), in config order. */
export function downBackends(clusters: readonly HealthCluster[], backendStatus: ReadonlyMap<string, string> | undefined): DownBackend[] {
  if (!backendStatus) return [];
  return clusters.flatMap((c) =>
    MAP_NAMES.flatMap((map) => {
      const backend = c.backends[map];
      const status = backend === undefined ? undefined : backendStatus.get(backend);
      return backend !== undefined && status !== undefined && isBackendDown(status) ? [{ cluster: c.name, map, backend, status }] : [];
    }),
  );
}

/** claimKey → why that claim is unhealthy at this sync. A claim not listed is healthy. */
export function claimProblems(routes: readonly Route[], h: HealthInput): Map<string, string> {
  const down = downBackends(h.clusters, h.backendStatus);
  const perCluster = new Map(h.clusters.map((c) => [c.name, clusterHealth(c, h, down)]));
  const problems = new Map<string, string>();
  for (let i = 0; i < routes.length; i++) {
    // indexed: once per sync, mostly unoptimised, where for…of allocates a result per route
    const r = routes[i]!;
    const c = perCluster.get(r.cluster);
    const problem = c && (c.api ?? c.backend[r.map] ?? c.service(r.router));
    if (problem) problems.set(claimKey(r.map, r.host, r.cluster), problem);
  }
  return problems;
}

type ClusterHealth = { api?: string; backend: Partial<Record<MapName, string>>; service: (router: string) => string | undefined };

// The API first: a cluster that did not answer says nothing reliable about its services.
function clusterHealth(c: HealthCluster, h: HealthInput, down: readonly DownBackend[]): ClusterHealth {
  const backend: Partial<Record<MapName, string>> = {};
  for (const d of down) if (d.cluster === c.name) backend[d.map] = `${c.name}'s backend ${d.backend} is ${d.status} in HAProxy`;
  return {
    ...(h.stale.has(c.name) ? { api: `${c.name}'s API unreachable` } : {}),
    backend,
    service: serviceProblem(c.name, h.downServices.get(c.name)),
  };
}

function serviceProblem(cluster: string, down: ReadonlyMap<string, string> | undefined): (router: string) => string | undefined {
  return (router) => {
    const service = down?.get(router);
    return service === undefined ? undefined : `${cluster}'s service ${service} has no server UP`;
  };
}

/**
 * Router name → its service, for the routers whose service has no server UP (`services[service] === false`); a service
 * the answer does not list is unknown and counts as healthy. Usually empty: this, not the routers, is what a sync keeps
 * of an answer for failover.
 */
export function downServices(routers: readonly Router[], services: ServiceHealth): Map<string, string> {
  const down = new Map<string, string>();
  if (!Object.values(services).includes(false)) return down;
  for (const r of routers) {
    if (!r.service) continue;
    const service = qualifiedService(r.service, r.provider);
    if (services[service] === false) down.set(r.name, service);
  }
  return down;
}

/** A router's `service` as the services listing names it: Traefik qualifies a bare name with the router's provider. */
export function qualifiedService(service: string, provider: string): string {
  return service.includes('@') ? service : `${service}@${provider}`;
}

/** The claims whose host the current maps route to another backend than the claim's cluster's: the record of a failover. */
export function routedAwayClaims(routes: readonly Route[], current: CurrentMaps, clusters: readonly HealthCluster[]): Set<string> {
  const backendOf = new Map(clusters.map((c) => [c.name, c.backends]));
  const served = perMapBackends(current);
  const away = new Set<string>();
  for (const r of routes) {
    const now = served[r.map].get(r.host);
    if (now !== undefined && now !== backendOf.get(r.cluster)?.[r.map]) away.add(claimKey(r.map, r.host, r.cluster));
  }
  return away;
}

function perMapBackends(current: CurrentMaps): Record<MapName, Map<string, string>> {
  const out = {} as Record<MapName, Map<string, string>>;
  for (const m of MAP_NAMES) out[m] = new Map(current[m].map((e) => [e.key, e.backend]));
  return out;
}

/**
 * One claim's counters after this sync's observation (`problem` undefined: healthy). undefined: healthy and settled (dropped).
 * `routedAround`: the current maps route the claim's host elsewhere; an unhealthy claim without counters then counts as unhealthy.
 */
export function stepClaim(
  prev: ClaimCount | undefined,
  problem: string | undefined,
  s: FailoverSettings,
  routedAround = false,
): ClaimCount | undefined {
  if (prev === undefined && problem !== undefined && routedAround)
    return { down: 1, up: 0, unhealthy: true, reason: problem, routedAround: true };
  const was = prev ?? { down: 0, up: 0, unhealthy: false, reason: '' };
  if (problem !== undefined) {
    const down = was.down + 1;
    return { down, up: 0, unhealthy: was.unhealthy || down >= s.downAfter, reason: problem };
  }
  const up = was.up + 1;
  return was.unhealthy && up < s.upAfter ? { down: 0, up, unhealthy: true, reason: was.reason } : undefined;
}

/**
 * Every claim's counters after this sync. Only claims that are or were lately unhealthy are kept: most hosts cost nothing.
 * `routedAway` (routedAwayClaims): claims whose host the current maps route elsewhere.
 */
export function countClaims(
  prev: ReadonlyMap<string, ClaimCount>,
  problems: ReadonlyMap<string, string>,
  s: FailoverSettings,
  routedAway: ReadonlySet<string> = new Set(),
): Map<string, ClaimCount> {
  const next = new Map<string, ClaimCount>();
  for (const [key, reason] of problems) next.set(key, stepClaim(prev.get(key), reason, s, routedAway.has(key))!);
  for (const [key, count] of prev) {
    if (problems.has(key)) continue;
    const stepped = stepClaim(count, undefined, s);
    if (stepped) next.set(key, stepped);
  }
  return next;
}

/** The claims that count as unhealthy, for mergeDesired. */
export function unhealthyClaims(counts: ReadonlyMap<string, ClaimCount>): Set<string> {
  const keys = new Set<string>();
  for (const [key, c] of counts) if (c.unhealthy) keys.add(key);
  return keys;
}

/**
 * Which failovers are active after this sync, which started and which ended. A failover starts when mergeDesired moved a
 * host off its preferred cluster, and lasts while that cluster still claims the host and counts as unhealthy, also once
 * `sticky` made the new owner the preferred one; it ends when that cluster counts as healthy again or drops the host.
 */
export function trackFailovers(
  active: ReadonlyMap<string, Failover>,
  failedOver: readonly FailedOver[],
  conflicts: readonly Conflict[],
  counts: ReadonlyMap<string, ClaimCount>,
  s: FailoverSettings,
  at: string,
): { active: Map<string, Failover>; started: Failover[]; ended: FailoverEnd[] } {
  const next = new Map<string, Failover>();
  const started: Failover[] = [];
  for (const f of failedOver) {
    const key = `${f.map} ${f.host}`;
    const before = active.get(key);
    if (before && before.from === f.from) {
      next.set(key, { ...before, to: f.to });
      continue;
    }
    const count = counts.get(claimKey(f.map, f.host, f.from));
    const failover = { host: f.host, map: f.map, from: f.from, to: f.to, reason: count ? failoverReason(count) : 'unhealthy', since: at };
    next.set(key, failover);
    started.push(failover);
  }
  const byKey = new Map(conflicts.map((c) => [`${c.map} ${c.host}`, c]));
  const ended: FailoverEnd[] = [];
  for (const [key, f] of active) {
    if (next.get(key)?.since === f.since) continue; // still moved by this sync's choice
    const c = byKey.get(key);
    const winner = c ? { winner: c.winner } : {};
    if (!c?.claimants.includes(f.from)) ended.push({ failover: f, why: `${f.from} no longer claims it`, ...winner });
    else if (!counts.get(claimKey(f.map, f.host, f.from))?.unhealthy)
      ended.push({ failover: f, why: `${f.from} healthy again for ${s.upAfter} syncs`, ...winner });
    else if (c.winner === f.from) ended.push({ failover: f, why: `every claimant is unhealthy`, ...winner });
    else if (!next.has(key)) next.set(key, { ...f, to: c.winner });
  }
  const order = (a: Failover, b: Failover) => byteOrder(a.host, b.host) || byteOrder(a.map, b.map);
  return { active: next, started: started.sort(order), ended: ended.sort((a, b) => order(a.failover, b.failover)) };
}

function failoverReason(count: ClaimCount): string {
  return count.routedAround ? `${count.reason}; the current maps already route around it` : `${count.reason} for ${count.down} syncs`;
}
