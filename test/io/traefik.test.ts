import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type Rawdata, routersFromRawdata, serviceHealth } from '../../agent/core/traefik-body.js';
import type { Router } from '../../agent/core/types.js';
import { TraefikError } from '../../agent/errors.js';
import {
  type ClusterRouters,
  type ClusterTarget,
  type FetchOptions,
  fetchAll,
  fetchCluster,
  type ReadMark,
  schemaProblems,
} from '../../agent/io/traefik.js';
import { loopbackPki } from '../harness/pki.js';
import { skipUnless } from '../harness/tools.js';
import { type FakeTraefik, listingFromRawdata, loadFixture, rawdataFrom, startTraefik } from '../harness/traefik.js';
import { until, WAIT_MS } from '../harness/wait.js';

const FIXTURES = new URL('../fixtures/traefik/', import.meta.url).pathname;
const PASSWORD = 'pw-Zq8-never-print';
const TOKEN = 'tok-Xy7-never-print';
const seenMessages: string[] = []; // every error text produced below, checked for credentials at the end

function fixtureFiles(dir = FIXTURES): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? fixtureFiles(path) : entry.endsWith('.json') ? [path.slice(FIXTURES.length)] : [];
  });
}

async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, TraefikError);
    seenMessages.push((err as Error).message, inspect(err));
    return (err as Error).message;
  }
  assert.unreachable('expected a TraefikError, got routers');
  return '';
}

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  return 'parsed';
}

const names = (routers: readonly Router[]) => routers.map((r) => `${r.kind} ${r.name}`);
const byName = (routers: readonly Router[]) =>
  [...routers].sort((a, b) => `${a.kind} ${a.name}`.localeCompare(`${b.kind} ${b.name}`, 'en'));

// ---------------------------------------------------------------------------------------------------------------
const fixtures = suite('recorded bodies: schema + traefik-body');
const files = fixtureFiles();

fixtures('the fixture folder holds every listing, single router and rawdata file of the four tags', () => {
  assert.is(files.filter((f) => f.includes('/rawdata-')).length, 24);
  assert.is(files.filter((f) => /\/(tcp)?routers[^/]*\.json$/.test(f)).length, 26);
  assert.is(files.filter((f) => /\/(tcp)?router-[^/]*\.json$/.test(f)).length, 10);
});

for (const file of files) {
  const base = file.split('/').at(-1) ?? file;
  const kind = base.startsWith('tcprouter') || base.startsWith('k3s-homelab-tcp') || base.startsWith('api-tcp') ? 'tcp' : 'http';
  const body = loadFixture(file);
  if (base === 'api-version.json') {
    fixtures(`${file}: matches the version schema`, () => assert.equal(schemaProblems('version', body), []));
  } else if (base.startsWith('rawdata-') || base === 'getrawdata.json') {
    fixtures(`${file}: rawdata → every router, named and with a provider; every load balancer judged`, () => {
      assert.equal(schemaProblems('rawdata', body), []);
      const raw = body as Rawdata;
      const routers = routersFromRawdata(raw);
      assert.is(routers.length, Object.keys(raw.routers ?? {}).length + Object.keys(raw.tcpRouters ?? {}).length);
      for (const r of routers) assert.ok(r.name.includes('@') && r.provider !== '', r.name);
      const health = serviceHealth(raw, true);
      for (const [name, info] of Object.entries(raw.services ?? {})) if (info.loadBalancer) assert.type(health[name], 'boolean', name);
    });
  } else {
    // router-*.json / tcprouter-*.json answer /api/{http,tcp}/routers/{name}: one object; a listing holds it in an array.
    // The same routers in a rawdata body (as the fake serves them) pass its schema and come back name for name.
    const list = (Array.isArray(body) ? body : [body]) as { name: string }[];
    fixtures(`${file}: ${kind} routers as rawdata → every router, named and with a provider`, () => {
      const raw = rawdataFrom({ [kind]: list });
      assert.equal(schemaProblems('rawdata', raw), []);
      const routers = routersFromRawdata(raw);
      assert.equal(routers.map((r) => r.name).sort(), list.map((r) => r.name).sort());
      for (const r of routers) assert.ok(r.name !== '' && r.provider !== '' && r.kind === kind, r.name);
    });
  }
}

