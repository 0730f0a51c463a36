// A whole edge: a real haproxy (test/harness/haproxy.ts) with a tcp and an http backend per cluster, fake Traefik
// clusters in a fleet worker (lib/fleet.ts), a routeagent config pointing at both, and an agent worker that runs
// routeagent's code from the bundle (bench/worker.ts). Three processes, so CPU time is attributed honestly.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type Haproxy, haproxyBin, startHaproxy } from '../../test/harness/haproxy.js';
import type { SyncCost } from '../worker.js';
import { type Fleet, startFleet } from './fleet.js';
import { onCleanup, once } from './procs.js';
import { startWorker, type Worker } from './rpc.js';
import type { Cost } from './stats.js';

export type Edge = {
  dir: string;
  haproxy: Haproxy;
  fleet: Fleet;
  agent: Worker;
  names: string[];
  configJson: Record<string, unknown>;
  sync(opts?: { force?: boolean }): Promise<SyncCost>;
  fetchBaseline(): Promise<Cost & { routers: number }>;
  /** Write the config (plus `patch`) to a file, for a daemon. */
  writeConfig(path: string, patch?: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
};

export function backendsOf(name: string): { sni: string; hosts: string } {
  return { sni: `${name}_https_ipvANY`, hosts: `${name}_http_ipvANY` };
}

export async function startEdge(bundle: string, clusters: number, opts: { agentExecArgv?: string[] } = {}): Promise<Edge> {
  const dir = await mkdtemp(join(tmpdir(), 'routeagent-bench-'));
  const names = Array.from({ length: clusters }, (_, i) => `c${i}`);
  const fleet = await startFleet(bundle, names);
  const port = await freePort(); // nothing listens there: these runs send no traffic to the backends
  const haproxy = await startHaproxy({
    dir,
    backends: names.flatMap((n) => [
      { name: backendsOf(n).sni, mode: 'tcp' as const, port },
      { name: backendsOf(n).hosts, mode: 'http' as const, port },
    ]),
  });
  const configJson: Record<string, unknown> = {
    clusters: names.map((n, i) => ({ name: n, api: fleet.urls[n], backends: backendsOf(n), priority: 10 * (i + 1), timeoutMs: 60_000 })),
    expose: { domains: ['technis.io'], hosts: [], exclude: [] },
    conflicts: 'sticky',
    haproxy: { bin: haproxyBin(), config: haproxy.cfgPath, socket: haproxy.socket, maps: haproxy.mapPaths, timeoutMs: 30_000 },
    schedule: '0 0 1 1 *',
    statusFile: join(dir, 'run', 'status.json'),
  };
  const agent = startWorker(bundle, 'agent', { execArgv: opts.agentExecArgv ?? [] });
  await agent.call('configure', { config: configJson });
  const edge: Edge = {
    dir,
    haproxy,
    fleet,
    agent,
    names,
    configJson,
    sync: (o = {}) => agent.call<SyncCost>('sync', o),
    fetchBaseline: () => agent.call('fetchBaseline'),
    async writeConfig(path, patch = {}) {
      await writeFile(path, JSON.stringify({ ...configJson, ...patch }, null, 2), { mode: 0o600 });
    },
    close: once(async () => {
      await agent.close();
      await fleet.close();
      await haproxy.stop();
      await rm(dir, { recursive: true, force: true });
    }),
  };
  onCleanup(() => edge.close());
  return edge;
}
