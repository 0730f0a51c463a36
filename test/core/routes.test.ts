// routesFromRouters: which routers count, which map they feed, and why the others are skipped.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { routesFromRouters } from '../../agent/core/routes.js';
import type { Router } from '../../agent/core/types.js';

type ClusterSpec = Parameters<typeof routesFromRouters>[0];
const cluster: ClusterSpec = { name: 'hades', backends: { sni: 'hades_https', hosts: 'hades_http' } };
const expose = { domains: ['technis.io'], hosts: [], exclude: ['secret.technis.io'] };
/** A router as the API lists it: enabled, on websecure, its provider from its name. */
const router =
  (kind: Router['kind']) =>
  (name: string, rule: string, extra: Partial<Router> = {}): Router => ({
    kind,
    name,
    provider: name.split('@')[1]!,
    rule,
    status: 'enabled',
    using: ['websecure'],
    ...extra,
  });
const http = router('http');
const tcp = router('tcp');
const routes = (routers: Router[], c: ClusterSpec = cluster, syntax: 'v2' | 'v3' = 'v3') => routesFromRouters(c, routers, syntax, expose);

const maps = suite('routesFromRouters: maps');
maps('HTTP with tls feeds sni and hosts; without tls only hosts', () => {
  const r = routes([http('a@crd', 'Host(`a.technis.io`)', { tls: {} }), http('b@kubernetes', 'Host("b.technis.io") && PathPrefix("/")')]);
  assert.equal(r.routes, [
    { map: 'hosts', host: 'a.technis.io', cluster: 'hades', router: 'a@crd' },
    { map: 'hosts', host: 'b.technis.io', cluster: 'hades', router: 'b@kubernetes' },
    { map: 'sni', host: 'a.technis.io', cluster: 'hades', router: 'a@crd' },
  ]);
  assert.equal(r.skipped, []);
});
maps('a cluster without a hosts backend: HTTPS hosts feed sni only, plain HTTP routers are skipped', () => {
  const r = routes([http('a@crd', 'Host(`a.technis.io`)', { tls: {} }), http('b@crd', 'Host(`b.technis.io`)')], {
    name: 'hades',
    backends: { sni: 'hades_https' },
  });
  assert.equal(r.routes, [{ map: 'sni', host: 'a.technis.io', cluster: 'hades', router: 'a@crd' }]);
  assert.equal(r.skipped, [{ cluster: 'hades', router: 'b@crd', reason: 'no TLS and the cluster has no hosts backend' }]);
});
maps('TCP with HostSNI and tls (passthrough or terminated) feeds sni', () => {
  const r = routes([
    tcp('p@crd', 'HostSNI(`p.technis.io`)', { tls: { passthrough: true } }),
    tcp('t@crd', 'HostSNI(`t.technis.io`)', { tls: { passthrough: false } }),
  ]);
  assert.equal(
    r.routes.map((x) => `${x.map} ${x.host}`),
    ['sni p.technis.io', 'sni t.technis.io'],
  );
});
maps('TCP catch-all HostSNI(`*`) is skipped', () => {
  const r = routes([tcp('all@crd', 'HostSNI(`*`)', { tls: { passthrough: true } })]);
  assert.equal(r.routes, []);
  assert.is(r.skipped.length, 1);
  assert.is(r.skipped[0]!.router, 'all@crd');
});
maps('one router, several hosts; duplicates across routers collapse', () => {
  const r = routes(
    [
      http('a@crd', 'Host(`a.technis.io`) || Host(`b.technis.io`)', { tls: {} }),
      http('websecure-a@crd', 'Host(`a.technis.io`)', { tls: {} }),
    ],
    { name: 'hades', backends: { sni: 'hades_https' } },
  );
  assert.equal(
    r.routes.map((x) => x.host),
    ['a.technis.io', 'b.technis.io'],
  );
});
maps.run();