fixtures('exact names and rules: v3.7.9 routers-many-lastpage.json (page 3 of 19, per_page 7)', () => {
  const routers = routersFromRawdata(rawdataFrom({ http: loadFixture('v3.7.9/pkg/api/testdata/routers-many-lastpage.json') as unknown[] }));
  assert.equal(
    routers.map((r) => [r.name, r.rule]),
    [
      ['bar14@myprovider', 'Host(`foo.bar14`)'],
      ['bar15@myprovider', 'Host(`foo.bar15`)'],
      ['bar16@myprovider', 'Host(`foo.bar16`)'],
      ['bar17@myprovider', 'Host(`foo.bar17`)'],
      ['bar18@myprovider', 'Host(`foo.bar18`)'],
    ],
  );
});

fixtures('exact names and rules: v2.10.7 rawdata-crd.json (7 HTTP, 2 TCP, "&&" decoded from \\u0026)', () => {
  const routers = routersFromRawdata(loadFixture('v2.10.7/integration/testdata/rawdata-crd.json') as Rawdata);
  assert.equal(
    routers.map((r) => `${r.kind} ${r.name} ${r.rule}`),
    [
      'http default-api-route-29f28a463fb5d5ba16d2@kubernetescrd PathPrefix(`/api`)',
      'http default-test-route-6b204d94623b3df4370c@kubernetescrd Host(`foo.com`) && PathPrefix(`/bar`)',
      'http default-test-route-containous-1bc3efa892379bb93c6e@kubernetescrd Host(`bar.com`) && PathPrefix(`/foo`)',
      'http default-test2-route-23c7f4c450289ee29016@kubernetescrd Host(`foo.com`) && PathPrefix(`/tobestripped`)',
      'http default-test3-route-7d0ac22d3d8db4b82618@kubernetescrd Host(`foo.com`) && PathPrefix(`/wrr1`)',
      'http default-testst-route-60ad45fcb5fc1f5f3629@kubernetescrd Host(`foo.com`) && PathPrefix(`/serverstransport`)',
      'http other-ns-test6-route-482e4988e134701d8cc8@kubernetescrd Host(`foo.com`) && PathPrefix(`/c`)',
      'tcp default-test3.route-673acf455cb2dab0b43a@kubernetescrd HostSNI(`*`)',
      'tcp default-test3.route-containous-673acf455cb2dab0b43a@kubernetescrd HostSNI(`*`)',
    ],
  );
});

fixtures('exact names: v3.0.0 rawdata-ingress.json and the v3.7.9 webui TCP mock', () => {
  assert.equal(names(routersFromRawdata(loadFixture('v3.0.0/integration/testdata/rawdata-ingress.json') as Rawdata)), [
    'http api@internal',
    'http dashboard@internal',
    'http default-test-ingress-https-whoami-test-https-whoami@kubernetes',
    'http default-test-ingress-whoami-test-whoami@kubernetes',
    'http default-whoami-drop-route-whoami-test-drop-drop@kubernetes',
    'http default-whoami-keep-route-whoami-test-keep-keep@kubernetes',
  ]);
  const tcp = routersFromRawdata(rawdataFrom({ tcp: loadFixture('v3.7.9/webui/src/mocks/data/api-tcp_routers.json') as unknown[] }));
  assert.equal(
    tcp.map((r) => [r.name, r.rule, r.tls]),
    [
      ['postgres@docker', 'HostSNI(`db.example.com`)', { options: 'default', certResolver: 'letsencrypt' }],
      ['tcp-all@docker', 'HostSNI(`*`)', undefined],
    ],
  );
});

fixtures('served by the fake (Go-escaped), every real k3s rawdata comes back router for router, service for service', async () => {
  const fake = await startTraefik();
  try {
    for (const file of files.filter((f) => f.includes('integration/testdata/rawdata-'))) {
      const raw = loadFixture(file);
      fake.setRouters('http', listingFromRawdata(raw, 'http'));
      fake.setRouters('tcp', listingFromRawdata(raw, 'tcp'));
      const named = (kind: 'services' | 'tcpServices') =>
        Object.entries((raw as Rawdata)[kind] ?? {}).map(([name, info]) => ({ ...info, name }));
      fake.setServices('http', named('services'));
      fake.setServices('tcp', named('tcpServices'));
      const { routers, services, version } = await fetchCluster({ name: 'k3s', api: fake.url, timeoutMs: WAIT_MS });
      assert.equal(byName(routers), byName(routersFromRawdata(raw as Rawdata)), file);
      assert.equal(services, serviceHealth(raw as Rawdata, version === '3.7.9'), file);
    }
  } finally {
    await fake.close();
  }
});

