// planMap and the guard: pure diffs, compared whole.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { guardReason, isEmptyPlan, planMap, summarisePlan } from '../../agent/core/plan.js';

const appOnA = { key: 'app.example.com', backend: 'be_a' };
const appOnB = { key: 'app.example.com', backend: 'be_b' };
const other = { key: 'other.example.com', backend: 'be_a' };

const plan = suite('planMap');
plan('adds a new host', () => assert.equal(planMap('sni', [], [appOnA]), { map: 'sni', add: [appOnA], change: [], remove: [] }));
plan('moves a host to its new backend', () => {
  assert.equal(planMap('hosts', [appOnA], [appOnB]), {
    map: 'hosts',
    add: [],
    change: [{ key: 'app.example.com', from: 'be_a', to: 'be_b' }],
    remove: [],
  });
});
plan('removes a host no longer desired', () =>
  assert.equal(planMap('sni', [other, appOnA], [appOnA]), { map: 'sni', add: [], change: [], remove: [other] }),
);
plan('equal maps give an empty plan', () => {
  const p = planMap('sni', [other, appOnA], [appOnA, other]);
  assert.ok(isEmptyPlan(p));
  assert.is(summarisePlan(p), 'sni +0 ~0 -0');
});
plan('output is sorted by key', () => {
  const p = planMap(
    'sni',
    [],
    [
      { key: 'z.x', backend: 'b' },
      { key: 'a.x', backend: 'b' },
    ],
  );
  assert.equal(
    p.add.map((e) => e.key),
    ['a.x', 'z.x'],
  );
});
plan('the same plan whatever order either side lists its entries in, duplicates included (random maps)', () => {
  let seed = 3;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return Math.floor((seed / 2147483648) * n); // the high bits: the low ones of this generator cycle
  };
  const side = () =>
    Array.from({ length: rand(8) }, () => ({ key: `h${rand(10)}.example.com`, backend: `be_${'ab'[rand(2)]}` }))
      .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0))
      .filter((e, i, all) => i === 0 || all[i - 1]!.key !== e.key);
  const shuffled = <T>(xs: T[]) =>
    xs
      .map((x) => [rand(1000), x] as const)
      .sort((p, q) => p[0] - q[0])
      .map(([, x]) => x);
  let changed = 0;
  for (let i = 0; i < 2000; i++) {
    const current = side();
    const desired = side();
    const sorted = planMap('hosts', current, desired); // both ascending: walked side by side
    const any = planMap('hosts', shuffled(current), shuffled(desired)); // in any order: indexed
    assert.equal(sorted, any, JSON.stringify([current, desired]));
    if (!isEmptyPlan(sorted)) changed++;
    // A key listed twice live: both ways compare its last entry.
    if (current.length > 0) {
      const twice = [...current, { ...current[current.length - 1]!, backend: 'be_z' }];
      assert.equal(planMap('hosts', twice, desired), planMap('hosts', shuffled(current).concat(twice.slice(-1)), desired));
    }
  }
  assert.ok(changed > 1000, `only ${changed} plans had changes`);
});
plan.run();

const guard = suite('guardReason');
const entries = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `h${i}.example.com`, backend: 'be' }));
guard('removing a few entries is never held', () => assert.is(guardReason(planMap('sni', entries(3), []), 3, 0.5), undefined));
guard('removing more than the ratio (and more than a few) is held', () => {
  assert.is(guardReason(planMap('sni', entries(10), entries(4)), 10, 0.5), 'sni: plan removes 6 of 10 entries (more than 50%)');
});
guard('removing up to the ratio passes', () => assert.is(guardReason(planMap('sni', entries(10), entries(5)), 10, 0.5), undefined));
guard('ratio 1 never holds', () => assert.is(guardReason(planMap('sni', entries(10), []), 10, 1), undefined));
guard.run();
