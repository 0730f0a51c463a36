// Fake Traefik clusters (test/harness/traefik.ts) hosted by a bundled worker in its own process, so the time
// Traefik takes to build its JSON never lands in the CPU time measured for routeagent.

import type { RouterSpec } from './routers.js';
import { startWorker } from './rpc.js';

export type Fleet = {
  readonly urls: Readonly<Record<string, string>>;
  readonly pid: number;
  /** Serve `spec`'s routers (or none, with null) on cluster `name` from the next request on. */
  set(name: string, spec: RouterSpec | null): Promise<void>;
  /** Serve exactly these HTTP routers. */
  setRouters(name: string, http: unknown[]): Promise<void>;
  close(): Promise<void>;
};

export async function startFleet(bundle: string, names: readonly string[], version = '3.7.9'): Promise<Fleet> {
  const w = startWorker(bundle, 'fleet');
  const urls = await w.call<Record<string, string>>('start', { names, version });
  return {
    urls,
    pid: w.pid,
    set: (name, spec) => w.call('set', { name, spec }),
    setRouters: (name, http) => w.call('set', { name, spec: null, http }),
    async close() {
      await w.call('close').catch(() => undefined);
      await w.close();
    },
  };
}