fixtures.run();

// ---------------------------------------------------------------------------------------------------------------
const paging = suite('fetchCluster: one read per poll');
const HOMELAB_HTTP = loadFixture('k3s-homelab-http-routers.json') as unknown[];
const HOMELAB_TCP = loadFixture('k3s-homelab-tcp-routers.json') as unknown[];
let fake: FakeTraefik;
const target = (extra: Partial<ClusterTarget> = {}): ClusterTarget => ({ name: 'hades', api: fake.url, timeoutMs: WAIT_MS, ...extra });
/** A fetch result that must be a new answer, parsed (not the last read handed back). */
const parsed = (value: ClusterRouters | ReadMark): ClusterRouters => {
  assert.ok('routers' in value, 'a parsed answer, not the last read handed back');
  return value;
};
const fields = ({ routers, services, syntax, version }: ClusterRouters) => ({
  routers,
  services,
  syntax,
  ...(version !== undefined ? { version } : {}),
});

paging.before.each(async () => {
  fake = await startTraefik({ http: HOMELAB_HTTP, tcp: HOMELAB_TCP, version: '3.7.9' });
});
paging.after.each(() => fake.close());

paging('reads /version, then every router of both kinds in one /rawdata request, HTTP then TCP in name order', async () => {
  const result = await fetchCluster(target());
  assert.equal(fake.requests, ['/api/version', '/api/rawdata']);
  assert.equal(names(result.routers), [
    'http api@internal',
    'http default-old-app-route-5e4d3c2b1a0f9e8d7c6b@kubernetescrd',
    'http default-whoami-ingress-whoami-technis-io@kubernetes',
    'http legacy / admin panel@file',
    'http media-jellyfin-route-0a1b2c3d4e5f60718293@kubernetescrd',
    'http monitoring-grafana-4c3e0f8d0b1a2c3d4e5f@kubernetescrd',
    'http websecure-default-whoami-ingress-whoami-technis-io@kubernetes',
    'tcp default-catchall-0f1e2d3c4b5a69788796@kubernetescrd',
    'tcp default-mqtt-9f8e7d6c5b4a39281706@kubernetescrd',
    'tcp default-postgres-1a2b3c4d5e6f70819203@kubernetescrd',
  ]);
  assert.equal([result.syntax, result.version, result.api], ['v3', '3.7.9', fake.url]);
  assert.match(result.digest, /^[0-9a-f]{64}$/);
});

paging('parses JSON, not text: Go-escaped "&&", "<", ">" and a name with spaces and "/" come back intact', async () => {
  fake.setRouters('http', [{ name: 'a / b c@file', provider: 'file', rule: 'Host(`x.io`) && !Header(`X-A`, `<b>`)' }]);
  fake.setRouters('tcp', []);
  const { routers } = await fetchCluster(target());
  assert.equal(routers, [{ kind: 'http', name: 'a / b c@file', provider: 'file', rule: 'Host(`x.io`) && !Header(`X-A`, `<b>`)' }]);
});

paging('a character split between two reads of the body comes back whole (it is decoded as it arrives)', async () => {
  fake.setRouters('http', [{ name: 'café@file', provider: 'file', rule: 'Host(`x.io`)' }]);
  fake.setRouters('tcp', []);
  const served = Buffer.from(await (await fetch(`${fake.url}/rawdata`)).arrayBuffer());
  const split = served.indexOf(Buffer.from('é')) + 1; // between the two bytes of é
  assert.ok(split > 0);
  fake.setFault('/api/rawdata', { dripBytesPerSec: split * 20 }); // the fake writes split bytes every 50 ms
  const { routers } = parsed(await fetchCluster(target({ syntax: 'v3' })));
  assert.equal(names(routers), ['http café@file']);
});

paging('one request, with or without a trailing slash on api, and no /version when the cluster sets syntax', async () => {
  await fetchCluster(target({ api: `${fake.url}/`, syntax: 'v3' }));
  assert.equal(fake.requests, ['/api/rawdata']);
});

