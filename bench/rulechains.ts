// 7. Rule chains: parseRule on rules of n and 10n terms of one shape, side by side (interleaved, CPU time, in the bundled
// agent worker). Linear parsing makes the 10n rule cost about 10× the n one; an algorithm that expands alternatives or
// copies sets on every operator shows up near 100×. The tests check these rules' results, not their speed.

import { ms, type Row, row, x } from './lib/report.js';
import { startWorker } from './lib/rpc.js';
import { median } from './lib/stats.js';

export type ChainShape = 'host' | 'hostOrPath' | 'andOfAlternatives' | 'negatedAnd';
export type ChainsResult = { n: number; ms: Record<ChainShape, { small: number[]; large: number[] }> };

export const CHAIN_SHAPES: Record<ChainShape, string> = {
  host: 'Host(h₁) || Host(h₂) || …',
  hostOrPath: 'Host(h₁) || Path(p₁) || Host(h₂) || …',
  andOfAlternatives: '(Host(h₁) || Path(p₁)) && (Host(h₂) || Path(p₂)) && …',
  negatedAnd: '!Host(h₁) && !Host(h₂) && … && Host(hₙ)',
};

const GOAL = 20; // 10× is linear, 100× quadratic; sorting the hosts (n log n), GC and cache misses add some

export async function benchRuleChains(bundle: string, n: number, reps: number): Promise<{ result: ChainsResult; rows: Row[] }> {
  const agent = startWorker(bundle, 'agent');
  try {
    const r = await agent.call<ChainsResult>('ruleChains', { n, reps });
    const rows = Object.entries(CHAIN_SHAPES).map(([shape, text]) => {
      const { small, large } = r.ms[shape as ChainShape];
      const ratio = median(large) / median(small);
      return row(
        '7',
        `parseRule ${text}: ${(10 * n).toLocaleString('en')} vs ${n.toLocaleString('en')} terms`,
        `${ms(median(large))} vs ${ms(median(small))} CPU`,
        x(ratio, 1),
        `≈ 10× (≤ ${GOAL}×)`,
        ratio <= GOAL,
      );
    });
    return { result: r, rows };
  } finally {
    await agent.close();
  }
}
