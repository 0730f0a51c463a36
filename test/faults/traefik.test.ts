// Traefik misbehaving, end to end through syncOnce with a real haproxy: each fault on cluster hades leaves hades' routes
// as they were (its last good snapshot), lets illmatic's change through, keeps live and file maps one whole version,
// and logs one exact line naming the cluster, the URL and what happens next. Then the fault clears and hades catches up.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../harness/tools.js';
import { type Fault, rawdataFrom } from '../harness/traefik.js';
import { until } from '../harness/wait.js';
import { app, httpRouter, startWorld, tcpRouter, type World } from '../harness/world.js';
import { assertServes, captureLog, clusterPatch, mapsNow, syncer, type Version, version, watchLive } from './kit.js';

const missing = skipUnless('faults: Traefik', 'haproxy', 'openssl');

const test = suite('faults: Traefik');
let w: World;
const cap = captureLog();
let sync: ReturnType<typeof syncer>;

const S = (c: string) => `${c}_https_ipvANY`;
const H = (c: string) => `${c}_http_ipvANY`;
/** hades serves a and b; illmatic serves mqtt (TCP passthrough). */
const OLD: Version = version({
  hosts: { 'a.technis.io': H('hades'), 'b.technis.io': H('hades') },
  sni: { 'a.technis.io': S('hades'), 'b.technis.io': S('hades'), 'mqtt.technis.io': S('illmatic') },
});
/** illmatic adds c while hades is faulty: hades' entries stay, c goes live. */
const NEW: Version = version({
  hosts: { 'a.technis.io': H('hades'), 'b.technis.io': H('hades'), 'c.technis.io': H('illmatic') },
  sni: { 'a.technis.io': S('hades'), 'b.technis.io': S('hades'), 'c.technis.io': S('illmatic'), 'mqtt.technis.io': S('illmatic') },
});
/** Once hades answers again: b moved away (deleted on hades), d added. */
const RECOVERED: Version = version({
  hosts: { 'a.technis.io': H('hades'), 'c.technis.io': H('illmatic'), 'd.technis.io': H('hades') },
  sni: { 'a.technis.io': S('hades'), 'c.technis.io': S('illmatic'), 'd.technis.io': S('hades'), 'mqtt.technis.io': S('illmatic') },
});

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The exact warning for a failed cluster that keeps its `n` routers from the last good fetch. */
const keeping = (error: string, n = 2) => new RegExp(`^warn ${esc(error)}; keeping ${n} routers from \\d\\d:\\d\\d:\\d\\d$`);
const jsonError = (text: string) => {
  try {
    JSON.parse(text);
  } catch (e) {
    return (e as Error).message.replace(/\s*[\r\n]+\s*/g, ' ');
  }
  return '';
};

test.before(async () => {
  if (missing) return;
  w = await startWorld();
});
test.after(async () => w?.close());
test.before.each(async () => {
  for (const c of Object.values(w.clusters)) {
    for (const p of ['/api/version', '/api/rawdata']) c.traefik.setFault(p, undefined);
  }
  await w.writeConfig();
  w.clusters.hades.traefik.setRouters('http', [app('a.technis.io'), app('b.technis.io')]);
  w.clusters.hades.traefik.setRouters('tcp', []);
  w.clusters.illmatic.traefik.setRouters('http', []);
  w.clusters.illmatic.traefik.setRouters('tcp', [tcpRouter('mqtt', 'mqtt.technis.io')]);
  sync = syncer(w, cap.log);
  const r = await sync.run({ force: true }); // whatever the last test left, back to OLD
  assert.is(r.error, undefined);
  await assertServes(w, OLD, 'baseline');
  cap.clear();
});

/** Fault hades, let illmatic add c and hades change underneath; the sync keeps hades' last good routes. */
async function faulted(arrange: () => Promise<void> | void, error: string | RegExp): Promise<void> {
  await arrange();
  w.clusters.illmatic.traefik.setRouters('http', [app('c.technis.io')]);
  w.clusters.hades.traefik.setRouters('http', [app('a.technis.io'), app('d.technis.io')]); // unseen while faulty
  const { result: r } = await watchLive(w, [OLD, NEW], sync.run());
  assert.is(r.error, undefined, 'a cluster failure is not a sync failure');
  assert.is(r.clusters['hades']!.ok, false);
  assert.is(r.clusters['illmatic']!.ok, true);
  const got = r.clusters['hades']!.error!;
  if (typeof error === 'string') assert.is(got, error);
  else assert.match(got, error);
  assert.ok(
    cap.lines.some((l) => keeping(got).test(l)),
    cap.lines.join('\n'),
  );
  assert.ok(r.applied, 'the healthy cluster still gets its change applied');
  await assertServes(w, NEW, 'while hades is faulty');
}