paging('the next poll: /version is not read again, and an identical answer returns the last value itself', async () => {
  const first = await fetchCluster(target());
  const second = await fetchCluster(target(), {}, first);
  assert.is(second, first, 'the same object: nothing parsed, the caller reuses what it derived from it');
  assert.equal(fake.requests, ['/api/version', '/api/rawdata', '/api/rawdata']);
  fake.setRouters('tcp', []);
  const third = await fetchCluster(target(), {}, second);
  assert.is.not(third, first);
  assert.is(parsed(third).routers.length, 7);
  assert.equal([third.syntax, third.version], ['v3', '3.7.9'], 'the version known from the first read');
  assert.is.not(third.digest, first.digest);
  assert.equal(fake.requests.slice(3), ['/api/rawdata']);
});

paging('another api is another server: its version is read, even when its answer is the same bytes', async () => {
  const first = await fetchCluster(target());
  const other = await startTraefik({ http: HOMELAB_HTTP, tcp: HOMELAB_TCP, version: '2.11.53' });
  try {
    const moved = await fetchCluster(target({ api: other.url }), {}, first);
    assert.equal(other.requests, ['/api/version', '/api/rawdata']);
    assert.is.not(moved, first);
    assert.equal([moved.syntax, moved.version, moved.digest], ['v2', '2.11.53', first.digest]);
  } finally {
    await other.close();
  }
});

paging("a syntax set in the config after a read replaces the version's, and is not mistaken for an identical answer", async () => {
  const first = await fetchCluster(target());
  const pinned = await fetchCluster(target({ syntax: 'v2' }), {}, first);
  assert.is.not(pinned, first);
  assert.equal([pinned.syntax, pinned.version], ['v2', undefined]);
  const unpinned = await fetchCluster(target(), {}, pinned);
  assert.equal([unpinned.syntax, unpinned.version], ['v3', '3.7.9']);
  assert.equal(fake.requests, ['/api/version', '/api/rawdata', '/api/rawdata', '/api/version', '/api/rawdata']);
});

paging('services of the same read: health by qualified name, unknown ones left out', async () => {
  fake.setServices('http', [
    {
      name: 'up@kubernetescrd',
      loadBalancer: { servers: [{ url: 'http://10.42.0.3:80' }] },
      serverStatus: { 'http://10.42.0.3:80': 'UP' },
    },
    {
      name: 'down@kubernetescrd',
      loadBalancer: { servers: [{ url: 'http://10.42.0.4:80' }] },
      serverStatus: { 'http://10.42.0.4:80': 'DOWN' },
    },
    { name: 'noop@internal' },
  ]);
  fake.setServices('tcp', [{ name: 'mqtt@kubernetescrd', loadBalancer: { servers: [{ address: '10.42.0.5:1883' }] } }]);
  assert.equal((await fetchCluster(target())).services, {
    'up@kubernetescrd': true,
    'down@kubernetescrd': false,
    'mqtt@kubernetescrd': true,
  });
  fake.setVersion('3.5.4'); // TCP serverStatus only from v3.6: a TCP load balancer without it is unknown
  assert.equal((await fetchCluster(target())).services, { 'up@kubernetescrd': true, 'down@kubernetescrd': false });
});

paging('an empty cluster is one request and no routers', async () => {
  fake.setRouters('http', []);
  fake.setRouters('tcp', []);
  assert.equal(fields(await fetchCluster(target({ syntax: 'v2' }))), { routers: [], services: {}, syntax: 'v2' });
});

paging.run();

// ---------------------------------------------------------------------------------------------------------------
const version = suite('fetchCluster: default rule syntax');
version.before.each(async () => {
  fake = await startTraefik();
});
version.after.each(() => fake.close());

for (const [served, syntax] of [
  ['2.10.7', 'v2'],
  ['v2.11.53', 'v2'],
  ['3.0.0', 'v3'],
  ['v3.1.0', 'v3'],
  ['dev', 'v3'],
] as const) {
  version(`Version ${JSON.stringify(served)} → ${syntax}`, async () => {
    fake.setVersion(served);
    assert.equal(fields(await fetchCluster(target())), { routers: [], services: {}, syntax, version: served });
  });
}

version('target.syntax skips /api/version', async () => {
  fake.setVersion('3.7.9');
  assert.equal(fields(await fetchCluster(target({ syntax: 'v2' }))), { routers: [], services: {}, syntax: 'v2' });
  assert.not.ok(fake.requests.includes('/api/version'));
});

