// Hostile routers through a real sync: hosts and rules that could inject a map line, crash the parser or burn CPU.
// Each one is skipped with its router named and an exact reason in the report, the maps on disk and in HAProxy stay
// byte-for-byte what the good routers make. What such a sync costs in CPU is measured in bench/bounds.ts, not here.
import { readFile } from 'node:fs/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../harness/tools.js';
import { app, httpRouter, startWorld, tcpRouter, type World } from '../harness/world.js';
import { assertServes, captureLog, syncer, version } from './kit.js';

const missing = skipUnless('faults: hostile routers', 'haproxy', 'openssl');

const test = suite('faults: hostile routers');
let w: World;
const cap = captureLog();

/** What the good router makes; nothing else may ever reach a map. */
const GOOD = version({ hosts: { 'a.technis.io': 'hades_http_ipvANY' }, sni: { 'a.technis.io': 'hades_https_ipvANY' } });

test.before(async () => {
  if (missing) return;
  w = await startWorld();
});
test.after(async () => w?.close());

/** Serve `routers` (plus the good one) from hades, sync, and return the report (the CPU it costs: bench/bounds.ts). */
async function syncWith(routers: Record<string, unknown>[], tcp: Record<string, unknown>[] = []) {
  w.clusters.hades.traefik.setRouters('http', [app('a.technis.io'), ...routers]);
  w.clusters.hades.traefik.setRouters('tcp', tcp);
  cap.clear();
  const r = await syncer(w, cap.log).run({ force: true });
  assert.is(r.error, undefined);
  assert.ok(r.clusters['hades']!.ok);
  return r;
}

/** The map files hold exactly the good entries, as bytes (no injected line, no stray whitespace). */
async function filesAreGood(): Promise<void> {
  assert.is(await readFile(w.haproxy.mapPaths.hosts, 'utf8'), 'a.technis.io hades_http_ipvANY\n');
  assert.is(await readFile(w.haproxy.mapPaths.sni, 'utf8'), 'a.technis.io hades_https_ipvANY\n');
  await assertServes(w, GOOD);
}

// host in the rule → the exact reason it is skipped
const HOSTS: [string, string, string][] = [
  [
    'newline',
    'x.technis.io\nevil.technis.io be_evil',
    'host "x.technis.io\\nevil.technis.io be_evil" has whitespace, control or non-ASCII characters (use punycode)',
  ],
  ['space', 'x.technis.io be_evil', 'host "x.technis.io be_evil" has whitespace, control or non-ASCII characters (use punycode)'],
  ['tab', 'x.technis.io\tbe_evil', 'host "x.technis.io\\tbe_evil" has whitespace, control or non-ASCII characters (use punycode)'],
  ['#', '#x.technis.io', 'host "#x.technis.io" is not a valid DNS name'],
  [
    'unicode homoglyph (Cyrillic a): Traefik refuses the rule',
    'gr\u0430fana.technis.io',
    'rule rejected: non-ASCII value "gr\\u0430fana.technis.io" for Host at 0 (use punycode)',
  ],
  ['300 characters', `${'x'.repeat(289)}.technis.io`, 'host longer than 253 characters (300)'],
  ['a 64-character label', `${'x'.repeat(64)}.technis.io`, `host "${'x'.repeat(64)}.technis.io" has a label longer than 63 characters`],
  ['..', 'x..technis.io', 'host "x..technis.io" is not a valid DNS name'],
  ['only dots', '..', 'host ".." is not a valid DNS name'],
  ['leading -', '-x.technis.io', 'host "-x.technis.io" is not a valid DNS name'],
  ['leading dot', '.technis.io', 'host ".technis.io" is not a valid DNS name'],
  ['two trailing dots', 'x.technis.io..', 'host "x.technis.io.." is not a valid DNS name'],
  ['underscore', 'x_y.technis.io', 'host "x_y.technis.io" is not a valid DNS name'],
  ['backslash', 'x\\y.technis.io', 'host "x\\\\y.technis.io" is not a valid DNS name'],
  [
    'semicolon (a CLI command separator)',
    'x;clear map.technis.io',
    'host "x;clear map.technis.io" has whitespace, control or non-ASCII characters (use punycode)',
  ],
];

