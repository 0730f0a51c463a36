// Before/after, side by side: bundles bench/worker.ts twice, once against the agent/ of a git revision (default HEAD)
// and once against this working tree, then runs both agents interleaved (A B, B A, …) against one haproxy and one set
// of fake clusters, so machine noise hits both. Prints medians and after/before ratios.
// Usage: node --import tsx bench/compare.ts [rev] [--quick]
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWorker } from './lib/bundle.js';
import { startEdge } from './lib/edge.js';
import { cleanupAll, installSignalCleanup, onCleanup } from './lib/procs.js';
import { startWorker, type Worker } from './lib/rpc.js';
import { median } from './lib/stats.js';
import type { SyncCost } from './worker.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const rev = args.find((a) => !a.startsWith('--')) ?? 'HEAD';
const reps = args.includes('--quick') ? 3 : 7;

async function main(): Promise<void> {
  installSignalCleanup();
  const old = mkdtempSync(join(tmpdir(), 'routeagent-before-'));
  onCleanup(() => rmSync(old, { recursive: true, force: true }));
  execFileSync('sh', ['-c', `git -C "${ROOT}" archive "${rev}" agent schemas tsconfig.json package.json | tar -x -C "${old}"`]);
  cpSync(join(ROOT, 'bench'), join(old, 'bench'), { recursive: true, filter: (p) => !p.includes('/results') });
  cpSync(join(ROOT, 'test', 'harness'), join(old, 'test', 'harness'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(old, 'node_modules'));
  // A revision whose schemas are compiled at build time (agent/generated/) needs that build step run in its checkout.
  const generator = join(ROOT, 'scripts', 'validators.mjs');
  if (
    existsSync(join(old, 'agent', 'config.ts')) &&
    readFileSync(join(old, 'agent', 'config.ts'), 'utf8').includes('./generated/validators.js')
  ) {
    mkdirSync(join(old, 'scripts'));
    cpSync(generator, join(old, 'scripts', 'validators.mjs'));
    execFileSync(process.execPath, [join(old, 'scripts', 'validators.mjs')]);
  }
  const [before, after] = [await buildWorker(old, 'worker-before'), await buildWorker()];
  const sha = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', rev], { encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', 'agent'], { encoding: 'utf8' }).trim() !== '';
  console.log(
    `before: agent/ at ${rev} (${sha}); after: agent/ of the working tree${dirty ? ' (with uncommitted changes)' : ''}; ${reps} interleaved repetitions`,
  );

  const edge = await startEdge(after, 3);
  const b: Worker = startWorker(before, 'agent');
  onCleanup(() => b.close());
  await b.call('configure', { config: edge.configJson });
  const agents: Record<'before' | 'after', Worker> = { before: b, after: edge.agent };
  const rows: [string, number, number, string][] = [];
  const pair = async (label: string, unit: string, run: (w: Worker, side: 'before' | 'after', i: number) => Promise<number>) => {
    const out = { before: [] as number[], after: [] as number[] };
    for (let i = 0; i < reps; i++) {
      const order: ('before' | 'after')[] = i % 2 === 0 ? ['before', 'after'] : ['after', 'before'];
      for (const side of order) out[side].push(await run(agents[side], side, i));
    }
    rows.push([label, median(out.before), median(out.after), unit]);
    console.log(`  ${label}: before ${median(out.before).toFixed(1)} ${unit}, after ${median(out.after).toFixed(1)} ${unit}`);
  };

  for (const n of edge.names) await edge.fleet.set(n, { count: 5000, prefix: `${n}-` });
  for (const w of Object.values(agents)) await w.call('sync', { force: true });
  await pair('no-change sync, 3 × 5,000 routers (CPU)', 'ms', async (w) => (await w.call<SyncCost>('sync')).cpuMs);
  let gen = 0;
  await pair('full sync, 3 × 5,000 routers, every entry replaced (wall)', 'ms', async (w) => {
    gen++;
    for (const n of edge.names) await edge.fleet.set(n, { count: 5000, prefix: `g${gen}${n}-` });
    const r = await w.call<SyncCost>('sync', { force: true });
    if (!r.applied) throw new Error(`full sync did not apply: ${r.error ?? r.method}`);
    return r.wallMs;
  });
  for (const size of [15_000, 50_000]) {
    await pair(`replaceMap, ${size.toLocaleString('en')} entries (wall)`, 'ms', async (w) => {
      const r = await w.call<Record<string, { wallMs: number }[]>>('applyCost', { size, reps: 1, arms: ['replaceMap'], warm: false });
      return r.replaceMap![0]!.wallMs;
    });
  }
  await pair('routesFromRouters, 50,000 routers', 'ms', async (w) => {
    const r = await w.call<{ ms: Record<string, number[]> }>('rules', { count: 50_000, reps: 1 });
    return r.ms.routesFromRouters![0]!;
  });
  await pair('parseRule, 50,000 rules', 'ms', async (w) => {
    const r = await w.call<{ ms: Record<string, number[]> }>('rules', { count: 50_000, reps: 1 });
    return r.ms.parseRule![0]!;
  });

  console.log(`\n| case | before (${sha}) | after | after / before |\n|---|---:|---:|---:|`);
  for (const [label, x, y, unit] of rows)
    console.log(`| ${label} | ${x.toFixed(1)} ${unit} | ${y.toFixed(1)} ${unit} | ${(y / x).toFixed(2)}× |`);
}

main()
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());
