// 5. Live update vs reload under load. A haproxy started the way pfSense runs it (daemon mode, pidfile, admin socket
// with expose-fd listeners) serves a steady wrk load on one host; meanwhile 100 route changes (one new router each)
// are synced by routeagent, once applied live over the runtime API, once by the reload pfSense's Apply does:
// `haproxy -f cfg -p pidfile -D -x socket -sf <oldpid>` (routeagent's own reload fallback, with the socket unreachable).
// Both arms run the same syncOnce from the bundle (haproxy -c included) at the same pace; only the apply step differs.
// wrk keeps a steady load (16 connections, each pausing between requests) on one host that never changes.
// The load backends answer from HAProxy itself (http-request return), so no upstream process competes for the CPU.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, haproxyBin } from '../test/harness/haproxy.js';
import { haproxyConfig } from '../test/harness/haproxy-config.js';
import { alive } from '../test/harness/wait.js';
import { backendsOf } from './lib/edge.js';
import { startFleet } from './lib/fleet.js';
import { onCleanup, once, pidsWithArg, sleep, stopPid, track, trackPid } from './lib/procs.js';
import { ms, type Row, row, x } from './lib/report.js';
import { makeRouters } from './lib/routers.js';
import { startWorker } from './lib/rpc.js';
import type { SyncCost } from './worker.js';

export type WrkResult = {
  requests: number;
  non2xx: number;
  socketErrors: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  rps: number;
  raw: string;
};
export type ArmResult = {
  method: 'runtime' | 'reload';
  wrk: WrkResult;
  applied: number;
  syncMs: number[];
  processesAfter: number;
  processesAfter2s: number;
  behindScheduleMs: number;
};

const LOAD_HOST = 'load.technis.io';

export async function benchReload(
  bundle: string,
  opts: { changes: number; periodMs: number; connections: number; delayMs: number },
): Promise<{ result: ArmResult[]; rows: Row[] }> {
  const result: ArmResult[] = [];
  for (const method of ['runtime', 'reload'] as const) result.push(await arm(bundle, method, opts));
  const [live, rel] = result as [ArmResult, ArmResult];
  const failed = (a: ArmResult) => a.wrk.non2xx + a.wrk.socketErrors;
  const rows: Row[] = [];
  for (const a of result) {
    const label = a.method === 'runtime' ? 'routeagent, live (runtime API)' : 'reload (haproxy -D -x sock -sf old)';
    rows.push(
      row(
        '5',
        `${label}: ${a.applied} changes under ${a.wrk.requests.toLocaleString('en')} requests: failed (non-2xx ${a.wrk.non2xx} + socket errors ${a.wrk.socketErrors})`,
        `${failed(a)} (${((100 * failed(a)) / Math.max(1, a.wrk.requests)).toFixed(3)}%)`,
        '',
        a.method === 'runtime' ? '0 failed' : '',
        a.method === 'runtime' ? failed(a) === 0 : null,
      ),
      row(
        '5',
        `  ${a.method}: latency p50 / p99 / max; requests/s`,
        `${ms(a.wrk.p50Ms)} / ${ms(a.wrk.p99Ms)} / ${ms(a.wrk.maxMs)}; ${a.wrk.rps.toFixed(0)}/s`,
        '',
        '',
        null,
      ),
      row(
        '5',
        `  ${a.method}: haproxy processes alive right after / 2 s after (sync median ${ms(median(a.syncMs))})`,
        `${a.processesAfter} / ${a.processesAfter2s}`,
        '',
        a.method === 'runtime' ? '1' : '',
        a.method === 'runtime' ? a.processesAfter === 1 && a.processesAfter2s === 1 : null,
      ),
    );
  }
  rows.push(row('5', 'p99 latency, reload / live', '', x(rel.wrk.p99Ms / live.wrk.p99Ms), '', null));
  return { result, rows };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : Number.NaN;
}

