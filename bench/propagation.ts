// 1. Propagation: a router is added to, or moved between, fake Traefik clusters; how long until the first real request
// through HAProxy (plain HTTP by Host header *and* TLS by SNI) reaches the new cluster. The real daemon (the bundle,
// `run`) polls every second. Each change waits a random 0–1 s first, so changes land at every phase of the schedule.
import { app, type ClusterName, startWorld } from '../test/harness/world.js';
import { startDaemonProc } from './lib/daemon.js';
import { onCleanup, once, sleep } from './lib/procs.js';
import { ms, type Row, row, x } from './lib/report.js';
import { median, percentile } from './lib/stats.js';

export type PropagationResult = {
  changes: number;
  intervalMs: number;
  backgroundRouters: number;
  samplesMs: number[];
  kinds: ('add' | 'move')[];
  timeouts: number;
  daemonSyncMs: number[];
  medianMs: number;
  p99Ms: number;
};

const INTERVAL_MS = 1000;
const TIMEOUT_MS = 10_000;

export async function benchPropagation(opts: { changes: number; background: number }): Promise<{ result: PropagationResult; rows: Row[] }> {
  const w = await startWorld({ schedule: '*/1 * * * * *' });
  const closeWorld = once(() => w.close());
  onCleanup(closeWorld);
  const clusters: ClusterName[] = ['hades', 'illmatic'];
  const routers: Record<ClusterName, Record<string, unknown>[]> = { hades: [], illmatic: [] };
  for (let i = 0; i < opts.background; i++) routers[clusters[i % 2]!].push(app(`bg${String(i).padStart(5, '0')}.technis.io`));
  const movers = Array.from({ length: Math.ceil(opts.changes / 2) }, (_, i) => `mv${i}.technis.io`);
  for (const h of movers) routers.hades.push(app(h));
  const publish = () => {
    for (const c of clusters) w.clusters[c].traefik.setRouters('http', routers[c]);
  };
  publish();
  const daemon = startDaemonProc(w.configPath);
  onCleanup(() => daemon.stop());
  const samplesMs: number[] = [];
  const kinds: ('add' | 'move')[] = [];
  let timeouts = 0;
  try {
    await daemon.waitLine(/^info sync: /, 30_000);
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let i = 0; i < opts.changes; i++) {
      await sleep(random() * INTERVAL_MS);
      let host: string;
      let target: ClusterName;
      if (i % 2 === 0) {
        host = `new${i}.technis.io`;
        target = clusters[(i / 2) % 2]!;
        routers[target].push(app(host));
        kinds.push('add');
      } else {
        host = movers[(i - 1) / 2]!;
        routers.hades = routers.hades.filter((r) => r['name'] !== `${host.split('.')[0]}@kubernetescrd`);
        target = 'illmatic';
        routers.illmatic.push(app(host));
        kinds.push('move');
      }
      publish();
      const t0 = performance.now();
      for (;;) {
        const [viaHttp, viaSni] = await Promise.all([w.viaHttp(host).catch(() => ''), w.viaSni(host)]);
        const now = performance.now();
        if (viaHttp === target && viaSni === target) {
          samplesMs.push(now - t0);
          break;
        }
        if (now - t0 > TIMEOUT_MS) {
          timeouts++;
          samplesMs.push(Number.POSITIVE_INFINITY);
          break;
        }
        await sleep(5);
      }
    }
  } finally {
    await daemon.stop();
  }
  const daemonSyncMs = daemon.lines.flatMap((l) => {
    const m = /^info sync: .* in (\d+) ms$/.exec(l.text);
    return m ? [Number(m[1])] : [];
  });
  const medianMs = median(samplesMs);
  const p99Ms = percentile(samplesMs, 99);
  const result: PropagationResult = {
    changes: opts.changes,
    intervalMs: INTERVAL_MS,
    backgroundRouters: opts.background,
    samplesMs,
    kinds,
    timeouts,
    daemonSyncMs,
    medianMs,
    p99Ms,
  };
  const goalMs = INTERVAL_MS + 200;
  const rows = [
    row(
      '1',
      `propagation, ${opts.changes} changes (adds + moves), daemon schedule 1 s, ${opts.background} other routers: median`,
      ms(medianMs),
      `${x(medianMs / INTERVAL_MS)} interval`,
      '',
      null,
    ),
    row(
      '1',
      `propagation: p99 (nearest rank; with ${opts.changes} samples that is the slowest; ${timeouts} never arrived in ${TIMEOUT_MS / 1000} s)`,
      ms(p99Ms),
      `${x(p99Ms / INTERVAL_MS)} interval`,
      `p99 ≤ interval + 0.2 s (${x(goalMs / INTERVAL_MS)})`,
      p99Ms <= goalMs,
    ),
    row('1', 'daemon sync that applied a change (its own log "in N ms"): median', ms(median(daemonSyncMs)), '', '', null),
  ];
  await closeWorld();
  return { result, rows };
}
