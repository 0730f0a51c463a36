// The status file's content: the last sync's outcome, and whether that is healthy.
// Pure: built from a SyncReport and the previous status; the caller writes and reads the file, output.ts prints it.
import type { CarpState, Role } from './carp.js';
import type { Conflict } from './desired.js';
import type { DownBackend, Failover } from './failover.js';
import { MAP_NAMES } from './maps.js';
import type { ApplyMethod, HealthReport, SyncReport } from './report.js';
import type { MapName } from './types.js';

/** A node of a CARP pair: its role, its CARP state, what it knows of its peer, and the SHA-256 of each map file it holds. */
export type HaStatus = {
  role: Role;
  vhid: number;
  carp: CarpState;
  peer: {
    url: string;
    /** Whether the peer answered this sync's request (a leader asks too, to show it here); absent when not asked. */
    reachable?: boolean;
    role?: Role;
    /** The leader's sync whose maps this node holds, and when this node mirrored them (followers). */
    lastMirror?: { leaderAt: string; at: string };
    error?: string;
  };
  /** A follower whose HAProxy does not run: the map files are written, nothing is live (healthy for a follower). */
  fileOnly?: boolean;
  digests: Record<MapName, string>;
};
export type ClusterStatus = { state: 'ok' | 'stale'; routers: number; since?: string; error?: string };
export type Status = {
  version: 1;
  at: string;
  outcome: 'ok' | 'failed' | 'held';
  durationMs: number;
  applied: boolean;
  method: ApplyMethod;
  clusters: Record<string, ClusterStatus>;
  /** What HAProxy serves after this sync: the applied plan, or the maps it kept when nothing was applied. */
  entries: Record<MapName, number>;
  /** Only while the guard holds: the entries the held plan would leave (not served). */
  heldEntries?: Record<MapName, number>;
  conflicts: Conflict[];
  skipped: number;
  guard: { held: boolean; reasons: string[] };
  lastError?: string;
  lastSuccess?: string;
  /** Hosts routed away from an unhealthy preferred cluster; absent in status files written before failover existed. */
  failovers?: Failover[];
  unhealthyClaims?: number;
  backendsDown?: DownBackend[];
  /** Only on a node of a CARP pair (config `ha`). */
  ha?: HaStatus;
};

/** What of a sync report the status keeps (the skipped routers only as a count; failover fields absent in older reports). */
type StatusInput = Pick<
  SyncReport,
  'at' | 'durationMs' | 'maps' | 'served' | 'conflicts' | 'clusters' | 'applied' | 'method' | 'held' | 'error'
> & {
  readonly skipped: readonly unknown[];
} & Partial<HealthReport> & { readonly ha?: HaStatus };

/** Status after a sync; `lastSuccess` carries over from the previous status when this one failed. */
export function statusFromReport(r: StatusInput, previous?: Status): Status {
  const outcome = r.error !== undefined ? 'failed' : r.held?.length ? 'held' : 'ok';
  const clusters = Object.fromEntries(
    Object.entries(r.clusters).map(([name, c]) => [
      name,
      c.ok
        ? { state: 'ok' as const, routers: c.routers }
        : {
            state: 'stale' as const,
            routers: c.routers,
            ...(c.staleSince ? { since: c.staleSince } : {}),
            ...(c.error ? { error: c.error } : {}),
          },
    ]),
  );
  const lastSuccess = outcome === 'ok' ? r.at : previous?.lastSuccess;
  const lastError = r.error ?? r.held?.join('; ') ?? Object.values(r.clusters).find((c) => c.error)?.error;
  const desired = Object.fromEntries(MAP_NAMES.map((m) => [m, r.maps[m].length])) as Record<MapName, number>;
  return {
    version: 1,
    at: r.at,
    outcome,
    durationMs: r.durationMs,
    applied: r.applied,
    method: r.method,
    clusters,
    entries: r.served ?? previous?.entries ?? desired,
    ...(outcome === 'held' ? { heldEntries: desired } : {}),
    conflicts: r.conflicts,
    skipped: r.skipped.length,
    guard: { held: outcome === 'held', reasons: r.held ?? [] },
    ...(lastError !== undefined ? { lastError } : {}),
    ...(lastSuccess !== undefined ? { lastSuccess } : {}),
    failovers: r.failovers ?? [],
    unhealthyClaims: r.unhealthyClaims ?? 0,
    backendsDown: r.downBackends ?? [],
    ...(r.ha ? { ha: r.ha } : {}),
  };
}

/** Healthy = last sync succeeded, every cluster answered, the guard is not holding, and the status is recent. */
export function healthProblems(s: Status, nowMs: number, maxAgeSec: number): string[] {
  const problems: string[] = [];
  if (s.outcome === 'failed') problems.push(`last sync failed: ${s.lastError ?? 'unknown error'}`);
  if (s.guard.held) problems.push(`guard holding: ${s.guard.reasons.join('; ')}`);
  for (const [name, c] of Object.entries(s.clusters)) {
    if (c.state === 'stale') problems.push(`cluster ${name} stale since ${c.since ?? '?'}: ${c.error ?? ''}`.trimEnd());
  }
  for (const b of s.backendsDown ?? []) problems.push(`backend ${b.backend} of cluster ${b.cluster} is ${b.status} in HAProxy`);
  if (s.ha) problems.push(...haProblems(s.ha));
  const ageSec = Math.round((nowMs - Date.parse(s.at)) / 1000);
  if (ageSec > maxAgeSec) problems.push(`last sync was ${ageSec} s ago (is the daemon running?)`);
  return problems;
}

// A follower that cannot mirror already failed its sync (lastError says why); these are what only the pair can show.
function haProblems(ha: HaStatus): string[] {
  const problems: string[] = [];
  if (ha.carp === 'missing') problems.push(`ha: CARP vhid ${ha.vhid} is not in the ifconfig output; this node follows until it is MASTER`);
  if (ha.role === 'leader' && ha.peer.role === 'leader')
    problems.push(`ha: the peer ${ha.peer.url} leads too (CARP MASTER on both nodes?); both apply their own decisions`);
  return problems;
}
