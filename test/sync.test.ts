// End to end through syncOnce: two fake Traefik clusters and a real haproxy. Routing follows a migration with the
// same HAProxy process; an outage, a restart during an outage and a sudden empty answer remove nothing.

import { readFile } from 'node:fs/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readConfig } from '../agent/config.js';
import { createSyncDeps } from '../agent/deps.js';
import { createRuntime } from '../agent/io/runtime.js';
import { createLog } from '../agent/log.js';
import { newSyncState, type SyncState, syncOnce } from '../agent/sync.js';
import { skipUnless } from './harness/tools.js';
import { app, httpRouter, startWorld, tcpRouter, type World } from './harness/world.js';

const missing = skipUnless('syncOnce end to end', 'haproxy', 'openssl');
const e2e = suite('syncOnce end to end');
let w: World;
let state: SyncState;
let lines: string[] = [];
const log = createLog((l) => lines.push(l.trimEnd()), 'debug');
const sync = async (opts: { dryRun?: boolean; force?: boolean } = {}, s: SyncState = state) => {
  const { config } = await readConfig(w.configPath);
  return syncOnce(createSyncDeps(config, log), s, opts);
};
const liveMap = async (path: string) => (await createRuntime(w.haproxy.socket).showMap(path)).map((e) => `${e.key} ${e.backend}`);
const fileMap = async (path: string) => (await readFile(path, 'utf8')).split('\n').filter(Boolean);
const eightApps = () => Array.from({ length: 8 }, (_, i) => app(`app${i}.technis.io`));

e2e.before(async () => {
  if (missing) return;
  w = await startWorld();
  state = newSyncState();
});
e2e.after(async () => w?.close());
e2e.before.each(() => {
  lines = [];
});

