// Proves that Traefik bodies (recorded in test/fixtures/traefik) become Router[] with only the Router fields, names intact,
// providers right, nothing dropped; which services have a server UP (a table); and which default rule syntax each
// /api/version string means.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  providerOf,
  type Rawdata,
  reportsTcpServerStatus,
  routersFromRawdata,
  type ServiceInfo,
  serviceHealth,
  syntaxFromVersion,
} from '../../agent/core/traefik-body.js';
import { loadFixture, rawdataFrom } from '../harness/traefik.js';

const rawdata = (relPath: string) => loadFixture(relPath) as Rawdata;
/** Recorded listing routers (one page of /api/{http,tcp}/routers) in a rawdata body, as the fake Traefik serves them. */
const listed = (kind: 'http' | 'tcp', relPath: string) => {
  const body = loadFixture(relPath);
  return rawdataFrom({ [kind]: Array.isArray(body) ? body : [body] }) as Rawdata;
};

const fields = suite('routersFromRawdata: fields');

fields('keeps only the Router fields of a v3.7 HTTP router (no middlewares, priorityStr)', () => {
  assert.equal(routersFromRawdata(listed('http', 'v3.7.9/pkg/api/testdata/routers.json')), [
    {
      kind: 'http',
      name: 'bar@myprovider',
      provider: 'myprovider',
      rule: 'Host(`foo.bar`)',
      status: 'enabled',
      using: ['web'],
      entryPoints: ['web'],
      service: 'foo-service@myprovider',
    },
    {
      kind: 'http',
      name: 'test@myprovider',
      provider: 'myprovider',
      rule: 'Host(`foo.bar.other`)',
      status: 'enabled',
      using: ['web'],
      entryPoints: ['web'],
      service: 'foo-service@myprovider',
    },
  ]);
});

fields('keeps tls (with passthrough) and every status of TCP routers', () => {
  const routers = routersFromRawdata(listed('tcp', 'v3.7.9/pkg/api/testdata/tcprouters.json'));
  assert.equal(
    routers.map((r) => [r.kind, r.name, r.status, r.tls]),
    [
      ['tcp', 'bar@myprovider', 'warning', undefined],
      ['tcp', 'foo@myprovider', 'disabled', undefined],
      ['tcp', 'test@myprovider', 'enabled', { passthrough: false }],
    ],
  );
});

fields('keeps a name with spaces and "/" as it is', () => {
  assert.equal(
    routersFromRawdata(listed('http', 'v3.7.9/pkg/api/testdata/router-foo-slash-bar.json')).map((r) => [r.name, r.provider]),
    [['foo / bar@myprovider', 'myprovider']],
  );
});

fields('keeps ruleSyntax, tls options and the hand-written homelab rules byte for byte', () => {
  const routers = routersFromRawdata(listed('http', 'k3s-homelab-http-routers.json'));
  const grafana = routers.find((r) => r.name.startsWith('monitoring-grafana'));
  assert.equal(grafana, {
    kind: 'http',
    name: 'monitoring-grafana-4c3e0f8d0b1a2c3d4e5f@kubernetescrd',
    provider: 'kubernetescrd',
    rule: 'Host(`grafana.technis.io`,`grafana.home.technis.io`)',
    ruleSyntax: 'v2',
    status: 'enabled',
    using: ['websecure'],
    entryPoints: ['websecure'],
    tls: { certResolver: 'letsencrypt', domains: [{ main: 'grafana.technis.io' }] },
    service: 'monitoring-grafana-3000',
  });
  assert.is(routers.find((r) => r.name.startsWith('default-whoami'))?.rule, 'Host("whoami.technis.io") && PathPrefix("/")');
});

fields('takes a provider written in the body (webui mocks), else the part of the name after the first "@"', () => {
  assert.equal(routersFromRawdata({ routers: { 'a@b@c': {}, noat: {}, 'x@p': { provider: 'docker' } } }), [
    { kind: 'http', name: 'a@b@c', provider: 'b@c' },
    { kind: 'http', name: 'noat', provider: '' },
    { kind: 'http', name: 'x@p', provider: 'docker' },
  ]);
});

