// `routeagent snippet --target pfsense|opnsense|haproxy`. The pfSense text is today's, byte for byte (operators compare it
// with what they pasted). The OPNsense lines are proven in a config shaped as the os-haproxy plugin's template writes it
// (GUI ACLs and use_backend rules first, then "# WARNING: pass through options below this line" and our lines): `haproxy -c`
// accepts it with only the two ordering warnings the README names, a real `routeagent sync` applies live to it, and real
// requests show routeagent's hosts routed while the GUI rules keep the hosts they name.

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { USAGE } from '../agent/cli.js';
import { renderSnippet, SNIPPET_TARGETS } from '../agent/core/snippet.js';
import { assertBuilt, killAll, runBundle } from './harness/agent.js';
import { checkHaproxyConfig, freePort, haproxyBin, haproxyWarnings, type Running, runHaproxyConfig } from './harness/haproxy.js';
import { skipUnless } from './harness/tools.js';
import { type FakeTraefik, startTraefik } from './harness/traefik.js';
import { httpGet, startHttpUpstream, startTlsUpstream, tlsName, type Upstream } from './harness/upstream.js';
import { app, httpRouter } from './harness/world.js';

const maps = { hosts: '/usr/local/etc/routeagent/maps/hosts.map', sni: '/usr/local/etc/routeagent/maps/sni.map' };

const render = suite('renderSnippet');

render('pfsense is the default and prints the Advanced pass thru lines unchanged', () => {
  const want = [
    '# --- :443 frontend (type: SSL/HTTPS (TCP mode), SSL passthrough) -> Advanced pass thru ---',
    'tcp-request inspect-delay 5s',
    'tcp-request content accept if { req.ssl_hello_type 1 }',
    'use_backend %[req.ssl_sni,lower,map(/usr/local/etc/routeagent/maps/sni.map)] if { req.ssl_sni,lower,map(/usr/local/etc/routeagent/maps/sni.map) -m found }',
    '',
    '# --- :80 frontend (type: HTTP / HTTPS (offloading)) -> Advanced pass thru ---',
    '# ACME HTTP-01 goes to the cluster that serves the host; TLS hosts are redirected to https; plain-HTTP hosts go to their cluster.',
    'acl routeagent_acme path_beg /.well-known/acme-challenge/',
    'http-request redirect scheme https code 301 if !routeagent_acme { req.hdr(host),field(1,:),lower,map(/usr/local/etc/routeagent/maps/sni.map) -m found }',
    'use_backend %[req.hdr(host),field(1,:),lower,map(/usr/local/etc/routeagent/maps/hosts.map)] if { req.hdr(host),field(1,:),lower,map(/usr/local/etc/routeagent/maps/hosts.map) -m found }',
    '',
  ].join('\n');
  assert.is(renderSnippet(maps), want);
  assert.is(renderSnippet(maps, 'pfsense'), want);
});

render('every target: each dynamic use_backend is guarded and uses the configured map paths', () => {
  for (const target of SNIPPET_TARGETS) {
    const text = renderSnippet(maps, target);
    const uses = text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('use_backend'));
    assert.is(uses.length, 2, target);
    for (const l of uses) assert.match(l, /^use_backend %\[(.+)\] if \{ \1 -m found \}$/, target);
    assert.equal([...new Set([...text.matchAll(/map\(([^)]*)\)/g)].map((m) => m[1]))].sort(), [maps.hosts, maps.sni], target);
  }
});

render('haproxy prints both frontends whole, binding :443 (mode tcp) and :80 (mode http)', () => {
  const text = renderSnippet(maps, 'haproxy');
  const frontends = text.split('\n').filter((l) => /^\S/.test(l) && !l.startsWith('#'));
  assert.equal(frontends, ['frontend https_in', 'frontend http_in']);
  assert.ok(text.includes('frontend https_in\n    bind :443\n    mode tcp\n    tcp-request inspect-delay 5s\n'), text);
  assert.ok(text.includes('frontend http_in\n    bind :80\n    mode http\n    acl routeagent_acme '), text);
});

render.run();

const bundle = suite('routeagent snippet --target (the bundle)');
let dir = '';

