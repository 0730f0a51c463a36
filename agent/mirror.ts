// A CARP follower's sync: instead of deciding, take the leader's maps (already fetched and checked by the caller), check
// them here as our own maps are checked (`haproxy -c`, backends exist with the right modes; the guard is the leader's),
// write the same bytes and apply them live, or write the files only when HAProxy does not run on this node.
// The leader's failover counters are taken too, and the cluster snapshots dropped, so that if this node leads next it
// continues from the maps it holds, as a restart would.

import { readFile } from 'node:fs/promises';
import { FILE_ONLY } from './apply.js';
import { MAP_NAMES } from './core/maps.js';
import type { Mirror } from './core/peerstate.js';
import { digest } from './core/peerstate.js';
import { planMap, summarisePlan } from './core/plan.js';
import { renderMap } from './core/render.js';
import type { Entry, MapName } from './core/types.js';
import { AgentError } from './errors.js';
import { writeFileAtomic } from './io/files.js';
import type { ApplyResult, Current } from './ports.js';
import type { SyncDeps, SyncReport, SyncState } from './sync.js';

/** A follower's HAProxy port applies file-only when HAProxy does not run (createHaproxyPort's fileOnlyWithoutHaproxy). */
export type MirrorDeps = Pick<SyncDeps, 'config' | 'log' | 'now' | 'haproxy'>;
export type MirrorResult = { report: SyncReport; fileOnly: boolean; mirrored: boolean };

/** Make this node hold `mirror`'s maps. Never throws for expected failures: they land in `report.error`. */
export async function mirrorOnce(
  deps: MirrorDeps,
  state: SyncState,
  mirror: Mirror,
  opts: { dryRun?: boolean } = {},
): Promise<MirrorResult> {
  const { config, log } = deps;
  const started = deps.now();
  const base = (
    current: Record<MapName, readonly Entry[]> | undefined,
    outcome: Pick<SyncReport, 'applied' | 'method'> & { error?: string; notes?: readonly string[] },
  ): SyncReport => {
    const plans = MAP_NAMES.map((m) => planMap(m, current?.[m] ?? [], mirror.entries[m]));
    // Applied live, or written file-only: the mirrored maps are what HAProxy serves (or will, started from the files).
    const served = outcome.applied || outcome.notes?.includes(FILE_ONLY) ? mirror.entries : current;
    return {
      at: new Date(started).toISOString(),
      durationMs: deps.now() - started,
      maps: mirror.entries,
      ...(served ? { served: Object.fromEntries(MAP_NAMES.map((m) => [m, served[m].length])) as Record<MapName, number> } : {}),
      plan: Object.fromEntries(
        plans.map((p) => [p.map, { add: [...p.add], change: [...p.change], remove: [...p.remove] }]),
      ) as SyncReport['plan'],
      conflicts: [],
      skipped: [],
      clusters: {},
      applied: outcome.applied,
      method: outcome.method,
      ...(outcome.error !== undefined ? { error: outcome.error } : {}),
      failovers: mirror.failover.failovers.map(([, f]) => f),
      unhealthyClaims: mirror.failover.claims.filter(([, c]) => c.unhealthy).length,
      downBackends: [],
    };
  };

  let read: Current;
  try {
    read = await deps.haproxy.read({ dryRun: opts.dryRun ?? false });
  } catch (e) {
    if (!(e instanceof AgentError)) throw e;
    return {
      report: base(undefined, {
        applied: false,
        method: 'none',
        error: `${e.message}; the leader's maps are not mirrored, the next sync retries`,
      }),
      fileOnly: false,
      mirrored: false,
    };
  }
  const current = read.maps;
  if (opts.dryRun) return { report: base(current, { applied: false, method: 'none' }), fileOnly: false, mirrored: false };
  let outcome: ApplyResult;
  try {
    outcome = await deps.haproxy.apply(mirror.entries, read, log);
    await sameBytes(config.haproxy.maps, mirror);
  } catch (e) {
    if (!(e instanceof AgentError)) throw e;
    return {
      report: base(current, { applied: false, method: 'none', error: `${e.message} (mirroring the leader's sync ${mirror.at})` }),
      fileOnly: false,
      mirrored: false,
    };
  }
  takeOver(state, mirror);
  const fileOnly = outcome.notes.includes(FILE_ONLY);
  if (outcome.changed.length) {
    const how = outcome.applied ? `applied by ${outcome.method}` : fileOnly ? 'files written (file-only)' : 'nothing applied';
    log.info(
      `mirror: leader's sync ${mirror.at}: ${MAP_NAMES.map((m) => summarisePlan(planMap(m, current[m], mirror.entries[m]))).join(', ')}; ${how} in ${deps.now() - started} ms`,
    );
  }
  return { report: base(current, outcome), fileOnly, mirrored: true };
}

// The leader's counters continue here, and nothing this node decided before (when it led) survives: a cluster that is
// down when it leads again is seeded from the mirrored maps, as at a restart.
function takeOver(state: SyncState, mirror: Mirror): void {
  state.claims = new Map(mirror.failover.claims);
  state.failovers = new Map(mirror.failover.failovers);
  state.snapshots.clear();
  state.reads.clear();
  state.conflicts.clear();
  state.skipped.clear();
  delete state.guard;
}

// applyMaps rewrites a file only when its entries differ; a file with the same entries in other bytes (edited by hand,
// blank lines) is rewritten here, so that the digests of both nodes agree.
async function sameBytes(paths: Record<MapName, string>, mirror: Mirror): Promise<void> {
  for (const m of MAP_NAMES) {
    const text = await readFile(paths[m], 'utf8').catch(() => '');
    if (digest(text) !== mirror.digests[m]) await writeFileAtomic(paths[m], renderMap(mirror.entries[m]));
  }
}
