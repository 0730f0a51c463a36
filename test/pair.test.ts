// The two nodes of a CARP pair in-process (createPair, called sync by sync: the test is the clock), each with its own
// real HAProxy on loopback and its own fake ifconfig, both polling the same fake clusters. Proves what a node serves its
// peer (only maps its own sync produced, kept from the end of that sync), what a follower refuses (its own allowlist),
// what a follower that cannot mirror reports, and that an unreadable token is answered 503 and logged once.

import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Config } from '../agent/config.js';
import { readConfig } from '../agent/config.js';
import { createSyncDeps } from '../agent/deps.js';
import { createLog } from '../agent/log.js';
import { createPair, type Pair } from '../agent/pair.js';
import { preflight } from '../agent/preflight.js';
import { newSyncState } from '../agent/sync.js';
import { type PairNode, startPair, TOKEN } from './harness/pair.js';
import { skipUnless } from './harness/tools.js';
import { app, startWorld, type World } from './harness/world.js';

const missing = skipUnless('pair: two nodes in-process', 'haproxy', 'openssl');
const test = suite('createPair: what a node serves its peer and what a follower takes');
let w: World;
let nodes: Awaited<ReturnType<typeof startPair>>;
type Node = { pair: Pair; config: Config; lines: string[]; node: PairNode };
let a: Node;
let b: Node;
let leaderAt = '';

const start = async (node: PairNode): Promise<Node> => {
  const lines: string[] = [];
  const { config } = await readConfig(node.configPath);
  const pair = createPair(
    createLog((l) => lines.push(l.trimEnd())),
    newSyncState(),
  );
  await pair.serve(config);
  return { pair, config, lines, node };
};
const sync = (n: Node, config = n.config) =>
  n.pair.sync(
    createSyncDeps(
      config,
      createLog((l) => n.lines.push(l.trimEnd())),
    ),
  );
const stateOf = (n: Node) => fetch(`http://127.0.0.1:${n.node.listen}/v1/state`, { headers: { authorization: `Bearer ${TOKEN}` } });
const keeps = 'keeping the current maps, the next sync retries';

test.before(async () => {
  if (missing) return;
  w = await startWorld({ schedule: '0 0 1 1 *' });
  nodes = await startPair(w);
  w.clusters.hades.traefik.setRouters('http', ['grafana.technis.io', 'wiki.technis.io'].map(app));
  a = await start(nodes.a);
  b = await start(nodes.b);
  await nodes.a.setCarp('MASTER');
  await nodes.b.setCarp('BACKUP');
});
test.after(async () => {
  await a?.pair.stop();
  await b?.pair.stop();
  await nodes?.close();
  await w?.close();
});

