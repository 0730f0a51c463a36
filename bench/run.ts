// `npm run bench`: routeagent measured side by side with baselines on one noisy shared machine, printed as ONE table
// and written to bench/results/latest.json (+ latest.md). Everything runs on 127.0.0.1: a real haproxy, fake Traefik
// clusters in a worker process, the real daemon (dist/routeagent.js) and, for in-process measurements, routeagent's
// code bundled exactly as build.sh bundles it. Every process started is stopped on exit and on Ctrl-C.
// Usage: node --import tsx bench/run.ts [--quick] [--only=1,2,3,4,5,6,7]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { haproxyBin } from '../test/harness/haproxy.js';
import { hasTool, whyMissing } from '../test/harness/tools.js';
import { benchApplyCost, benchNoChange } from './apply-cost.js';
import { benchBounds } from './bounds.js';
import { buildWorker } from './lib/bundle.js';
import { BUNDLE } from './lib/daemon.js';
import { type Edge, startEdge } from './lib/edge.js';
import { cleanupAll, installSignalCleanup, stopping } from './lib/procs.js';
import { type Row, renderTable, row } from './lib/report.js';
import { benchMemory } from './memory.js';
import { benchPropagation } from './propagation.js';
import { benchReload } from './reload.js';
import { benchRuleChains } from './rulechains.js';
import { benchRules, benchScale } from './scale.js';
import { benchStartup } from './startup.js';

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = new Set((args.find((a) => a.startsWith('--only='))?.slice(7) ?? '1,2,3,4,5,6,7,8').split(','));

// Sizes: the full run is tuned to finish in about 5 minutes on 2 cores; --quick is a smoke test of the harness.
const P = quick
  ? {
      changes: 6,
      background: 100,
      applySizes: [1000, 15_000],
      applyReps: 3,
      noChangeReps: 3,
      scaleSteps: [100, 1000, 10_000],
      scaleReps: 1,
      ruleCount: 20_000,
      ruleReps: 3,
      chainTerms: 2000,
      chainReps: 3,
      boundReps: 1,
      memSyncs: 500,
      memFlaggedSyncs: 200,
      reloadChanges: 20,
      reloadPeriodMs: 200,
      startups: 3,
    }
  : {
      changes: 50,
      background: 500,
      applySizes: [1000, 15_000, 50_000],
      applyReps: 21,
      noChangeReps: 9,
      scaleSteps: [100, 1000, 10_000, 50_000],
      scaleReps: 5,
      ruleCount: 50_000,
      ruleReps: 9,
      chainTerms: 10_000,
      chainReps: 5,
      boundReps: 3,
      memSyncs: 10_000,
      memFlaggedSyncs: 2000,
      reloadChanges: 100,
      reloadPeriodMs: 200,
      startups: 7,
    };