version('Traefik 1.x or a version that is not one is an error of the cluster', async () => {
  fake.setVersion('1.7.34');
  assert.is(await failure(fetchCluster(target())), `traefik[hades]: GET ${fake.url}/version: unsupported Traefik version "1.7.34"`);
  fake.setFault('/api/version', { body: '{"version":"3.0.0"}' });
  assert.is(
    await failure(fetchCluster(target())),
    `traefik[hades]: GET ${fake.url}/version: body does not match the version schema: / must have required property 'Version'`,
  );
  fake.setFault('/api/version', { status: 404 });
  assert.is(await failure(fetchCluster(target())), `traefik[hades]: GET ${fake.url}/version: 404 Not Found`);
  assert.equal(
    fake.requests.filter((r) => !r.startsWith('/api/version')),
    [],
  ); // no rawdata after a failed /version
});

version.run();

// ---------------------------------------------------------------------------------------------------------------
const auth = suite('fetchCluster: auth');
let secrets: string;
auth.before(() => {
  secrets = mkdtempSync(join(tmpdir(), 'routeagent-traefik-'));
  writeFileSync(join(secrets, 'password'), `${PASSWORD}\n`);
  writeFileSync(join(secrets, 'token'), `${TOKEN}\r\n`);
  writeFileSync(join(secrets, 'empty'), '\n');
});
auth.after(() => rmSync(secrets, { recursive: true, force: true }));
auth.after.each(() => fake.close());

auth('basic auth, with the password inline or from a file (trailing newline trimmed)', async () => {
  fake = await startTraefik({ auth: { username: 'agent', password: PASSWORD } });
  await fetchCluster(target({ auth: { username: 'agent', password: PASSWORD } }));
  await fetchCluster(target({ auth: { username: 'agent', passwordFile: join(secrets, 'password') } }));
  const url = new URL(fake.url);
  await fetchCluster(target({ api: `http://agent:${PASSWORD}@${url.host}/api` })); // userinfo in api works too
});

auth('bearer token, inline or from a file', async () => {
  fake = await startTraefik({ auth: { token: TOKEN } });
  await fetchCluster(target({ auth: { token: TOKEN } }));
  await fetchCluster(target({ auth: { tokenFile: join(secrets, 'token') } }));
});

auth('a missing or wrong credential is a 401 naming the URL, never the credential', async () => {
  fake = await startTraefik({ auth: { username: 'agent', password: PASSWORD } });
  const expected = `traefik[hades]: GET ${fake.url}/version: 401 Unauthorized`;
  assert.is(await failure(fetchCluster(target())), expected);
  assert.is(await failure(fetchCluster(target({ auth: { username: 'agent', password: `${PASSWORD}x` } }))), expected);
  assert.is(await failure(fetchCluster(target({ auth: { token: TOKEN } }))), expected);
  const url = new URL(fake.url);
  assert.is(await failure(fetchCluster(target({ api: `http://agent:${TOKEN}@${url.host}/api/` }))), expected);
});

auth('a secret file that is missing or empty is named, before any request', async () => {
  fake = await startTraefik({ auth: { token: TOKEN } });
  const missing = join(secrets, 'nope');
  assert.is(
    await failure(fetchCluster(target({ auth: { tokenFile: missing } }))),
    `traefik[hades]: ${fake.url}: cannot read tokenFile ${missing} (ENOENT)`,
  );
  assert.is(
    await failure(fetchCluster(target({ auth: { username: 'agent', passwordFile: secrets } }))),
    `traefik[hades]: ${fake.url}: cannot read passwordFile ${secrets} (EISDIR)`,
  );
  const empty = join(secrets, 'empty');
  assert.is(
    await failure(fetchCluster(target({ auth: { tokenFile: empty } }))),
    `traefik[hades]: ${fake.url}: tokenFile ${empty} is empty`,
  );
  assert.is(await failure(fetchCluster(target({ auth: {} }))), `traefik[hades]: ${fake.url}: auth has neither token nor tokenFile`);
  assert.equal(fake.requests, []);
});

auth.run();

// ---------------------------------------------------------------------------------------------------------------
const failures = suite('fetchCluster: failures, one exact line each');
failures.before.each(async () => {
  fake = await startTraefik({ http: HOMELAB_HTTP, tcp: HOMELAB_TCP });
});
failures.after.each(() => fake.close());
const listingUrl = () => `${fake.url}/rawdata`;
const fetchWith = (opts?: FetchOptions, extra?: Partial<ClusterTarget>) => failure(fetchCluster(target({ syntax: 'v3', ...extra }), opts));

