// mergeDesired: static routes, pins, sticky and priority conflict policies, determinism, and the choice among healthy claimants.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { claimKey, type MergeInput, mergeDesired } from '../../agent/core/desired.js';
import type { MapName, Route } from '../../agent/core/types.js';

const hades = { name: 'hades', priority: 10, backends: { sni: 'hades_https', hosts: 'hades_http' } };
const illmatic = { name: 'illmatic', priority: 20, backends: { sni: 'illmatic_https', hosts: 'illmatic_http' } };
const nohosts = { name: 'nohosts', priority: 0, backends: { sni: 'nohosts_https' } };
const route = (cluster: string, host: string, map: MapName = 'sni'): Route => ({ map, host, cluster, router: `r-${host}@crd` });
const none = { hosts: [], sni: [] };
const input = (over: Partial<MergeInput>): MergeInput => ({
  clusters: [hades, illmatic],
  routes: [],
  static: [],
  pins: {},
  policy: 'sticky',
  current: none,
  ...over,
});

const basic = suite('mergeDesired: basics');
basic('one entry per host, sorted, values are the cluster backends', () => {
  const d = mergeDesired(
    input({ routes: [route('illmatic', 'b.technis.io'), route('hades', 'a.technis.io'), route('hades', 'a.technis.io', 'hosts')] }),
  );
  assert.equal(d.maps, {
    hosts: [{ key: 'a.technis.io', backend: 'hades_http' }],
    sni: [
      { key: 'a.technis.io', backend: 'hades_https' },
      { key: 'b.technis.io', backend: 'illmatic_https' },
    ],
  });
  assert.equal(d.conflicts, []);
});
basic('a cluster without a hosts backend contributes nothing to hosts', () => {
  const d = mergeDesired(
    input({ clusters: [nohosts], routes: [route('nohosts', 'a.technis.io', 'hosts'), route('nohosts', 'a.technis.io')] }),
  );
  assert.equal(d.maps.hosts, []);
  assert.equal(d.maps.sni, [{ key: 'a.technis.io', backend: 'nohosts_https' }]);
});
basic('static routes are always present and win over clusters', () => {
  const d = mergeDesired(
    input({
      routes: [route('hades', 'nas.technis.io')],
      static: [
        { host: 'nas.technis.io', backends: { sni: 'truenas_https' } },
        { host: 'x.technis.io', backends: { hosts: 'x_http' } },
      ],
    }),
  );
  assert.equal(d.maps, { hosts: [{ key: 'x.technis.io', backend: 'x_http' }], sni: [{ key: 'nas.technis.io', backend: 'truenas_https' }] });
  assert.equal(d.conflicts, []);
});
basic('the same inputs in another order give identical output', () => {
  const routes = [
    route('hades', 'z.technis.io'),
    route('illmatic', 'a.technis.io'),
    route('illmatic', 'z.technis.io'),
    route('hades', 'm.technis.io'),
  ];
  const a = mergeDesired(input({ routes }));
  const b = mergeDesired(input({ routes: [...routes].reverse() }));
  assert.equal(JSON.stringify(a), JSON.stringify(b));
});
basic.run();

const conflicts = suite('mergeDesired: conflicts');
const both = [route('hades', 'app.technis.io'), route('illmatic', 'app.technis.io')];
conflicts('priority policy: highest priority wins whatever is live', () => {
  const d = mergeDesired(
    input({ routes: both, policy: 'priority', current: { hosts: [], sni: [{ key: 'app.technis.io', backend: 'hades_https' }] } }),
  );
  assert.equal(d.maps.sni, [{ key: 'app.technis.io', backend: 'illmatic_https' }]);
  assert.equal(d.conflicts, [{ host: 'app.technis.io', map: 'sni', claimants: ['hades', 'illmatic'], winner: 'illmatic' }]);
});
conflicts('priority ties go to config order', () => {
  const d = mergeDesired(
    input({
      clusters: [
        { ...illmatic, priority: 1 },
        { ...hades, priority: 1 },
      ],
      routes: both,
      policy: 'priority',
    }),
  );
  assert.equal(d.maps.sni, [{ key: 'app.technis.io', backend: 'illmatic_https' }]);
  assert.equal(d.conflicts[0]!.claimants, ['illmatic', 'hades']);
});
conflicts('sticky: the current owner keeps the host while it still claims it (mid-migration)', () => {
  const d = mergeDesired(input({ routes: both, current: { hosts: [], sni: [{ key: 'app.technis.io', backend: 'hades_https' }] } }));
  assert.equal(d.maps.sni, [{ key: 'app.technis.io', backend: 'hades_https' }]);
  assert.equal(d.conflicts, [{ host: 'app.technis.io', map: 'sni', claimants: ['hades', 'illmatic'], winner: 'hades' }]);
});
conflicts('sticky: the host moves once the old owner drops it', () => {
  const d = mergeDesired(
    input({
      routes: [route('illmatic', 'app.technis.io')],
      current: { hosts: [], sni: [{ key: 'app.technis.io', backend: 'hades_https' }] },
    }),
  );
  assert.equal(d.maps.sni, [{ key: 'app.technis.io', backend: 'illmatic_https' }]);
  assert.equal(d.conflicts, []);
});
conflicts('sticky with no current owner falls back to priority', () => {
  const d = mergeDesired(input({ routes: both }));
  assert.equal(d.maps.sni, [{ key: 'app.technis.io', backend: 'illmatic_https' }]);
});
conflicts('sticky ignores a current value that is no cluster backend', () => {
  const d = mergeDesired(input({ routes: both, current: { hosts: [], sni: [{ key: 'app.technis.io', backend: 'handmade_https' }] } }));
  assert.equal(d.maps.sni, [{ key: 'app.technis.io', backend: 'illmatic_https' }]);
});
conflicts('a pin beats sticky and priority', () => {
  const d = mergeDesired(
    input({
      routes: both,
      pins: { 'app.technis.io': 'hades' },
      policy: 'priority',
      current: { hosts: [], sni: [{ key: 'app.technis.io', backend: 'illmatic_https' }] },
    }),
  );
  assert.equal(d.maps.sni, [{ key: 'app.technis.io', backend: 'hades_https' }]);
  assert.equal(d.conflicts[0]!.winner, 'hades');
});
conflicts('a pin to a cluster that does not claim the host changes nothing', () => {
  const d = mergeDesired(input({ routes: [route('illmatic', 'app.technis.io')], pins: { 'app.technis.io': 'hades' } }));
  assert.equal(d.maps.sni, [{ key: 'app.technis.io', backend: 'illmatic_https' }]);
});
conflicts('conflicts are reported per map', () => {
  const d = mergeDesired(
    input({
      routes: [...both, route('hades', 'app.technis.io', 'hosts'), route('illmatic', 'app.technis.io', 'hosts')],
      policy: 'priority',
    }),
  );
  assert.equal(
    d.conflicts.map((c) => c.map),
    ['hosts', 'sni'],
  );
});
conflicts.run();