if (!missing) {
  test('the leader serves the maps of its last sync, from memory, not the files as they are at request time', async () => {
    const led = await sync(a);
    assert.is(led.error, undefined);
    leaderAt = led.at;
    const served = await readFile(nodes.a.haproxy.mapPaths.hosts, 'utf8');
    assert.ok(served.includes('wiki.technis.io hades_http_ipvANY\n'), served);
    // A sync part-way through promoting its files (here: a file changed under the server) changes nothing served.
    await writeFile(nodes.a.haproxy.mapPaths.hosts, `${served}zz.technis.io illmatic_http_ipvANY\n`);
    const doc = (await (await stateOf(a)).json()) as { maps: { hosts: { text: string } } };
    assert.is(doc.maps.hosts.text, served);
    await writeFile(nodes.a.haproxy.mapPaths.hosts, served);
    assert.is((await sync(b)).error, undefined);
    assert.equal(await nodes.b.files(), await nodes.a.files());
  });

  test('a follower refuses a mirror with a host its own expose does not allow, and keeps its maps', async () => {
    const before = await nodes.b.files();
    const narrow = { ...b.config, expose: { ...b.config.expose, exclude: [...b.config.expose.exclude, 'wiki.technis.io'] } };
    const r = await sync(b, narrow);
    const why = `ha: not mirroring: the leader's sync ${leaderAt}: map hosts: host wiki.technis.io is not exposed by this node's config (expose, static) and would be public here; ${keeps}`;
    assert.is(r.error, why);
    assert.ok(b.lines.includes(`warn ${why}`), b.lines.join('\n'));
    assert.equal(await nodes.b.files(), before);
  });

  test('an unreadable token file is answered 503, logged once, and said again when it is back', async () => {
    const tokenFile = a.config.ha!.tokenFile;
    await rename(tokenFile, `${tokenFile}.away`);
    try {
      await sync(a);
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const res = await stateOf(a);
        statuses.push([res.status, await res.text()]);
      }
      assert.equal(statuses, Array(3).fill([503, 'this node cannot read its ha.tokenFile\n']));
      const warned = a.lines.filter((l) => l.startsWith('warn ') && l.includes('token'));
      assert.equal(warned, [
        `warn ha token file ${tokenFile}: cannot read (ENOENT); the peer is answered 503 and not asked until it is readable (read again at every sync)`,
      ]);
      await sync(a);
      assert.is(a.lines.filter((l) => l.startsWith('warn ') && l.includes('token')).length, 1, 'said once');
    } finally {
      await rename(`${tokenFile}.away`, tokenFile);
    }
    await sync(a);
    assert.ok(a.lines.includes(`info ha: token file ${tokenFile} is readable again; answering the peer`), a.lines.join('\n'));
    assert.is((await stateOf(a)).status, 200);
  });

  test('check: an ifconfig that fails does not hide the token and peer checks', async () => {
    const out: string[] = [];
    const config = { ...b.config, ha: { ...b.config.ha!, ifconfig: `${w.dir}/no-such-ifconfig` } };
    const problems = await preflight(config, (l) => out.push(l), { path: nodes.b.configPath, warnings: [] });
    assert.ok(problems.includes(`ha: cannot read the CARP state: "${w.dir}/no-such-ifconfig" failed (ENOENT)`), problems.join('\n'));
    assert.ok(out.includes(`ok: ha: peer http://127.0.0.1:${nodes.a.listen} answered: leader (CARP MASTER)\n`), out.join(''));
  });

  test('a new master whose first sync failed serves nothing; the old master keeps its maps and reports them', async () => {
    const held = await nodes.a.files();
    assert.ok(held.sni.includes('grafana.technis.io hades_https_ipvANY\n'), held.sni);
    await nodes.a.setCarp('BACKUP');
    await nodes.b.setCarp('MASTER');
    // b never held maps of its own: a fresh node with no files, whose first apply fails (haproxy -c cannot run).
    await b.pair.stop();
    b = await start(nodes.b);
    await rm(nodes.b.haproxy.mapPaths.hosts);
    await rm(nodes.b.haproxy.mapPaths.sni);
    const failing = { ...b.config, haproxy: { ...b.config.haproxy, bin: `${w.dir}/no-such-haproxy` } };
    assert.ok((await sync(b, failing)).error !== undefined);
    const res = await stateOf(b);
    assert.equal([res.status, await res.text()], [503, 'this node holds no maps from a sync that ended without error yet\n']);

    const r = await sync(a);
    const why = `ha: not mirroring: peer http://127.0.0.1:${nodes.b.listen}: has no state to share (503: this node holds no maps from a sync that ended without error yet); ${keeps}`;
    assert.is(r.error, why);
    assert.equal(await nodes.a.files(), held, 'the old master kept its maps');
    assert.equal(r.maps, {
      hosts: [
        { key: 'grafana.technis.io', backend: 'hades_http_ipvANY' },
        { key: 'wiki.technis.io', backend: 'hades_http_ipvANY' },
      ],
      sni: [
        { key: 'grafana.technis.io', backend: 'hades_https_ipvANY' },
        { key: 'wiki.technis.io', backend: 'hades_https_ipvANY' },
      ],
    });
    assert.equal(r.served, { hosts: 2, sni: 2 });
  });

  test('a follower without HAProxy that writes the files only reports the mirrored maps as served', async () => {
    await nodes.a.setCarp('MASTER');
    await nodes.b.setCarp('BACKUP');
    assert.is((await sync(a)).error, undefined);
    assert.is((await sync(b)).error, undefined);
    await nodes.b.haproxy.stop();
    w.clusters.hades.traefik.setRouters('http', ['grafana.technis.io', 'wiki.technis.io', 'blog.technis.io'].map(app));
    assert.is((await sync(a)).error, undefined);
    const r = await sync(b);
    assert.is(r.error, undefined);
    assert.is(r.ha?.fileOnly, true);
    assert.equal(r.served, { hosts: 3, sni: 3 });
    assert.equal(await nodes.b.files(), await nodes.a.files());
  });
}
test.run();
