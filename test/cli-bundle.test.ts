// The built bundle as an operator runs it (`node dist/routeagent.js …`) against a real haproxy and two fake Traefik
// clusters: hades (Traefik 2.10.7, v2 rules) and illmatic (Traefik 3.7.9) that serve more routers than one page holds,
// recorded fixtures among them. Proves the sync --json contract object by object, that a dry run touches nothing, that a
// real sync routes real requests, the guard's exit code, check's ok:/problem: lines, config and usage errors (exit 2),
// a snippet haproxy -c accepts, and status before and after a sync.

import { execFile, execFileSync } from 'node:child_process';
import { lstat, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { USAGE } from '../agent/cli.js';
import { controlPathFor, holdControl } from '../agent/io/control.js';
import { createRuntime } from '../agent/io/runtime.js';
import { assertBuilt, killAll, type Ran, runBundle } from './harness/agent.js';
import { freePort, haproxyBin } from './harness/haproxy.js';
import { skipUnless } from './harness/tools.js';
import { listingFromRawdata, loadFixture } from './harness/traefik.js';
import { httpRouter, startWorld, tcpRouter, type World } from './harness/world.js';

const missing = skipUnless('routeagent bundle: sync, check, status, snippet', 'haproxy', 'openssl');
const cli = suite('routeagent bundle: sync, check, status, snippet');
let w: World;

type Maps = { hosts: Record<string, string>; sni: Record<string, string> };
type Entry = { key: string; backend: string };
const HH = 'hades_http_ipvANY';
const HS = 'hades_https_ipvANY';
const IH = 'illmatic_http_ipvANY';
const IS = 'illmatic_https_ipvANY';

// More routers than one page (the agent asks for 1000 per page): hades pages its HTTP listing, illmatic its TCP listing.
const H_GEN = 1200;
const I_GEN = 1300;
const pad = (i: number) => String(i).padStart(4, '0');
const hadesGenerated = Array.from({ length: H_GEN }, (_, i) =>
  httpRouter(`gen-h${pad(i)}`, `Host(\`h${pad(i)}.technis.io\`) && PathPrefix(\`/\`)`),
);
const illmaticGenerated = Array.from({ length: I_GEN }, (_, i) => tcpRouter(`gen-t${pad(i)}`, `t${pad(i)}.technis.io`));

// hades, Traefik 2.10.7: a recorded Ingress listing (two @internal routers, four plain-HTTP Ingress routers on `web`),
// v2-only syntax (two values in one Host, HostHeader, upper-case matcher), a pattern, an excluded host, an invalid host,
// a disabled router, a TLS passthrough TCP router.
const hadesHttp = [
  ...listingFromRawdata(loadFixture('v2.10.7/integration/testdata/rawdata-ingress.json'), 'http'),
  httpRouter('grafana', 'Host(`grafana.technis.io`)'),
  httpRouter('jellyfin', 'Host(`jellyfin.technis.io`)'),
  httpRouter('multi', 'Host(`a.technis.io`, `b.technis.io`)'),
  httpRouter('legacy', 'HostHeader(`c.technis.io`)', { tls: undefined }),
  httpRouter('upper', 'HOST(`Upper.Technis.IO.`) && PathPrefix(`/`)'),
  httpRouter('pattern', 'HostRegexp(`{sub:[a-z]+}.technis.io`)'),
  httpRouter('vault', 'Host(`keys2kingdom.technis.io`)'),
  httpRouter('bad', 'Host(`bad_host.technis.io`)'),
  httpRouter('broken', 'Host(`broken.technis.io`)', {
    status: 'disabled',
    error: ['the service "broken-svc@kubernetescrd" does not exist'],
  }),
  ...hadesGenerated,
];
const hadesTcp = [tcpRouter('git', 'git.technis.io')];
// illmatic, Traefik 3.7.9: the K3s homelab recording (api@internal, a double-quoted Ingress rule twice, a ruleSyntax v2 router
// with two hosts, || with !ClientIP, a disabled and a warning router; TCP: a HostSNI(`*`) catch-all without TLS,
// TLS terminated, TLS passthrough), plus nas.technis.io, which a static route takes over in sni.
const illmaticHttp = [...(loadFixture('k3s-homelab-http-routers.json') as unknown[]), httpRouter('nas', 'Host(`nas.technis.io`)')];
const illmaticTcp = [...(loadFixture('k3s-homelab-tcp-routers.json') as unknown[]), ...illmaticGenerated];

const patch = {
  expose: { domains: ['technis.io'], hosts: ['whoami.test'], exclude: ['keys2kingdom.technis.io'] },
  static: [{ host: 'nas.technis.io', backends: { sni: HS } }],
  pins: { 'jellyfin.technis.io': 'hades' },
  conflicts: 'sticky',
};

// What HAProxy serves before the first sync: grafana on hades (so sticky keeps it there), jellyfin on illmatic (the pin moves
// it), old.technis.io that no cluster claims any more.
const initial: Record<'hosts' | 'sni', Entry[]> = {
  hosts: [
    { key: 'grafana.technis.io', backend: HH },
    { key: 'old.technis.io', backend: HH },
  ],
  sni: [
    { key: 'grafana.technis.io', backend: HS },
    { key: 'jellyfin.technis.io', backend: IS },
    { key: 'old.technis.io', backend: HS },
  ],
};

const generated = (prefix: string, n: number, backend: string) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${pad(i)}.technis.io`, backend]));
const desiredSticky: Maps = {
  hosts: {
    'a.technis.io': HH,
    'admin.technis.io': IH,
    'b.technis.io': HH,
    'c.technis.io': HH,
    'grafana.home.technis.io': IH,
    'grafana.technis.io': HH,
    ...generated('h', H_GEN, HH),
    'jellyfin.technis.io': HH,
    'media.technis.io': IH,
    'nas.technis.io': IH,
    'upper.technis.io': HH,
    'whoami.technis.io': IH,
    'whoami.test': HH,
  },
  sni: {
    'a.technis.io': HS,
    'admin.technis.io': IS,
    'b.technis.io': HS,
    'db.technis.io': IS,
    'git.technis.io': HS,
    'grafana.home.technis.io': IS,
    'grafana.technis.io': HS,
    ...generated('h', H_GEN, HS),
    'jellyfin.technis.io': HS,
    'media.technis.io': IS,
    'mqtt.technis.io': IS,
    'nas.technis.io': HS,
    ...generated('t', I_GEN, IS),
    'upper.technis.io': HS,
    'whoami.technis.io': IS,
  },
};
const skipped = [
  { cluster: 'hades', router: 'bad@kubernetescrd', reason: 'host "bad_host.technis.io" is not a valid DNS name' },
  { cluster: 'hades', router: 'broken@kubernetescrd', reason: 'disabled by Traefik' },
  {
    cluster: 'hades',
    router: 'default-test-ingress-https-whoami-test-https-whoami@kubernetes',
    reason: 'host whoami.test.https is not allowed by expose',
  },
  {
    cluster: 'hades',
    router: 'default-whoami-drop-route-whoami-test-drop-drop@kubernetes',
    reason: 'host whoami.test.drop is not allowed by expose',
  },
  {
    cluster: 'hades',
    router: 'default-whoami-keep-route-whoami-test-keep-keep@kubernetes',
    reason: 'host whoami.test.keep is not allowed by expose',
  },
  { cluster: 'hades', router: 'pattern@kubernetescrd', reason: 'HostRegexp(`{sub:[a-z]+}.technis.io`) is a pattern' },
  { cluster: 'hades', router: 'vault@kubernetescrd', reason: 'host keys2kingdom.technis.io is not allowed by expose' },
  { cluster: 'illmatic', router: 'default-old-app-route-5e4d3c2b1a0f9e8d7c6b@kubernetescrd', reason: 'disabled by Traefik' },
  {
    cluster: 'illmatic',
    router: 'default-catchall-0f1e2d3c4b5a69788796@kubernetescrd',
    reason: 'TCP router without TLS cannot be routed by SNI',
  },
];
const conflict = (host: string, map: 'hosts' | 'sni', winner: string) => ({ host, map, claimants: ['hades', 'illmatic'], winner });
const clusters = {
  hades: { ok: true, routers: 6 + 9 + H_GEN + 1 },
  illmatic: { ok: true, routers: 7 + 1 + 3 + I_GEN },
};

const byKey = <T extends { key: string }>(xs: T[]) => xs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
/** The plan from `current` to `desired`, spelled out so the expected report reads as data. */
function planOf(current: Entry[], desired: Record<string, string>) {
  const now = new Map(current.map((e) => [e.key, e.backend]));
  return {
    add: byKey(
      Object.entries(desired)
        .filter(([k]) => !now.has(k))
        .map(([key, backend]) => ({ key, backend })),
    ),
    change: byKey(
      Object.entries(desired)
        .filter(([k, b]) => now.has(k) && now.get(k) !== b)
        .map(([key, to]) => ({ key, from: now.get(key)!, to })),
    ),
    remove: byKey(current.filter((e) => !(e.key in desired)).map((e) => ({ ...e }))),
  };
}

const sh = (cmd: string, args: string[]) =>
  new Promise<{ code: number; out: string }>((resolve) =>
    execFile(cmd, args, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    ),
  );

/** Every file under the world's folder: content, inode and mtime (a rename or rewrite with the same text still shows). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const st = await lstat(p);
      if (st.isDirectory()) await walk(p);
      else if (st.isFile()) out[p] = `${st.ino} ${st.mtimeMs} ${await readFile(p, 'utf8')}`;
      else out[p] = st.isSocket() ? 'socket' : 'other';
    }
  };
  await walk(dir);
  return out;
}

const liveMap = async (path: string) => (await createRuntime(w.haproxy.socket).showMap(path)).map((e) => `${e.key} ${e.backend}`);
const fileMap = async (path: string) => (await readFile(path, 'utf8')).split('\n').filter(Boolean);
const ra = (...args: string[]) => runBundle(args);
const lines = (s: string) => s.split('\n').filter((l) => l !== '');
const show = (r: Ran) => `exit ${r.code}\nstdout:\n${r.stdout.slice(0, 4000)}\nstderr:\n${r.stderr.slice(0, 4000)}`;
/** A config file next to the world's, from the world's config plus `over` (shallow), or raw text. */
async function variant(name: string, over: Record<string, unknown> | string): Promise<string> {
  const path = join(w.dir, name);
  await writeFile(path, typeof over === 'string' ? over : JSON.stringify({ ...w.config, ...over }, null, 2), { mode: 0o600 });
  return path;
}

cli.before(async () => {
  if (missing) return;
  assertBuilt();
  w = await startWorld({ config: patch });
  w.clusters.hades.traefik.setRouters('http', hadesHttp);
  w.clusters.hades.traefik.setRouters('tcp', hadesTcp);
  w.clusters.illmatic.traefik.setRouters('http', illmaticHttp);
  w.clusters.illmatic.traefik.setRouters('tcp', illmaticTcp);
  const runtime = createRuntime(w.haproxy.socket);
  for (const m of ['hosts', 'sni'] as const) {
    await writeFile(w.haproxy.mapPaths[m], initial[m].map((e) => `${e.key} ${e.backend}\n`).join(''));
    await runtime.replaceMap(w.haproxy.mapPaths[m], initial[m]);
  }
});
cli.after(async () => {
  await killAll();
  await w?.close();
});

if (!missing) {
  const cfg = () => ['--config', w.configPath];
  // The maps live in a tmp dir, which `check` rightly warns about (and only `check`: other verbs would repeat it at every run).
  const ramDiskWarning = () =>
    `warning: /haproxy/maps: hosts ${w.haproxy.mapPaths.hosts} and sni ${w.haproxy.mapPaths.sni} may be lost at reboot on a RAM disk; prefer /usr/local/etc/routeagent/maps`;
  const conflictWarnings = (winner: { grafana: string }) => [
    `warn conflict: grafana.technis.io (hosts) claimed by hades, illmatic; routing to ${winner.grafana}`,
    `warn conflict: grafana.technis.io (sni) claimed by hades, illmatic; routing to ${winner.grafana}`,
    'warn conflict: jellyfin.technis.io (hosts) claimed by hades, illmatic; routing to hades',
    'warn conflict: jellyfin.technis.io (sni) claimed by hades, illmatic; routing to hades',
  ];
  const skippedLines = skipped.map((s) => `info skipped: router ${s.router} of cluster ${s.cluster}: ${s.reason}`);
  const stickyReport = () => ({
    maps: desiredSticky,
    plan: { hosts: planOf(initial.hosts, desiredSticky.hosts), sni: planOf(initial.sni, desiredSticky.sni) },
    conflicts: [
      conflict('grafana.technis.io', 'hosts', 'hades'),
      conflict('grafana.technis.io', 'sni', 'hades'),
      conflict('jellyfin.technis.io', 'hosts', 'hades'),
      conflict('jellyfin.technis.io', 'sni', 'hades'),
    ],
    skipped,
    clusters,
    failovers: [],
  });

  cli('status before any sync: exit 1, says why', async () => {
    const r = await ra('status', ...cfg());
    assert.is(r.code, 1, show(r));
    assert.is(r.stdout, '');
    assert.equal(lines(r.stderr), [`routeagent: no status at ${w.statusFile} (no sync has run yet, or the daemon cannot write there)`]);
  });

  cli('sync --dry-run --json: the complete report, each cluster read once, nothing on disk or live changed', async () => {
    const disk = await snapshot(w.dir);
    const before = { hosts: await liveMap(w.haproxy.mapPaths.hosts), sni: await liveMap(w.haproxy.mapPaths.sni) };
    const hits = { hades: w.clusters.hades.traefik.requests.length, illmatic: w.clusters.illmatic.traefik.requests.length };
    const r = await ra('sync', '--dry-run', '--json', ...cfg());
    assert.is(r.code, 0, show(r));
    assert.equal(JSON.parse(r.stdout), { ...stickyReport(), applied: false });
    assert.equal(lines(r.stderr), conflictWarnings({ grafana: 'hades' }));
    // One consistent read per cluster, however many routers (more than 1,000 here): its version, then /api/rawdata.
    assert.equal(w.clusters.hades.traefik.requests.slice(hits.hades), ['/api/version', '/api/rawdata']);
    assert.equal(w.clusters.illmatic.traefik.requests.slice(hits.illmatic), ['/api/version', '/api/rawdata']);
    assert.equal(await snapshot(w.dir), disk);
    assert.equal({ hosts: await liveMap(w.haproxy.mapPaths.hosts), sni: await liveMap(w.haproxy.mapPaths.sni) }, before);
  });

  cli('sync --dry-run --json with conflicts "priority": the higher priority wins, the pin still holds', async () => {
    const path = await variant('priority.json', { conflicts: 'priority' });
    const disk = await snapshot(w.dir);
    const r = await ra('sync', '--dry-run', '--json', '--config', path);
    assert.is(r.code, 0, show(r));
    const maps: Maps = {
      hosts: { ...desiredSticky.hosts, 'grafana.technis.io': IH },
      sni: { ...desiredSticky.sni, 'grafana.technis.io': IS },
    };
    assert.equal(JSON.parse(r.stdout), {
      ...stickyReport(),
      maps,
      plan: { hosts: planOf(initial.hosts, maps.hosts), sni: planOf(initial.sni, maps.sni) },
      conflicts: [
        conflict('grafana.technis.io', 'hosts', 'illmatic'),
        conflict('grafana.technis.io', 'sni', 'illmatic'),
        conflict('jellyfin.technis.io', 'hosts', 'hades'),
        conflict('jellyfin.technis.io', 'sni', 'hades'),
      ],
      applied: false,
    });
    assert.equal(JSON.parse(r.stdout).plan.sni.change, [
      { key: 'grafana.technis.io', from: HS, to: IS },
      { key: 'jellyfin.technis.io', from: IS, to: HS },
    ]);
    assert.equal(await snapshot(w.dir), disk);
  });

  /** The human plan text for the sticky state, ending with `last`. */
  const humanPlan = (last: string) => {
    const p = stickyReport().plan;
    const n = (m: 'hosts' | 'sni') => Object.keys(desiredSticky[m]).length;
    return [
      'cluster hades: 1216 routers',
      'cluster illmatic: 1311 routers',
      `hosts: +${p.hosts.add.length} ~0 -1 (${n('hosts')} entries)`,
      ...p.hosts.add.map((e) => `  + ${e.key} ${e.backend}`),
      `  - old.technis.io ${HH}`,
      `sni: +${p.sni.add.length} ~1 -1 (${n('sni')} entries)`,
      ...p.sni.add.map((e) => `  + ${e.key} ${e.backend}`),
      `  ~ jellyfin.technis.io ${IS} -> ${HS}`,
      `  - old.technis.io ${HS}`,
      'conflict: grafana.technis.io (hosts) claimed by hades, illmatic; routed to hades',
      'conflict: grafana.technis.io (sni) claimed by hades, illmatic; routed to hades',
      'conflict: jellyfin.technis.io (hosts) claimed by hades, illmatic; routed to hades',
      'conflict: jellyfin.technis.io (sni) claimed by hades, illmatic; routed to hades',
      'skipped: 9 routers (see --json for each one and why)',
      last,
    ];
  };

  cli('sync --dry-run (human): every change, conflicts, skipped count; nothing changed', async () => {
    const disk = await snapshot(w.dir);
    const r = await ra('sync', '--dry-run', ...cfg());
    assert.is(r.code, 0, show(r));
    assert.equal(lines(r.stdout), humanPlan('dry run: nothing changed'));
    assert.equal(lines(r.stderr), [...conflictWarnings({ grafana: 'hades' }), ...skippedLines]);
    assert.equal(await snapshot(w.dir), disk);
  });

  cli('sync: applies live (exit 0); real requests follow the maps; files equal HAProxy', async () => {
    const pid = w.haproxy.pid();
    const r = await ra('sync', ...cfg());
    assert.is(r.code, 0, show(r));
    assert.equal(lines(r.stdout), humanPlan('applied by runtime'));
    const err = lines(r.stderr);
    assert.equal(err.slice(0, 4 + 9), [...conflictWarnings({ grafana: 'hades' }), ...skippedLines]);
    assert.match(
      err[13]!,
      new RegExp(`^info haproxy: map hosts applied @\\d+: ${Object.keys(desiredSticky.hosts).length} entries in \\d+ chunks, \\d+ ms$`),
    );
    assert.match(
      err[14]!,
      new RegExp(`^info haproxy: map sni applied @\\d+: ${Object.keys(desiredSticky.sni).length} entries in \\d+ chunks, \\d+ ms$`),
    );
    const p = stickyReport().plan;
    assert.match(
      err[15]!,
      new RegExp(`^info sync: hosts \\+${p.hosts.add.length} ~0 -1, sni \\+${p.sni.add.length} ~1 -1; applied by runtime in \\d+ ms$`),
    );
    assert.is(err.length, 16, err.join('\n'));

    assert.is(await w.viaSni('grafana.technis.io'), 'hades'); // sticky
    assert.is(await w.viaSni('jellyfin.technis.io'), 'hades'); // pinned
    assert.is(await w.viaSni('nas.technis.io'), 'hades'); // static wins over illmatic
    assert.is(await w.viaHttp('nas.technis.io'), 'illmatic'); // no static hosts backend: the cluster's route
    assert.is(await w.viaSni('grafana.home.technis.io'), 'illmatic'); // ruleSyntax v2 on a v3 cluster
    assert.is(await w.viaSni('whoami.technis.io'), 'illmatic'); // double-quoted Ingress rule
    assert.is(await w.viaHttp('whoami.technis.io'), 'illmatic');
    assert.is(await w.viaSni('admin.technis.io'), 'illmatic'); // a warning router counts
    assert.is(await w.viaSni('b.technis.io'), 'hades'); // v2 Host with two values
    assert.is(await w.viaHttp('c.technis.io'), 'hades'); // HostHeader, plain HTTP
    assert.is(await w.viaSni('c.technis.io'), null);
    assert.is(await w.viaSni('upper.technis.io'), 'hades');
    assert.is(await w.viaHttp('whoami.test'), 'hades'); // allowed by expose.hosts
    assert.is(await w.viaSni('git.technis.io'), 'hades');
    assert.is(await w.viaSni('mqtt.technis.io'), 'illmatic');
    assert.is(await w.viaSni('db.technis.io'), 'illmatic');
    assert.is(await w.viaSni('h1199.technis.io'), 'hades'); // second page of hades
    assert.is(await w.viaSni('t1299.technis.io'), 'illmatic'); // second page of illmatic
    assert.is(await w.viaSni('keys2kingdom.technis.io'), null); // excluded
    assert.is(await w.viaSni('old.technis.io'), null); // removed
    assert.is(await w.viaSni('broken.technis.io'), null); // disabled
    assert.is(await w.viaHttp('old.technis.io'), 'status 503');
    for (const m of ['hosts', 'sni'] as const) assert.equal(await liveMap(w.haproxy.mapPaths[m]), await fileMap(w.haproxy.mapPaths[m]));
    assert.is(w.haproxy.pid(), pid, 'applied without a reload');
  });

  cli('status after a good sync: exit 0 and a summary; --json is the status file', async () => {
    const file = await readFile(w.statusFile, 'utf8');
    const s = JSON.parse(file);
    const r = await ra('status', ...cfg());
    assert.is(r.code, 0, show(r));
    assert.equal(lines(r.stdout), [
      `healthy: last sync ${s.at} ok (applied by runtime), ${s.durationMs} ms`,
      'maps: HAProxy serves hosts 1212 entries, sni 2513 entries; 4 conflicts, 9 routers skipped',
      'cluster hades: ok, 1216 routers',
      'cluster illmatic: ok, 1311 routers',
      'conflict: grafana.technis.io (hosts) claimed by hades, illmatic; routed to hades',
      'conflict: grafana.technis.io (sni) claimed by hades, illmatic; routed to hades',
      'conflict: jellyfin.technis.io (hosts) claimed by hades, illmatic; routed to hades',
      'conflict: jellyfin.technis.io (sni) claimed by hades, illmatic; routed to hades',
    ]);
    assert.equal(lines(r.stderr), []);
    const j = await ra('status', '--json', ...cfg());
    assert.is(j.code, 0, show(j));
    assert.is(j.stdout, file);
    assert.equal(s.entries, { hosts: 1212, sni: 2513 });
    assert.equal(s.guard, { held: false, reasons: [] });
    assert.is(s.outcome, 'ok');
  });

  cli('sync --json (real): a moved TCP router is applied, the whole report printed, routing follows', async () => {
    w.clusters.hades.traefik.setRouters('tcp', []);
    w.clusters.illmatic.traefik.setRouters('tcp', [...illmaticTcp, tcpRouter('git', 'git.technis.io')]);
    const r = await ra('sync', '--json', ...cfg());
    assert.is(r.code, 0, show(r));
    const maps: Maps = { hosts: desiredSticky.hosts, sni: { ...desiredSticky.sni, 'git.technis.io': IS } };
    assert.equal(JSON.parse(r.stdout), {
      ...stickyReport(),
      maps,
      plan: {
        hosts: { add: [], change: [], remove: [] },
        sni: { add: [], change: [{ key: 'git.technis.io', from: HS, to: IS }], remove: [] },
      },
      clusters: { hades: { ok: true, routers: 1215 }, illmatic: { ok: true, routers: 1312 } },
      applied: true,
    });
    assert.is(await w.viaSni('git.technis.io'), 'illmatic');
    assert.equal(await liveMap(w.haproxy.mapPaths.sni), await fileMap(w.haproxy.mapPaths.sni));
  });

  cli('a guarded sync exits 1, applies nothing, and status says why', async () => {
    w.clusters.illmatic.traefik.setRouters('tcp', illmaticTcp.slice(0, 3)); // 1300 generated TCP routers vanish
    const files = { hosts: await fileMap(w.haproxy.mapPaths.hosts), sni: await fileMap(w.haproxy.mapPaths.sni) };
    const r = await ra('sync', '--json', ...cfg());
    assert.is(r.code, 1, show(r));
    const report = JSON.parse(r.stdout);
    assert.is(report.applied, false);
    assert.equal(report.held, ['sni: plan removes 1301 of 2513 entries (more than 50%)']);
    assert.equal(report.plan.sni.remove.length, 1301);
    assert.ok(
      lines(r.stderr).includes(
        'warn guard: sni: plan removes 1301 of 2513 entries (more than 50%); not applied, live maps unchanged (run "routeagent sync --force" if this is intended)',
      ),
      r.stderr,
    );
    assert.equal({ hosts: await fileMap(w.haproxy.mapPaths.hosts), sni: await fileMap(w.haproxy.mapPaths.sni) }, files);
    assert.is(await w.viaSni('t0042.technis.io'), 'illmatic');
    const h = await ra('sync', ...cfg());
    assert.is(h.code, 1, show(h));
    assert.equal(lines(h.stdout).slice(-2), [
      'held by the guard: sni: plan removes 1301 of 2513 entries (more than 50%); run with --force to apply',
      'nothing applied; live maps unchanged',
    ]);
    const s = await ra('status', ...cfg());
    assert.is(s.code, 1, show(s));
    assert.equal(lines(s.stdout).slice(-1), ['problem: guard holding: sni: plan removes 1301 of 2513 entries (more than 50%)']);
    assert.match(lines(s.stdout)[0]!, /^unhealthy: last sync \S+ held, \d+ ms$/);
    w.clusters.illmatic.traefik.setRouters('tcp', [...illmaticTcp, tcpRouter('git', 'git.technis.io')]);
    const back = await ra('sync', ...cfg());
    assert.is(back.code, 0, show(back));
    assert.equal(lines(back.stdout).slice(-1), ['up to date']);
  });

  const haproxyVersion = () => /^HAProxy version (\S+)/.exec(execFileSync(haproxyBin(), ['-v'], { encoding: 'utf8' }))![1]!;
  const okCluster = (name: 'hades' | 'illmatic', http: number, tcp: number) => {
    const [version, syntax] = name === 'hades' ? ['2.10.7', 'v2'] : ['3.7.9', 'v3'];
    return `ok: cluster ${name}: ${w.clusters[name].traefik.url} answered (Traefik ${version}), ${http} HTTP routers and ${tcp} TCP routers, rules read as ${syntax}`;
  };

  cli('check on a healthy world: exit 0, one ok: line per thing, in config order', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await ra('check', ...cfg());
      assert.is(r.code, 0, show(r));
      assert.equal(lines(r.stdout), [
        `ok: config ${w.configPath}: valid, 2 clusters, 1 static route`,
        ramDiskWarning(),
        okCluster('hades', 1215, 0),
        okCluster('illmatic', 8, 1304),
        `ok: haproxy -c ${w.haproxy.cfgPath}: valid`,
        `ok: haproxy socket ${w.haproxy.socket}: HAProxy ${haproxyVersion()} (pid ${w.haproxy.pid()}), live map updates supported`,
        'ok: 5 backends exist with the right mode',
      ]);
      assert.equal(lines(r.stderr), []);
    }
  });

  cli('check: a missing backend, a wrong mode, a map not loaded, an unreachable cluster: exit 1, one problem: line each', async () => {
    const closed = await freePort();
    const other = join(w.dir, 'maps', 'other-hosts.map');
    const base = w.config as { clusters: Record<string, unknown>[]; haproxy: Record<string, unknown> };
    const path = await variant('broken-world.json', {
      clusters: [
        { ...base.clusters[0], backends: { sni: 'hades_tls_ipvANY', hosts: HH } },
        { ...base.clusters[1], api: `http://127.0.0.1:${closed}/api` },
      ],
      static: [{ host: 'nas.technis.io', backends: { sni: IH } }],
      haproxy: { ...base.haproxy, maps: { hosts: other, sni: w.haproxy.mapPaths.sni } },
    });
    const r = await ra('check', '--config', path);
    assert.is(r.code, 1, show(r));
    assert.equal(lines(r.stdout), [
      `ok: config ${path}: valid, 2 clusters, 1 static route`,
      `warning: /haproxy/maps: hosts ${other} and sni ${w.haproxy.mapPaths.sni} may be lost at reboot on a RAM disk; prefer /usr/local/etc/routeagent/maps`,
      okCluster('hades', 1215, 0),
      `ok: haproxy -c ${w.haproxy.cfgPath}: valid`,
      `ok: haproxy socket ${w.haproxy.socket}: HAProxy ${haproxyVersion()} (pid ${w.haproxy.pid()}), live map updates supported`,
    ]);
    assert.equal(lines(r.stderr), [
      `problem: traefik[illmatic]: GET http://127.0.0.1:${closed}/api/version: connection refused`,
      `problem: haproxy config ${w.haproxy.cfgPath} does not load the hosts map ${other}: paste the output of "routeagent snippet" into the frontend and Apply`,
      `problem: running HAProxy has not loaded ${other}: Apply the pfSense config (or reload HAProxy) after adding the snippet`,
      'problem: cluster hades sni: backend "hades_tls_ipvANY" does not exist in HAProxy (pfSense names it <name>_ipvANY, and writes it only when a frontend uses it)',
      'problem: static nas.technis.io sni: backend "illmatic_http_ipvANY" is mode http, needs mode tcp',
    ]);
  });

  const invalid = {
    clusters: [{ name: 'hades', api: 'ftp://10.0.10.10/api', backends: { sni: HS } }],
    expose: { domains: ['technis.io'] },
    conflicts: 'newest',
    guard: { maxRemovalRatio: 2 },
    intervalSec: 15,
  };
  const invalidLines = [
    '/: unknown property "intervalSec"',
    '/clusters/0/api: must match pattern "^https?://"',
    '/conflicts: must be one of "sticky", "priority"',
    '/guard/maxRemovalRatio: must be <= 1',
  ];

  cli('check on an invalid config: every problem as path: message, exit 2', async () => {
    const path = await variant('invalid.json', JSON.stringify(invalid));
    const r = await ra('check', '--config', path);
    assert.is(r.code, 2, show(r));
    assert.is(r.stdout, '');
    assert.equal(lines(r.stderr), [...invalidLines, `routeagent: config ${path} is invalid (4 problems); nothing done`]);

    const cross = await variant('cross.json', {
      clusters: [(w.config as { clusters: unknown[] }).clusters[0], (w.config as { clusters: unknown[] }).clusters[0]],
      pins: { 'grafana.technis.io': 'nowhere' },
      schedule: 'every minute',
    });
    const c = await ra('check', '--config', cross);
    assert.is(c.code, 2, show(c));
    assert.equal(lines(c.stderr), [
      '/clusters/1/name: duplicate cluster name "hades" (also /clusters/0)',
      '/pins/grafana.technis.io: unknown cluster "nowhere"',
      '/schedule: "every minute" is not a valid cron expression',
      `routeagent: config ${cross} is invalid (3 problems); nothing done`,
    ]);

    const half = await variant('half.json', JSON.stringify(w.config).slice(0, 80));
    const h = await ra('check', '--config', half);
    assert.is(h.code, 2, show(h));
    assert.match(lines(h.stderr)[0]!, new RegExp(`^${half.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON \\(.+\\)$`));
    assert.is(lines(h.stderr)[1], `routeagent: config ${half} is invalid (1 problem); nothing done`);
  });

  cli('every other verb with an invalid or unreadable config exits 2 and does nothing', async () => {
    const path = join(w.dir, 'invalid.json');
    const disk = await snapshot(w.dir);
    for (const args of [['sync'], ['sync', '--dry-run', '--json'], ['sync', '--force'], ['status'], ['status', '--json'], ['snippet']]) {
      const r = await ra(...args, '--config', path);
      assert.is(r.code, 2, `${args.join(' ')}: ${show(r)}`);
      assert.is(r.stdout, '', args.join(' '));
      assert.equal(lines(r.stderr), [...invalidLines, `routeagent: config ${path} is invalid (4 problems); nothing done`], args.join(' '));
    }
    const run = await ra('run', '--config', path);
    assert.is(run.code, 2, show(run));
    assert.equal(lines(run.stderr), [
      ...invalidLines.map((l) => `error config ${path}: ${l}`),
      `error daemon: not started: config ${path} is invalid (4 problems)`,
    ]);
    const gone = join(w.dir, 'no-such-config.json');
    const u = await ra('sync', '--config', gone);
    assert.is(u.code, 2, show(u));
    assert.equal(lines(u.stderr), [
      `${gone}: no such file; check the path given to --config (rc.d/install.sh writes a sample config to /usr/local/etc/routeagent/config.json)`,
      `routeagent: config ${gone} does not exist; nothing done`,
    ]);
    assert.equal(await snapshot(w.dir), disk);
  });

  cli('a control socket that cannot be created: one line naming it, exit 1, not an internal error', async () => {
    const base = w.config as { haproxy: Record<string, unknown> };
    const under = join(w.configPath, 'maps'); // a folder inside a file
    const path = await variant('unlockable.json', {
      haproxy: { ...base.haproxy, maps: { hosts: join(under, 'hosts.map'), sni: join(under, 'sni.map') } },
    });
    const r = await ra('sync', '--config', path);
    assert.is(r.code, 1, show(r));
    assert.is(r.stdout, '');
    assert.equal(lines(r.stderr).slice(-1), [`routeagent: control socket ${join(under, '.routeagent.sock')}: cannot create (ENOTDIR)`]);
  });

  cli('a daemon of another version whose sync report this one cannot read: the error names both versions and the fix', async () => {
    const path = controlPathFor(w.haproxy.mapPaths.hosts);
    const held = await holdControl(path, { pid: process.pid, role: 'daemon', version: '0.9.0' });
    assert.is(held.kind, 'held');
    if (held.kind !== 'held') return;
    // routeagent 0.9.0 sent each desired map as key → backend, not as the entry list this version reads
    const none = { add: [], change: [], remove: [] };
    held.control.serve({ sync: async () => ({ maps: { hosts: {}, sni: {} }, plan: { hosts: none, sni: none }, clusters: {} }) });
    try {
      const r = await ra('sync', '--config', w.configPath);
      assert.is(r.code, 1, show(r));
      assert.is(r.stdout, '');
      const version = (await ra('--version')).stdout.trim().replace('routeagent ', '');
      assert.equal(lines(r.stderr), [
        `routeagent: the daemon (pid ${process.pid}) drives these maps; asked it to sync`,
        `routeagent: control socket ${path}: the daemon (pid ${process.pid}) runs routeagent 0.9.0, whose report this ${version} cannot read; the daemon did sync (see its log); restart it ("service routeagent restart") to run this version`,
      ]);
    } finally {
      await held.control.release();
    }
  });

  cli('a map folder too deep for a unix socket path: sync and run name the path and exit 1, nothing created', async () => {
    const base = w.config as { haproxy: Record<string, unknown> };
    const deep = join(w.dir, 'm'.repeat(110));
    const path = await variant('deep.json', {
      haproxy: { ...base.haproxy, maps: { hosts: join(deep, 'hosts.map'), sni: join(deep, 'sni.map') } },
    });
    const sock = join(deep, '.routeagent.sock');
    const why = `control socket ${sock}: path is ${Buffer.byteLength(sock)} bytes, more than the 103 a unix socket allows (FreeBSD); move the maps to a shorter folder`;
    const r = await ra('sync', '--config', path);
    assert.is(r.code, 1, show(r));
    assert.is(r.stdout, '');
    assert.equal(lines(r.stderr).slice(-1), [`routeagent: ${why}`]);
    const run = await ra('run', '--config', path);
    assert.is(run.code, 1, show(run));
    assert.equal(lines(run.stderr).slice(-1), [`error ${why}`]);
    assert.ok(
      await lstat(deep).then(
        () => false,
        () => true,
      ),
      'the folder was not created',
    );
  });

  cli('usage errors exit 2 with the reason and the usage line', async () => {
    const rows: [string[], string][] = [
      [[], 'missing command'],
      [['deploy'], 'unknown command "deploy"'],
      [['sync', 'now'], 'unexpected argument "now"'],
      [['check', '--json'], 'check does not take --json'],
      [['status', '--force'], 'status does not take --force'],
      [['sync', '--bogus'], "Unknown option '--bogus'"],
      [['sync', '--config'], "Option '-c, --config <value>' argument missing"],
      [['sync', '--config='], '--config needs a file path'],
    ];
    for (const [args, reason] of rows) {
      const r = await ra(...args);
      assert.is(r.code, 2, `${args.join(' ')}: ${show(r)}`);
      assert.is(r.stdout, '');
      assert.is(r.stderr, `routeagent: ${reason}\n${USAGE}\n`, args.join(' '));
    }
    const help = await ra('--help');
    assert.is(help.code, 0);
    assert.is(lines(help.stdout)[0], USAGE);
  });

  cli('snippet: guarded lines with the configured map paths, accepted by haproxy -c in a tcp and an http frontend', async () => {
    const r = await ra('snippet', ...cfg());
    assert.is(r.code, 0, show(r));
    const paths = [...r.stdout.matchAll(/map\(([^)]*)\)/g)].map((m) => m[1]);
    assert.equal([...new Set(paths)].sort(), [w.haproxy.mapPaths.hosts, w.haproxy.mapPaths.sni].sort());
    for (const l of lines(r.stdout).filter((l) => l.startsWith('use_backend')))
      assert.match(l, /^use_backend %\[(.+)\] if \{ \1 -m found \}$/);
    const [tcpPart, httpPart] = r.stdout.split('\n\n');
    assert.ok(tcpPart && httpPart, r.stdout);
    const indent = (s: string) =>
      lines(s)
        .map((l) => `    ${l}`)
        .join('\n');
    const cfgPath = join(w.dir, 'snippet-check.cfg');
    await writeFile(
      cfgPath,
      `global\n    log stdout format raw local0\n\ndefaults\n    log global\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\n` +
        `frontend fe_https\n    mode tcp\n    bind 127.0.0.1:8443\n${indent(tcpPart)}\n    default_backend be_tls\n\n` +
        `frontend fe_http\n    mode http\n    bind 127.0.0.1:8080\n${indent(httpPart)}\n    default_backend be_http\n\n` +
        `backend be_tls\n    mode tcp\n\nbackend be_http\n    mode http\n\n` +
        `backend ${HS}\n    mode tcp\n\nbackend ${HH}\n    mode http\n`,
    );
    const c = await sh(haproxyBin(), ['-c', '-f', cfgPath]);
    assert.is(c.code, 0, c.out);
    assert.not.match(c.out, /\[(WARNING|ALERT)\]/);
  });
}
if (!missing) cli.run();