fields('copies arrays, so the body can be dropped or changed', () => {
  const body = { tcpRouters: { 'a@p': { using: ['web'], tls: { passthrough: true } } } };
  const [router] = routersFromRawdata(body);
  body.tcpRouters['a@p'].using.push('websecure');
  assert.equal(router?.using, ['web']);
  assert.equal(router?.tls, { passthrough: true });
});

fields.run();

const fromRawdata = suite('routersFromRawdata');

fromRawdata('HTTP then TCP routers of pkg/api getrawdata.json, names from the keys', () => {
  assert.equal(routersFromRawdata(rawdata('v3.7.9/pkg/api/testdata/getrawdata.json')), [
    {
      kind: 'http',
      name: 'bar@myprovider',
      provider: 'myprovider',
      rule: 'Host(`foo.bar`)',
      status: 'enabled',
      entryPoints: ['web'],
      service: 'foo-service@myprovider',
    },
    {
      kind: 'http',
      name: 'test@myprovider',
      provider: 'myprovider',
      rule: 'Host(`foo.bar.other`)',
      status: 'enabled',
      entryPoints: ['web'],
      service: 'foo-service@myprovider',
    },
    {
      kind: 'tcp',
      name: 'tcpbar@myprovider',
      provider: 'myprovider',
      rule: 'HostSNI(`foo.bar`)',
      status: 'enabled',
      entryPoints: ['web'],
      service: 'tcpfoo-service@myprovider',
    },
    {
      kind: 'tcp',
      name: 'tcptest@myprovider',
      provider: 'myprovider',
      rule: 'HostSNI(`foo.bar.other`)',
      status: 'enabled',
      entryPoints: ['web'],
      service: 'tcpfoo-service@myprovider',
    },
  ]);
});

fromRawdata('a real v2.11.53 k3s Ingress: internal routers kept, double-quoted rules intact', () => {
  const routers = routersFromRawdata(rawdata('v2.11.53/integration/testdata/rawdata-ingress.json'));
  assert.equal(
    routers.map((r) => [r.name, r.provider, r.rule]),
    [
      ['api@internal', 'internal', 'PathPrefix(`/api`)'],
      ['dashboard@internal', 'internal', 'PathPrefix(`/`)'],
      [
        'default-test-ingress-https-whoami-test-https-whoami@kubernetes',
        'kubernetes',
        'Host("whoami.test.https") && PathPrefix("/whoami")',
      ],
      ['default-test-ingress-whoami-test-whoami@kubernetes', 'kubernetes', 'Host("whoami.test") && PathPrefix("/whoami")'],
      ['default-whoami-drop-route-whoami-test-drop-drop@kubernetes', 'kubernetes', 'Host("whoami.test.drop") && PathPrefix("/drop")'],
      ['default-whoami-keep-route-whoami-test-keep-keep@kubernetes', 'kubernetes', 'Host("whoami.test.keep") && PathPrefix("/keep")'],
    ],
  );
});

fromRawdata('a real v3.7.9 k3s Gateway: TCP passthrough and terminating routers, ruleSyntax "default"', () => {
  const tcp = routersFromRawdata(rawdata('v3.7.9/integration/testdata/rawdata-gateway.json')).filter((r) => r.kind === 'tcp');
  assert.equal(
    tcp.map((r) => [r.name, r.rule, r.ruleSyntax, r.tls]),
    [
      ['deny-unknown-host@kubernetesgateway', 'HostSNI(`*`) && !ALPN(`h2`) && !ALPN(`http/1.1`)', undefined, { passthrough: false }],
      [
        'tcproute-default-tcp-app-1-gw-default-my-tcp-gateway-ep-footcp-0-e3b0c44298fc1c149afb@kubernetesgateway',
        'HostSNI("*")',
        'default',
        undefined,
      ],
      [
        'tlsroute-default-tls-app-1-gw-default-my-tls-gateway-ep-footlspassthrough-0-e3b0c44298fc1c149afb@kubernetesgateway',
        'HostSNI("foo.bar")',
        'default',
        { passthrough: true },
      ],
    ],
  );
});

