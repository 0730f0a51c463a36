// What one sync did: the value syncOnce returns, the daemon sends over the control socket, the status file folds in
// (core/status.ts) and output.ts prints as text or JSON. Types only.
import type { Conflict } from './desired.js';
import type { DownBackend, Failover } from './failover.js';
import type { Change } from './plan.js';
import type { Entry, MapName, Skipped } from './types.js';

/** How the maps were made live: by the runtime API, by the configured reload command, or not at all. */
export type ApplyMethod = 'runtime' | 'reload' | 'none';

/** One cluster at this sync: answered (`ok`), or kept its last snapshot because of `error`. */
export type ClusterReport = { ok: boolean; routers: number; error?: string; staleSince?: string };

/** Failover's part of a report: active failovers, claims counted unhealthy, backends HAProxy reports down. */
export type HealthReport = { failovers: Failover[]; unhealthyClaims: number; downBackends: DownBackend[] };

export type SyncReport = {
  at: string;
  durationMs: number;
  /** The entries each map should hold: the sync's own lists, not copies (`sync --json` prints them as key → backend). */
  maps: Record<MapName, readonly Entry[]>;
  /** Entries HAProxy serves after this sync (the desired ones only when applied); absent when its maps could not be read. */
  served?: Record<MapName, number>;
  plan: Record<MapName, { add: Entry[]; change: Change[]; remove: Entry[] }>;
  conflicts: Conflict[];
  skipped: Skipped[];
  clusters: Record<string, ClusterReport>;
  applied: boolean;
  method: ApplyMethod;
  held?: string[];
  error?: string;
} & HealthReport;
