// parseConfig / readConfig: the example configs (a fixture, and the README's) are valid, defaults live in one place, every problem is reported at once.

import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { configWarnings, nearestKey, parseConfig, readConfig } from '../agent/config.js';
import { ConfigError } from '../agent/errors.js';

const example = JSON.parse(readFileSync(new URL('./fixtures/configs/design-example.json', import.meta.url), 'utf8'));
const minimal = {
  clusters: [{ name: 'a', api: 'http://127.0.0.1:9000/api', backends: { sni: 'a_https' } }],
  expose: { domains: ['example.com'] },
};

const valid = suite('parseConfig: valid');
valid('the two-cluster example config is valid', () => {
  const r = parseConfig(example);
  assert.is(r.errors, undefined);
  assert.is(r.config!.clusters[1]!.priority, 0);
  assert.equal(r.config!.pins, { 'grafana.technis.io': 'illmatic' });
});
valid("the README's example config (under Configuration) is valid", () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Configuration\n'));
  const block = /```json\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'a json block under ## Configuration');
  assert.equal(parseConfig(JSON.parse(block)).errors, undefined);
});
valid('a minimal config gets every default', () => {
  const r = parseConfig(minimal);
  assert.equal(r.config, {
    clusters: [{ name: 'a', api: 'http://127.0.0.1:9000/api', backends: { sni: 'a_https' }, priority: 0, timeoutMs: 5000 }],
    expose: { domains: ['example.com'], hosts: [], exclude: [] },
    static: [],
    pins: {},
    conflicts: 'sticky',
    haproxy: {
      bin: '/usr/local/sbin/haproxy',
      config: '/var/etc/haproxy/haproxy.cfg',
      socket: '/tmp/haproxy.socket',
      maps: { hosts: '/usr/local/etc/routeagent/maps/hosts.map', sni: '/usr/local/etc/routeagent/maps/sni.map' },
      timeoutMs: 5000,
    },
    schedule: '*/15 * * * * *',
    guard: { maxRemovalRatio: 0.5 },
    statusFile: '/var/run/routeagent/status.json',
    metrics: { enabled: false, address: '127.0.0.1', port: 9498 },
    failover: { enabled: true, downAfter: 2, upAfter: 3 },
  });
});
valid('failover settings are checked: counts of syncs, at least 1', () => {
  assert.equal(parseConfig({ ...minimal, failover: { downAfter: 0, upAfter: 1.5, enable: false } }).errors, [
    '/failover: unknown property "enable"; did you mean "enabled"?',
    '/failover/downAfter: must be >= 1',
    '/failover/upAfter: must be integer',
  ]);
  assert.equal(parseConfig({ ...minimal, failover: { enabled: false, upAfter: 5 } }).config?.failover, {
    enabled: false,
    downAfter: 2,
    upAfter: 5,
  });
});
valid.run();

const invalid = suite('parseConfig: every problem at once');
invalid('schema violations are listed one per line with their path', () => {
  const r = parseConfig({
    clusters: [{ name: 'a', api: 'not a url', backends: { sni: 'bad backend' }, priorty: 3 }],
    expose: { domains: 'technis.io' },
    conflicts: 'newest',
    extra: true,
  });
  assert.equal(r.errors, [
    '/: unknown property "extra"',
    '/clusters/0: unknown property "priorty"; did you mean "priority"?',
    '/clusters/0/api: must match pattern "^https?://"',
    '/clusters/0/backends/sni: must match pattern "^[A-Za-z0-9._:-]{1,255}$"',
    '/expose/domains: must be array',
    '/conflicts: must be one of "sticky", "priority"',
  ]);
});
invalid('missing required fields', () => {
  assert.equal(parseConfig({}).errors, ["/: must have required property 'clusters'", "/: must have required property 'expose'"]);
});
invalid('cross-field rules', () => {
  const r = parseConfig({
    ...minimal,
    clusters: [
      minimal.clusters[0],
      { name: 'a', api: 'http://127.0.0.1:9001/api', backends: { sni: 'a_https' }, auth: { username: 'u', password: 'p', token: 't' } },
      { name: 'b', api: 'http://127.0.0.1:9002/api', backends: { sni: 'b_https' }, auth: { username: 'u' } },
      { name: 'c', api: 'http://agent:pw@127.0.0.1:9003/api', backends: { sni: 'c_https' } },
      { name: 'd', api: 'http://[::1/api', backends: { sni: 'd_https' } },
      { name: 'e', api: 'http://agent:s3cr3t@127.0.0.1:99999/api', backends: { sni: 'e_https' } },
    ],
    pins: { 'x.example.com': 'nope' },
    static: [{ host: 'bad host', backends: { sni: 's' } }],
    haproxy: { maps: { hosts: '/var/etc/haproxy/hosts.map', sni: '/var/etc/haproxy/hosts.map' } },
    schedule: 'every minute',
  });
  assert.equal(r.errors, [
    '/clusters/1/name: duplicate cluster name "a" (also /clusters/0)',
    '/clusters/1/auth: use either username/password or token, not both',
    '/clusters/2/auth: needs exactly one of password, passwordFile',
    '/clusters/3/api: credentials in the URL are not allowed; use auth',
    '/clusters/4/api: "http://[::1/api" is not a valid http(s) URL',
    '/clusters/5/api: "http://…@127.0.0.1:99999/api" is not a valid http(s) URL',
    '/static/0/host: host "bad host" has whitespace, control or non-ASCII characters (use punycode)',
    '/pins/x.example.com: unknown cluster "nope"',
    '/haproxy/maps: hosts and sni must be different files',
    '/haproxy/maps/hosts: /var/etc/haproxy/hosts.map is inside /var/etc/haproxy, which pfSense wipes on every Apply',
    '/haproxy/maps/sni: /var/etc/haproxy/hosts.map is inside /var/etc/haproxy, which pfSense wipes on every Apply',
    '/schedule: "every minute" is not a valid cron expression',
  ]);
});
invalid('two clusters may not share a backend (seeding from map files needs one owner)', () => {
  const r = parseConfig({
    ...minimal,
    clusters: [minimal.clusters[0], { name: 'b', api: 'http://127.0.0.1:1/api', backends: { sni: 'a_https' } }],
  });
  assert.equal(r.errors, ['/clusters/1/backends/sni: backend "a_https" is also used by cluster "a"']);
});
invalid('map files under /tmp/haproxy/ (OPNsense plugin territory) are rejected', () => {
  const r = parseConfig({
    ...minimal,
    haproxy: { maps: { hosts: '/tmp/haproxy/mapfiles/1.txt', sni: '/tmp/haproxy/routeagent/sni.map' } },
  });
  assert.equal(r.errors, [
    "/haproxy/maps/hosts: /tmp/haproxy/mapfiles/1.txt is inside /tmp/haproxy, which OPNsense's HAProxy plugin rewrites at every start and reload; keep routeagent's maps in /usr/local/etc/routeagent/maps",
    "/haproxy/maps/sni: /tmp/haproxy/routeagent/sni.map is inside /tmp/haproxy, which OPNsense's HAProxy plugin rewrites at every start and reload; keep routeagent's maps in /usr/local/etc/routeagent/maps",
  ]);
  assert.equal(
    parseConfig({ ...minimal, haproxy: { maps: { hosts: '/tmp/haproxy-test/hosts.map', sni: '/tmp/haproxy-test/sni.map' } } }).errors,
    undefined,
  );
});
invalid('an unknown property close to a known one names it, at the path where it was found', () => {
  const r = parseConfig({
    ...minimal,
    expose: { domain: ['example.com'] },
    haproxy: { sokcet: '/tmp/haproxy.socket', maps: { host: '/usr/local/etc/routeagent/maps/h.map' } },
    Schedule: '* * * * *',
  });
  assert.equal(r.errors, [
    '/: unknown property "Schedule"; did you mean "schedule"?',
    '/expose: unknown property "domain"; did you mean "domains"?',
    '/haproxy: unknown property "sokcet"; did you mean "socket"?',
    '/haproxy/maps: unknown property "host"; did you mean "hosts"?',
  ]);
});
invalid('nearestKey: within two edits and unambiguous, or nothing', () => {
  const rows: [string, string[], string | undefined][] = [
    ['domain', ['domains', 'hosts', 'exclude'], 'domains'],
    ['entrypoints', ['entryPoints', 'auth'], 'entryPoints'],
    ['timeout', ['timeoutMs', 'tls'], 'timeoutMs'],
    ['colour', ['name', 'api', 'backends'], undefined], // nothing near: no guess
    ['hostz', ['hosts', 'host'], undefined], // two equally near: no guess
    ['ab', ['ca'], undefined], // a short key is not "near" everything short
  ];
  for (const [key, known, want] of rows) assert.is(nearestKey(key, known), want, key);
});
invalid.run();

const warned = suite('configWarnings');
warned('maps on a RAM disk: one line for both maps, none for maps elsewhere', () => {
  const at = (hosts: string, sni: string) => configWarnings(parseConfig({ ...minimal, haproxy: { maps: { hosts, sni } } }).config!);
  assert.equal(at('/tmp/m/hosts.map', '/var/db/m/sni.map'), [
    '/haproxy/maps: hosts /tmp/m/hosts.map and sni /var/db/m/sni.map may be lost at reboot on a RAM disk; prefer /usr/local/etc/routeagent/maps',
  ]);
  assert.equal(at('/usr/local/etc/routeagent/maps/hosts.map', '/tmp/sni.map'), [
    '/haproxy/maps: sni /tmp/sni.map may be lost at reboot on a RAM disk; prefer /usr/local/etc/routeagent/maps',
  ]);
  assert.equal(at('/usr/local/etc/routeagent/maps/hosts.map', '/usr/local/etc/routeagent/maps/sni.map'), []);
});
warned.run();

const files = suite('readConfig');
let dir = '';
files.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'routeagent-config-'));
});
files.after(async () => rm(dir, { recursive: true, force: true }));
files('missing file', async () => {
  const path = join(dir, 'nope.json');
  const e = await readConfig(path).catch((x: unknown) => x);
  assert.instance(e, ConfigError);
  assert.equal((e as ConfigError).problems, [
    `${path}: no such file; check the path given to --config (rc.d/install.sh writes a sample config to /usr/local/etc/routeagent/config.json)`,
  ]);
  assert.is((e as ConfigError).message, `config ${path} does not exist`);
});
files('invalid JSON (an edit saved half-way)', async () => {
  const path = join(dir, 'half.json');
  await writeFile(path, JSON.stringify(example).slice(0, 100));
  const e = (await readConfig(path).catch((x: unknown) => x)) as ConfigError;
  assert.instance(e, ConfigError);
  assert.is(e.problems.length, 1);
  assert.match(e.problems[0]!, new RegExp(`^${path}: not valid JSON \\(`));
});
files('a JSON error says where, never quotes the file (a secret may sit next to the mistake)', async () => {
  const path = join(dir, 'quote.json');
  await writeFile(path, `{\n  "clusters": [{ "auth": { "password": 'hunter2' } }]\n}`);
  const e = (await readConfig(path).catch((x: unknown) => x)) as ConfigError;
  assert.equal(e.problems, [`${path}: not valid JSON (unexpected character "'" at line 2 column 40)`]);
  await writeFile(path, '{"a": 1,}');
  assert.equal(((await readConfig(path).catch((x: unknown) => x)) as ConfigError).problems, [
    `${path}: not valid JSON (Expected double-quoted property name at line 1 column 9)`,
  ]);
});
files('secrets in a world-readable file are warned about', async () => {
  const path = join(dir, 'secret.json');
  await writeFile(path, JSON.stringify(example));
  await chmod(path, 0o644);
  const loud = await readConfig(path);
  assert.equal(loud.warnings, ['config is world-readable and holds secrets of cluster hades; chmod 600 it or use passwordFile/tokenFile']);
  await chmod(path, 0o600);
  assert.equal((await readConfig(path)).warnings, []);
});
files.run();
