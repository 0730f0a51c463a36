// 4. Memory of the real daemon (the bundle, `run`, with the node flags rc.d/routeagent passes), as RSS read from
// /proc/<pid>/status, against a bare `node` process that only keeps a timer, read the same way at the same moments.
// A shorter second run without the flags shows what they buy. Phases, in this order:
//   start:   first sync done (3 clusters × 10 routers), then 1 s idle;
//   syncs:   10,000 back-to-back syncs at that size, driven by SIGUSR2 (each new "sync: starting" line is answered by
//            the next signal, so the daemon always has one sync queued), RSS sampled every 50 syncs: a single sample
//            lands anywhere on the sawtooth of V8's old generation (filled by each sync's garbage, emptied by a full
//            GC every 60-120 syncs, ~6 MiB apart), so "flat" compares the medians of two 1,000-sync windows;
//   15,000:  3 clusters × 5,000 routers (15,000 hosts in each map), 5 syncs, then 1.5 s idle; with rc.d's flags, where
//            that RSS lives (smaps), and RSS again 10 s later, once V8's memory reducer has run (context, no goal).
// The 10,000 syncs run at the small size because at 15,000 routers one sync costs ~0.2 s of CPU: 10,000 of them would
// take more than half an hour.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RCD_NODE_FLAGS, startDaemonProc } from './lib/daemon.js';
import type { Edge } from './lib/edge.js';
import { onCleanup, type RssParts, rssMiB, rssParts, sleep, stopChild, track } from './lib/procs.js';
import { mib, type Row, row, x } from './lib/report.js';
import { median } from './lib/stats.js';

export type MemoryResult = {
  nodeArgs: readonly string[];
  bareStartMiB: number;
  startMiB: number;
  syncs: { count: number; rssMiB: number; bareMiB: number; atMs: number }[];
  at15kMiB: number;
  bare15kMiB: number;
  /** With rc.d's flags only: where at15kMiB lives, and RSS 10 s later (daemon, bare node). */
  later?: { parts: RssParts; bareParts: RssParts; settledMiB: number; bareSettledMiB: number };
  syncsPerSec: number;
};

const SAMPLE_EVERY = 50;

/** `nodeArgs`: the daemon's node flags, by default those rc.d passes (the main rows); others give a comparison row. */
export async function benchMemory(
  edge: Edge,
  syncs: number,
  nodeArgs: readonly string[] = RCD_NODE_FLAGS,
): Promise<{ result: MemoryResult; rows: Row[] }> {
  for (const n of edge.names) await edge.fleet.set(n, { count: 10, prefix: `mem-${n}-` });
  await edge.sync({ force: true }); // the maps start as the daemon wants them (else its guard rightly holds the first sync)
  const configPath = join(edge.dir, 'memory-config.json');
  const statusFile = join(edge.dir, 'memory-status.json');
  await edge.writeConfig(configPath, { schedule: '0 0 1 1 *', statusFile }); // never: only SIGUSR2 triggers syncs
  const bare = track(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  onCleanup(() => stopChild(bare));
  const daemon = startDaemonProc(configPath, { debug: true, nodeArgs });
  onCleanup(() => daemon.stop());
  const starting = /^debug sync: starting/;
  try {
    await waitFile(statusFile, 30_000); // the first sync is done
    await sleep(1000);
    const startMiB = rssMiB(daemon.pid);
    const bareStartMiB = rssMiB(bare.pid!);

    // 10,000 syncs: answer every "sync: starting" with another SIGUSR2 (a queue of one, so the daemon never idles).
    const samples: MemoryResult['syncs'] = [];
    const t0 = performance.now();
    let cursor = daemon.lines.length;
    let done = 0;
    process.kill(daemon.pid, 'SIGUSR2');
    while (done < syncs) {
      cursor = (await daemon.waitLine(starting, 30_000, cursor)) + 1;
      done++;
      if (done < syncs) process.kill(daemon.pid, 'SIGUSR2');
      if (done % SAMPLE_EVERY === 0 || done === syncs)
        samples.push({ count: done, rssMiB: rssMiB(daemon.pid), bareMiB: rssMiB(bare.pid!), atMs: performance.now() - t0 });
    }
    const syncsPerSec = done / ((performance.now() - t0) / 1000);

    // 15,000 routers: one sync that applies them, then 5 more, then idle.
    cursor = daemon.lines.length; // the last queued small sync may already see the new routers: look from here
    for (const n of edge.names) await edge.fleet.set(n, { count: 5000, prefix: `mem-${n}-` });
    process.kill(daemon.pid, 'SIGUSR2');
    cursor = (await daemon.waitLine(/^info sync: hosts \+\d+/, 60_000, cursor)) + 1;
    for (let i = 0; i < 5; i++) {
      process.kill(daemon.pid, 'SIGUSR2');
      cursor = (await daemon.waitLine(starting, 60_000, cursor)) + 1;
    }
    await sleep(1500);
    const at15kMiB = rssMiB(daemon.pid);
    const bare15kMiB = rssMiB(bare.pid!);
    const result: MemoryResult = { nodeArgs, bareStartMiB, startMiB, syncs: samples, at15kMiB, bare15kMiB, syncsPerSec };
    if (nodeArgs === RCD_NODE_FLAGS) {
      const parts = rssParts(daemon.pid);
      const bareParts = rssParts(bare.pid!);
      // V8 starts its memory reducer ~8 s after the heap grew: the garbage of the last syncs and the pages it kept go then.
      await sleep(10_000);
      result.later = { parts, bareParts, settledMiB: rssMiB(daemon.pid), bareSettledMiB: rssMiB(bare.pid!) };
    }
    const rows = nodeArgs === RCD_NODE_FLAGS ? memoryRows(result) : flaggedRows(result);
    return { result, rows };
  } finally {
    await daemon.stop();
    await stopChild(bare);
  }
}

async function waitFile(path: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!existsSync(path)) {
    if (performance.now() > deadline) throw new Error(`${path} not written within ${timeoutMs} ms`);
    await sleep(10);
  }
}

