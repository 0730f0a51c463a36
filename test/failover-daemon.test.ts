// Failover as rc.d runs it: `node dist/routeagent.js run` on a 1 s schedule, a real haproxy with `check inter 200ms` on the
// cluster backends, two fake Traefik clusters. Killing a cluster (its API and its upstreams) moves every contested host to the
// survivor within downAfter + 1 syncs, with no request for them failing after that and nothing else changed; `status`
// lists the failovers and exits 1; the same haproxy process serves throughout. Waits poll for conditions, never for time.

import { readFile } from 'node:fs/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime } from '../agent/io/runtime.js';
import { type Agent, assertBuilt, killAll, runBundle, startAgent, until } from './harness/agent.js';
import { skipUnless } from './harness/tools.js';
import { app, startWorld, type World } from './harness/world.js';

const missing = skipUnless('failover: the daemon, unattended', 'haproxy', 'openssl');
const daemon = suite('routeagent run: failover');
let w: World;
let agent: Agent;

type Status = { at: string; failovers: { host: string; map: string; from: string; to: string; reason: string }[]; backendsDown: unknown[] };
const status = async (): Promise<Status | undefined> => JSON.parse(await readFile(w.statusFile, 'utf8').catch(() => 'null')) ?? undefined;
const live = async () => {
  const rt = createRuntime(w.haproxy.socket);
  return { hosts: await rt.showMap(w.haproxy.mapPaths.hosts), sni: await rt.showMap(w.haproxy.mapPaths.sni) };
};
const contested = ['grafana.technis.io', 'wiki.technis.io'];

daemon.before(async () => {
  if (missing) return;
  assertBuilt();
  w = await startWorld({ schedule: '*/1 * * * * *', server: 'check inter 200ms' });
  w.clusters.hades.traefik.setRouters('http', [...contested.map(app), app('blog.technis.io')]);
  w.clusters.illmatic.traefik.setRouters('http', [app('mqtt.technis.io')]);
});
daemon.after(async () => {
  await killAll();
  await w?.close();
});

if (!missing) {
  daemon(
    'killing a cluster moves every contested host within downAfter + 1 syncs; no request fails after; nothing else changes',
    async () => {
      agent = startAgent(['run', '--config', w.configPath]);
      await agent.waitFor(/^info sync: /, { timeoutMs: 20_000 });
      // illmatic starts serving the same apps: sticky keeps them on hades
      w.clusters.illmatic.traefik.setRouters('http', [app('mqtt.technis.io'), ...contested.map(app)]);
      await agent.waitFor('warn conflict: wiki.technis.io (sni) claimed by hades, illmatic; routing to hades', { timeoutMs: 20_000 });
      const pid = w.haproxy.pid();
      const before = await live();

      // Kill hades: its API and both of its upstreams.
      const from = agent.lines.length;
      w.clusters.hades.traefik.setFault('/api/rawdata', { status: 502 });
      await Promise.all([w.clusters.hades.tls.close(), w.clusters.hades.http.close()]);
      const firstFailing = await agent.waitFor(/^warn traefik\[hades\]: /, { from, timeoutMs: 20_000 });
      const moved = await agent.waitFor("warn failover: sni wiki.technis.io hades → illmatic: hades's API unreachable for 2 syncs", {
        from,
        timeoutMs: 20_000,
      });
      // Syncs that saw hades failing, up to the one that moved the hosts: at most downAfter + 1 (the backend may go DOWN a sync later).
      const failingSyncs = agent.lines.slice(firstFailing, moved + 1).filter((l) => /^warn traefik\[hades\]: /.test(l)).length;
      assert.ok(failingSyncs <= 3, agent.lines.slice(from).join('\n'));

      await until(
        'the live sni map to route the contested hosts to illmatic',
        async () => {
          const sni = (await live()).sni;
          return contested.every((h) => sni.some((e) => e.key === h && e.backend === 'illmatic_https_ipvANY'));
        },
        20_000,
      );
      for (let i = 0; i < 10; i++) {
        for (const h of contested) {
          assert.is(await w.viaSni(h), 'illmatic', `TLS request ${i} for ${h}`);
          assert.is(await w.viaHttp(h), 'illmatic', `HTTP request ${i} for ${h}`);
        }
      }
      // Nothing else changed: the same entries but the contested ones, which now point at illmatic.
      const after = await live();
      const expected = (map: 'hosts' | 'sni') =>
        before[map].map((e) =>
          contested.includes(e.key) ? { key: e.key, backend: map === 'sni' ? 'illmatic_https_ipvANY' : 'illmatic_http_ipvANY' } : e,
        );
      assert.equal(after.sni, expected('sni'));
      assert.equal(after.hosts, expected('hosts'));
      assert.ok(
        after.sni.some((e) => e.key === 'blog.technis.io' && e.backend === 'hades_https_ipvANY'),
        'the uncontested host of the dead cluster stays',
      );
      assert.is(w.haproxy.pid(), pid, 'no HAProxy reload');

      const s = await until(
        'the status to list the failovers and hades DOWN',
        async () => {
          const st = await status();
          return st && st.failovers.length === 4 && st.backendsDown.length === 2 ? st : undefined;
        },
        20_000,
      );
      assert.equal(
        s.failovers.map((f) => `${f.map} ${f.host} ${f.from} → ${f.to}`),
        [
          'hosts grafana.technis.io hades → illmatic',
          'sni grafana.technis.io hades → illmatic',
          'hosts wiki.technis.io hades → illmatic',
          'sni wiki.technis.io hades → illmatic',
        ],
      );
      const st = await runBundle(['status', '--config', w.configPath]);
      assert.is(st.code, 1, st.stdout);
      assert.ok(st.stdout.includes('problem: backend hades_https_ipvANY of cluster hades is DOWN in HAProxy'), st.stdout);
      assert.ok(st.stdout.includes('failover: sni wiki.technis.io hades → illmatic since '), st.stdout);
      assert.is((await agent.stop()).code, 0);
    },
  );
}
daemon.run();
