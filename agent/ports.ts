// The two ports a sync runs between. Traefik: what the clusters serve. HAProxy: what it serves now (`read`), and making
// it serve the desired maps (`apply`). syncOnce runs the pure pipeline between them; deps.ts builds the real ones from the
// config, tests swap one. What `read` learned reaches `apply` as the Current value it returned, never through a variable
// that two closures share. A follower (or any other way to decide) is another step between these same two ports.

import type { ShowInfo } from './core/reply.js';
import type { ApplyMethod } from './core/report.js';
import type { Entry, MapName } from './core/types.js';
import type { FetchResult, ReadMark } from './io/traefik.js';
import type { Log } from './log.js';

export type TraefikPort = {
  /** Every configured cluster's routers, or its error. `last`: each cluster's last good read, handed back as it was
   * when the answer is identical. */
  fetch(last: ReadonlyMap<string, ReadMark>): Promise<ReadonlyMap<string, FetchResult>>;
};

/** What HAProxy serves now, and what reading it learned. */
export type Current = {
  readonly maps: Record<MapName, readonly Entry[]>;
  /** `runtime` when every map came from `show map`, else `file` (the socket is gone, or a dry run reads only files). */
  readonly source: 'runtime' | 'file';
  /** Backend → its `show stat` status, for failover; absent when unknown (unknown counts as UP). */
  readonly backendStatus?: ReadonlyMap<string, string>;
  /** The process that answered and the maps it dumped: apply reuses them while that process still runs. */
  readonly process?: { readonly info: ShowInfo; readonly maps: Partial<Record<MapName, readonly Entry[]>> };
};

export type ApplyResult = { applied: boolean; method: ApplyMethod; changed: MapName[]; notes: string[] };

export type HaproxyPort = {
  /**
   * A dry run reads only the map files; a sync asks the runtime, and falls back to the files without it. `likely`: what
   * HAProxy served after the last sync, as that sync knew it; a live map listed exactly so is answered with those entries.
   */
  read(opts: { readonly dryRun: boolean; readonly likely?: Readonly<Record<MapName, readonly Entry[]>> }): Promise<Current>;
  /** Make the files and the live maps equal `desired`; `current` is what `read` returned in this sync. */
  apply(desired: Record<MapName, readonly Entry[]>, current: Current, log: Log): Promise<ApplyResult>;
};