const filters = suite('routesFromRouters: filters');
filters('internal routers are ignored silently', () => {
  const r = routes([http('api@internal', 'PathPrefix(`/api`)'), http('acme-http@internal', 'PathPrefix(`/.well-known/acme-challenge/`)')]);
  assert.equal(r, { routes: [], skipped: [] });
});
filters('disabled routers are skipped; warning routers count', () => {
  const r = routes([
    http('d@crd', 'Host(`d.technis.io`)', { status: 'disabled' }),
    http('w@crd', 'Host(`w.technis.io`)', { status: 'warning' }),
  ]);
  assert.equal(
    r.routes.map((x) => x.host),
    ['w.technis.io'],
  );
  assert.equal(r.skipped, [{ cluster: 'hades', router: 'd@crd', reason: 'disabled by Traefik' }]);
});
filters('a router attached to no entry point is skipped', () => {
  const r = routes([http('n@crd', 'Host(`n.technis.io`)', { using: [] })]);
  assert.equal(r.skipped, [{ cluster: 'hades', router: 'n@crd', reason: 'not attached to any entry point' }]);
});
filters('entryPoints filter reads `using`, not `entryPoints`', () => {
  const c = { ...cluster, entryPoints: ['websecure'] };
  const r = routes(
    [
      http('a@crd', 'Host(`a.technis.io`)', { entryPoints: ['web', 'websecure'], using: ['web'] }),
      http('b@crd', 'Host(`b.technis.io`)', { entryPoints: ['lan'], using: ['websecure'] }),
    ],
    c,
  );
  assert.equal(
    r.routes.map((x) => x.host),
    ['b.technis.io'],
  );
});
filters('expose is an allowlist: other domains and excluded hosts are skipped with a reason', () => {
  const r = routes([http('a@crd', 'Host(`a.example.com`) || Host(`ok.technis.io`) || Host(`secret.technis.io`)', { tls: {} })], {
    name: 'hades',
    backends: { sni: 'hades_https' },
  });
  assert.equal(
    r.routes.map((x) => x.host),
    ['ok.technis.io'],
  );
  assert.equal(
    r.skipped.map((s) => s.reason),
    ['host a.example.com is not allowed by expose', 'host secret.technis.io is not allowed by expose'],
  );
});
filters('hosts are normalised and hostile ones never become routes', () => {
  const r = routes(
    [http('a@crd', 'Host(`UP.Technis.IO.`) || Host("x.technis.io\\nevil.technis.io be") || Host(`a b.technis.io`)', { tls: {} })],
    { name: 'hades', backends: { sni: 'hades_https' } },
    'v2',
  );
  assert.equal(
    r.routes.map((x) => x.host),
    ['up.technis.io'],
  );
  assert.is(r.skipped.length, 2);
  assert.ok(r.skipped.every((s) => s.reason.includes('whitespace')));
});
filters('a non-ASCII look-alike never becomes the ASCII host it resembles: Traefik refuses the rule', () => {
  const r = routes([http('k@crd', 'Host(`\u212Aeys.technis.io`)', { tls: {} })], { name: 'hades', backends: { sni: 'hades_https' } });
  assert.equal(r.routes, []);
  assert.equal(
    r.skipped.map((s) => s.reason),
    ['rule rejected: non-ASCII value "\\u212aeys.technis.io" for Host at 0 (use punycode)'],
  );
});
filters('a non-ASCII host anywhere in the rule: no route for its ASCII alternatives either (v2 HTTP, v3 TCP)', () => {
  const r = routes([
    http('h@crd', 'Host(`ok.technis.io`, `b\u00fccher.technis.io`)', { tls: {}, ruleSyntax: 'v2' }),
    tcp('t@crd', 'HostSNI(`ok.technis.io`) || HostSNI(`b\u00fccher.technis.io`)', { tls: { passthrough: true } }),
  ]);
  assert.equal(r.routes, []);
  assert.equal(r.skipped, [
    { cluster: 'hades', router: 'h@crd', reason: 'rule rejected: non-ASCII value "b\\u00fccher.technis.io" for Host at 0 (use punycode)' },
    {
      cluster: 'hades',
      router: 't@crd',
      reason: 'rule rejected: non-ASCII value "b\\u00fccher.technis.io" for HostSNI at 28 (use punycode)',
    },
  ]);
});
filters('ruleSyntax v2 on a v3 server is honoured', () => {
  const r = routes(
    [http('a@crd', 'Host(`a.technis.io`, `b.technis.io`)', { ruleSyntax: 'v2', tls: {} })],
    { name: 'hades', backends: { sni: 'hades_https' } },
    'v3',
  );
  assert.equal(
    r.routes.map((x) => x.host),
    ['a.technis.io', 'b.technis.io'],
  );
});
filters('a rule Traefik rejects gives no routes and says why', () => {
  const r = routes([http('a@crd', 'Host(`a.technis.io`, `b.technis.io`)', { tls: {} })], cluster, 'v3');
  assert.equal(r.routes, []);
  assert.is(r.skipped.length, 1);
  assert.match(r.skipped[0]!.reason, /^rule rejected: /);
});
filters('a rule that matches every host is skipped', () => {
  const r = routes([http('a@crd', 'PathPrefix(`/`)', { tls: {} })]);
  assert.equal(r.routes, []);
  assert.equal(r.skipped, [{ cluster: 'hades', router: 'a@crd', reason: 'rule matches every host (no Host matcher required)' }]);
});
filters('hosts named beside a host-less alternative are routed; the alternative is skipped with its reason', () => {
  const r = routes([
    http('a@crd', 'Host(`a.technis.io`) || Method(`GET`)', { tls: {} }),
    http('b@crd', '(Host(`b.technis.io`) || PathPrefix(`/x`)) && !Host(`c.technis.io`) || HostRegexp(`^d`)', { ruleSyntax: 'v2' }),
    tcp('t@crd', 'HostSNI(`t.technis.io`) || ALPN(`h2`)', { tls: { passthrough: true } }),
  ]);
  assert.equal(
    r.routes.map((x) => `${x.map} ${x.host} ${x.router}`),
    ['hosts a.technis.io a@crd', 'hosts b.technis.io b@crd', 'sni a.technis.io a@crd', 'sni t.technis.io t@crd'],
  );
  assert.equal(r.skipped, [
    { cluster: 'hades', router: 'a@crd', reason: 'an alternative without a Host matcher matches every host' },
    { cluster: 'hades', router: 'b@crd', reason: 'an alternative without a Host matcher matches every host' },
    { cluster: 'hades', router: 'b@crd', reason: 'negated Host(`c.technis.io`)' },
    { cluster: 'hades', router: 'b@crd', reason: 'HostRegexp(`^d`) is a pattern' },
    { cluster: 'hades', router: 't@crd', reason: 'an alternative without a HostSNI matcher matches every host' },
  ]);
});
filters('(host || host-less) && another host: only that other host', () => {
  const r = routes([http('a@crd', '(Host(`a.technis.io`) || Path(`/x`)) && Host(`b.technis.io`)', { tls: {} })], {
    name: 'hades',
    backends: { sni: 'hades_https' },
  });
  assert.equal(r, { routes: [{ map: 'sni', host: 'b.technis.io', cluster: 'hades', router: 'a@crd' }], skipped: [] });
});
filters.run();