for (const [status, text] of [
  [401, 'Unauthorized'],
  [403, 'Forbidden'],
  [404, 'Not Found'],
  [500, 'Internal Server Error'],
  [302, 'Found'],
] as const) {
  failures(`HTTP ${status}`, async () => {
    fake.setFault('/api/rawdata', { status, headers: status === 302 ? { location: '/elsewhere' } : {} });
    assert.is(await fetchWith(), `traefik[hades]: GET ${listingUrl()}: ${status} ${text}`);
  });
}

failures('an HTML page instead of JSON (a login portal, a proxy error page)', async () => {
  const html = '<!DOCTYPE html>\n<html><body>Sign in</body></html>';
  fake.setFault('/api/rawdata', { body: html, contentType: 'text/html' });
  assert.is(await fetchWith(), `traefik[hades]: GET ${listingUrl()}: body is not JSON (${jsonError(html).replace('\n', ' ')})`);
});

failures('truncated JSON, and an empty body', async () => {
  fake.setFault('/api/rawdata', { body: '{"routers":{"a@b":{"rule":"Host(`a' });
  assert.is(
    await fetchWith(),
    `traefik[hades]: GET ${listingUrl()}: body is not JSON (${jsonError('{"routers":{"a@b":{"rule":"Host(`a')})`,
  );
  fake.setFault('/api/rawdata', { body: '' });
  assert.is(await fetchWith(), `traefik[hades]: GET ${listingUrl()}: body is not JSON (Unexpected end of JSON input)`);
});

failures('a byte-order mark before the JSON (Go never writes one): the body is not JSON', async () => {
  const bom = '\ufeff{"routers":{}}';
  fake.setFault('/api/rawdata', { body: bom });
  assert.is(await fetchWith(), `traefik[hades]: GET ${listingUrl()}: body is not JSON (${jsonError(bom)})`);
});

failures('a body of the wrong shape names its first three problems', async () => {
  const wrong = { routers: { 'a@p': { rule: 1, using: 'web' }, 'b@p': 'x' }, services: { 's@p': { loadBalancer: { servers: 'none' } } } };
  fake.setFault('/api/rawdata', { body: JSON.stringify(wrong) });
  assert.is(
    await fetchWith(),
    `traefik[hades]: GET ${listingUrl()}: body does not match the rawdata schema: /routers/a@p/rule must be string; /routers/a@p/using must be array; /routers/b@p must be object; and 1 more`,
  );
  fake.setFault('/api/rawdata', { body: '[{"name":"a@p"}]' });
  assert.is(await fetchWith(), `traefik[hades]: GET ${listingUrl()}: body does not match the rawdata schema: / must be object`);
  fake.setFault('/api/rawdata', { body: '{"tcpRouters":{"a@p":{"tls":{"passthrough":"yes"}}}}' });
  assert.is(
    await fetchWith(),
    `traefik[hades]: GET ${listingUrl()}: body does not match the rawdata schema: /tcpRouters/a@p/tls/passthrough must be boolean`,
  );
  fake.setFault('/api/rawdata', {
    body: '{"services":{"w@p":{"weighted":{"services":[{"weight":1}]}},"s@p":{"serverStatus":{"http://a":1}}}}',
  });
  assert.is(
    await fetchWith(),
    `traefik[hades]: GET ${listingUrl()}: body does not match the rawdata schema: /services/w@p/weighted/services/0 must have required property 'name'; /services/s@p/serverStatus/http:~1~1a must be string`,
  );
});

failures('a 20 MB body is cut at maxBodyBytes, streamed (no Content-Length) or announced (Content-Length)', async () => {
  const big = `{"routers":{${'"x@p":{},'.repeat(2_300_000)}"y@p":{}}}`;
  assert.ok(big.length > 20_000_000);
  const tooLarge = `traefik[hades]: GET ${listingUrl()}: body larger than 1048576 bytes`;
  fake.setFault('/api/rawdata', { body: big });
  assert.is(await fetchWith({ maxBodyBytes: 1024 * 1024 }), tooLarge);
  fake.setFault('/api/rawdata', { body: big, headers: { 'Content-Length': String(Buffer.byteLength(big)) } });
  assert.is(await fetchWith({ maxBodyBytes: 1024 * 1024 }), tooLarge);
  // dripped: the server sees the client hang up before the body ends (not how fast: that is bench/, not a test)
  fake.setFault('/api/rawdata', { body: big, dripBytesPerSec: 10_000_000 });
  assert.is(await fetchWith({ maxBodyBytes: 1024 * 1024 }), tooLarge);
  const cut = fake.hits.at(-1)!;
  await until('the fake Traefik to see the connection closed', () => cut.closed);
  assert.is(cut.answeredAt, undefined, 'the body was cut, not read to its end');
  fake.setFault('/api/rawdata', { body: big });
  const under = await fetchCluster(target({ syntax: 'v3' }), { maxBodyBytes: 32 * 1024 * 1024 }); // the same body under the cap
  assert.equal(names(under.routers), ['http x@p', 'http y@p']); // JSON.parse keeps one of the repeated keys
});