async function arm(
  bundle: string,
  method: 'runtime' | 'reload',
  opts: { changes: number; periodMs: number; connections: number; delayMs: number },
): Promise<ArmResult> {
  const dir = await mkdtemp(join(tmpdir(), `routeagent-bench-${method}-`));
  const names = ['c0', 'c1'];
  const fleet = await startFleet(bundle, names);
  const socket = join(dir, 'admin.sock');
  const cfg = join(dir, 'haproxy.cfg');
  const pidfile = join(dir, 'haproxy.pid');
  const maps = { hosts: join(dir, 'hosts.map'), sni: join(dir, 'sni.map') };
  const [httpPort, sniPort, deadPort] = [await freePort(), await freePort(), await freePort()];
  await writeFile(maps.hosts, '');
  await writeFile(maps.sni, '');
  await writeFile(cfg, pfsenseConfig({ socket, httpPort, sniPort, deadPort, maps, names }));
  const bin = haproxyBin();
  const reloadCmd = `${bin} -f ${cfg} -p ${pidfile} -D -x ${socket} -sf $(cat ${pidfile})`;
  const cleanup = once(async () => {
    await fleet.close();
    for (const pid of pidsWithArg(cfg)) await stopPid(pid, 2000, 'SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });
  onCleanup(cleanup);
  try {
    await run(bin, ['-c', '-f', cfg]);
    await run(bin, ['-f', cfg, '-p', pidfile, '-D']);
    for (const pid of pidsWithArg(cfg)) trackPid(pid);
    const config = {
      clusters: names.map((n, i) => ({ name: n, api: fleet.urls[n], backends: backendsOf(n), priority: 10 * (i + 1), timeoutMs: 30_000 })),
      expose: { domains: ['technis.io'], hosts: [], exclude: [] },
      haproxy: {
        bin,
        config: cfg,
        // the reload arm points routeagent at a socket that does not exist, so it applies with its reload command
        socket: method === 'runtime' ? socket : join(dir, 'no-such.sock'),
        maps,
        timeoutMs: 30_000,
        ...(method === 'reload' ? { reload: reloadCmd } : {}),
      },
      schedule: '0 0 1 1 *',
      statusFile: join(dir, 'status.json'),
    };
    const agent = startWorker(bundle, 'agent');
    try {
      await agent.call('configure', { config });
      const base = makeRouters({ count: 200, prefix: 'base-' });
      const load = makeRouters({ count: 1, prefix: 'load' }).map((r) => ({
        ...r,
        name: 'load@kubernetescrd',
        rule: `Host(\`${LOAD_HOST}\`)`,
      }));
      await fleet.setRouters('c0', [...load, ...base]);
      const first = await agent.call<SyncCost>('sync', { force: true });
      if (!first.applied || first.method !== method)
        throw new Error(`${method} arm: first sync gave ${first.method} (${first.error ?? 'no error'})`);
      await waitServes(httpPort, LOAD_HOST);
      for (const pid of pidsWithArg(cfg)) trackPid(pid);

      const durationSec = Math.ceil((opts.changes * opts.periodMs * 1.3) / 1000) + 3; // margin: a change may run late
      const script = join(dir, 'steady.lua');
      // A steady load, not a saturating one: each connection waits delayMs between requests, so the 2 cores keep
      // headroom and latency shows what the apply method does, not CPU contention between wrk, haproxy and node.
      await writeFile(script, `function delay()\n  return ${opts.delayMs}\nend\n`);
      const wrk = runWrk(httpPort, opts.connections, durationSec, script);
      await sleep(1000);
      const syncMs: number[] = [];
      let applied = 0;
      const t0 = performance.now();
      let behindScheduleMs = 0;
      for (let i = 0; i < opts.changes; i++) {
        const due = t0 + i * opts.periodMs;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        else behindScheduleMs = Math.max(behindScheduleMs, -wait);
        const extra = makeRouters({ count: i + 1, prefix: 'chg-' }); // one more router per change, alternately on c0 and c1
        await fleet.setRouters('c0', [...load, ...base, ...extra.filter((_, j) => j % 2 === 0)]);
        await fleet.setRouters(
          'c1',
          extra.filter((_, j) => j % 2 === 1),
        );
        const r = await agent.call<SyncCost>('sync');
        if (r.error) throw new Error(`${method} arm: sync ${i} failed: ${r.error}`);
        if (r.applied) applied++;
        syncMs.push(r.wallMs);
        for (const pid of pidsWithArg(cfg)) trackPid(pid);
      }
      const out = await wrk;
      const processesAfter = pidsWithArg(cfg).filter(alive).length;
      await sleep(2000);
      const processesAfter2s = pidsWithArg(cfg).filter(alive).length;
      return { method, wrk: out, applied, syncMs, processesAfter, processesAfter2s, behindScheduleMs };
    } finally {
      await agent.close();
    }
  } finally {
    await cleanup();
  }
}

/**
 * pfSense-like: run in daemon mode (-D, pidfile) by the caller, admin socket with expose-fd listeners for -x, no
 * traffic log. The HTTP backends answer from HAProxy itself; the TLS ones point at a dead port (never used by the load).
 */
function pfsenseConfig(o: {
  socket: string;
  httpPort: number;
  sniPort: number;
  deadPort: number;
  maps: { hosts: string; sni: string };
  names: string[];
}): string {
  return haproxyConfig({
    socket: o.socket,
    httpPort: o.httpPort,
    sniPort: o.sniPort,
    mapPaths: o.maps,
    extraGlobal: '    maxconn 4096\n',
    log: false,
    noRouteReply: 'no route',
    writtenBy: 'bench/reload.ts (test/harness/haproxy-config.ts, pfSense-like)',
    backends: o.names.flatMap((n) => [
      { name: backendsOf(n).hosts, mode: 'http' as const, reply: n },
      { name: backendsOf(n).sni, mode: 'tcp' as const, port: o.deadPort },
    ]),
  });
}

function run(bin: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(bin, args, { timeout: 30_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${bin} ${args.join(' ')}: ${stdout}${stderr}`)) : resolve(),
    ),
  );
}

async function waitServes(port: number, host: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const code = await statusOf(port, host);
    if (code === 200) return;
    if (Date.now() > deadline) throw new Error(`haproxy does not route ${host} (last status ${code})`);
    await sleep(50);
  }
}

// node:http, not fetch: fetch drops a Host header silently (a forbidden header name in the Fetch spec).
function statusOf(port: number, host: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(2000, () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

function runWrk(port: number, connections: number, durationSec: number, script: string): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = track(
      'wrk',
      [
        '-t1',
        `-c${connections}`,
        `-d${durationSec}s`,
        '--latency',
        '--timeout',
        '5s',
        '-s',
        script,
        '-H',
        `Host: ${LOAD_HOST}`,
        `http://127.0.0.1:${port}/`,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', (e) => reject(new Error(`wrk: ${e.message} (install it: apt-get install -y wrk)`)));
    child.once('exit', (code) => (code === 0 ? resolve(parseWrk(out)) : reject(new Error(`wrk exited ${code}:\n${out}`))));
  });
}

/** wrk's text report → numbers (latency units us/ms/s; "Socket errors" and "Non-2xx" lines appear only when non-zero). */
export function parseWrk(out: string): WrkResult {
  const dur = (v: string, unit: string) => Number(v) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 1);
  const pct = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? dur(m[1]!, m[2]!) : Number.NaN;
  };
  const max = /^\s*Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)/m.exec(out);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? Number.NaN);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = se ? Number(se[1]) + Number(se[2]) + Number(se[3]) + Number(se[4]) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  return {
    requests,
    non2xx,
    socketErrors,
    p50Ms: pct('50'),
    p99Ms: pct('99'),
    maxMs: max ? dur(max[1]!, max[2]!) : Number.NaN,
    rps,
    raw: out,
  };
}