// One row per case: who claims app.technis.io (sni), which claims count unhealthy, the policy, pins, who serves it now
// → the winner, and whether that is a failover (from the policy's own choice).
const health = suite('mergeDesired: the policy chooses among healthy claimants');
const hadesOwns = { hosts: [], sni: [{ key: 'app.technis.io', backend: 'hades_https' }] };
const illmaticOwns = { hosts: [], sni: [{ key: 'app.technis.io', backend: 'illmatic_https' }] };
const down = (...clusters: string[]) => new Set(clusters.map((c) => claimKey('sni', 'app.technis.io', c)));
const hostless = { hosts: [], sni: [] };
type Row = [name: string, over: Partial<MergeInput>, winner: string, failover: { from: string; to: string } | undefined];
const rows: Row[] = [
  [
    'sticky: an unhealthy owner loses the host to a healthy claimant',
    { routes: both, current: hadesOwns, unhealthy: down('hades') },
    'illmatic',
    { from: 'hades', to: 'illmatic' },
  ],
  [
    'sticky: a healthy owner keeps it while the other claimant is unhealthy',
    { routes: both, current: hadesOwns, unhealthy: down('illmatic') },
    'hades',
    undefined,
  ],
  [
    'sticky: after the failover the new owner keeps it once the old one is healthy',
    { routes: both, current: illmaticOwns },
    'illmatic',
    undefined,
  ],
  [
    'priority: the preferred cluster unhealthy → the next one',
    { routes: both, policy: 'priority', current: illmaticOwns, unhealthy: down('illmatic') },
    'hades',
    { from: 'illmatic', to: 'hades' },
  ],
  [
    'priority: back to the preferred cluster once it counts healthy',
    { routes: both, policy: 'priority', current: hadesOwns },
    'illmatic',
    undefined,
  ],
  [
    'every claimant unhealthy: the host stays where it is (sticky)',
    { routes: both, current: hadesOwns, unhealthy: down('hades', 'illmatic') },
    'hades',
    undefined,
  ],
  [
    'every claimant unhealthy: the host stays where it is (priority)',
    { routes: both, policy: 'priority', current: hadesOwns, unhealthy: down('hades', 'illmatic') },
    'hades',
    { from: 'illmatic', to: 'hades' },
  ],
  [
    'every claimant unhealthy and nothing served now: the policy decides',
    { routes: both, policy: 'priority', current: hostless, unhealthy: down('hades', 'illmatic') },
    'illmatic',
    undefined,
  ],
  [
    'a pin yields to health',
    { routes: both, pins: { 'app.technis.io': 'hades' }, current: hadesOwns, unhealthy: down('hades') },
    'illmatic',
    { from: 'hades', to: 'illmatic' },
  ],
  [
    'a pin yields to nothing else',
    { routes: both, pins: { 'app.technis.io': 'hades' }, policy: 'priority', current: illmaticOwns, unhealthy: down('illmatic') },
    'hades',
    undefined,
  ],
  [
    'a sole claimant keeps its host however unhealthy',
    { routes: [route('hades', 'app.technis.io')], current: hadesOwns, unhealthy: down('hades') },
    'hades',
    undefined,
  ],
  [
    'health of another map does not count',
    { routes: both, current: hadesOwns, unhealthy: new Set([claimKey('hosts', 'app.technis.io', 'hades')]) },
    'hades',
    undefined,
  ],
];
for (const [name, over, winner, failover] of rows) {
  health(name, () => {
    const d = mergeDesired(input(over));
    assert.equal(d.maps.sni, [{ key: 'app.technis.io', backend: `${winner}_https` }]);
    assert.equal(d.failedOver, failover ? [{ host: 'app.technis.io', map: 'sni', ...failover }] : []);
  });
}
health.run();