/** The fault is gone: the next sync takes hades' real routers (b removed, d added). */
async function recovers(): Promise<void> {
  for (const p of ['/api/version', '/api/rawdata']) w.clusters.hades.traefik.setFault(p, undefined);
  await w.writeConfig();
  cap.clear();
  const r = await sync.run();
  assert.ok(r.clusters['hades']!.ok);
  await assertServes(w, RECOVERED, 'after recovery');
  assert.ok(
    cap.lines.some((l) => /^info sync: hosts \+1 ~0 -1, sni \+1 ~0 -1; applied by runtime in \d+ ms$/.test(l)),
    cap.lines.join('\n'),
  );
}

const url = (path: string) => `${w.clusters.hades.traefik.url}${path}`;
const listing = () => url('/rawdata');
const fault =
  (f: Fault, path = '/api/rawdata') =>
  () =>
    w.clusters.hades.traefik.setFault(path, f);
/** The last request hades' fake Traefik got for its /api/rawdata. */
const lastListingHit = () => [...w.clusters.hades.traefik.hits].reverse().find((h) => h.path.startsWith('/api/rawdata'))!;

if (!missing) {
  test('connection refused', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const api = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/api`;
    await new Promise((r) => closed.close(r));
    await faulted(
      () => w.writeConfig({ clusters: clusterPatch(w, 'hades', { api }) }),
      `traefik[hades]: GET ${api}/version: connection refused`,
    );
    await recovers();
  });

  test('timeout: the response headers never come', async () => {
    await faulted(async () => {
      w.clusters.hades.traefik.setFault('/api/rawdata', { delayMs: 10_000 });
      await w.writeConfig({ clusters: clusterPatch(w, 'hades', { timeoutMs: 300 }) });
    }, `traefik[hades]: GET ${listing()}: timed out after 300 ms`);
    await recovers();
  });

  test('a slow drip of bytes: the timeout covers the body', async () => {
    await faulted(async () => {
      w.clusters.hades.traefik.setFault('/api/rawdata', { dripBytesPerSec: 20 });
      await w.writeConfig({ clusters: clusterPatch(w, 'hades', { timeoutMs: 300 }) });
    }, `traefik[hades]: GET ${listing()}: timed out after 300 ms`);
    const cut = lastListingHit();
    await until('the fake Traefik to see the connection closed', () => cut.closed);
    assert.is(cut.answeredAt, undefined, 'the client hung up mid-body');
    await recovers();
  });

  test('a slow answer on every request: the whole fetch of a cluster is bounded by its timeoutMs', async () => {
    // each request alone stays under the timeout; together they do not: /version is held 500 ms, the listing 2700 ms,
    // and the listing is asked for only after /version answered, so it cannot make 3000 ms however loaded the machine
    await faulted(async () => {
      w.clusters.hades.traefik.setFault('/api/version', { delayMs: 500 });
      w.clusters.hades.traefik.setFault('/api/rawdata', { delayMs: 2700 });
      sync.state.reads.delete('hades'); // as when hades comes back after an outage: /api/version is read again
      await w.writeConfig({ clusters: clusterPatch(w, 'hades', { timeoutMs: 3000 }) });
    }, `traefik[hades]: GET ${listing()}: timed out after 3000 ms`);
    await recovers();
  });

  for (const [status, text] of [
    [401, 'Unauthorized'],
    [403, 'Forbidden'],
    [404, 'Not Found'],
    [500, 'Internal Server Error'],
  ] as const) {
    test(`HTTP ${status}`, async () => {
      await faulted(fault({ status }), `traefik[hades]: GET ${listing()}: ${status} ${text}`);
      await recovers();
    });
  }

  test('HTML instead of JSON (a login portal)', async () => {
    const html = '<!DOCTYPE html>\n<html><body>Sign in</body></html>';
    await faulted(
      fault({ body: html, contentType: 'text/html' }),
      `traefik[hades]: GET ${listing()}: body is not JSON (${jsonError(html)})`,
    );
    await recovers();
  });

  test('truncated JSON', async () => {
    const cut = JSON.stringify(rawdataFrom({ http: [app('a.technis.io'), app('d.technis.io')] })).slice(0, 150);
    await faulted(fault({ body: cut }), `traefik[hades]: GET ${listing()}: body is not JSON (${jsonError(cut)})`);
    await recovers();
  });

  test('valid JSON of the wrong shape', async () => {
    await faulted(
      fault({ body: '[{"name":"a@file","rule":"Host(`a.technis.io`)"}]' }),
      `traefik[hades]: GET ${listing()}: body does not match the rawdata schema: / must be object`,
    );
    await recovers();
  });

  test('valid JSON of the wrong shape from /api/version', async () => {
    sync.state.reads.delete('hades'); // /api/version is read when a cluster is first reached or comes back
    await faulted(
      fault({ body: '{"Version":3}' }, '/api/version'),
      `traefik[hades]: GET ${url('/version')}: body does not match the version schema: /Version must be string`,
    );
    await recovers();
  });

  test('a 70 MB body is dropped at the 64 MiB cap: the client hangs up, the rest is never read', async () => {
    const one = `"x@p":${JSON.stringify(app('x.technis.io'))},`;
    const big = `{"routers":{${one.repeat(Math.ceil(70e6 / one.length))}"y@p":{}}}`;
    assert.ok(big.length > 70e6);
    // sent in 5 MB steps (100 MB/s): the fake ends the response only after the last step, so a response that never
    // ended was cut by the client (a body written in one go can count as sent once it is queued, even when cut)
    await faulted(fault({ body: big, dripBytesPerSec: 100_000_000 }), `traefik[hades]: GET ${listing()}: body larger than 67108864 bytes`);
    const cut = lastListingHit();
    await until('the fake Traefik to see the connection closed', () => cut.closed);
    assert.is(cut.answeredAt, undefined, 'the body was cut at the cap, not read to its end');
    await recovers();
  });

  test('10,000 routers (one /rawdata request) are applied, live equals the file, no mix seen while it goes live', async () => {
    const names = Array.from({ length: 10_000 }, (_, i) => `app${String(i).padStart(5, '0')}.technis.io`);
    w.clusters.hades.traefik.setRouters(
      'http',
      names.map((h) => app(h)),
    );
    const MANY = version({
      hosts: Object.fromEntries(names.map((h) => [h, H('hades')])),
      sni: { ...Object.fromEntries(names.map((h) => [h, S('hades')])), 'mqtt.technis.io': S('illmatic') },
    });
    const watched = await watchLive(w, [OLD, MANY], sync.run());
    const r = watched.result;
    assert.is(r.error, undefined);
    assert.ok(r.applied);
    assert.ok(watched.samples > 0, 'HAProxy was sampled while the sync ran');
    await assertServes(w, MANY);
    assert.ok(
      cap.lines.some((l) => /^info sync: hosts \+10000 ~0 -2, sni \+10000 ~0 -2; applied by runtime in \d+ ms$/.test(l)),
      cap.lines.join('\n'),
    );
    assert.equal(w.clusters.hades.traefik.requests.slice(-1), ['/api/rawdata']);
    // and back to two routers (a forced shrink: the guard would hold it otherwise), watched for a mix
    w.clusters.hades.traefik.setRouters('http', [app('a.technis.io'), app('b.technis.io')]);
    const back = await watchLive(w, [MANY, OLD], sync.run({ force: true }));
    assert.ok(back.result.applied);
    await assertServes(w, OLD);
  });

  test('router names with "/" and spaces work and are named exactly in the report', async () => {
    w.clusters.hades.traefik.setRouters('http', [
      app('a.technis.io'),
      httpRouter('legacy / admin panel', 'Host(`b.technis.io`)', { name: 'legacy / admin panel@file', provider: 'file' }),
      httpRouter('ops / bad host', 'Host(`bad host.technis.io`)', { name: 'ops / bad host@file', provider: 'file' }),
    ]);
    const r = await sync.run();
    assert.is(r.error, undefined);
    await assertServes(w, OLD);
    assert.equal(r.skipped, [
      {
        cluster: 'hades',
        router: 'ops / bad host@file',
        reason: 'host "bad host.technis.io" has whitespace, control or non-ASCII characters (use punycode)',
      },
    ]);
    assert.ok((await mapsNow(w)).live.sni.includes('b.technis.io hades_https_ipvANY'));
  });
}

if (!missing) test.run();
