// A CARP pair end to end: two `routeagent run` daemons (the built bundle), two real HAProxies on loopback sharing the
// fake clusters, and a fake `ifconfig` per node that the test flips. The follower holds the leader's bytes, both route a
// contested host to the same cluster, a role flip moves nothing and the new leader follows the next migration; a
// follower without HAProxy writes files from which a cold-started HAProxy routes at once. Waits poll; no timing asserts.

import { readFile } from 'node:fs/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type Agent, assertBuilt, killAll, runBundle, startAgent, until } from './harness/agent.js';
import { coldStart, type PairNode, startPair } from './harness/pair.js';
import { skipUnless } from './harness/tools.js';
import { app, startWorld, type World } from './harness/world.js';

const missing = skipUnless('ha: a CARP pair of two daemons', 'haproxy', 'openssl');
const ha = suite('routeagent run: a CARP pair');
let w: World;
let pair: Awaited<ReturnType<typeof startPair>>;
const agents: Partial<Record<'a' | 'b', Agent>> = {};

const same = async () => {
  const [fa, fb] = [await pair.a.files(), await pair.b.files()];
  return fa.sni !== '' && fa.hosts === fb.hosts && fa.sni === fb.sni ? fa : undefined;
};
const routes = async (node: PairNode, host: string) => ({ sni: await node.viaSni(host), http: await node.viaHttp(host) });
const peerCheck = async (node: PairNode) => runBundle(['status', '--peer', '--config', node.configPath]);

ha.before(async () => {
  if (missing) return;
  assertBuilt();
  w = await startWorld({ schedule: '*/1 * * * * *' });
  pair = await startPair(w);
  w.clusters.hades.traefik.setRouters('http', ['grafana.technis.io', 'wiki.technis.io', 'blog.technis.io'].map(app));
  w.clusters.illmatic.traefik.setRouters('http', [app('mqtt.technis.io')]);
});
ha.after(async () => {
  await killAll();
  await pair?.close();
  await w?.close();
});

if (!missing) {
  ha('the follower mirrors byte for byte; a flip mid-migration moves no host; the new leader follows; cold start routes', async () => {
    await pair.a.setCarp('MASTER');
    await pair.b.setCarp('BACKUP');
    agents.a = startAgent(['run', '--config', pair.a.configPath]);
    agents.b = startAgent(['run', '--config', pair.b.configPath]);
    await agents.a.waitFor('info ha: CARP vhid 10 is MASTER; this node leads: it decides and applies');
    await agents.b.waitFor(
      `info ha: CARP vhid 10 is BACKUP; this node follows http://127.0.0.1:${pair.a.listen}: it mirrors the leader's maps`,
    );
    const first = await until("the follower to hold the leader's map files", same);
    assert.ok(first.sni.includes('wiki.technis.io hades_https_ipvANY\n'), first.sni);
    for (const node of [pair.a, pair.b]) {
      const pc = await peerCheck(node);
      assert.is(pc.code, 0, pc.stdout + pc.stderr);
      assert.ok(pc.stdout.includes('identical: both nodes hold the same map files'), pc.stdout);
    }

    // A migration starts: illmatic serves the same apps; sticky keeps them on hades, on both nodes.
    w.clusters.illmatic.traefik.setRouters('http', ['mqtt.technis.io', 'grafana.technis.io', 'wiki.technis.io'].map(app));
    await agents.a.waitFor('warn conflict: wiki.technis.io (sni) claimed by hades, illmatic; routing to hades');
    await until('the follower to mirror mqtt', async () => (await same())?.sni.includes('mqtt.technis.io illmatic_https_ipvANY'));
    const before = (await same())!;
    for (const node of [pair.a, pair.b])
      assert.equal(await routes(node, 'wiki.technis.io'), { sni: 'hades', http: 'hades' }, `node ${node.name}`);

    // The flip: b becomes MASTER, a BACKUP. No host moves by itself.
    await pair.a.setCarp('BACKUP');
    await pair.b.setCarp('MASTER');
    const fromB = agents.b.lines.length;
    await agents.b.waitFor('info ha: CARP vhid 10 is MASTER; this node leads: it decides and applies from the maps it holds', {
      from: fromB,
    });
    await agents.a.waitFor(
      `info ha: CARP vhid 10 is BACKUP; this node follows http://127.0.0.1:${pair.b.listen}: it mirrors the leader's maps`,
    );
    await agents.b.waitFor('warn conflict: wiki.technis.io (sni) claimed by hades, illmatic; routing to hades', { from: fromB });
    const statusB = await until('b to have synced as leader', async () => {
      const s = JSON.parse(await readFile(pair.b.statusFile, 'utf8').catch(() => 'null')) as {
        ha?: { role: string };
        outcome: string;
      } | null;
      return s?.ha?.role === 'leader' && s.outcome === 'ok' ? s : undefined;
    });
    assert.ok(statusB);
    assert.equal(await pair.b.files(), { hosts: before.hosts, sni: before.sni }, 'the new leader kept every owner');
    assert.equal(await pair.a.files(), { hosts: before.hosts, sni: before.sni }, 'the old leader holds the same maps');
    for (const node of [pair.a, pair.b])
      assert.equal(await routes(node, 'grafana.technis.io'), { sni: 'hades', http: 'hades' }, `node ${node.name}`);

    // The migration goes on under the new leader: hades drops grafana, which moves to illmatic on both nodes.
    w.clusters.hades.traefik.setRouters('http', ['wiki.technis.io', 'blog.technis.io'].map(app));
    await until('both nodes to route grafana to illmatic', async () => {
      const [ra, rb] = [await routes(pair.a, 'grafana.technis.io'), await routes(pair.b, 'grafana.technis.io')];
      return ra.sni === 'illmatic' && ra.http === 'illmatic' && rb.sni === 'illmatic' && rb.http === 'illmatic';
    });
    await until('the files to be identical again', same);
    const pc = await peerCheck(pair.a);
    assert.is(pc.code, 0, pc.stdout + pc.stderr);

    // a's HAProxy stops (pfSense's Carp monitor on the backup): a writes the files only, and is healthy.
    await pair.a.haproxy.stop();
    const fromA = agents.a.lines.length;
    w.clusters.hades.traefik.setRouters('http', [app('blog.technis.io')]);
    await agents.a.waitFor(/^info haproxy: map sni written to .* file-only: HAProxy is not running on this node$/, { from: fromA });
    await until("a's files to route wiki to illmatic", async () => (await same())?.sni.includes('wiki.technis.io illmatic_https_ipvANY\n'));
    const st = await runBundle(['status', '--config', pair.a.configPath]);
    assert.is(st.code, 0, st.stdout + st.stderr);
    assert.ok(st.stdout.includes('ha: follower (CARP vhid 10 BACKUP); file-only: HAProxy is not running on this node'), st.stdout);
    // Failover to a: HAProxy cold-starts from the files and routes as b does, at once.
    const cold = await coldStart(pair.a);
    try {
      await until("a's cold-started HAProxy to accept connections", async () => (await pair.a.viaHttp('blog.technis.io')) === 'hades');
      for (const host of ['wiki.technis.io', 'grafana.technis.io', 'mqtt.technis.io', 'blog.technis.io']) {
        assert.equal(await routes(pair.a, host), await routes(pair.b, host), host);
      }
      assert.equal(await routes(pair.a, 'wiki.technis.io'), { sni: 'illmatic', http: 'illmatic' });
    } finally {
      await cold.stop();
    }
    for (const a of Object.values(agents)) assert.is((await a.stop()).code, 0);
  });
}
ha.run();
