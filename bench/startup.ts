// 6. The bundle: size of dist/routeagent.js, and cold start: spawn `node dist/routeagent.js run` → first "sync:" log
// line and → status file written, against spawning a bare `node -e 0` to its exit, interleaved. One router changes
// between starts, so every start has something to apply (and so logs its "sync:" line) without tripping the guard.
// Then the one-shot `routeagent status` (spawn → exit, as rc.d runs it: no node flags) against `node -e 0`, interleaved:
// once with the daemon running (the usual case: status asks it over the control socket), once from the status file alone.
import { existsSync } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BUNDLE, startDaemonProc } from './lib/daemon.js';
import type { Edge } from './lib/edge.js';
import { sleep, track } from './lib/procs.js';
import { ms, type Row, row, x } from './lib/report.js';
import { makeRouters } from './lib/routers.js';
import { median } from './lib/stats.js';

export type StartupResult = {
  bundleBytes: number;
  syncLineMs: number[];
  statusMs: number[];
  bareNodeMs: number[];
  statusCmdMs: number[];
  statusBareMs: number[];
  statusDaemonMs: number[];
  statusDaemonBareMs: number[];
};

export async function benchStartup(edge: Edge, reps: number): Promise<{ result: StartupResult; rows: Row[] }> {
  const bundleBytes = (await stat(BUNDLE)).size;
  const configPath = join(edge.dir, 'startup-config.json');
  const statusFile = join(edge.dir, 'startup-status.json');
  await edge.writeConfig(configPath, { statusFile, schedule: '0 0 1 1 *' });
  const result: StartupResult = {
    bundleBytes,
    syncLineMs: [],
    statusMs: [],
    bareNodeMs: [],
    statusCmdMs: [],
    statusBareMs: [],
    statusDaemonMs: [],
    statusDaemonBareMs: [],
  };
  const routers = (i: number) => [...makeRouters({ count: 20, prefix: 'boot-' }), ...makeRouters({ count: 1, prefix: `boot${i}x` })];
  await edge.fleet.setRouters(edge.names[0]!, routers(-1));
  for (const n of edge.names.slice(1)) await edge.fleet.set(n, null);
  await edge.sync({ force: true });
  const daemonRun = async (i: number) => {
    await edge.fleet.setRouters(edge.names[0]!, routers(i));
    await unlink(statusFile).catch(() => undefined);
    const d = startDaemonProc(configPath);
    let statusAt = Number.NaN;
    while (performance.now() - d.startedAt < 30_000) {
      if (existsSync(statusFile)) {
        statusAt = performance.now();
        break;
      }
      await sleep(2);
    }
    const line = await d.waitLine(/^info sync: /, 30_000);
    result.syncLineMs.push(d.lines[line]!.at - d.startedAt);
    result.statusMs.push(statusAt - d.startedAt);
    await d.stop();
  };
  const bareRun = async (into = result.bareNodeMs) => into.push(await spawnMs(['-e', '0']));
  for (let i = 0; i < reps; i++) {
    if (i % 2 === 0) {
      await daemonRun(i);
      await bareRun();
    } else {
      await bareRun();
      await daemonRun(i);
    }
  }
  // rc.d runs one-shot verbs without the daemon's node flags.
  const statusArgs = [BUNDLE, 'status', '--config', configPath];
  const statusRuns = async (into: number[], bareInto: number[]) => {
    for (let i = 0; i < reps * 3; i++) {
      for (const arm of i % 2 === 0 ? ['status', 'bare'] : ['bare', 'status']) {
        if (arm === 'bare') await bareRun(bareInto);
        else into.push(await spawnMs(statusArgs));
      }
    }
  };
  // With the daemon: `status` asks it over the control socket and prints its answer.
  await edge.fleet.setRouters(edge.names[0]!, routers(reps)); // a change to apply, so its first sync logs a line
  const daemon = startDaemonProc(configPath);
  try {
    await daemon.waitLine(/^info sync: /, 30_000);
    await statusRuns(result.statusDaemonMs, result.statusDaemonBareMs);
  } finally {
    await daemon.stop();
  }
  // Without: `status` finds no one on the socket and prints the status file the daemon runs above wrote.
  await statusRuns(result.statusCmdMs, result.statusBareMs);
  const bare = median(result.bareNodeMs);
  const statusBare = median(result.statusBareMs);
  const status = median(result.statusCmdMs);
  const daemonBare = median(result.statusDaemonBareMs);
  const daemonStatus = median(result.statusDaemonMs);
  const rows = [
    row('6', 'bundle dist/routeagent.js (dependencies inlined)', `${(bundleBytes / 1024).toFixed(0)} KiB`, '', '', null),
    row(
      '6',
      `cold start → first "sync:" log line (${reps} starts) vs bare \`node -e 0\` spawn→exit (${ms(bare)})`,
      ms(median(result.syncLineMs)),
      x(median(result.syncLineMs) / bare),
      '',
      null,
    ),
    row('6', 'cold start → status file written', ms(median(result.statusMs)), x(median(result.statusMs) / bare), '', null),
    row(
      '6',
      `\`routeagent status\`, daemon running, spawn→exit (${reps * 3} runs) vs bare \`node -e 0\` (${ms(daemonBare)}), interleaved`,
      ms(daemonStatus),
      x(daemonStatus / daemonBare),
      '≤ 1.5× node -e 0',
      daemonStatus / daemonBare <= 1.5,
    ),
    row(
      '6',
      `\`routeagent status\`, no daemon (the status file), spawn→exit (${reps * 3} runs) vs bare \`node -e 0\` (${ms(statusBare)})`,
      ms(status),
      x(status / statusBare),
      '≤ 1.5× node -e 0',
      status / statusBare <= 1.5,
    ),
  ];
  return { result, rows };
}

/** Wall time from spawning `node <args>` to its exit. */
async function spawnMs(args: readonly string[]): Promise<number> {
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const c = track(process.execPath, [...args], { stdio: 'ignore' });
    c.once('exit', () => resolve());
    c.once('error', reject);
  });
  return performance.now() - t0;
}
