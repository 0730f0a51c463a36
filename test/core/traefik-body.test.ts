// Proves that Traefik bodies (recorded in test/fixtures/traefik) become Router[] with only the Router fields, names intact,
// providers right, nothing dropped; and which default rule syntax each /api/version string means.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { providerOf, routersFromListing, routersFromRawdata, syntaxFromVersion, type ListedRouter, type Rawdata } from '../../agent/core/traefik-body.js';
import { loadFixture } from '../helpers/traefik-server.js';

const listing = (relPath: string) => loadFixture(relPath) as ListedRouter[];
const rawdata = (relPath: string) => loadFixture(relPath) as Rawdata;

const fromListing = suite('routersFromListing');

fromListing('keeps only the Router fields of a v3.7 HTTP listing (no middlewares, priorityStr)', () => {
  assert.equal(routersFromListing('http', listing('v3.7.9/pkg/api/testdata/routers.json')), [
    { kind: 'http', name: 'bar@myprovider', provider: 'myprovider', rule: 'Host(`foo.bar`)', status: 'enabled', using: ['web'], entryPoints: ['web'], service: 'foo-service@myprovider' },
    { kind: 'http', name: 'test@myprovider', provider: 'myprovider', rule: 'Host(`foo.bar.other`)', status: 'enabled', using: ['web'], entryPoints: ['web'], service: 'foo-service@myprovider' },
  ]);
});

fromListing('keeps tls (with passthrough) and every status of a TCP listing', () => {
  const routers = routersFromListing('tcp', listing('v3.7.9/pkg/api/testdata/tcprouters.json'));
  assert.equal(
    routers.map((r) => [r.kind, r.name, r.status, r.tls]),
    [
      ['tcp', 'bar@myprovider', 'warning', undefined],
      ['tcp', 'foo@myprovider', 'disabled', undefined],
      ['tcp', 'test@myprovider', 'enabled', { passthrough: false }],
    ],
  );
});

fromListing('keeps a name with spaces and "/" as it is', () => {
  const body = [loadFixture('v3.7.9/pkg/api/testdata/router-foo-slash-bar.json')] as ListedRouter[];
  assert.equal(routersFromListing('http', body).map((r) => [r.name, r.provider]), [['foo / bar@myprovider', 'myprovider']]);
});

fromListing('keeps ruleSyntax, tls options and the hand-written homelab rules byte for byte', () => {
  const routers = routersFromListing('http', listing('k3s-homelab-http-routers.json'));
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
  assert.is(routers[1]?.rule, 'Host("whoami.technis.io") && PathPrefix("/")');
});

fromListing('takes the provider from the listing even when it disagrees with the name (webui mock)', () => {
  const routers = routersFromListing('http', listing('v3.7.9/webui/src/mocks/data/api-http_routers.json'));
  const jwt = routers.find((r) => r.name.startsWith('whoami-app-hello-tls-jwt'));
  assert.is(jwt?.name, 'whoami-app-hello-tls-jwt-ef36e528ebdc93bc4f2a@kubernetescrd');
  assert.is(jwt?.provider, 'docker');
});

fromListing('falls back to the part of the name after the first "@" when provider is absent', () => {
  assert.equal(routersFromListing('http', [{ name: 'a@b@c' }, { name: 'noat' }]), [
    { kind: 'http', name: 'a@b@c', provider: 'b@c' },
    { kind: 'http', name: 'noat', provider: '' },
  ]);
});

fromListing('copies arrays, so the body can be dropped or changed', () => {
  const body: ListedRouter[] = [{ name: 'a@p', using: ['web'], tls: { passthrough: true } }];
  const [router] = routersFromListing('tcp', body);
  (body[0]!.using as string[]).push('websecure');
  assert.equal(router?.using, ['web']);
  assert.equal(router?.tls, { passthrough: true });
});

fromListing.run();

const fromRawdata = suite('routersFromRawdata');

fromRawdata('HTTP then TCP routers of pkg/api getrawdata.json, names from the keys', () => {
  assert.equal(routersFromRawdata(rawdata('v3.7.9/pkg/api/testdata/getrawdata.json')), [
    { kind: 'http', name: 'bar@myprovider', provider: 'myprovider', rule: 'Host(`foo.bar`)', status: 'enabled', entryPoints: ['web'], service: 'foo-service@myprovider' },
    { kind: 'http', name: 'test@myprovider', provider: 'myprovider', rule: 'Host(`foo.bar.other`)', status: 'enabled', entryPoints: ['web'], service: 'foo-service@myprovider' },
    { kind: 'tcp', name: 'tcpbar@myprovider', provider: 'myprovider', rule: 'HostSNI(`foo.bar`)', status: 'enabled', entryPoints: ['web'], service: 'tcpfoo-service@myprovider' },
    { kind: 'tcp', name: 'tcptest@myprovider', provider: 'myprovider', rule: 'HostSNI(`foo.bar.other`)', status: 'enabled', entryPoints: ['web'], service: 'tcpfoo-service@myprovider' },
  ]);
});

fromRawdata('a real v2.11.53 k3s Ingress: internal routers kept, double-quoted rules intact', () => {
  const routers = routersFromRawdata(rawdata('v2.11.53/integration/testdata/rawdata-ingress.json'));
  assert.equal(
    routers.map((r) => [r.name, r.provider, r.rule]),
    [
      ['api@internal', 'internal', 'PathPrefix(`/api`)'],
      ['dashboard@internal', 'internal', 'PathPrefix(`/`)'],
      ['default-test-ingress-https-whoami-test-https-whoami@kubernetes', 'kubernetes', 'Host("whoami.test.https") && PathPrefix("/whoami")'],
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
      ['tcproute-default-tcp-app-1-gw-default-my-tcp-gateway-ep-footcp-0-e3b0c44298fc1c149afb@kubernetesgateway', 'HostSNI("*")', 'default', undefined],
      ['tlsroute-default-tls-app-1-gw-default-my-tls-gateway-ep-footlspassthrough-0-e3b0c44298fc1c149afb@kubernetesgateway', 'HostSNI("foo.bar")', 'default', { passthrough: true }],
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