failures('a server that does not answer in time (headers held back)', async () => {
  fake.setFault('/api/rawdata', { delayMs: 5000 });
  assert.is(await fetchWith({}, { timeoutMs: 200 }), `traefik[hades]: GET ${listingUrl()}: timed out after 200 ms`);
});

failures('a body that drips in slower than the timeout (the timeout covers the body too)', async () => {
  fake.setFault('/api/rawdata', { dripBytesPerSec: 200 });
  assert.is(await fetchWith({}, { timeoutMs: 300 }), `traefik[hades]: GET ${listingUrl()}: timed out after 300 ms`);
  const cut = fake.hits[0]!;
  await until('the fake Traefik to see the connection closed', () => cut.closed);
  assert.is(cut.answeredAt, undefined, 'the client hung up mid-body');
});

failures('timeoutMs bounds the whole fetch: requests that are each in time but together late', async () => {
  // /version is held 500 ms, the listing 2700 ms: each alone is under 3000 ms, together they cannot be. The listing is
  // asked for only after /version answered, so it can never answer in time, however loaded the machine; /version has
  // 2.5 s of slack to answer in time.
  fake.setFault('/api/version', { delayMs: 500 });
  fake.setFault('/api/rawdata', { delayMs: 2700 });
  assert.is(await failure(fetchCluster(target({ timeoutMs: 3000 }))), `traefik[hades]: GET ${listingUrl()}: timed out after 3000 ms`);
  assert.ok(fake.hits[0]?.answeredAt !== undefined, '/version was answered');
});

failures('connection refused (nothing listens on the port)', async () => {
  const closed = createHttpServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port } = closed.address() as AddressInfo;
  await new Promise((resolve) => closed.close(resolve));
  const api = `http://127.0.0.1:${port}/api`;
  assert.is(await fetchWith({}, { api }), `traefik[hades]: GET ${api}/rawdata: connection refused`);
  assert.is(await failure(fetchCluster({ name: 'hades', api, timeoutMs: 500 })), `traefik[hades]: GET ${api}/version: connection refused`);
});

failures('an api that is not an http(s) URL', async () => {
  assert.is(await fetchWith({}, { api: 'not a url' }), 'traefik[hades]: api is not a valid URL');
  assert.is(await fetchWith({}, { api: 'ftp://10.0.0.1/api' }), 'traefik[hades]: ftp://10.0.0.1/api: api must be an http or https URL');
});

failures("Traefik's own text/plain content type on a JSON body is fine", async () => {
  fake.setFault('/api/rawdata', { contentType: 'text/plain; charset=utf-8' });
  assert.is((await fetchCluster(target({ syntax: 'v3' }))).routers.length, 10);
});

failures.run();