if (!missing) {
  for (const [label, host, reason] of HOSTS) {
    test(`host with ${label}: skipped, named, nothing injected`, async () => {
      const r = await syncWith([httpRouter('hostile', `Host(\`${host}\`)`)]);
      assert.equal(r.skipped, [{ cluster: 'hades', router: 'hostile@kubernetescrd', reason }]);
      assert.ok(cap.lines.includes(`info skipped: router hostile@kubernetescrd of cluster hades: ${reason}`), cap.lines.join('\n'));
      await filesAreGood();
    });
  }

  test('host with NUL: the rule is rejected as Traefik rejects it', async () => {
    const r = await syncWith([httpRouter('hostile', 'Host(`x\u0000.technis.io`)'), httpRouter('escaped', 'Host("x.technis.io\\x00")')]);
    assert.equal(r.skipped, [
      {
        cluster: 'hades',
        router: 'escaped@kubernetescrd',
        reason: 'host "x.technis.io\\u0000" has whitespace, control or non-ASCII characters (use punycode)',
      },
      { cluster: 'hades', router: 'hostile@kubernetescrd', reason: 'rule rejected: illegal character NUL at 7' },
    ]);
    await filesAreGood();
  });

  test('carriage return: dropped inside backticks as Go drops it; as an escape in double quotes, skipped', async () => {
    const r = await syncWith([httpRouter('raw', 'Host(`b.technis.io\r`)'), httpRouter('escaped', 'Host("c.technis.io\\r")')]);
    assert.equal(r.skipped, [
      {
        cluster: 'hades',
        router: 'escaped@kubernetescrd',
        reason: 'host "c.technis.io\\r" has whitespace, control or non-ASCII characters (use punycode)',
      },
    ]);
    assert.is(await readFile(w.haproxy.mapPaths.hosts, 'utf8'), 'a.technis.io hades_http_ipvANY\nb.technis.io hades_http_ipvANY\n');
  });

  test('empty host: the rule is rejected', async () => {
    const r = await syncWith([httpRouter('hostile', 'Host(``)')], [tcpRouter('hostile-tcp', '')]);
    assert.equal(r.skipped, [
      { cluster: 'hades', router: 'hostile@kubernetescrd', reason: 'rule rejected: empty value for Host at 0' },
      { cluster: 'hades', router: 'hostile-tcp@kubernetescrd', reason: 'rule rejected: empty value for HostSNI at 0' },
    ]);
    await filesAreGood();
  });

  test('upper case and a trailing dot are normalised (one entry, lower case, no dot)', async () => {
    const r = await syncWith(
      [httpRouter('upper', 'Host(`A.Technis.IO`)'), httpRouter('dot', 'Host(`a.technis.io.`)')],
      [tcpRouter('sni-upper', 'B.TECHNIS.IO.')],
    );
    assert.equal(r.skipped, []);
    await assertServes(
      w,
      version({
        hosts: { 'a.technis.io': 'hades_http_ipvANY' },
        sni: { 'a.technis.io': 'hades_https_ipvANY', 'b.technis.io': 'hades_https_ipvANY' },
      }),
    );
    await syncWith([]);
    await filesAreGood();
  });

  // rule → the exact reason it is rejected
  const RULES: [string, string, string][] = [
    ['unbalanced parentheses (open)', '((Host(`x.technis.io`)', 'rule rejected: expected ")" at 22, found end of rule'],
    ['unbalanced parentheses (close)', 'Host(`x.technis.io`))', 'rule rejected: unexpected ")" at 20'],
    ['unterminated backtick', 'Host(`x.technis.io)', 'rule rejected: unterminated string at 5'],
    ['unterminated double quote', 'Host("x.technis.io) || Host(`y.technis.io`)', 'rule rejected: unterminated string at 5'],
    ['single quotes', "Host('x.technis.io')", 'rule rejected: single quotes are not accepted at 5 (use backticks or double quotes)'],
    [
      'deep nesting (100,000 levels)',
      `${'('.repeat(100_000)}Host(\`x.technis.io\`)${')'.repeat(100_000)}`,
      'rule rejected: parentheses nested deeper than 1000 at 1000',
    ],
    ['dangling operator', 'Host(`x.technis.io`) ||', 'rule rejected: expected a matcher at 23, found end of rule'],
    ['only operators', '|| && !', 'rule rejected: expected a matcher at 0, found "||"'],
  ];
  for (const [label, rule, reason] of RULES) {
    test(`rule with ${label}: rejected, named, nothing injected`, async () => {
      const r = await syncWith([httpRouter('hostile', rule)]);
      assert.equal(r.skipped, [{ cluster: 'hades', router: 'hostile@kubernetescrd', reason }]);
      assert.ok(cap.lines.includes(`info skipped: router hostile@kubernetescrd of cluster hades: ${reason}`), cap.lines.join('\n'));
      await filesAreGood();
    });
  }

  test('10,000 "||" terms of hosts nobody exposed: parsed, each skipped by expose', async () => {
    const rule = Array.from({ length: 10_000 }, (_, i) => `Host(\`h${i}.example.com\`)`).join(' || ');
    const r = await syncWith([httpRouter('wide', rule)]);
    assert.is(r.skipped.length, 10_000);
    assert.equal(r.skipped[0], { cluster: 'hades', router: 'wide@kubernetescrd', reason: 'host h0.example.com is not allowed by expose' });
    await filesAreGood();
  });

  test('10,000 "||" terms that each try to inject: each skipped, nothing injected', async () => {
    const rule = Array.from({ length: 10_000 }, (_, i) => `Host(\`h${i}.technis.io\nh${i}.technis.io be_evil\`)`).join(' || ');
    const r = await syncWith([httpRouter('wide', rule)]);
    assert.is(r.skipped.length, 10_000);
    assert.equal(r.skipped[0], {
      cluster: 'hades',
      router: 'wide@kubernetescrd',
      reason: 'host "h0.technis.io\\nh0.technis.io be_evil" has whitespace, control or non-ASCII characters (use punycode)',
    });
    await filesAreGood();
  });

  test('10,000 "||" terms of valid exposed hosts: all applied', async () => {
    const rule = Array.from({ length: 10_000 }, (_, i) => `Host(\`h${i}.technis.io\`)`).join(' || ');
    const r = await syncWith([httpRouter('wide', rule)]);
    assert.is(r.maps.sni.length, 10_001);
    const file = await readFile(w.haproxy.mapPaths.sni, 'utf8');
    assert.is(file.split('\n').length, 10_002);
    assert.ok(r.applied);
  });

  test('999,999 "!" and a 4 MB host: parsed without recursion, rejected', async () => {
    const r = await syncWith([
      httpRouter('bangs', `${'!'.repeat(999_999)}Host(\`x.technis.io\`)`),
      httpRouter('huge', `Host(\`${'x'.repeat(4_000_000)}.technis.io\`)`),
    ]);
    assert.equal(r.skipped, [
      { cluster: 'hades', router: 'bangs@kubernetescrd', reason: 'rule matches every host (no Host matcher required)' },
      { cluster: 'hades', router: 'bangs@kubernetescrd', reason: 'negated Host(`x.technis.io`)' },
      { cluster: 'hades', router: 'huge@kubernetescrd', reason: 'host longer than 253 characters (4000011)' },
    ]);
    await filesAreGood();
  });

  test('every hostile router at once, next to the good one: one sync, all skipped, good maps', async () => {
    const routers = [
      ...HOSTS.map(([, host], i) => httpRouter(`h${i}`, `Host(\`${host}\`)`)),
      httpRouter('nul', 'Host(`x\u0000.technis.io`)'),
      httpRouter('deep', `${'('.repeat(5000)}Host(\`x.technis.io\`)`),
      httpRouter('name with\nnewline / and spaces', 'Host(`x y.technis.io`)', {
        name: 'name with\nnewline / and spaces@file',
        provider: 'file',
      }),
    ];
    const r = await syncWith(routers);
    assert.is(r.skipped.length, routers.length);
    assert.ok(r.skipped.some((s) => s.router === 'name with\nnewline / and spaces@file'));
    // a newline in a router name cannot forge a log line: the log is one line per event
    assert.ok(
      cap.lines.includes(
        'info skipped: router name with newline / and spaces@file of cluster hades: host "x y.technis.io" has whitespace, control or non-ASCII characters (use punycode)',
      ),
      cap.lines.join('\n'),
    );
    assert.not.ok(cap.lines.some((l) => l.includes('\n')));
    await filesAreGood();
  });
}

if (!missing) test.run();
