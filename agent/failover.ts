// The failover step of a sync: count each claim's health into the sync state (values, carried from sync to sync), then
// log each failover once when it starts and once when it ends. What counts and who wins are decided by core/failover.ts
// and core/desired.ts; this file only feeds them this sync's facts and says what happened.
import type { Config } from './config.js';
import type { Conflict, FailedOver } from './core/desired.js';
import {
  type ClaimCount,
  claimProblems,
  countClaims,
  downBackends,
  type Failover,
  routedAwayClaims,
  trackFailovers,
  unhealthyClaims,
} from './core/failover.js';
import { byteOrder } from './core/order.js';
import type { HealthReport } from './core/report.js';
import type { Entry, MapName, Route } from './core/types.js';
import type { Log } from './log.js';
import { failoverLine } from './output.js';

export type FailoverState = { claims: Map<string, ClaimCount>; failovers: Map<string, Failover> };
export type HealthFacts = {
  readonly routes: readonly Route[];
  /** Per cluster, its last snapshot: a fetched one names the routers whose service has no server UP. */
  readonly snapshots: ReadonlyMap<string, { readonly kind: string; readonly down?: ReadonlyMap<string, string> }>;
  readonly answered: Readonly<Record<string, { readonly ok: boolean }>>;
  readonly backendStatus: ReadonlyMap<string, string> | undefined;
  /** What HAProxy serves now: after a restart, the only record of a failover that started before it. */
  readonly current: Readonly<Record<MapName, readonly Entry[]>>;
};

/** Count this sync's observations into `state.claims`; returns the claims that count as unhealthy (for mergeDesired). */
export function assessClaims(config: Config, state: FailoverState, facts: HealthFacts): Set<string> {
  if (!config.failover.enabled) {
    state.claims = new Map();
    return new Set();
  }
  const downServices = new Map<string, ReadonlyMap<string, string>>();
  for (const [name, s] of facts.snapshots) if (s.down) downServices.set(name, s.down);
  const stale = new Set(
    Object.entries(facts.answered)
      .filter(([, c]) => !c.ok)
      .map(([name]) => name),
  );
  const problems = claimProblems(facts.routes, { clusters: config.clusters, stale, backendStatus: facts.backendStatus, downServices });
  // Only a claim with a problem is asked whether it is routed away: a healthy sync skips indexing every current entry.
  const routedAway = problems.size > 0 ? routedAwayClaims(facts.routes, facts.current, config.clusters) : new Set<string>();
  state.claims = countClaims(state.claims, problems, config.failover, routedAway);
  return unhealthyClaims(state.claims);
}

/** Update the active failovers and log each start and end once; returns what the report and the status show. */
export function followFailovers(
  log: Log,
  config: Config,
  state: FailoverState,
  choice: {
    readonly failedOver: readonly FailedOver[];
    readonly conflicts: readonly Conflict[];
    readonly at: string;
    readonly backendStatus: ReadonlyMap<string, string> | undefined;
  },
): HealthReport {
  const t = trackFailovers(
    state.failovers,
    config.failover.enabled ? choice.failedOver : [],
    choice.conflicts,
    state.claims,
    config.failover,
    choice.at,
  );
  for (const f of t.started) log.warn(failoverLine(f));
  for (const e of t.ended) {
    const f = e.failover;
    const why = config.failover.enabled ? e.why : 'failover is turned off in the config';
    log.info(`failover ended: ${f.map} ${f.host} ${f.from} → ${f.to}: ${why}${e.winner ? `; routing to ${e.winner}` : ''}`);
  }
  state.failovers = t.active;
  let unhealthy = 0;
  for (const c of state.claims.values()) if (c.unhealthy) unhealthy++;
  const failovers = [...t.active.values()].sort((a, b) => byteOrder(a.host, b.host) || byteOrder(a.map, b.map));
  return { failovers, unhealthyClaims: unhealthy, downBackends: downBackends(config.clusters, choice.backendStatus) };
}