// ---------------------------------------------------------------------------------------------------------------
if (!skipUnless('fetchCluster: https with a custom CA', 'openssl')) {
  const tls = suite('fetchCluster: https with a custom CA');
  let pki = '';
  let httpsApi = '';
  let closeHttps: () => Promise<void> = async () => undefined;

  tls.before(async () => {
    pki = mkdtempSync(join(tmpdir(), 'routeagent-pki-'));
    const { key, cert } = loopbackPki(pki);
    const server = createHttpsServer({ key, cert }, (req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/api/version') return void res.end('{"Version":"3.7.9"}\n');
      res.end('{"routers":{"tls@file":{"rule":"Host(`tls.io`)","tls":{}}}}\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    httpsApi = `https://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
    closeHttps = () => new Promise((resolve) => server.close(() => resolve()));
  });
  tls.after(async () => {
    await closeHttps();
    if (pki !== '') rmSync(pki, { recursive: true, force: true });
  });

  tls('trusts the server with tls.ca, refuses it without, accepts it with insecureSkipVerify', async () => {
    const https = { name: 'hades', api: httpsApi, timeoutMs: WAIT_MS };
    const ok = await fetchCluster({ ...https, tls: { ca: join(pki, 'ca.pem') } });
    assert.equal(names(ok.routers), ['http tls@file']);
    assert.is(
      await failure(fetchCluster(https)),
      `traefik[hades]: GET ${httpsApi}/version: TLS: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)`,
    );
    assert.is((await fetchCluster({ ...https, tls: { insecureSkipVerify: true } })).syntax, 'v3');
    const missing = join(pki, 'missing.pem');
    assert.is(
      await failure(fetchCluster({ ...https, tls: { ca: missing } })),
      `traefik[hades]: ${httpsApi}: cannot read tls.ca ${missing} (ENOENT)`,
    );
  });

  tls.run();
}

// ---------------------------------------------------------------------------------------------------------------
const all = suite('fetchAll');
let fakes: FakeTraefik[] = [];
all.after.each(async () => {
  await Promise.all(fakes.map((f) => f.close()));
  fakes = [];
});

all('fetches clusters in parallel: both requests are in before either is answered', async () => {
  fakes = [await startTraefik({ http: HOMELAB_HTTP }), await startTraefik({ tcp: HOMELAB_TCP, version: '2.11.53' })];
  for (const f of fakes) f.setFault('/api/version', { delayMs: 300 });
  const results = await fetchAll([
    { name: 'hades', api: fakes[0]!.url, timeoutMs: WAIT_MS },
    { name: 'illmatic', api: fakes[1]!.url, timeoutMs: WAIT_MS },
  ]);
  const [a, b] = fakes.map((f) => f.hits.find((h) => h.path === '/api/version')!);
  assert.ok(Math.max(a!.receivedAt, b!.receivedAt) < Math.min(a!.answeredAt!, b!.answeredAt!), 'the two /api/version requests overlap');
  assert.equal([...results.keys()], ['hades', 'illmatic']);
  const hades = results.get('hades');
  const illmatic = results.get('illmatic');
  assert.ok(hades?.ok && illmatic?.ok);
  assert.is(parsed(hades.value).routers.length, 7);
  assert.equal([parsed(illmatic.value).routers.length, illmatic.value.syntax], [3, 'v2']);
});

all('never rejects: a failing cluster gets its TraefikError, the others their routers', async () => {
  fakes = [await startTraefik({ http: HOMELAB_HTTP })];
  fakes[0]!.setFault('/api/rawdata', { status: 500 });
  const healthy = await startTraefik({ tcp: HOMELAB_TCP });
  fakes.push(healthy);
  const results = await fetchAll([
    { name: 'hades', api: fakes[0]!.url, timeoutMs: WAIT_MS, auth: { username: 'agent', password: PASSWORD } },
    { name: 'illmatic', api: healthy.url, timeoutMs: WAIT_MS, syntax: 'v3' },
    { name: 'nas', api: 'http://[::1', timeoutMs: WAIT_MS },
  ]);
  const hades = results.get('hades');
  assert.ok(hades !== undefined && !hades.ok);
  assert.instance(hades.error, TraefikError);
  assert.is(hades.error.message, `traefik[hades]: GET ${fakes[0]!.url}/rawdata: 500 Internal Server Error`);
  const illmatic = results.get('illmatic');
  assert.ok(illmatic?.ok);
  assert.equal(fields(parsed(illmatic.value)), {
    routers: routersFromRawdata(rawdataFrom({ tcp: HOMELAB_TCP })),
    services: {},
    syntax: 'v3',
  });
  const nas = results.get('nas');
  assert.equal(nas?.ok ? 'ok' : nas?.error.message, 'traefik[nas]: api is not a valid URL');
  for (const result of results.values()) if (!result.ok) seenMessages.push(result.error.message, inspect(result.error));
});

all('no message or inspected error of this file carries a password or token', () => {
  assert.ok(seenMessages.length > 40);
  for (const text of seenMessages) {
    assert.not.ok(
      text.includes(PASSWORD) || text.includes(TOKEN) || text.includes(Buffer.from(`agent:${PASSWORD}`).toString('base64')),
      text,
    );
  }
});

all.run();
