// A CARP follower facing a bad leader: a fake leader (a real HTTP server on the peer's port) first serves good maps, then
// refuses the token, then serves maps that name a backend this node lacks, then is gone. Each time the follower keeps its
// maps, says why once in the log, and `status`/`status --peer` exit 1 naming the cause. Its own /v1/state needs the token.

import { createServer, type Server } from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildPeerState } from '../agent/core/peerstate.js';
import { type Agent, assertBuilt, killAll, runBundle, startAgent, until } from './harness/agent.js';
import { startPair, TOKEN } from './harness/pair.js';
import { skipUnless } from './harness/tools.js';
import { startWorld, type World } from './harness/world.js';

const missing = skipUnless('ha: a follower and a bad leader', 'haproxy', 'openssl');
const follower = suite('routeagent run: a CARP follower and a bad leader');
let w: World;
let pair: Awaited<ReturnType<typeof startPair>>;
let leader: Server | undefined;
let mode: 'ok' | '401' | 'invalid' = 'ok';
let asked = 0;

const good = { hosts: 'wiki.technis.io hades_http_ipvANY\n', sni: 'wiki.technis.io hades_https_ipvANY\n' };
const invalid = { hosts: 'wiki.technis.io nope_http\n', sni: good.sni };
const doc = (texts: typeof good) =>
  buildPeerState({ role: 'leader', carp: 'MASTER', at: '2026-03-01T10:00:00.000Z', texts, failover: { claims: [], failovers: [] } });

follower.before(async () => {
  if (missing) return;
  assertBuilt();
  w = await startWorld({ schedule: '*/1 * * * * *' });
  pair = await startPair(w);
  leader = createServer((req, res) => {
    asked++;
    if (mode === '401' || req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc(mode === 'ok' ? good : invalid)));
  });
  await new Promise<void>((r) => leader!.listen(pair.a.listen, '127.0.0.1', () => r()));
});
follower.after(async () => {
  await killAll();
  await new Promise((r) => (leader?.listening ? leader.close(r) : r(undefined)));
  await pair?.close();
  await w?.close();
});

if (!missing) {
  follower('wrong token, an answer that fails validation and a leader that is down each change nothing', async () => {
    const b = pair.b;
    await b.setCarp('BACKUP');
    const agent: Agent = startAgent(['run', '--config', b.configPath]);
    await until('the follower to mirror the good maps', async () => JSON.stringify(await b.files()) === JSON.stringify(good));
    // The files are renamed into place before the runtime commit: wait for HAProxy to route, too.
    await until("the follower's HAProxy to route wiki to hades", async () => (await b.viaSni('wiki.technis.io')) === 'hades');

    // Its own /v1/state: the token or 401.
    const url = `http://127.0.0.1:${b.listen}/v1/state`;
    assert.is((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    assert.is((await fetch(url)).status, 401);
    const mine = (await (await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      role: string;
      at: string;
      maps: { sni: { text: string } };
    };
    assert.equal([mine.role, mine.at, mine.maps.sni.text], ['follower', '2026-03-01T10:00:00.000Z', good.sni]);

    const peer = `peer http://127.0.0.1:${pair.a.listen}`;
    const keeps = 'keeping the current maps, the next sync retries';
    mode = '401';
    const refused = `warn ha: not mirroring: ${peer}: refused our token (401); ha.tokenFile must hold the same secret on both nodes; ${keeps}`;
    const at = await agent.waitFor(refused);
    const later = asked + 2;
    await until('two more requests', () => asked >= later);
    assert.is(agent.lines.filter((l) => l === refused).length, 1, 'said once');
    assert.equal(await b.files(), good);

    mode = 'invalid';
    await agent.waitFor(
      /^warn haproxy: map hosts: wiki\.technis\.io → nope_http: no backend nope_http in HAProxy \(show stat\); live maps unchanged \(mirroring the leader's sync 2026-03-01T10:00:00\.000Z\)$/,
      { from: at },
    );
    assert.equal(await b.files(), good);
    assert.equal(await b.viaHttp('wiki.technis.io'), 'hades');
    const differs = await runBundle(['status', '--peer', '--config', b.configPath]);
    assert.is(differs.code, 1, differs.stdout + differs.stderr);
    assert.ok(differs.stdout.includes(`differs: map hosts: this node ${b.haproxy.mapPaths.hosts} sha256 `), differs.stdout);
    assert.ok(differs.stdout.includes('not identical: 1 of 2 maps differ'), differs.stdout);

    await new Promise((r) => leader!.close(r));
    await agent.waitFor(`warn ha: not mirroring: ${peer}: unreachable (ECONNREFUSED); ${keeps}`);
    assert.equal(await b.files(), good);
    const st = await runBundle(['status', '--config', b.configPath]);
    assert.is(st.code, 1, st.stdout);
    assert.ok(st.stdout.includes(`problem: last sync failed: ha: not mirroring: ${peer}: unreachable (ECONNREFUSED); ${keeps}`), st.stdout);
    const down = await runBundle(['status', '--peer', '--config', b.configPath]);
    assert.is(down.code, 1);
    assert.is(down.stderr, `routeagent: ${peer}: unreachable (ECONNREFUSED); nothing compared\n`);
    assert.is((await agent.stop()).code, 0);
  });
}
follower.run();
