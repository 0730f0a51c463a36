// Failover through syncOnce, with a real haproxy whose cluster backends have `check inter 200ms`, two fake Traefik clusters
// and real requests: a host that both clusters serve leaves its cluster after downAfter (2) unhealthy syncs when that
// cluster's API fails, its HAProxy backend goes DOWN or its Traefik service has no server UP; hosts only one cluster serves
// stay; a flapping claim never moves a host; recovery takes upAfter (3) healthy syncs, after which `priority` returns and
// `sticky` stays; a pin yields only to health; nothing of it reloads HAProxy. Syncs are counted, never timed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readConfig } from '../agent/config.js';
import type { MapName } from '../agent/core/types.js';
import { createSyncDeps } from '../agent/deps.js';
import { createRuntime } from '../agent/io/runtime.js';
import { createLog } from '../agent/log.js';
import { newSyncState, type SyncDeps, type SyncReport, type SyncState, syncOnce } from '../agent/sync.js';
import { runBundle, until } from './harness/agent.js';
import { skipUnless } from './harness/tools.js';
import { startTlsUpstream } from './harness/upstream.js';
import { app, type ClusterName, startWorld, tcpRouter, type World } from './harness/world.js';

const missing = skipUnless('failover end to end', 'haproxy', 'openssl');
const fo = suite('failover end to end');
let w: World;
let state: SyncState;
let lines: string[] = [];
const log = createLog((l) => lines.push(l.trimEnd()), 'debug');
/** One sync; `edit` may wrap the real deps (a fetch port that adds services, until the fetch reads them). */
const sync = async (edit: (d: SyncDeps) => SyncDeps = (d) => d): Promise<SyncReport> => {
  const { config } = await readConfig(w.configPath);
  const r = await syncOnce(edit(createSyncDeps(config, log)), state);
  assert.is(r.error, undefined, r.error);
  return r;
};
/** The backend a sync wanted for `host` in the sni map. */
const sniOf = (r: SyncReport, host: string) => r.maps.sni.find((e) => e.key === host)?.backend;
const syncs = async (n: number, edit?: (d: SyncDeps) => SyncDeps) => {
  let r: SyncReport | undefined;
  for (let i = 0; i < n; i++) r = await sync(edit);
  return r!;
};
const failoverLines = () => lines.filter((l) => l.includes('failover'));
const backendIs = (backend: string, status: string) =>
  until(
    `HAProxy to report ${backend} ${status}`,
    async () => (await createRuntime(w.haproxy.socket).backendStatus()).get(backend) === status,
    20_000,
    100,
  );
/** Stop a cluster's TLS upstream (its sni backend goes DOWN under `check`); returns a restart on the same port. */
async function stopTls(name: ClusterName): Promise<() => Promise<void>> {
  const port = w.clusters[name].tls.port;
  await w.clusters[name].tls.close();
  await backendIs(w.clusters[name].https, 'DOWN');
  return async () => {
    w.clusters[name].tls = await startTlsUpstream(name, port);
    await backendIs(w.clusters[name].https, 'UP');
  };
}
// A load-balancer service as Traefik lists it: its servers' status is what failover reads (serverStatus).
const lbService = (name: string, status: 'UP' | 'DOWN') => ({
  name: `${name}@kubernetescrd`,
  provider: 'kubernetescrd',
  status: 'enabled',
  type: 'loadbalancer',
  loadBalancer: { servers: [{ url: 'http://10.42.0.8:80' }] },
  serverStatus: { 'http://10.42.0.8:80': status },
});

fo.before(async () => {
  if (missing) return;
  w = await startWorld({ server: 'check inter 200ms' });
  state = newSyncState();
});
fo.after(async () => w?.close());
fo.before.each(() => {
  lines = [];
});

