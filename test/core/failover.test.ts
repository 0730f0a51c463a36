// core/failover.ts, time-free: sequences of syncs → when a claim counts as unhealthy and healthy again, why a claim is
// unhealthy (API, HAProxy backend, Traefik service), and when a failover starts, lasts and ends.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type Conflict, claimKey } from '../../agent/core/desired.js';
import {
  type ClaimCount,
  claimProblems,
  countClaims,
  downBackends,
  downServices,
  type Failover,
  type HealthInput,
  qualifiedService,
  routedAwayClaims,
  stepClaim,
  trackFailovers,
  unhealthyClaims,
} from '../../agent/core/failover.js';
import type { Route, Router } from '../../agent/core/types.js';

const settings = { enabled: true, downAfter: 2, upAfter: 3 };

/** Run a sequence of observations ('x' unhealthy, '.' healthy) through stepClaim; the counted state after each ('D' or '.'). */
function counted(observations: string, s = settings): string {
  let count: ClaimCount | undefined;
  let out = '';
  for (const o of observations) {
    count = stepClaim(count, o === 'x' ? 'down' : undefined, s);
    out += count?.unhealthy ? 'D' : '.';
  }
  return out;
}

const hysteresis = suite('stepClaim: hysteresis in syncs');
const sequences: [string, string, string][] = [
  ['healthy stays healthy', '....', '....'],
  ['unhealthy on downAfter consecutive syncs', '.xx..', '..DDD'],
  ['healthy again after upAfter consecutive healthy syncs', 'xx....', '.DDD..'],
  ['a flap every sync never counts as unhealthy', 'x.x.x.x.x.', '..........'],
  ['one healthy sync during an outage restarts the count of healthy ones', 'xxx.x...', '.DDDDDD.'],
  ['one unhealthy sync during recovery restarts it too', 'xx..x...', '.DDDDDD.'],
];
for (const [name, observations, expected] of sequences) hysteresis(name, () => assert.is(counted(observations), expected));
hysteresis('downAfter 1 and upAfter 1 follow every sync', () =>
  assert.is(counted('.x.x', { enabled: true, downAfter: 1, upAfter: 1 }), '.D.D'),
);
hysteresis('a settled healthy claim is dropped: counters cost nothing for healthy hosts', () => {
  assert.is(stepClaim(undefined, undefined, settings), undefined);
  assert.equal(stepClaim(undefined, "hades's API unreachable", settings), {
    down: 1,
    up: 0,
    unhealthy: false,
    reason: "hades's API unreachable",
  });
});
hysteresis('countClaims steps every known claim and keeps only those not settled healthy', () => {
  const a = claimKey('sni', 'a.technis.io', 'hades');
  const b = claimKey('sni', 'b.technis.io', 'hades');
  let counts = countClaims(
    new Map(),
    new Map([
      [a, 'x'],
      [b, 'y'],
    ]),
    settings,
  );
  counts = countClaims(counts, new Map([[a, 'x']]), settings);
  assert.equal([...counts.keys()], [a]);
  assert.equal([...unhealthyClaims(counts)], [a]);
});
hysteresis.run();

