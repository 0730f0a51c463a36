// 2. Apply cost: replacing a map of 1,000 / 15,000 / 50,000 entries through routeagent's runtime client (replaceMap)
// and the whole applyMaps (render, stage, haproxy -c, show stat, rename, replace), against a minimal raw client that
// sends the same prepare/add/commit, and against that raw client plus the two `show map` entry counts routeagent checks.
// All four arms run in one worker process, interleaved with the order rotating each repetition.
// Then a no-change sync of 3 clusters × 5,000 routers (CPU of the agent process) against the floor of fetching and
// JSON.parse-ing the same answers (/api/rawdata: routers and services) with node:http.
import type { Edge } from './lib/edge.js';
import { ms, type Row, row, x } from './lib/report.js';
import type { Cost } from './lib/stats.js';
import { median } from './lib/stats.js';

export type ApplyCostResult = Record<string, { size: number; arms: Record<string, Cost[]> }>;
export type NoChangeResult = { routers: number; sync: Cost[]; floor: Cost[] };

export async function benchApplyCost(
  edge: Edge,
  sizes: readonly number[],
  reps: number,
): Promise<{ result: ApplyCostResult; rows: Row[] }> {
  const result: ApplyCostResult = {};
  const rows: Row[] = [];
  for (const size of sizes) {
    const arms = await edge.agent.call<Record<string, Cost[]>>('applyCost', { size, reps });
    result[String(size)] = { size, arms };
    const m = (arm: string) => median(arms[arm]!.map((c) => c.wallMs));
    const [replace, raw, counted, apply] = [m('replaceMap'), m('raw'), m('raw+counts'), m('applyMaps')];
    const n = size.toLocaleString('en');
    rows.push(
      row(
        '2',
        `replaceMap ${n} entries vs raw prepare/add/commit (${ms(raw)})`,
        ms(replace),
        x(replace / raw),
        // The goal is set at 15,000 entries; the other sizes show how the ratio moves with size.
        size === 15_000 ? '≤ 1.3× raw' : '',
        size === 15_000 ? replace / raw <= 1.3 : null,
      ),
      row(
        '2',
        `  same, vs raw + the two show map entry counts around the adds (${ms(counted)})`,
        ms(replace),
        x(replace / counted),
        '',
        null,
      ),
      row('2', `  whole applyMaps ${n} (adds render, stage+fsync, haproxy -c, show stat, rename)`, ms(apply), x(apply / raw), '', null),
    );
  }
  return { result, rows };
}

export async function benchNoChange(edge: Edge, perCluster: number, reps: number): Promise<{ result: NoChangeResult; rows: Row[] }> {
  for (const n of edge.names) await edge.fleet.set(n, { count: perCluster, prefix: `${n}-` });
  const first = await edge.sync({ force: true });
  if (!first.applied || first.error) throw new Error(`no-change setup sync failed: ${first.error ?? first.method}`);
  await edge.sync(); // warm
  const sync: Cost[] = [];
  const floor: Cost[] = [];
  for (let i = 0; i < reps; i++) {
    const pair = i % 2 === 0 ? [edge.sync, edge.fetchBaseline] : [edge.fetchBaseline, edge.sync];
    for (const fn of pair) {
      const c = await fn();
      if ('applied' in c && c.applied) throw new Error('a no-change sync applied something');
      (fn === edge.sync ? sync : floor).push(c);
    }
  }
  const routers = perCluster * edge.names.length;
  const cpu = median(sync.map((c) => c.cpuMs));
  const floorCpu = median(floor.map((c) => c.cpuMs));
  const rows = [
    row(
      '2',
      `no-change sync, ${edge.names.length} clusters × ${perCluster.toLocaleString('en')} routers: agent CPU (wall ${ms(median(sync.map((c) => c.wallMs)))})`,
      ms(cpu),
      `${x(cpu / floorCpu)} floor`,
      '≤ 1.5× floor',
      cpu / floorCpu <= 1.5,
    ),
    row(
      '2',
      `  floor: fetch the same /api/rawdata with node:http + JSON.parse (CPU; per router ${((1000 * cpu) / routers).toFixed(1)} µs vs ${((1000 * floorCpu) / routers).toFixed(1)} µs)`,
      ms(floorCpu),
      '',
      '',
      null,
    ),
  ];
  return { result: { routers, sync, floor }, rows };
}
