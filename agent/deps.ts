// The wiring of a sync: the config, the log, the clock and the two real ports (Traefik, HAProxy) that syncOnce runs
// between. main.ts and the daemon build their deps here (lazily: it loads got); tests and the demo swap a port.
import { createHaproxyPort } from './apply.js';
import type { Config } from './config.js';
import { type FetchOptions, fetchAll } from './io/traefik.js';
import type { Log } from './log.js';
import type { TraefikPort } from './ports.js';
import type { SyncDeps } from './sync.js';

/** The Traefik port: every configured cluster, fetched in parallel. */
export function createTraefikPort(clusters: Config['clusters'], fetchOptions?: FetchOptions): TraefikPort {
  return { fetch: (last) => fetchAll(clusters, fetchOptions, last) };
}

/** Deps for one sync (the daemon makes new ones per sync, from the config in force). */
export function createSyncDeps(config: Config, log: Log, fetchOptions?: FetchOptions): SyncDeps {
  return {
    config,
    log,
    now: Date.now,
    traefik: createTraefikPort(config.clusters, fetchOptions),
    haproxy: createHaproxyPort(config.haproxy),
  };
}