const fresh = suite('a fresh start (restart, one-shot sync): the maps are the record of an earlier failover');
const hadesSni = claimKey('sni', 'grafana.technis.io', 'hades');
const illmaticSni = claimKey('sni', 'grafana.technis.io', 'illmatic');
const grafanaRoutes: Route[] = [
  { map: 'sni', host: 'grafana.technis.io', cluster: 'hades', router: 'grafana@kubernetescrd' },
  { map: 'sni', host: 'grafana.technis.io', cluster: 'illmatic', router: 'g@file' },
  { map: 'hosts', host: 'grafana.technis.io', cluster: 'hades', router: 'grafana@kubernetescrd' },
];
const twoClusters = [
  { name: 'hades', backends: { sni: 'hades_https', hosts: 'hades_http' } },
  { name: 'illmatic', backends: { sni: 'illmatic_https' } },
];
fresh('routedAwayClaims: the claims whose host the current maps route to another backend', () => {
  const current = {
    hosts: [{ key: 'grafana.technis.io', backend: 'hades_http' }],
    sni: [{ key: 'grafana.technis.io', backend: 'illmatic_https' }],
  };
  assert.equal([...routedAwayClaims(grafanaRoutes, current, twoClusters)], [hadesSni]);
  assert.equal(
    [...routedAwayClaims(grafanaRoutes, { hosts: [], sni: [] }, twoClusters)],
    [],
    'a host the maps do not serve is routed nowhere',
  );
});
fresh('an unhealthy claim first seen routed around counts as unhealthy at once; one still routed to stays counted normally', () => {
  const counts = countClaims(
    new Map(),
    new Map([
      [hadesSni, "hades's API unreachable"],
      [illmaticSni, "illmatic's API unreachable"],
    ]),
    settings,
    new Set([hadesSni]),
  );
  assert.equal(counts.get(hadesSni), { down: 1, up: 0, unhealthy: true, reason: "hades's API unreachable", routedAround: true });
  assert.equal(counts.get(illmaticSni), { down: 1, up: 0, unhealthy: false, reason: "illmatic's API unreachable" });
});
fresh('routed around but healthy, or already counted: the usual hysteresis', () => {
  assert.is(stepClaim(undefined, undefined, settings, true), undefined);
  const recovering = { down: 0, up: 1, unhealthy: true, reason: 'x' };
  assert.equal(stepClaim(recovering, 'x', settings, true), { down: 1, up: 0, unhealthy: true, reason: 'x' });
  const once = { down: 1, up: 0, unhealthy: false, reason: 'x' };
  assert.equal(stepClaim(once, 'x', settings, true), { down: 2, up: 0, unhealthy: true, reason: 'x' });
});
fresh('the failover it keeps says why: the maps already route around the claim', () => {
  const counts = new Map([[hadesSni, { down: 1, up: 0, unhealthy: true, reason: "hades's API unreachable", routedAround: true as const }]]);
  const conflicts: Conflict[] = [{ host: 'grafana.technis.io', map: 'sni', claimants: ['hades', 'illmatic'], winner: 'illmatic' }];
  const t = trackFailovers(
    new Map(),
    [{ host: 'grafana.technis.io', map: 'sni', from: 'hades', to: 'illmatic' }],
    conflicts,
    counts,
    settings,
    't0',
  );
  assert.equal(t.started, [
    {
      host: 'grafana.technis.io',
      map: 'sni',
      from: 'hades',
      to: 'illmatic',
      reason: "hades's API unreachable; the current maps already route around it",
      since: 't0',
    },
  ]);
});
fresh.run();

const why = suite('claimProblems: why a claim is unhealthy');
const hades = { name: 'hades', backends: { sni: 'hades_https', hosts: 'hades_http' } };
const illmatic = { name: 'illmatic', backends: { sni: 'illmatic_https' } };
const route = (cluster: string, host: string, router: string, map: 'sni' | 'hosts' = 'sni'): Route => ({ map, host, cluster, router });
const router = (name: string, service: string): Router => ({ kind: 'http', name, provider: 'kubernetescrd', rule: '', service });
const routes = [
  route('hades', 'grafana.technis.io', 'grafana@kubernetescrd'),
  route('hades', 'grafana.technis.io', 'grafana@kubernetescrd', 'hosts'),
  route('illmatic', 'grafana.technis.io', 'g@file'),
  route('illmatic', 'blog.technis.io', 'blog@file'),
];
const healthy: HealthInput = {
  clusters: [hades, illmatic],
  stale: new Set(),
  backendStatus: new Map([
    ['hades_https', 'UP'],
    ['illmatic_https', 'UP'],
  ]),
  downServices: new Map(),
};
why('all healthy: no problem', () => assert.equal([...claimProblems(routes, healthy)], []));
why('an API that did not answer makes every claim of its cluster unhealthy, whatever else is known', () => {
  assert.equal(
    [...claimProblems(routes, { ...healthy, stale: new Set(['hades']), backendStatus: new Map([['hades_https', 'DOWN']]) })],
    [
      ['sni grafana.technis.io hades', "hades's API unreachable"],
      ['hosts grafana.technis.io hades', "hades's API unreachable"],
    ],
  );
});
why('a backend HAProxy reports DOWN or MAINT makes the claims of that map unhealthy, not those of the other map', () => {
  const h = {
    ...healthy,
    backendStatus: new Map([
      ['hades_https', 'DOWN'],
      ['hades_http', 'UP'],
      ['illmatic_https', 'MAINT'],
    ]),
  };
  assert.equal(
    [...claimProblems(routes, h)],
    [
      ['sni grafana.technis.io hades', "hades's backend hades_https is DOWN in HAProxy"],
      ['sni grafana.technis.io illmatic', "illmatic's backend illmatic_https is MAINT in HAProxy"],
      ['sni blog.technis.io illmatic', "illmatic's backend illmatic_https is MAINT in HAProxy"],
    ],
  );
  assert.equal(downBackends(h.clusters, h.backendStatus), [
    { cluster: 'hades', map: 'sni', backend: 'hades_https', status: 'DOWN' },
    { cluster: 'illmatic', map: 'sni', backend: 'illmatic_https', status: 'MAINT' },
  ]);
});
why('without show stat (HAProxy not asked) every backend counts as UP', () => {
  assert.equal([...claimProblems(routes, { ...healthy, backendStatus: undefined })], []);
});
why('a Traefik service with no server UP makes the claims of the routers using it unhealthy; unknown services count as healthy', () => {
  const hadesDown = downServices([router('grafana@kubernetescrd', 'grafana-svc')], { 'grafana-svc@kubernetescrd': false });
  const illmaticDown = downServices([router('g@file', 'g-svc@file'), router('blog@file', 'blog-svc')], { 'g-svc@file': true });
  assert.equal([...hadesDown], [['grafana@kubernetescrd', 'grafana-svc@kubernetescrd']]);
  assert.equal([...illmaticDown], []);
  const down = new Map([
    ['hades', hadesDown],
    ['illmatic', illmaticDown],
  ]);
  assert.equal(
    [...claimProblems(routes, { ...healthy, downServices: down })],
    [
      ['sni grafana.technis.io hades', "hades's service grafana-svc@kubernetescrd has no server UP"],
      ['hosts grafana.technis.io hades', "hades's service grafana-svc@kubernetescrd has no server UP"],
    ],
  );
});
why('a bare service name is qualified with the router provider', () => {
  assert.is(qualifiedService('whoami', 'kubernetescrd'), 'whoami@kubernetescrd');
  assert.is(qualifiedService('whoami@file', 'kubernetescrd'), 'whoami@file');
});
why.run();

