// Section 7, safety bounds: what hostile input and silent peers cost, measured here instead of asserted in `npm test`
// (a timed assertion fails on a loaded machine while the code is right). The tests prove the outcome (the exact error,
// nothing injected, the connection cut); these rows say how cheaply, against the bounds the code is meant to keep.

import { fetchCluster } from '../agent/io/traefik.js';
import { captureLog, clusterPatch, cpuMs, syncer } from '../test/faults/kit.js';
import { startTraefik } from '../test/harness/traefik.js';
import { app, httpRouter, startWorld } from '../test/harness/world.js';
import { ms, type Row, row } from './lib/report.js';
import { median } from './lib/stats.js';

type BoundsResult = Record<string, number[]>;

const hostile: Record<string, () => Record<string, unknown>[]> = {
  '10,000 "||" Host terms nobody exposed': () => [
    httpRouter('wide', Array.from({ length: 10_000 }, (_, i) => `Host(\`h${i}.example.com\`)`).join(' || ')),
  ],
  '999,999 "!" and a 4 MB host': () => [
    httpRouter('bangs', `${'!'.repeat(999_999)}Host(\`x.technis.io\`)`),
    httpRouter('huge', `Host(\`${'x'.repeat(4_000_000)}.technis.io\`)`),
  ],
};

/** CPU of one forced sync per hostile rule set, of a 70 MB /api/rawdata cut at the 64 MiB cap, and how soon timeouts fire. */
export async function benchBounds(reps: number): Promise<{ result: BoundsResult; rows: Row[] }> {
  const result: BoundsResult = {};
  const w = await startWorld();
  try {
    const cap = captureLog();
    for (const [name, routers] of Object.entries(hostile)) {
      w.clusters.hades.traefik.setRouters('http', [app('a.technis.io'), ...routers()]);
      result[name] = await repeat(reps, async () => (await cpuMs(() => syncer(w, cap.log).run({ force: true }))).cpuMs);
    }
    const one = `"x@p":${JSON.stringify(app('x.technis.io'))},`;
    w.clusters.hades.traefik.setFault('/api/rawdata', { body: `{"routers":{${one.repeat(Math.ceil(70e6 / one.length))}"y@p":{}}}` });
    result['70 MB rawdata cut at the 64 MiB cap'] = await repeat(reps, async () => (await cpuMs(() => syncer(w, cap.log).run())).cpuMs);
    w.clusters.hades.traefik.setFault('/api/rawdata', { delayMs: 10_000 });
    await w.writeConfig({ clusters: clusterPatch(w, 'hades', { timeoutMs: 300 }) });
    result['silent Traefik, timeoutMs 300: sync returns after'] = await repeat(reps, () => elapsed(() => syncer(w, cap.log).run()));
  } finally {
    await w.close();
  }
  const fake = await startTraefik();
  try {
    fake.setFault('/api/rawdata', { body: `{"routers":{${'"x@p":{},'.repeat(2_300_000)}"y@p":{}}}`, dripBytesPerSec: 10_000_000 });
    const target = { name: 'hades', api: fake.url, timeoutMs: 60_000, syntax: 'v3' as const };
    result['20 MB dripped at 10 MB/s, cut at 1 MiB after'] = await repeat(reps, () =>
      elapsed(() => fetchCluster(target, { maxBodyBytes: 1024 * 1024 }).catch(() => undefined)),
    );
  } finally {
    await fake.close();
  }
  const bound = (key: string, limitMs: number, unit: string) => {
    const m = median(result[key]!);
    return row('8', key, `${ms(m)} ${unit}`, '', `< ${ms(limitMs)}`, m < limitMs);
  };
  const rows = [
    ...Object.keys(hostile).map((k) => bound(k, 2000, 'CPU per sync')),
    bound('70 MB rawdata cut at the 64 MiB cap', 5000, 'CPU per sync'),
    bound('silent Traefik, timeoutMs 300: sync returns after', 1500, 'wall'),
    bound('20 MB dripped at 10 MB/s, cut at 1 MiB after', 1000, 'wall (the whole body: 2 s)'),
  ];
  return { result, rows };
}

async function repeat(reps: number, fn: () => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < reps; i++) out.push(await fn());
  return out;
}

async function elapsed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}