fromRawdata('a disabled router stays (routes.ts skips it), with its status', () => {
  const routers = routersFromRawdata(rawdata('v3.7.9/integration/testdata/rawdata-crd.json'));
  assert.is(routers.length, 8);
  assert.equal(
    routers.filter((r) => r.status === 'disabled').map((r) => r.name),
    ['other-ns-test6-route-482e4988e134701d8cc8@kubernetescrd'],
  );
});

fromRawdata('a body without router maps has no routers', () => {
  assert.equal(routersFromRawdata({}), []);
  assert.equal(routersFromRawdata(rawdata('v3.0.0/integration/testdata/rawdata-crd-label-selector.json')).length, 2);
});

fromRawdata.run();

// ---------------------------------------------------------------------------------------------------------------
const health = suite('serviceHealth');
const lb = (...servers: string[]): ServiceInfo => ({ loadBalancer: { servers: servers.map((url) => ({ url })) } });
const tcpLb = (...addresses: string[]): ServiceInfo => ({ loadBalancer: { servers: addresses.map((address) => ({ address })) } });
const status = (info: ServiceInfo, s: Record<string, string>): ServiceInfo => ({ ...info, serverStatus: s });
const A = 'http://10.42.0.3:80';
const B = 'http://10.42.0.4:80';

// name → [service, expected health (undefined: unknown, absent from the result)]; every row in one body, so children resolve
const table: [string, ServiceInfo, boolean | undefined][] = [
  ['up@k', status(lb(A, B), { [A]: 'UP', [B]: 'DOWN' }), true],
  ['down@k', status(lb(A, B), { [A]: 'DOWN', [B]: 'DOWN' }), false],
  ['unlisted@k', status(lb(A, B), { [A]: 'DOWN' }), true], // B has no status: UP by default
  ['nostatus@k', lb(A), true], // HTTP: servers are UP unless a health check says DOWN
  ['empty@k', { loadBalancer: { servers: [] } }, false], // K8s allowEmptyServices: no endpoint at all
  ['noservers@k', { loadBalancer: {} }, false],
  ['noop@internal', { status: 'enabled' }, undefined], // no load balancer, no children: nothing to judge
  ['wrr-up@k', { weighted: { services: [{ name: 'down' }, { name: 'up' }] } }, true], // unqualified: the parent's provider
  ['wrr-down@k', { weighted: { services: [{ name: 'down@k' }, { name: 'empty' }] } }, false],
  ['wrr-unknown@k', { weighted: { services: [{ name: 'down' }, { name: 'noop@internal' }] } }, undefined],
  ['wrr-nested@k', { weighted: { services: [{ name: 'wrr-down' }, { name: 'wrr-up' }] } }, true],
  ['wrr-none@k', { weighted: { services: [] } }, undefined],
  ['hrw@k', { highestRandomWeight: { services: [{ name: 'empty' }, { name: 'nostatus' }] } }, true],
  ['mirror@k', { mirroring: { service: 'down' } }, false], // mirrors only get copies: the main service answers
  ['failover-fallback@k', { failover: { service: 'down', fallback: 'up' } }, true],
  ['failover-both-down@k', { failover: { service: 'down', fallback: 'empty' } }, false],
  ['missing-child@k', { weighted: { services: [{ name: 'gone' }] } }, false], // Traefik cannot serve through it
  ['cycle-a@k', { weighted: { services: [{ name: 'cycle-b' }] } }, false],
  ['cycle-b@k', { failover: { service: 'cycle-a', fallback: 'cycle-b' } }, false],
  ['cycle-out@k', { weighted: { services: [{ name: 'cycle-a' }, { name: 'up' }] } }, true],
];
const body: Rawdata = { services: Object.fromEntries(table.map(([name, info]) => [name, info])) };
const judged = serviceHealth(body, false);
for (const [name, info, expected] of table) {
  health(`${name} ${JSON.stringify(info)} → ${expected ?? 'unknown'}`, () => {
    assert.is(judged[name], expected);
    assert.is(name in judged, expected !== undefined);
  });
}

