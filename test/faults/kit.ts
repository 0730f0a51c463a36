// Provides what every fault test needs on top of test/harness/world.ts: a captured log, a sync that re-reads the config
// like the daemon does, a snapshot of both maps (live `show map` and the file) to prove "old or new, never a mix",
// a CPU meter, a proxy unix socket in front of HAProxy's (to hold, rewrite or act on single commands) and a HAProxy
// restart on the same config. The agent as a child process is ../harness/agent.ts. Loopback and tmp dirs only.
import { execFile, spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { readConfig } from '../../agent/config.js';
import type { MapName } from '../../agent/core/types.js';
import { createSyncDeps } from '../../agent/deps.js';
import { createRuntime } from '../../agent/io/runtime.js';
import { createLog, type Log } from '../../agent/log.js';
import { newSyncState, type SyncDeps, type SyncOptions, type SyncReport, type SyncState, syncOnce } from '../../agent/sync.js';
import { haproxyBin } from '../harness/haproxy.js';
import { alive, until, WAIT_MS } from '../harness/wait.js';
import type { World } from '../harness/world.js';

const MAPS: readonly MapName[] = ['hosts', 'sni'];

/** One map's content as sorted `key value` lines: what a version of a map is, for comparisons. */
export type Version = Record<MapName, string[]>;
/** Both maps as HAProxy serves them (`show map`) and as the files hold them. */
export type MapsNow = { live: Version; file: Version };

/** A log that keeps its lines (without the trailing newline). */
export function captureLog(): { lines: string[]; log: Log; clear(): void } {
  const lines: string[] = [];
  return { lines, log: createLog((l) => lines.push(l.trimEnd()), 'debug'), clear: () => void lines.splice(0) };
}

/** A sync as the daemon runs it: the config is read from disk each time; `edit` may swap a port (traefik, haproxy) of the real deps. */
export function syncer(w: World, log: Log, state: SyncState = newSyncState()) {
  return {
    state,
    async run(opts: SyncOptions = {}, edit: (deps: SyncDeps) => SyncDeps = (d) => d): Promise<SyncReport> {
      const { config } = await readConfig(w.configPath);
      return syncOnce(edit(createSyncDeps(config, log)), state, opts);
    },
  };
}

/** The sorted `key value` lines of a report's desired maps. */
export function versionOf(report: SyncReport): Version {
  return Object.fromEntries(MAPS.map((m) => [m, lines(Object.fromEntries(report.maps[m].map((e) => [e.key, e.backend])))])) as Version;
}

/** A version from plain objects (`{ 'a.technis.io': 'hades_https_ipvANY' }`). */
export function version(v: Partial<Record<MapName, Record<string, string>>>): Version {
  return { hosts: lines(v.hosts ?? {}), sni: lines(v.sni ?? {}) };
}

function lines(m: Record<string, string>): string[] {
  return Object.entries(m)
    .map(([k, v]) => `${k} ${v}`)
    .sort();
}

/** Read both maps from HAProxy (through `socket`, default the world's real one) and from disk. */
export async function mapsNow(w: World, socket = w.haproxy.socket): Promise<MapsNow> {
  const rt = createRuntime(socket, { timeoutMs: WAIT_MS });
  const live = {} as Version;
  const file = {} as Version;
  for (const m of MAPS) {
    live[m] = (await rt.showMap(w.haproxy.mapPaths[m])).map((e) => `${e.key} ${e.backend}`).sort();
    file[m] = (await readFile(w.haproxy.mapPaths[m], 'utf8')).split('\n').filter(Boolean).sort();
  }
  return { live, file };
}

/** Each map, live and on disk, is exactly one of `allowed` (per map: a map may be old while the other is new). */
export function assertEach(now: MapsNow, allowed: readonly Version[], what = ''): void {
  for (const m of MAPS) {
    for (const where of ['live', 'file'] as const) {
      const got = now[where][m];
      const ok = allowed.some((v) => same(v[m], got));
      assert.ok(
        ok,
        `${what}${what ? ': ' : ''}${where} ${m} map is not one of the allowed versions:\n  got ${JSON.stringify(got.slice(0, 6))}${got.length > 6 ? ` …(${got.length})` : ''}\n  allowed ${allowed.map((v) => JSON.stringify(v[m].slice(0, 6))).join('\n       or ')}`,
      );
    }
  }
}

/** Live and file both equal `v` for both maps. */
export async function assertServes(w: World, v: Version, what = ''): Promise<void> {
  const now = await mapsNow(w);
  for (const m of MAPS) {
    assert.equal(now.file[m], v[m], `${what} file ${m}`);
    assert.equal(now.live[m], v[m], `${what} live ${m}`);
  }
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Poll `show map` for both maps (on the real socket) until `work` settles; every sample must be one of `allowed`.
 * Returns how many samples were taken.
 */
export async function watchLive<T>(w: World, allowed: readonly Version[], work: Promise<T>): Promise<{ result: T; samples: number }> {
  let done = false;
  const settled = work.finally(() => (done = true));
  const rt = createRuntime(w.haproxy.socket, { timeoutMs: 5000 });
  let samples = 0;
  let mix: string | undefined; // reported once the work is over, so no sync is left running behind a failed test
  while (!done) {
    for (const m of MAPS) {
      const path = w.haproxy.mapPaths[m];
      const version = async () => (await rt.listMaps().catch(() => []))?.find((l) => l.path === path)?.currVer;
      // HAProxy streams a long `show map` over several buffers; a commit that lands in between tears the listing (old
      // head, new tail) although routing switched atomically. A sample whose curr_ver moved during the read is discarded.
      const before = await version();
      const live = (await rt.showMap(path).catch(() => undefined))?.map((e) => `${e.key} ${e.backend}`).sort();
      if (live === undefined || before === undefined) continue; // HAProxy restarting: nothing to sample
      if ((await version()) !== before) continue;
      samples++;
      if (!allowed.some((v) => same(v[m], live)))
        mix ??= `live ${m} map mid-sync is a mix: ${live.length} entries, ${JSON.stringify(live.slice(0, 4))}`;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const result = await settled;
  if (mix) assert.unreachable(mix);
  return { result, samples };
}

/** CPU time (user + system, ms) this process spent while `fn` ran: a safety bound, not a benchmark. */
export async function cpuMs<T>(fn: () => Promise<T>): Promise<{ result: T; cpuMs: number }> {
  const before = process.cpuUsage();
  const result = await fn();
  const used = process.cpuUsage(before);
  return { result, cpuMs: (used.user + used.system) / 1000 };
}

/** Patch one cluster of the world's config (written config, JSON). */
export function clusterPatch(w: World, name: string, patch: Record<string, unknown>): Record<string, unknown>[] {
  return (w.config['clusters'] as Record<string, unknown>[]).map((c) => (c['name'] === name ? { ...c, ...patch } : c));
}

/** The world's `haproxy` config section with `patch` applied. */
export function haproxyPatch(w: World, patch: Record<string, unknown>): Record<string, unknown> {
  return { ...(w.config['haproxy'] as Record<string, unknown>), ...patch };
}

// ---- a unix socket in front of HAProxy's ------------------------------------------------------------------------------

/** What to do with one command: pass it on (optionally rewriting the reply), answer it ourselves, or never answer. */
export type ProxyAction =
  | { kind: 'forward'; request?: (request: string) => string; reply?: (reply: string) => string; after?: () => Promise<void> }
  | { kind: 'answer'; reply: string }
  | { kind: 'hang' }
  | { kind: 'close' };
export type SocketProxy = { path: string; commands: string[]; close(): Promise<void> };

/**
 * A unix socket at `path` that reads each client's whole request (the agent half-closes after it), hands its first line to
 * `decide`, and acts on the answer. Forwarded requests go to `target` byte for byte (or as `request` rewrites them); `after` runs once HAProxy has
 * answered and before the client gets the reply (restart HAProxy, kill the agent…).
 */
export async function startSocketProxy(
  path: string,
  target: string,
  decide: (cmd: string) => ProxyAction | Promise<ProxyAction>,
): Promise<SocketProxy> {
  await rm(path, { force: true });
  const commands: string[] = [];
  const held = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    held.add(client);
    client.on('close', () => held.delete(client));
    client.on('error', () => undefined);
    const chunks: Buffer[] = [];
    client.on('data', (d: Buffer) => chunks.push(d));
    client.on('end', () => {
      const request = Buffer.concat(chunks).toString('utf8');
      const cmd = request.split('\n')[0] ?? '';
      commands.push(cmd);
      void (async () => {
        const action = await decide(cmd);
        if (action.kind === 'hang') return;
        if (action.kind === 'close') return void client.destroy();
        if (action.kind === 'answer') return void client.end(action.reply);
        const reply = await forward(target, action.request ? action.request(request) : request);
        await action.after?.();
        client.end(action.reply ? action.reply(reply) : reply);
      })().catch(() => client.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    commands,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of held) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function forward(target: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = createConnection({ path: target }, () => s.end(request));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    s.on('error', reject);
  });
}

// ---- HAProxy restarted on the same config -----------------------------------------------------------------------------

export type Restarted = { pid: number; stop(): Promise<void> };

/**
 * Stop the world's HAProxy (SIGKILL with `hard`, as a crash; else SIGINT) and start a new one on the same config and socket:
 * it loads the map files as they are on disk now. The caller stops the returned process.
 */
export async function restartHaproxy(w: World, opts: { hard?: boolean } = {}): Promise<Restarted> {
  if (opts.hard) {
    process.kill(w.haproxy.pid(), 'SIGKILL');
    await until('haproxy to die', () => !alive(w.haproxy.pid()));
  }
  await w.haproxy.stop(); // no-op when already dead; never removes the world's dir
  return startHaproxyOn(w);
}

/** A HAProxy on the world's config (after the original one is gone). */
export async function startHaproxyOn(w: World): Promise<Restarted> {
  await rm(w.haproxy.socket, { force: true });
  const child = spawn(haproxyBin(), ['-db', '-f', w.haproxy.cfgPath], { cwd: w.haproxy.dir, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await until(
    'the restarted haproxy socket',
    async () =>
      await createRuntime(w.haproxy.socket, { timeoutMs: 500 })
        .info()
        .then(
          () => true,
          () => false,
        ),
  );
  return {
    pid: child.pid ?? -1,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** Run a shell command; resolve with its exit code and output (never rejects). */
export function sh(command: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile('/bin/sh', ['-c', command], (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` }),
    ),
  );
}

/** A reload command that only records that it ran (pfSense's reload cannot run here; tests restart HAProxy themselves). */
export async function stubReload(dir: string): Promise<{ command: string; calls: () => Promise<number> }> {
  const record = join(dir, 'reload.calls');
  const command = join(dir, 'reload.sh');
  await writeFile(command, `#!/bin/sh\necho reloaded >> ${record}\n`, { mode: 0o755 });
  await rm(record, { force: true });
  return { command, calls: async () => (await readFile(record, 'utf8').catch(() => '')).split('\n').filter(Boolean).length };
}