if (!missing) {
  fo('setup: grafana is served by both clusters and routed to hades (sticky); each cluster has a host of its own', async () => {
    w.clusters.hades.traefik.setRouters('http', [app('grafana.technis.io'), app('wiki.technis.io')]);
    w.clusters.illmatic.traefik.setRouters('tcp', [tcpRouter('mqtt', 'mqtt.technis.io')]);
    await sync();
    w.clusters.illmatic.traefik.setRouters('http', [app('grafana.technis.io')]);
    const r = await sync();
    assert.equal(
      r.conflicts.map((c) => `${c.map} ${c.host} ${c.winner}`),
      ['hosts grafana.technis.io hades', 'sni grafana.technis.io hades'],
    );
    assert.is(await w.viaSni('grafana.technis.io'), 'hades');
    assert.equal(r.failovers, []);
  });

  fo("(a) the owner's Traefik API fails: the host moves on the second sync, the others stay, no reload", async () => {
    const pid = w.haproxy.pid();
    w.clusters.hades.traefik.setFault('/api/rawdata', { status: 500 });
    const first = await sync();
    assert.is(sniOf(first, 'grafana.technis.io'), 'hades_https_ipvANY');
    assert.equal(failoverLines(), []);
    assert.is(first.unhealthyClaims, 0); // unhealthy once: not yet counted
    const second = await sync();
    assert.equal(second.plan.sni.change, [{ key: 'grafana.technis.io', from: 'hades_https_ipvANY', to: 'illmatic_https_ipvANY' }]);
    assert.equal(second.plan.hosts.change, [{ key: 'grafana.technis.io', from: 'hades_http_ipvANY', to: 'illmatic_http_ipvANY' }]);
    assert.equal(
      second.plan.sni.add.length + second.plan.sni.remove.length + second.plan.hosts.add.length + second.plan.hosts.remove.length,
      0,
    );
    assert.equal(failoverLines(), [
      "warn failover: hosts grafana.technis.io hades → illmatic: hades's API unreachable for 2 syncs",
      "warn failover: sni grafana.technis.io hades → illmatic: hades's API unreachable for 2 syncs",
    ]);
    assert.equal(second.failovers, [
      {
        host: 'grafana.technis.io',
        map: 'hosts',
        from: 'hades',
        to: 'illmatic',
        reason: "hades's API unreachable for 2 syncs",
        since: second.at,
      },
      {
        host: 'grafana.technis.io',
        map: 'sni',
        from: 'hades',
        to: 'illmatic',
        reason: "hades's API unreachable for 2 syncs",
        since: second.at,
      },
    ]);
    assert.is(second.unhealthyClaims, 4); // grafana and wiki, in both maps
    assert.is(await w.viaSni('grafana.technis.io'), 'illmatic');
    assert.is(await w.viaHttp('grafana.technis.io'), 'illmatic');
    assert.is(await w.viaSni('wiki.technis.io'), 'hades', 'a host only the failed cluster serves stays');
    assert.is(await w.viaSni('mqtt.technis.io'), 'illmatic');
    assert.is(w.haproxy.pid(), pid);
    lines = [];
    await sync();
    assert.equal(failoverLines(), [], 'a standing failover is logged once');
  });

  fo('recovery under sticky: the failover ends after 3 healthy syncs and the host stays on the new owner', async () => {
    w.clusters.hades.traefik.setFault('/api/rawdata', undefined);
    const during = await syncs(2);
    assert.is(during.failovers.length, 2, 'healthy for 2 syncs: still failed over');
    assert.equal(failoverLines(), []);
    const after = await sync();
    assert.equal(after.failovers, []);
    assert.equal(failoverLines(), [
      'info failover ended: hosts grafana.technis.io hades → illmatic: hades healthy again for 3 syncs; routing to illmatic',
      'info failover ended: sni grafana.technis.io hades → illmatic: hades healthy again for 3 syncs; routing to illmatic',
    ]);
    assert.is(after.applied, false);
    assert.is(await w.viaSni('grafana.technis.io'), 'illmatic');
  });

  fo(
    "(b) priority: the preferred cluster's HAProxy backend goes DOWN: that map moves, the other does not; recovery returns it",
    async () => {
      const pid = w.haproxy.pid();
      await w.writeConfig({ conflicts: 'priority' }); // illmatic (priority 20) is preferred, and serves grafana already
      assert.is(sniOf(await sync(), 'grafana.technis.io'), 'illmatic_https_ipvANY');
      const restart = await stopTls('illmatic');
      const first = await sync();
      assert.is(sniOf(first, 'grafana.technis.io'), 'illmatic_https_ipvANY');
      assert.equal(first.downBackends, [{ cluster: 'illmatic', map: 'sni', backend: 'illmatic_https_ipvANY', status: 'DOWN' }]);
      const second = await sync();
      assert.equal(failoverLines(), [
        "warn failover: sni grafana.technis.io illmatic → hades: illmatic's backend illmatic_https_ipvANY is DOWN in HAProxy for 2 syncs",
      ]);
      assert.equal(second.plan.sni.change, [{ key: 'grafana.technis.io', from: 'illmatic_https_ipvANY', to: 'hades_https_ipvANY' }]);
      assert.equal(second.plan.hosts, { add: [], change: [], remove: [] }, "illmatic's http backend is UP: hosts stays");
      assert.is(sniOf(second, 'mqtt.technis.io'), 'illmatic_https_ipvANY', 'a host whose only claimant is unhealthy stays');
      assert.is(await w.viaSni('grafana.technis.io'), 'hades');
      assert.is(await w.viaHttp('grafana.technis.io'), 'illmatic');

      await restart();
      lines = [];
      assert.is(sniOf(await syncs(2), 'grafana.technis.io'), 'hades_https_ipvANY');
      const back = await sync();
      assert.equal(back.plan.sni.change, [{ key: 'grafana.technis.io', from: 'hades_https_ipvANY', to: 'illmatic_https_ipvANY' }]);
      assert.equal(failoverLines(), [
        'info failover ended: sni grafana.technis.io illmatic → hades: illmatic healthy again for 3 syncs; routing to illmatic',
      ]);
      assert.is(await w.viaSni('grafana.technis.io'), 'illmatic');
      assert.is(w.haproxy.pid(), pid);
    },
  );

  fo("(c) the preferred cluster's Traefik service has no server UP: both maps move; services UP again bring it back", async () => {
    // served by illmatic's fake Traefik in its /api/rawdata, read by the real fetch
    w.clusters.illmatic.traefik.setServices('http', [lbService('grafana-svc', 'DOWN')]);
    await sync();
    const moved = await sync();
    assert.equal(failoverLines(), [
      "warn failover: hosts grafana.technis.io illmatic → hades: illmatic's service grafana-svc@kubernetescrd has no server UP for 2 syncs",
      "warn failover: sni grafana.technis.io illmatic → hades: illmatic's service grafana-svc@kubernetescrd has no server UP for 2 syncs",
    ]);
    assert.is(sniOf(moved, 'mqtt.technis.io'), 'illmatic_https_ipvANY', 'a router whose service is unknown is healthy');
    assert.is(await w.viaSni('grafana.technis.io'), 'hades');
    assert.is(await w.viaHttp('grafana.technis.io'), 'hades');
    w.clusters.illmatic.traefik.setServices('http', [lbService('grafana-svc', 'UP')]);
    const back = await syncs(3);
    assert.equal(back.failovers, []);
    assert.is(await w.viaSni('grafana.technis.io'), 'illmatic');
  });

  fo('a claim that flaps every sync never moves the host', async () => {
    for (let i = 0; i < 6; i++) {
      w.clusters.illmatic.traefik.setFault('/api/rawdata', i % 2 === 0 ? { status: 503 } : undefined);
      const r = await sync();
      assert.is(sniOf(r, 'grafana.technis.io'), 'illmatic_https_ipvANY', `sync ${i + 1}`);
      assert.equal(r.failovers, []);
    }
    w.clusters.illmatic.traefik.setFault('/api/rawdata', undefined);
    assert.equal(failoverLines(), []);
  });

  fo('a pin yields only to health: pinned to hades, away while hades is down, back once it is healthy', async () => {
    await w.writeConfig({ conflicts: 'priority', pins: { 'grafana.technis.io': 'hades' } });
    assert.is(sniOf(await sync(), 'grafana.technis.io'), 'hades_https_ipvANY');
    w.clusters.hades.traefik.setFault('/api/rawdata', { status: 500 });
    assert.is(sniOf(await syncs(2), 'grafana.technis.io'), 'illmatic_https_ipvANY');
    w.clusters.hades.traefik.setFault('/api/rawdata', undefined);
    assert.is(sniOf(await syncs(2), 'grafana.technis.io'), 'illmatic_https_ipvANY');
    assert.is(sniOf(await sync(), 'grafana.technis.io'), 'hades_https_ipvANY');
    assert.is(await w.viaSni('grafana.technis.io'), 'hades');
  });

  fo('failover.enabled false: an unhealthy owner keeps its hosts, as before failover existed', async () => {
    await w.writeConfig({ conflicts: 'priority', failover: { enabled: false } });
    w.clusters.illmatic.traefik.setFault('/api/rawdata', { status: 500 });
    const r = await syncs(3);
    assert.is(sniOf(r, 'grafana.technis.io'), 'illmatic_https_ipvANY');
    assert.equal([r.failovers, r.unhealthyClaims], [[], 0]);
    assert.equal(failoverLines(), []);
    w.clusters.illmatic.traefik.setFault('/api/rawdata', undefined);
    await w.writeConfig();
  });

  fo(
    'a restart or a one-shot sync during a failover keeps the host on the surviving cluster: no request reaches the dead one',
    async () => {
      await w.writeConfig({ conflicts: 'priority' }); // illmatic (priority 20) is preferred
      assert.is(sniOf(await sync(), 'grafana.technis.io'), 'illmatic_https_ipvANY');
      const restart = await stopTls('illmatic');
      assert.is(sniOf(await syncs(2), 'grafana.technis.io'), 'hades_https_ipvANY');
      assert.is(await w.viaSni('grafana.technis.io'), 'hades');
      const unchanged = { add: [], change: [], remove: [] };

      // `routeagent sync` with no daemon: a new process, with no counters, while illmatic's backend is still DOWN.
      for (let i = 0; i < 3; i++) {
        const ran = await runBundle(['sync', '--json', '--config', w.configPath]);
        assert.is(ran.code, 0, ran.stderr);
        // `sync --json` prints each map as key → backend
        const r = JSON.parse(ran.stdout) as Omit<SyncReport, 'maps'> & { maps: Record<MapName, Record<string, string>> };
        assert.is(r.maps.sni['grafana.technis.io'], 'hades_https_ipvANY', `one-shot ${i + 1}`);
        assert.equal([r.plan.sni, r.plan.hosts, r.applied], [unchanged, unchanged, false], `one-shot ${i + 1} changes nothing`);
        assert.is(await w.viaSni('grafana.technis.io'), 'hades');
      }

      // A restarted daemon's first syncs: a fresh state, the failover read from the maps and logged once with why.
      state = newSyncState();
      lines = [];
      for (let i = 0; i < 3; i++) {
        const r = await sync();
        assert.equal(
          [r.plan.sni, r.plan.hosts, r.applied],
          [unchanged, unchanged, false],
          `sync ${i + 1} after the restart changes nothing`,
        );
        assert.is(await w.viaSni('grafana.technis.io'), 'hades');
      }
      assert.equal(failoverLines(), [
        "warn failover: sni grafana.technis.io illmatic → hades: illmatic's backend illmatic_https_ipvANY is DOWN in HAProxy; the current maps already route around it",
      ]);

      await restart();
      assert.is(sniOf(await syncs(2), 'grafana.technis.io'), 'hades_https_ipvANY', 'healthy for 2 syncs: not yet back');
      assert.is(sniOf(await sync(), 'grafana.technis.io'), 'illmatic_https_ipvANY', 'priority returns after upAfter (3) healthy syncs');
      assert.is(await w.viaSni('grafana.technis.io'), 'illmatic');
      await w.writeConfig();
    },
  );
}
fo.run();