health('TCP load balancers: serverStatus only from Traefik v3.6; without it a TCP one is unknown before, UP after', () => {
  const tcp: Rawdata = {
    tcpServices: {
      'plain@k': tcpLb('10.42.0.2:8080'),
      'down@k': status(tcpLb('10.42.0.2:8080'), { '10.42.0.2:8080': 'DOWN' }),
      'empty@k': { loadBalancer: { servers: [] } },
      'wrr@k': { weighted: { services: [{ name: 'plain' }, { name: 'down' }] } },
    },
  };
  assert.equal(serviceHealth(tcp, false), { 'down@k': false, 'empty@k': false });
  assert.equal(serviceHealth(tcp, true), { 'plain@k': true, 'down@k': false, 'empty@k': false, 'wrr@k': true });
  assert.equal(
    [
      reportsTcpServerStatus('3.5.4'),
      reportsTcpServerStatus('v3.6.0'),
      reportsTcpServerStatus('4.0'),
      reportsTcpServerStatus('dev'),
      reportsTcpServerStatus(undefined),
    ],
    [false, true, true, true, false],
  );
});

health('an HTTP and a TCP service of one name: healthy when either is', () => {
  const both: Rawdata = { services: { 'x@k': status(lb(A), { [A]: 'DOWN' }) }, tcpServices: { 'x@k': tcpLb('10.0.0.1:1') } };
  assert.equal(serviceHealth(both, true), { 'x@k': true });
});

health('recorded v3.7.9 rawdata-crd.json: load balancers UP, weighted and mirroring through their children, internal unknown', () => {
  assert.equal(serviceHealth(rawdata('v3.7.9/integration/testdata/rawdata-crd.json'), true), {
    'default-hrw1@kubernetescrd': true,
    'default-mirror1@kubernetescrd': true,
    'default-test-route-6b204d94623b3df4370c@kubernetescrd': true,
    'default-test2-route-23c7f4c450289ee29016@kubernetescrd': true,
    'default-testst-route-60ad45fcb5fc1f5f3629@kubernetescrd': true,
    'default-whoami-80@kubernetescrd': true,
    'default-wrr1@kubernetescrd': true,
    'default-wrr2@kubernetescrd': true,
    'default-test3.route-673acf455cb2dab0b43a-externalname-svc-9090@kubernetescrd': true,
    'default-test3.route-673acf455cb2dab0b43a-whoamitcp-8080@kubernetescrd': true,
    'default-test3.route-673acf455cb2dab0b43a@kubernetescrd': true,
  });
});

health.run();

const provider = suite('providerOf');
provider('splits on the first "@" (handler.go getProviderName)', () => {
  assert.is(providerOf('web@docker'), 'docker');
  assert.is(providerOf('foo / bar@myprovider'), 'myprovider');
  assert.is(providerOf('a@b@c'), 'b@c');
  assert.is(providerOf('plain'), '');
});
provider.run();

const syntax = suite('syntaxFromVersion');
const versions: [string, 'v2' | 'v3' | undefined][] = [
  ['2.10.7', 'v2'],
  ['v2.11.53', 'v2'],
  ['2', 'v2'],
  ['3.0.0', 'v3'],
  ['v3.1.0', 'v3'],
  ['3.6.0', 'v3'], // webui api-version.json
  ['3.7.0-rc.1', 'v3'],
  ['4.0.0', 'v3'],
  ['dev', 'v3'],
  ['1.7.34', undefined],
  ['', undefined],
  ['latest', undefined],
  ['3x', undefined],
];
for (const [version, expected] of versions) {
  syntax(`${JSON.stringify(version)} → ${expected ?? 'unsupported'}`, () => {
    assert.is(syntaxFromVersion(version), expected);
  });
}
syntax.run();
