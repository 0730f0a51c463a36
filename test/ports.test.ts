// syncOnce between two swapped ports, no I/O: what the HAProxy port's `read` returned is the very value its `apply`
// receives (no state carried between them in a closure), and a dry run reads the files and applies nothing.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type Config, parseConfig } from '../agent/config.js';
import type { Entry, MapName, Router } from '../agent/core/types.js';
import type { ClusterRouters, FetchResult } from '../agent/io/traefik.js';
import { silentLog } from '../agent/log.js';
import { formatPlan } from '../agent/output.js';
import type { Current, HaproxyPort, TraefikPort } from '../agent/ports.js';
import { newSyncState, type SyncDeps, syncOnce } from '../agent/sync.js';

const parsed = parseConfig({
  clusters: [{ name: 'hades', api: 'http://127.0.0.1:9/api', backends: { sni: 'hades_https_ipvANY', hosts: 'hades_http_ipvANY' } }],
  expose: { domains: ['technis.io'] },
});
const config = parsed.config as Config;
const router: Router = {
  kind: 'http',
  name: 'grafana@kubernetes',
  provider: 'kubernetes',
  rule: 'Host(`grafana.technis.io`)',
  tls: {},
  status: 'enabled',
  using: ['websecure'],
};
const read: ClusterRouters = { routers: [router], services: {}, syntax: 'v3', api: 'http://127.0.0.1:9/api', digest: 'd1' };
const traefik: TraefikPort = { fetch: async () => new Map<string, FetchResult>([['hades', { ok: true, value: read }]]) };

type Applied = { desired: Record<MapName, readonly Entry[]>; current: Current };
type Likely = Parameters<HaproxyPort['read']>[0]['likely'];
function recordingHaproxy(current: Current): { port: HaproxyPort; reads: boolean[]; likely: Likely[]; applied: Applied[] } {
  const reads: boolean[] = [];
  const likely: Likely[] = [];
  const applied: Applied[] = [];
  const port: HaproxyPort = {
    read: async (opts) => {
      reads.push(opts.dryRun);
      likely.push(opts.likely);
      return current;
    },
    apply: async (desired, c) => {
      applied.push({ desired, current: c });
      return { applied: true, method: 'runtime', changed: ['hosts', 'sni'], notes: [] };
    },
  };
  return { port, reads, likely, applied };
}
const deps = (haproxy: HaproxyPort): SyncDeps => ({
  config,
  log: silentLog,
  now: () => Date.parse('2026-03-01T10:42:05Z'),
  traefik,
  haproxy,
});
const empty = (): Current => ({
  maps: { hosts: [], sni: [] },
  source: 'runtime',
  process: { info: { version: '2.6.12', pid: 42, startTimeSec: 1 }, maps: { hosts: [], sni: [] } },
});

const ports = suite('syncOnce between two ports');
ports('apply receives the value read returned, and the desired maps', async () => {
  const current = empty();
  const h = recordingHaproxy(current);
  const r = await syncOnce(deps(h.port), newSyncState());
  assert.equal(h.reads, [false]);
  assert.is(h.applied.length, 1);
  assert.is(h.applied[0]!.current, current, 'the very value read returned');
  assert.equal(h.applied[0]!.desired, {
    hosts: [{ key: 'grafana.technis.io', backend: 'hades_http_ipvANY' }],
    sni: [{ key: 'grafana.technis.io', backend: 'hades_https_ipvANY' }],
  });
  assert.equal([r.applied, r.method, r.served], [true, 'runtime', { hosts: 1, sni: 1 }]);
});
ports('read is told what the last sync left served: its desired maps once applied or already live, else what it read', async () => {
  const state = newSyncState();
  const h = recordingHaproxy(empty());
  const first = await syncOnce(deps(h.port), state);
  await syncOnce(deps(h.port), state);
  assert.equal(h.likely.length, 2);
  assert.is(h.likely[0], undefined, 'a first sync knows nothing');
  assert.is(h.likely[1], first.maps, 'applied: the very desired lists');

  // Held by the guard (the cluster lost its 4 hosts): HAProxy still serves what was read.
  const full = { hosts: ['a', 'b', 'c', 'd'].map((h) => ({ key: `${h}.technis.io`, backend: 'hades_http_ipvANY' })), sni: [] };
  const served: Current = { maps: full, source: 'runtime' };
  const held = recordingHaproxy(served);
  const gone = {
    fetch: async () => new Map<string, FetchResult>([['hades', { ok: true, value: { ...read, routers: [], digest: 'd0' } }]]),
  };
  const guarded = newSyncState();
  const heldDeps = { ...deps(held.port), traefik: gone, config: { ...config, guard: { maxRemovalRatio: 0 } } };
  for (let i = 0; i < 2; i++) assert.ok((await syncOnce(heldDeps, guarded)).held);
  assert.is(held.likely[1], full, 'held: what was read');
});
ports('a dry run asks read for the files and never calls apply', async () => {
  const h = recordingHaproxy(empty());
  const r = await syncOnce(deps(h.port), newSyncState(), { dryRun: true });
  assert.equal([h.reads, h.applied.length, r.applied], [[true], 0, false]);
  assert.equal(r.plan.sni.add, [{ key: 'grafana.technis.io', backend: 'hades_https_ipvANY' }]);
});
ports('a cluster of 140,000 routers syncs, and its plan prints (no list is spread into a call, whose arguments are capped)', async () => {
  const many = Array.from({ length: 140_000 }, (_, i) => ({ ...router, name: `app${i}@kubernetes`, rule: `Host(\`app${i}.technis.io\`)` }));
  const hostless = Array.from({ length: 140_000 }, (_, i) => ({ ...router, name: `path${i}@kubernetes`, rule: `PathPrefix(\`/p${i}\`)` }));
  const big: ClusterRouters = { ...read, routers: [...many, ...hostless], digest: 'd-big' };
  const h = recordingHaproxy(empty());
  const r = await syncOnce(
    { ...deps(h.port), traefik: { fetch: async () => new Map<string, FetchResult>([['hades', { ok: true, value: big }]]) } },
    newSyncState(),
  );
  assert.is(r.error, undefined);
  assert.equal([r.maps.hosts.length, r.maps.sni.length, r.skipped.length], [140_000, 140_000, 140_000]);
  const text = formatPlan(r, false);
  assert.ok(text.includes('hosts: +140000 ~0 -0 (140000 entries)'), text.slice(0, 200));
  assert.ok(text.includes('  + app99999.technis.io hades_https_ipvANY'));
});
ports.run();