bundle.before(async () => {
  assertBuilt();
  dir = await mkdtemp(join(tmpdir(), 'routeagent-snippet-'));
});
bundle.after(async () => {
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

bundle('prints each target with the map paths of the config; an unknown target is a usage error naming the valid ones', async () => {
  const configPath = join(dir, 'config.json');
  const own = { hosts: join(dir, 'maps', 'hosts.map'), sni: join(dir, 'maps', 'sni.map') };
  await writeFile(
    configPath,
    JSON.stringify(
      routeagentConfig({ api: 'http://127.0.0.1:9/api', cfg: join(dir, 'haproxy.cfg'), socket: join(dir, 'admin.sock'), maps: own }),
    ),
    { mode: 0o600 },
  );
  for (const target of SNIPPET_TARGETS) {
    const r = await runBundle(['snippet', '--target', target, '--config', configPath]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout, renderSnippet(own, target));
  }
  const bad = await runBundle(['snippet', '--target', 'ipfire', '--config', configPath]);
  assert.is(bad.code, 2);
  assert.is(bad.stdout, '');
  assert.is(bad.stderr, `routeagent: unknown target "ipfire" (valid: pfsense, opnsense, haproxy)\n${USAGE}\n`);
});

bundle.run();

// --- OPNsense ---------------------------------------------------------------------------------------------------------

type Ctx = {
  dir: string;
  cfgPath: string;
  configPath: string;
  socket: string;
  ports: { https: number; http: number };
  own: { hosts: string; sni: string };
  traefik: FakeTraefik;
  upstreams: Upstream[];
  up: Record<'clusterTls' | 'clusterHttp' | 'guiTls' | 'guiHttp', Upstream>;
  haproxy?: Running;
};

if (!skipUnless('snippet --target opnsense in an os-haproxy shaped config', 'haproxy', 'openssl')) {
  const opn = suite('snippet --target opnsense in an os-haproxy shaped config');
  const ctx = {} as Ctx;

  opn.before(async () => {
    assertBuilt();
    ctx.dir = await mkdtemp(join(tmpdir(), 'routeagent-opnsense-'));
    ctx.cfgPath = join(ctx.dir, 'haproxy.conf');
    ctx.configPath = join(ctx.dir, 'config.json');
    ctx.socket = join(ctx.dir, 'haproxy.socket');
    ctx.own = { hosts: join(ctx.dir, 'maps', 'hosts.map'), sni: join(ctx.dir, 'maps', 'sni.map') };
    ctx.ports = { https: await freePort(), http: await freePort() };
    ctx.up = {
      clusterTls: await startTlsUpstream('hades'),
      clusterHttp: await startHttpUpstream('hades'),
      guiTls: await startTlsUpstream('gui'),
      guiHttp: await startHttpUpstream('gui'),
    };
    ctx.upstreams = Object.values(ctx.up);
    // grafana (TLS) and blog (plain HTTP) are routeagent's alone; the cluster also claims nas (TLS) and legacy (plain
    // HTTP), which GUI rules on the router already route to the NAS.
    ctx.traefik = await startTraefik({
      version: '3.7.9',
      http: [
        app('grafana.technis.io'),
        app('nas.technis.io'),
        httpRouter('blog', 'Host(`blog.technis.io`)', { tls: undefined }),
        httpRouter('legacy', 'Host(`legacy.technis.io`)', { tls: undefined }),
      ],
    });
    await mkdir(join(ctx.dir, 'maps'));
    for (const m of ['hosts', 'sni'] as const) await writeFile(ctx.own[m], '');
    await writeFile(
      ctx.configPath,
      JSON.stringify(routeagentConfig({ api: ctx.traefik.url, cfg: ctx.cfgPath, socket: ctx.socket, maps: ctx.own })),
      { mode: 0o600 },
    );
  });

  opn.after(async () => {
    await ctx.haproxy?.stop();
    await killAll();
    await ctx.traefik?.close();
    for (const u of ctx.upstreams ?? []) await u.close();
    await rm(ctx.dir, { recursive: true, force: true });
  });

  opn('haproxy -c accepts the plugin-shaped config with our pass-through lines, warning only about rule order', async () => {
    const r = await runBundle(['snippet', '--target', 'opnsense', '--config', ctx.configPath]);
    assert.is(r.code, 0, r.stderr);
    const [tls, http] = r.stdout.split('\n\n');
    assert.ok(tls && http, r.stdout);
    const text = opnsenseConfig(ctx, tls, http);
    await writeFile(ctx.cfgPath, text);
    const c = await checkHaproxyConfig(ctx.cfgPath);
    assert.is(c.code, 0, c.out);
    const lineOf = (start: string) => text.split('\n').findIndex((l) => l.trim().startsWith(start)) + 1;
    assert.equal(haproxyWarnings(c.out), [
      `config : parsing [${ctx.cfgPath}:${lineOf('tcp-request content accept')}] : a 'tcp-request' rule placed after a 'use_backend' rule will still be processed before.`,
      `config : parsing [${ctx.cfgPath}:${lineOf('http-request redirect')}] : a 'http-request' rule placed after a 'use_backend' rule will still be processed before.`,
    ]);
  });

  opn('routeagent syncs live into it; its hosts route, GUI rules keep theirs; check is clean', async () => {
    ctx.haproxy = await runHaproxyConfig(ctx.cfgPath, ctx.socket);
    try {
      const s = await runBundle(['sync', '--config', ctx.configPath]);
      assert.is(s.code, 0, `${s.stdout}\n${s.stderr}`);
      // routeagent maps every host its cluster claims, nas and legacy included ...
      assert.is(await readFile(ctx.own.sni, 'utf8'), 'grafana.technis.io hades_tls\nnas.technis.io hades_tls\n');
      assert.is(
        await readFile(ctx.own.hosts, 'utf8'),
        'blog.technis.io hades_web\ngrafana.technis.io hades_web\nlegacy.technis.io hades_web\nnas.technis.io hades_web\n',
      );
      // ... and HAProxy serves them live (no reload: the same process answers)
      const pid = ctx.haproxy.pid();
      assert.is(await tlsName(ctx.ports.https, 'grafana.technis.io'), 'hades');
      assert.is(await httpGet(ctx.ports.http, 'blog.technis.io'), 'hades');
      // the GUI rules come first and win for the hosts they name
      assert.is(await tlsName(ctx.ports.https, 'nas.technis.io'), 'gui');
      assert.is(await httpGet(ctx.ports.http, 'legacy.technis.io'), 'gui');
      // a TLS host on :80 is redirected even where a GUI rule names it: http-request rules run before any use_backend
      assert.is(await httpGet(ctx.ports.http, 'nas.technis.io'), 'status 301');
      // hosts nobody knows go to the frontends' GUI default backends
      assert.is(await tlsName(ctx.ports.https, 'other.example.org'), 'gui');
      assert.is(await httpGet(ctx.ports.http, 'other.example.org'), 'gui');
      assert.is(ctx.haproxy.pid(), pid);
      // check agrees: cluster reached, haproxy -c valid, socket live, the GUI-named backends exist with the right mode
      const check = await runBundle(['check', '--config', ctx.configPath]);
      assert.is(check.code, 0, `${check.stdout}\n${check.stderr}`);
      assert.not.match(check.stderr, /problem:/);
    } catch (e) {
      console.error(`--- haproxy log ---\n${ctx.haproxy.log()}--- end of haproxy log ---`);
      throw e;
    }
  });

  opn.run();
}

function routeagentConfig(o: { api: string; cfg: string; socket: string; maps: { hosts: string; sni: string } }): Record<string, unknown> {
  return {
    // OPNsense writes backends under the names given in its GUI (no _ipvANY suffix).
    clusters: [{ name: 'hades', api: o.api, backends: { sni: 'hades_tls', hosts: 'hades_web' }, timeoutMs: 5000, syntax: 'v3' }],
    expose: { domains: ['technis.io'] },
    haproxy: { bin: haproxyBin(), config: o.cfg, socket: o.socket, maps: o.maps, timeoutMs: 5000 },
    statusFile: join(dirname(o.cfg), 'status.json'),
  };
}

// The shape of os-haproxy's service/templates/OPNsense/HAProxy/haproxy.conf (global, defaults, one block per Public
// Service: bind … name …, mode, default_backend, tuning, the GUI's "# ACL:"/"# ACTION:" pairs, then the pass-through
// options; backends under their GUI names). Paths and ports are the test's; uid/gid/chroot/daemon are left out so it runs
// unprivileged in the foreground.
function opnsenseConfig(c: Ctx, tls: string, http: string): string {
  const pass = (block: string) =>
    block
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => `    ${l}`)
      .join('\n');
  return `#
# Automatically generated configuration.
# Do not edit this file manually.
#

global
    stats                       socket ${c.socket} level admin
    log stdout format raw local0

defaults
    log     global
    option redispatch -1
    timeout client 30s
    timeout connect 30s
    timeout server 30s
    retries 3

# Frontend: https_in (public TLS, passed through)
frontend https_in
    bind 127.0.0.1:${c.ports.https} name 127.0.0.1:${c.ports.https}
    mode tcp
    default_backend gui_nas_tls
    # tuning options
    timeout client 30s
    # logging options
    # ACL: sni_nas
    acl acl_6b1f0a2c req.ssl_sni -i nas.technis.io
    # ACTION: nas_tls
    use_backend gui_nas_tls if acl_6b1f0a2c
    # WARNING: pass through options below this line
${pass(tls)}

# Frontend: http_in (public HTTP)
frontend http_in
    bind 127.0.0.1:${c.ports.http} name 127.0.0.1:${c.ports.http}
    mode http
    option http-keep-alive
    default_backend gui_nas_web
    # tuning options
    timeout client 30s
    # logging options
    # ACL: host_legacy
    acl acl_7c2e1b3d hdr(host) -i legacy.technis.io
    # ACTION: legacy_web
    use_backend gui_nas_web if acl_7c2e1b3d
    # WARNING: pass through options below this line
${pass(http)}

# Backend: gui_nas_tls (the NAS, TLS)
backend gui_nas_tls
    mode tcp
    balance source
    # tuning options
    timeout connect 30s
    timeout server 30s
    server nas 127.0.0.1:${c.up.guiTls.port}

# Backend: gui_nas_web (the NAS, HTTP)
backend gui_nas_web
    mode http
    balance source
    # tuning options
    timeout connect 30s
    timeout server 30s
    server nas 127.0.0.1:${c.up.guiHttp.port}

# Backend: hades_tls (cluster hades, Traefik websecure)
backend hades_tls
    mode tcp
    balance source
    # tuning options
    timeout connect 30s
    timeout server 30s
    server hades 127.0.0.1:${c.up.clusterTls.port}

# Backend: hades_web (cluster hades, Traefik web)
backend hades_web
    mode http
    balance source
    # tuning options
    timeout connect 30s
    timeout server 30s
    server hades 127.0.0.1:${c.up.clusterHttp.port}

# statistics are DISABLED
`;
}