const track = suite('trackFailovers: start, last, end');
const key = claimKey('sni', 'app.technis.io', 'hades');
const down: ReadonlyMap<string, ClaimCount> = new Map([[key, { down: 2, up: 0, unhealthy: true, reason: "hades's API unreachable" }]]);
const recovering: ReadonlyMap<string, ClaimCount> = new Map([
  [key, { down: 0, up: 2, unhealthy: true, reason: "hades's API unreachable" }],
]);
const conflict = (winner: string, claimants = ['hades', 'illmatic']): Conflict[] => [
  { host: 'app.technis.io', map: 'sni', claimants, winner },
];
const moved = [{ host: 'app.technis.io', map: 'sni' as const, from: 'hades', to: 'illmatic' }];
const failover: Failover = {
  host: 'app.technis.io',
  map: 'sni',
  from: 'hades',
  to: 'illmatic',
  reason: "hades's API unreachable for 2 syncs",
  since: 't1',
};
const active = new Map([['sni app.technis.io', failover]]);
track('starts when the choice moved a host off its preferred cluster, with why and for how many syncs', () => {
  const t = trackFailovers(new Map(), moved, conflict('illmatic'), down, settings, 't1');
  assert.equal(t.started, [failover]);
  assert.equal([...t.active.values()], [failover]);
  assert.equal(t.ended, []);
});
track('lasts under sticky once the new owner is the preferred one, while the old one is unhealthy', () => {
  const t = trackFailovers(active, [], conflict('illmatic'), down, settings, 't2');
  assert.equal([...t.active.values()], [failover]);
  assert.equal([t.started, t.ended], [[], []]);
});
track('lasts while the old owner recovers (not yet upAfter healthy syncs)', () => {
  const t = trackFailovers(active, moved, conflict('illmatic'), recovering, settings, 't3');
  assert.equal([...t.active.values()], [failover]);
});
track('ends once the old owner counts healthy again, naming where the host goes', () => {
  const t = trackFailovers(active, [], conflict('hades'), new Map(), settings, 't4');
  assert.equal(t.ended, [{ failover, why: 'hades healthy again for 3 syncs', winner: 'hades' }]);
  assert.equal(t.active.size, 0);
});
track('ends when the old owner no longer claims the host', () => {
  const t = trackFailovers(active, [], [], down, settings, 't4');
  assert.equal(t.ended, [{ failover, why: 'hades no longer claims it' }]);
});
track.run();