if (!missing) {
  e2e('first sync routes each exposed host to its cluster', async () => {
    w.clusters.hades.traefik.setRouters('http', [
      app('grafana.technis.io'),
      httpRouter('blog', 'Host(`blog.technis.io`) && PathPrefix(`/`)', { tls: undefined }),
      app('evil.example.com'),
    ]);
    w.clusters.illmatic.traefik.setRouters('tcp', [tcpRouter('mqtt', 'mqtt.technis.io')]);
    const pid = w.haproxy.pid();
    const r = await sync();
    assert.is(r.error, undefined);
    assert.ok(r.applied);
    assert.equal(r.maps, {
      hosts: [
        { key: 'blog.technis.io', backend: 'hades_http_ipvANY' },
        { key: 'grafana.technis.io', backend: 'hades_http_ipvANY' },
      ],
      sni: [
        { key: 'grafana.technis.io', backend: 'hades_https_ipvANY' },
        { key: 'mqtt.technis.io', backend: 'illmatic_https_ipvANY' },
      ],
    });
    assert.equal(r.skipped, [{ cluster: 'hades', router: 'evil@kubernetescrd', reason: 'host evil.example.com is not allowed by expose' }]);
    assert.is(await w.viaSni('grafana.technis.io'), 'hades');
    assert.is(await w.viaSni('mqtt.technis.io'), 'illmatic');
    assert.is(await w.viaHttp('blog.technis.io'), 'hades');
    assert.is(await w.viaSni('evil.example.com'), null);
    assert.equal(await liveMap(w.haproxy.mapPaths.sni), await fileMap(w.haproxy.mapPaths.sni));
    assert.equal(await liveMap(w.haproxy.mapPaths.hosts), await fileMap(w.haproxy.mapPaths.hosts));
    assert.is(w.haproxy.pid(), pid);
  });

  e2e('a second sync with nothing new changes nothing: one /rawdata read per cluster, the identical answer not parsed again', async () => {
    const hits = { hades: w.clusters.hades.traefik.requests.length, illmatic: w.clusters.illmatic.traefik.requests.length };
    const before = state.snapshots.get('hades');
    const r = await sync();
    assert.is(r.applied, false);
    assert.equal(r.plan.sni, { add: [], change: [], remove: [] });
    assert.equal(w.clusters.hades.traefik.requests.slice(hits.hades), ['/api/rawdata']);
    assert.equal(w.clusters.illmatic.traefik.requests.slice(hits.illmatic), ['/api/rawdata']);
    const after = state.snapshots.get('hades');
    assert.ok(before?.kind === 'fetched' && after?.kind === 'fetched');
    assert.is(after.derived, before.derived, 'the same routes: the answer was not parsed again');
    assert.equal(r.clusters['hades'], { ok: true, routers: 3 });
  });

  e2e('an identical Traefik answer still repairs drift in HAProxy (the live maps are judged at every sync)', async () => {
    const runtime = createRuntime(w.haproxy.socket);
    await runtime.send(`set map ${w.haproxy.mapPaths.sni} grafana.technis.io illmatic_https_ipvANY`);
    assert.is(await w.viaSni('grafana.technis.io'), 'illmatic');
    const r = await sync();
    assert.ok(r.applied);
    assert.is(await w.viaSni('grafana.technis.io'), 'hades');
    assert.equal(await liveMap(w.haproxy.mapPaths.sni), await fileMap(w.haproxy.mapPaths.sni));
  });

  e2e('migration: sticky keeps the old cluster while both claim the host, then traffic follows, no reload', async () => {
    const pid = w.haproxy.pid();
    w.clusters.illmatic.traefik.setRouters('http', [app('grafana.technis.io')]);
    const during = await sync();
    assert.equal(during.conflicts, [
      { host: 'grafana.technis.io', map: 'hosts', claimants: ['hades', 'illmatic'], winner: 'hades' },
      { host: 'grafana.technis.io', map: 'sni', claimants: ['hades', 'illmatic'], winner: 'hades' },
    ]);
    assert.ok(lines.includes('warn conflict: grafana.technis.io (sni) claimed by hades, illmatic; routing to hades'), lines.join('\n'));
    assert.is(await w.viaSni('grafana.technis.io'), 'hades');
    lines = [];
    await sync();
    assert.not.ok(
      lines.some((l) => l.includes('conflict')),
      'a standing conflict is logged once, not every sync',
    );

    w.clusters.hades.traefik.setRouters('http', [httpRouter('blog', 'Host(`blog.technis.io`) && PathPrefix(`/`)', { tls: undefined })]);
    const after = await sync();
    assert.equal(after.plan.sni.change, [{ key: 'grafana.technis.io', from: 'hades_https_ipvANY', to: 'illmatic_https_ipvANY' }]);
    assert.equal(after.conflicts, []);
    assert.ok(lines.includes('info conflict ended: grafana.technis.io (sni) no longer claimed by several clusters'), lines.join('\n'));
    assert.is(await w.viaSni('grafana.technis.io'), 'illmatic');
    assert.is(await w.viaHttp('grafana.technis.io'), 'illmatic');
    assert.is(w.haproxy.pid(), pid);
    assert.equal(await liveMap(w.haproxy.mapPaths.sni), await fileMap(w.haproxy.mapPaths.sni));
  });

  e2e('an unreachable cluster keeps its last good routes', async () => {
    w.clusters.illmatic.traefik.setFault('/api/rawdata', { status: 500 });
    const before = await fileMap(w.haproxy.mapPaths.sni);
    const r = await sync();
    assert.is(r.clusters['illmatic']!.ok, false);
    assert.match(
      r.clusters['illmatic']!.error!,
      /^traefik\[illmatic\]: GET http:\/\/127\.0\.0\.1:\d+\/api\/rawdata: 500 Internal Server Error$/,
    );
    assert.ok(
      lines.some((l) => /^warn traefik\[illmatic\]: .*; keeping 2 routers from \d\d:\d\d:\d\d$/.test(l)),
      lines.join('\n'),
    );
    assert.is(r.applied, false);
    assert.equal(await fileMap(w.haproxy.mapPaths.sni), before);
    assert.is(await w.viaSni('mqtt.technis.io'), 'illmatic');
  });

  e2e('a restart while a cluster is down removes nothing (seeded from the map files)', async () => {
    const before = await fileMap(w.haproxy.mapPaths.sni);
    const fresh = newSyncState();
    const r = await sync({}, fresh);
    assert.is(r.clusters['illmatic']!.ok, false);
    assert.equal(r.plan.sni, { add: [], change: [], remove: [] });
    assert.equal(await fileMap(w.haproxy.mapPaths.sni), before);
    assert.ok(
      lines.some((l) => l.endsWith('; keeping 3 entries from the current maps')),
      lines.join('\n'),
    );
    w.clusters.illmatic.traefik.setFault('/api/rawdata', undefined);
  });

  e2e('the guard holds a plan that empties a map; --force applies it', async () => {
    const many = eightApps();
    w.clusters.hades.traefik.setRouters('http', many);
    assert.ok((await sync()).applied);
    const before = await fileMap(w.haproxy.mapPaths.sni);
    w.clusters.hades.traefik.setRouters('http', []);
    const held = await sync();
    assert.equal(held.held, ['hosts: plan removes 8 of 9 entries (more than 50%)', 'sni: plan removes 8 of 10 entries (more than 50%)']);
    assert.is(held.applied, false);
    assert.equal(await fileMap(w.haproxy.mapPaths.sni), before);
    assert.is(await w.viaSni('app3.technis.io'), 'hades');
    const forced = await sync({ force: true });
    assert.ok(forced.applied);
    assert.is(await w.viaSni('app3.technis.io'), null);
  });

  e2e('a config change that explains the removals passes the guard', async () => {
    const many = eightApps();
    w.clusters.hades.traefik.setRouters('http', many);
    assert.ok((await sync()).applied);
    await w.writeConfig({ expose: { domains: ['example.org'] } });
    const r = await sync();
    assert.is(r.held, undefined);
    assert.ok(r.applied);
    assert.equal(r.maps, { hosts: [], sni: [] });
    await w.writeConfig();
  });

  e2e('an expose edit re-derives the routes of an identical answer: parsed again, its version not asked again', async () => {
    w.clusters.hades.traefik.setRouters('http', [app('app0.technis.io'), app('app3.technis.io')]);
    await sync({ force: true });
    const before = state.snapshots.get('hades');
    const hits = w.clusters.hades.traefik.requests.length;
    await w.writeConfig({ expose: { domains: ['technis.io'], exclude: ['app3.technis.io'] } });
    const r = await sync();
    assert.equal(w.clusters.hades.traefik.requests.slice(hits), ['/api/rawdata']);
    const after = state.snapshots.get('hades');
    assert.ok(before?.kind === 'fetched' && after?.kind === 'fetched');
    assert.is.not(after.derived, before.derived, 'the answer was the same bytes, but parsed again for the new settings');
    assert.equal(r.plan.sni.remove, [{ key: 'app3.technis.io', backend: 'hades_https_ipvANY' }]);
    assert.is(await w.viaSni('app3.technis.io'), null);
    assert.is(await w.viaSni('app0.technis.io'), 'hades');
    await w.writeConfig();
    assert.ok((await sync()).applied);
    assert.is(await w.viaSni('app3.technis.io'), 'hades');
  });

  e2e('a cluster that does not answer keeps its routes, and an expose edit narrows them at once', async () => {
    w.clusters.hades.traefik.setFault('/api/rawdata', { status: 500 });
    await w.writeConfig({ expose: { domains: ['technis.io'], exclude: ['app3.technis.io'] } });
    const r = await sync();
    assert.is(r.clusters['hades']!.ok, false);
    assert.equal(r.plan.sni.remove, [{ key: 'app3.technis.io', backend: 'hades_https_ipvANY' }]);
    assert.is(await w.viaSni('app3.technis.io'), null);
    assert.is(await w.viaSni('app0.technis.io'), 'hades', 'the kept routes still route');
    w.clusters.hades.traefik.setFault('/api/rawdata', undefined);
    await w.writeConfig();
    w.clusters.hades.traefik.setRouters('http', eightApps()); // as the tests before these two left it
    assert.ok((await sync()).applied);
    assert.is(await w.viaSni('app3.technis.io'), 'hades');
  });

  e2e('dry run plans against the files and changes nothing', async () => {
    await sync();
    w.clusters.hades.traefik.setRouters('http', [app('new.technis.io'), ...eightApps()]);
    const before = await fileMap(w.haproxy.mapPaths.sni);
    const r = await sync({ dryRun: true });
    assert.is(r.applied, false);
    assert.equal(r.plan.sni.add, [{ key: 'new.technis.io', backend: 'hades_https_ipvANY' }]);
    assert.equal(await fileMap(w.haproxy.mapPaths.sni), before);
  });

  e2e('skipped routers are logged once each, and a flood is cut at 20 lines', async () => {
    const hostless = Array.from({ length: 30 }, (_, i) => httpRouter(`path${String(i).padStart(2, '0')}`, `PathPrefix(\`/p${i}\`)`));
    w.clusters.hades.traefik.setRouters('http', [app('new.technis.io'), ...hostless]);
    const r = await sync({ dryRun: true });
    assert.is(r.skipped.length, 30);
    const logged = lines.filter((l) => l.startsWith('info skipped: '));
    assert.is(logged.length, 21);
    assert.is(logged[0], 'info skipped: router path00@kubernetescrd of cluster hades: rule matches every host (no Host matcher required)');
    assert.is(logged[20], 'info skipped: 10 more routers; "routeagent sync --dry-run --json" lists each with its reason');
    lines = [];
    await sync({ dryRun: true });
    assert.not.ok(
      lines.some((l) => l.startsWith('info skipped: ')),
      lines.join('\n'),
    );
  });
}
if (!missing) e2e.run();