function memoryRows(r: MemoryResult): Row[] {
  const first = r.syncs.find((s) => s.count >= 1000) ?? r.syncs[0]!;
  const last = r.syncs[r.syncs.length - 1]!;
  const half = r.syncs.find((s) => s.count >= last.count / 2) ?? first;
  const thousands = r.syncs.filter((s) => s.count % 1000 === 0 || s === last);
  const growth = last.rssMiB / first.rssMiB;
  // A leak grows all the way; V8 sizing its heap levels off early. Each end is the median of the samples of the window
  // of syncs that ends there, so where one sample fell on the GC sawtooth does not decide it.
  const window = Math.min(1000, Math.floor(last.count / 2));
  const medianUpTo = (end: number) => median(r.syncs.filter((s) => s.count > end - window && s.count <= end).map((s) => s.rssMiB));
  const steady = medianUpTo(last.count) / medianUpTo(half.count);
  const flags = r.nodeArgs.length ? `node ${r.nodeArgs.join(' ')}, as rc.d runs it` : 'node without flags';
  return [
    row(
      '4',
      `RSS after start (first sync of 3 × 10 routers done; ${flags}) vs bare node (${mib(r.bareStartMiB)})`,
      mib(r.startMiB),
      x(r.startMiB / r.bareStartMiB),
      '≤ 1.5× bare node',
      r.startMiB / r.bareStartMiB <= 1.5,
    ),
    row(
      '4',
      `RSS after ${last.count.toLocaleString('en')} syncs (3 × 10 routers, ${r.syncsPerSec.toFixed(0)} syncs/s) vs bare node (${mib(last.bareMiB)})`,
      mib(last.rssMiB),
      x(last.rssMiB / last.bareMiB),
      '',
      null,
    ),
    row(
      '4',
      `  RSS every 1,000 syncs: ${thousands.map((s) => s.rssMiB.toFixed(0)).join(', ')} MiB; at ${last.count.toLocaleString('en')} / at ${first.count.toLocaleString('en')}`,
      '',
      x(growth, 3),
      '',
      null,
    ),
    row(
      '4',
      `  flat over time (steady state): median RSS over syncs ${(last.count - window + 1).toLocaleString('en')}–${last.count.toLocaleString('en')} / over ${(half.count - window + 1).toLocaleString('en')}–${half.count.toLocaleString('en')} (${mib(medianUpTo(last.count))} / ${mib(medianUpTo(half.count))}; a sample every ${SAMPLE_EVERY} syncs)`,
      '',
      x(steady, 3),
      'within 5% (0.95–1.05×)',
      steady >= 0.95 && steady <= 1.05,
    ),
    row(
      '4',
      `RSS holding 15,000 routers (3 × 5,000; 15,000 hosts per map) vs bare node (${mib(r.bare15kMiB)})`,
      mib(r.at15kMiB),
      x(r.at15kMiB / r.bare15kMiB),
      '≤ 2.5× bare node',
      r.at15kMiB / r.bare15kMiB <= 2.5,
    ),
    ...laterRows(r),
  ];
}

// Context for the row above: which part of RSS moves from run to run, and what the same daemon holds once idle.
function laterRows(r: MemoryResult): Row[] {
  if (!r.later) return [];
  const { parts: p, bareParts: b } = r.later;
  const part = (name: string, v: number, bare: number) => `${name} ${v.toFixed(1)} (bare ${bare.toFixed(1)})`;
  return [
    row(
      '4',
      `  of it, MiB: ${part('mapped files (node binary, libraries)', p.files, b.files)}, ${part('C heap', p.cHeap, b.cHeap)}, ${part('anonymous (V8 heap pages, thread arenas)', p.anon, b.anon)}`,
      '',
    ),
    row(
      '4',
      `  the same daemon 10 s later, idle (V8's memory reducer has run) vs bare node (${mib(r.later.bareSettledMiB)})`,
      mib(r.later.settledMiB),
      x(r.later.settledMiB / r.later.bareSettledMiB),
    ),
  ];
}

// The same daemon with other node flags (a shorter run): what rc.d's flags buy.
function flaggedRows(r: MemoryResult): Row[] {
  const last = r.syncs[r.syncs.length - 1]!;
  const flags = r.nodeArgs.length ? `node ${r.nodeArgs.join(' ')}` : 'node without flags (its defaults)';
  return [
    row(
      '4',
      `  with ${flags}: after start / ${last.count.toLocaleString('en')} syncs / at 15,000 routers`,
      `${mib(r.startMiB)} / ${mib(last.rssMiB)} / ${mib(r.at15kMiB)}`,
      `${x(r.startMiB / r.bareStartMiB)} / ${x(last.rssMiB / last.bareMiB)} / ${x(r.at15kMiB / r.bare15kMiB)}`,
      '',
      null,
    ),
  ];
}
