// Real edges for syncOnce: the Traefik client, the map files, and HAProxy (runtime socket, `haproxy -c`, reload).
// main.ts, the daemon, tests and the demo all build their deps here, so there is one wiring.
import { applyMaps, readLive, type Seen } from './apply.js';
import type { Config } from './config.js';
import { MAP_NAMES } from './core/maps.js';
import type { Entry, MapName } from './core/types.js';
import { readMapFile } from './io/files.js';
import { fetchAll, type ClusterRouters, type FetchOptions } from './io/traefik.js';
import type { Log } from './log.js';
import type { Fetched, FetchResult, SyncDeps } from './sync.js';

/** Deps for one sync (the daemon makes new ones per sync): what readCurrent dumped from HAProxy is handed to apply. */
export function createSyncDeps(config: Config, log: Log, fetchOptions?: FetchOptions): SyncDeps {
  let seen: Seen | undefined;
  return {
    config,
    log,
    now: Date.now,
    async fetchAll(cfg, last) {
      // The last answers are the Traefik client's own values (with their digest), handed back as they were.
      const reads = new Map<string, ClusterRouters>();
      for (const [name, value] of last) if (isClusterRouters(value)) reads.set(name, value);
      const results = await fetchAll(cfg.clusters, fetchOptions, reads);
      return new Map<string, FetchResult>(results);
    },
    async readCurrent(cfg, dryRun) {
      if (dryRun) return { maps: await readMapFiles(cfg.haproxy.maps) };
      const live = await readLive(cfg.haproxy);
      seen = live.seen;
      return { maps: live.maps, ...(live.backendStatus ? { backendStatus: live.backendStatus } : {}) };
    },
    apply: (cfg, desired, l) => applyMaps(cfg.haproxy, desired, l, seen ? { seen } : {}),
  };
}

function isClusterRouters(value: Fetched): value is ClusterRouters {
  return typeof (value as Partial<ClusterRouters>).digest === 'string' && typeof (value as Partial<ClusterRouters>).api === 'string';
}

export async function readMapFiles(paths: Record<MapName, string>): Promise<Record<MapName, Entry[]>> {
  const maps = await Promise.all(MAP_NAMES.map((m) => readMapFile(paths[m])));
  return Object.fromEntries(MAP_NAMES.map((m, i) => [m, maps[i]!])) as Record<MapName, Entry[]>;
}
