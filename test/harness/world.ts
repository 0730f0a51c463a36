// Provides a whole small edge for end-to-end tests and the demo: a real haproxy on loopback, two "clusters"
// (each a fake Traefik API plus an HTTP and a TLS upstream that answer with the cluster's name), and a routeagent
// config file in a tmp dir that points at all of it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Haproxy, startHaproxy } from './haproxy.js';
import { type FakeTraefik, startTraefik } from './traefik.js';
import { httpGet, startHttpUpstream, startTlsUpstream, tlsName, type Upstream } from './upstream.js';

export const CLUSTERS = ['hades', 'illmatic'] as const;
export type ClusterName = (typeof CLUSTERS)[number];
export type FakeCluster = { name: ClusterName; traefik: FakeTraefik; http: Upstream; tls: Upstream; https: string; hostsBackend: string };
export type World = {
  dir: string;
  configPath: string;
  statusFile: string;
  haproxy: Haproxy;
  clusters: Record<ClusterName, FakeCluster>;
  /** The config as written last (JSON object). */
  config: Record<string, unknown>;
  writeConfig(patch?: Record<string, unknown>): Promise<void>;
  /** Which cluster answered a plain-HTTP request for `host` through HAProxy (`status 503` when none). */
  viaHttp(host: string): Promise<string>;
  /** Which cluster answered a TLS connection with this SNI through HAProxy (null when none). */
  viaSni(host: string): Promise<string | null>;
  close(): Promise<void>;
};

/** A router as Traefik's /api/http/routers lists it. */
export function httpRouter(name: string, rule: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    entryPoints: ['websecure'],
    service: `${name}-svc`,
    rule,
    tls: {},
    status: 'enabled',
    using: ['websecure'],
    name: `${name}@kubernetescrd`,
    provider: 'kubernetescrd',
    ...extra,
  };
}

/** A TLS passthrough TCP router as Traefik's /api/tcp/routers lists it. */
export function tcpRouter(name: string, sni: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    entryPoints: ['websecure'],
    service: `${name}-svc`,
    rule: `HostSNI(\`${sni}\`)`,
    tls: { passthrough: true },
    status: 'enabled',
    using: ['websecure'],
    name: `${name}@kubernetescrd`,
    provider: 'kubernetescrd',
    ...extra,
  };
}

/** An app with TLS on `host`, as a K3s IngressRoute produces it. */
export function app(host: string): Record<string, unknown> {
  return httpRouter(host.split('.')[0]!, `Host(\`${host}\`)`);
}

/** `server`: options for the server lines of the cluster backends, e.g. `check inter 200ms` (HAProxy health checks). */
export async function startWorld(opts: { schedule?: string; config?: Record<string, unknown>; server?: string } = {}): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'routeagent-world-'));
  const clusters = {} as Record<ClusterName, FakeCluster>;
  for (const name of CLUSTERS) {
    const [traefik, http, tls] = await Promise.all([
      startTraefik({ version: name === 'hades' ? '2.10.7' : '3.7.9' }),
      startHttpUpstream(name),
      startTlsUpstream(name),
    ]);
    clusters[name] = { name, traefik, http, tls, https: `${name}_https_ipvANY`, hostsBackend: `${name}_http_ipvANY` };
  }
  const haproxy = await startHaproxy({
    dir,
    backends: CLUSTERS.flatMap((n) => [
      { name: clusters[n].https, mode: 'tcp' as const, port: clusters[n].tls.port, ...(opts.server ? { server: opts.server } : {}) },
      {
        name: clusters[n].hostsBackend,
        mode: 'http' as const,
        port: clusters[n].http.port,
        ...(opts.server ? { server: opts.server } : {}),
      },
    ]),
  });
  const configPath = join(dir, 'config.json');
  const statusFile = join(dir, 'run', 'status.json');
  // Timeouts well above what loopback needs: a fetch of 10 pages or a long `show map` on a loaded machine must not fail
  // a test that is not about timeouts (those set their own, small ones).
  const base: Record<string, unknown> = {
    clusters: CLUSTERS.map((n, i) => ({
      name: n,
      api: clusters[n].traefik.url,
      backends: { sni: clusters[n].https, hosts: clusters[n].hostsBackend },
      priority: 10 * (i + 1),
      timeoutMs: 10_000,
    })),
    expose: { domains: ['technis.io'], hosts: [], exclude: ['keys2kingdom.technis.io'] },
    conflicts: 'sticky',
    haproxy: {
      bin: process.env['HAPROXY_BIN'] || 'haproxy',
      config: haproxy.cfgPath,
      socket: haproxy.socket,
      maps: haproxy.mapPaths,
      timeoutMs: 10_000,
    },
    schedule: opts.schedule ?? '*/1 * * * * *',
    statusFile,
    ...opts.config,
  };
  const world: World = {
    dir,
    configPath,
    statusFile,
    haproxy,
    clusters,
    config: base,
    async writeConfig(patch = {}) {
      world.config = { ...base, ...patch };
      await writeFile(configPath, JSON.stringify(world.config, null, 2), { mode: 0o600 });
    },
    viaHttp: (host) => httpGet(haproxy.httpPort, host),
    viaSni: (host) => tlsName(haproxy.sniPort, host),
    async close() {
      await haproxy.stop();
      for (const c of Object.values(clusters)) await Promise.all([c.traefik.close(), c.http.close(), c.tls.close()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
  await world.writeConfig();
  return world;
}