function environment(): Record<string, string> {
  const sh = (cmd: string, a: string[]) => {
    try {
      return execFileSync(cmd, a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '?';
    }
  };
  const root = fileURLToPath(new URL('..', import.meta.url));
  const dirty = sh('git', ['-C', root, 'status', '--porcelain', 'agent']) !== '';
  return {
    command: `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}  (node --import tsx bench/run.ts${args.length ? ` ${args.join(' ')}` : ''})`,
    date: new Date().toISOString(),
    commit: `${sh('git', ['-C', root, 'rev-parse', '--short', 'HEAD'])}${dirty ? ' + uncommitted agent/ changes' : ''}`,
    node: process.version,
    haproxy: sh(haproxyBin(), ['-v']).split('\n')[0] ?? '?',
    wrk: (spawnSync('wrk', ['-v'], { encoding: 'utf8' }).stdout ?? '').split('\n')[0]?.trim() || 'not found',
    cpu: `${cpus()[0]?.model ?? '?'} × ${cpus().length}`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    loadavgAtStart: loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  };
}

async function main(): Promise<number> {
  installSignalCleanup();
  const missing =
    (['haproxy', 'openssl'] as const).filter((t) => !hasTool(t)).map(whyMissing)[0] ??
    (existsSync(BUNDLE) ? undefined : `${BUNDLE} missing: run ./build.sh`);
  if (missing) {
    console.error(`bench: ${missing}`);
    return 2;
  }
  const env = environment();
  const t0 = performance.now();
  const rows: Row[] = [];
  const sections: Record<string, unknown> = {};
  const errors: string[] = [];
  const step = async (id: string, name: string, fn: () => Promise<{ result: unknown; rows: Row[] }>) => {
    if (!only.has(id)) return;
    const started = performance.now();
    process.stderr.write(`bench: ${id}. ${name}…`);
    try {
      const r = await fn();
      rows.push(...r.rows);
      sections[name] = r.result;
      process.stderr.write(` ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    } catch (e) {
      if (stopping()) return new Promise<never>(() => undefined); // Ctrl-C: the signal handler exits once all is stopped
      const msg = (e as Error).message.split('\n')[0]!;
      errors.push(`${name}: ${(e as Error).stack ?? msg}`);
      rows.push(row(id, `${name}: FAILED`, msg.slice(0, 120), '', '', false));
      process.stderr.write(` failed: ${msg}\n`);
    }
  };

  process.stderr.write(`bench: building the measurement worker (esbuild, as build.sh)…\n`);
  const bundle = await buildWorker();
  await step('1', 'propagation', () => benchPropagation({ changes: P.changes, background: P.background }));
  let edge: Edge | undefined;
  const needEdge = async () => (edge ??= await startEdge(bundle, 3));
  await step('2', 'apply cost', async () => benchApplyCost(await needEdge(), P.applySizes, P.applyReps));
  await step('2', 'no-change sync', async () => benchNoChange(await needEdge(), 5000, P.noChangeReps));
  await step('3', 'scale', async () => benchScale(await needEdge(), P.scaleSteps, P.scaleReps));
  await step('3', 'rule parsing', async () => benchRules(await needEdge(), P.ruleCount, P.ruleReps));
  await step('4', 'memory', async () => benchMemory(await needEdge(), P.memSyncs));
  await step('4', 'memory, node without flags', async () => benchMemory(await needEdge(), P.memFlaggedSyncs, []));
  await step('6', 'bundle and cold start', async () => benchStartup(await needEdge(), P.startups));
  await edge?.close();
  await step('7', 'rule chains', () => benchRuleChains(bundle, P.chainTerms, P.chainReps));
  await step('8', 'safety bounds', () => benchBounds(P.boundReps));
  await step('5', 'live update vs reload', () =>
    benchReload(bundle, { changes: P.reloadChanges, periodMs: P.reloadPeriodMs, connections: 16, delayMs: 2 }),
  );

  rows.sort((a, b) => a.section.localeCompare(b.section)); // stable: keeps each section's own order
  const durationSec = (performance.now() - t0) / 1000;
  env['loadavgAtEnd'] = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  env['duration'] = `${durationSec.toFixed(0)} s`;
  const table = renderTable(rows);
  const header = Object.entries(env)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
  const text = `${header}\n\n${table}\n`;
  process.stdout.write(`\n${text}`);
  await mkdir(RESULTS, { recursive: true });
  await writeFile(`${RESULTS}latest.json`, `${JSON.stringify({ env, params: P, quick, rows, sections, errors }, null, 2)}\n`);
  await writeFile(`${RESULTS}latest.md`, `\`\`\`\n${header}\n\`\`\`\n\n${table}\n`);
  process.stdout.write(`\nwritten: bench/results/latest.json, bench/results/latest.md\n`);
  for (const e of errors) process.stderr.write(`\nbench: ${e}\n`);
  return errors.length ? 1 : 0;
}

main()
  .then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  )
  .finally(() => cleanupAll());
