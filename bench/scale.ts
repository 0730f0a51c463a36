// 3. Scale: one cluster with 100 → 1,000 → 10,000 → 50,000 routers; for each, the sync that replaces every entry
// (forced past the guard) and the median no-change sync, wall and agent CPU. Linear growth means the marginal cost per
// router stays flat: (cost(N₂) − cost(N₁)) / (N₂ − N₁) is compared between the last two steps.
// Then rule parsing throughput: parseRule vs JSON.parse of the same rule strings and a regex scan for Host(`…`).
import type { Edge } from './lib/edge.js';
import { ms, type Row, row, x } from './lib/report.js';
import { type Cost, median } from './lib/stats.js';
import type { SyncCost } from './worker.js';

export type ScaleStep = { routers: number; full: SyncCost[]; noChange: SyncCost[] };
export type RulesResult = { count: number; ms: Record<string, number[]> };

export async function benchScale(edge: Edge, steps: readonly number[], reps: number): Promise<{ result: ScaleStep[]; rows: Row[] }> {
  const result: ScaleStep[] = [];
  for (const n of edge.names.slice(1)) await edge.fleet.set(n, null);
  let gen = 0;
  for (let i = 0; i < 2; i++) {
    // warm-up (JIT, sockets), not recorded: else the first, smallest step pays for it
    await edge.fleet.set(edge.names[0]!, { count: 1000, prefix: `w${gen++}-` });
    await edge.sync({ force: true });
  }
  for (const routers of steps) {
    const full: SyncCost[] = [];
    const noChange: SyncCost[] = [];
    for (let i = 0; i < reps; i++) {
      await edge.fleet.set(edge.names[0]!, { count: routers, prefix: `s${gen++}-` }); // new hosts: every entry replaced
      const f = await edge.sync({ force: true });
      if (!f.applied || f.error || f.entries.hosts !== routers)
        throw new Error(`scale ${routers}: sync did not apply (${f.error ?? f.method}, ${f.entries.hosts} entries)`);
      full.push(f);
      // The steady state, not the first sync after the big one, which also pays for collecting its garbage.
      await edge.sync();
      noChange.push(await edge.sync());
    }
    result.push({ routers, full, noChange });
  }
  const med = (cs: readonly Cost[], k: keyof Cost) => median(cs.map((c) => c[k]));
  const rows: Row[] = [];
  for (const s of result) {
    const n = s.routers.toLocaleString('en');
    rows.push(
      row(
        '3',
        `${n} routers: full sync (all ${n}×2 entries replaced), wall / agent CPU`,
        `${ms(med(s.full, 'wallMs'))} / ${ms(med(s.full, 'cpuMs'))}`,
        '',
        '',
        null,
      ),
      row(
        '3',
        `${n} routers: no-change sync, wall / agent CPU (${((1000 * med(s.noChange, 'cpuMs')) / s.routers).toFixed(1)} µs CPU per router)`,
        `${ms(med(s.noChange, 'wallMs'))} / ${ms(med(s.noChange, 'cpuMs'))}`,
        '',
        '',
        null,
      ),
    );
  }
  const marginal = (a: ScaleStep, b: ScaleStep, sel: (s: ScaleStep) => SyncCost[], k: keyof Cost) =>
    (med(sel(b), k) - med(sel(a), k)) / (b.routers - a.routers);
  if (result.length >= 3) {
    const [a, b, c] = result.slice(-3) as [ScaleStep, ScaleStep, ScaleStep];
    for (const [label, sel, k] of [
      ['full sync wall', (s: ScaleStep) => s.full, 'wallMs'],
      ['full sync CPU', (s: ScaleStep) => s.full, 'cpuMs'],
      ['no-change CPU', (s: ScaleStep) => s.noChange, 'cpuMs'],
    ] as const) {
      const early = marginal(a, b, sel, k);
      const late = marginal(b, c, sel, k);
      const r = late / early;
      rows.push(
        row(
          '3',
          `linearity, ${label}: marginal µs/router ${b.routers.toLocaleString('en')}→${c.routers.toLocaleString('en')} vs ${a.routers.toLocaleString('en')}→${b.routers.toLocaleString('en')} (${(1000 * late).toFixed(1)} vs ${(1000 * early).toFixed(1)})`,
          '',
          x(r),
          '≈ 1 (≤ 1.5×)',
          r <= 1.5,
        ),
      );
    }
  }
  return { result, rows };
}

export async function benchRules(edge: Edge, count: number, reps: number): Promise<{ result: RulesResult; rows: Row[] }> {
  const r = await edge.agent.call<{ ms: Record<string, number[]> }>('rules', { count, reps });
  const rate = (k: string) => count / (median(r.ms[k]!) / 1000);
  const fmt = (k: string) => `${(rate(k) / 1e6).toFixed(2)} M/s`;
  const rows = [
    row(
      '3',
      `parseRule: ${count.toLocaleString('en')} rules (70% bare Host, the rest with path/negation/header/||)`,
      `${fmt('parseRule')} rules`,
      '',
      '',
      null,
    ),
    row(
      '3',
      '  vs JSON.parse of the same strings as JSON literals',
      `${fmt('JSON.parse')}`,
      `${x(rate('JSON.parse') / rate('parseRule'), 1)} faster`,
      '',
      null,
    ),
    row('3', '  vs a regex scan for Host(`…`)', `${fmt('regex scan')}`, `${x(rate('regex scan') / rate('parseRule'), 1)} faster`, '', null),
    row('3', '  routesFromRouters (parse + DNS check + expose + sort), routers/s', `${fmt('routesFromRouters')}`, '', '', null),
  ];
  return { result: { count, ms: r.ms }, rows };
}
