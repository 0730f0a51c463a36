// Small statistics for a noisy shared machine: medians and percentiles, never a single sample, and interleaved runs
// (A B B A …) so a burst of noise hits both sides of a comparison.

export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

/** Nearest-rank percentile (p in 0..100) of the samples. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export type Cost = { wallMs: number; cpuMs: number };

/** Wall time and this process's CPU time (user + system) of one call. */
export async function measure(fn: () => Promise<unknown>): Promise<Cost> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}
