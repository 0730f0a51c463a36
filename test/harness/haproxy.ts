// Runs a real haproxy in the foreground on loopback: on the harness's own config (startHaproxy, written by
// ./haproxy-config.ts into a tmp dir with an admin socket) or on a config a test wrote itself (runHaproxyConfig: the
// README's haproxy.cfg, an OPNsense-shaped one). Suites that need it say so with skipUnless(name, 'haproxy') from ./tools.ts.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { MapName } from '../../agent/core/types.js';
import { type BackendSpec, haproxyConfig } from './haproxy-config.js';
import { skipUnless } from './tools.js';
import { WAIT_MS } from './wait.js';

export type { BackendSpec } from './haproxy-config.js';
export type Checked = { readonly code: number; readonly out: string };
export type Running = { pid(): number; stop(): Promise<void>; log(): string };
export type HaproxyOptions = {
  dir?: string;
  maps?: Partial<Record<MapName, string>>; // initial file text
  backends?: BackendSpec[];
  extraGlobal?: string;
  loadMaps?: boolean; // false: the frontends do not reference the maps (HAProxy never loads them)
};
export type Haproxy = {
  dir: string;
  cfgPath: string;
  socket: string;
  httpPort: number;
  sniPort: number;
  mapPaths: Record<MapName, string>;
  pid(): number;
  stop(): Promise<void>;
  log(): string;
};

/** $HAPROXY_BIN or `haproxy`. */
export function haproxyBin(): string {
  return process.env.HAPROXY_BIN || 'haproxy';
}

/**
 * skipUnless for the test files not yet calling it themselves (daemon, faults/process): they use startWorld, whose TLS
 * upstreams need openssl as well. New files call skipUnless(name, …tools) directly.
 */
export function haproxyMissing(name = 'the haproxy suites of this file'): string | undefined {
  return skipUnless(name, 'haproxy', 'openssl');
}

/** A free loopback TCP port (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function startHaproxy(opts: HaproxyOptions = {}): Promise<Haproxy> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'routeagent-haproxy-')));
  await mkdir(join(dir, 'maps'), { recursive: true });
  const mapPaths: Record<MapName, string> = { hosts: join(dir, 'maps', 'hosts.map'), sni: join(dir, 'maps', 'sni.map') };
  for (const m of ['hosts', 'sni'] as const) await writeFile(mapPaths[m], opts.maps?.[m] ?? '');
  const socket = join(dir, 'admin.sock');
  const cfgPath = join(dir, 'haproxy.cfg');
  const [httpPort, sniPort] = [await freePort(), await freePort()];
  const backends = opts.backends ?? [];
  const text = haproxyConfig({
    socket,
    httpPort,
    sniPort,
    mapPaths,
    backends,
    extraGlobal: opts.extraGlobal ?? '',
    loadMaps: opts.loadMaps ?? true,
    writtenBy: 'test/harness/haproxy.ts',
  });
  await writeFile(cfgPath, text);

  const check = await checkHaproxyConfig(cfgPath);
  if (check.code !== 0) throw new Error(`haproxy -c rejected the test config ${cfgPath}:\n${check.out}`);

  const running = await foreground(cfgPath, socket, WAIT_MS, async () => {
    if (!opts.dir) await rm(dir, { recursive: true, force: true });
  });
  return { dir, cfgPath, socket, httpPort, sniPort, mapPaths, ...running };
}

/** `haproxy -c -f cfgPath`: its exit code and everything it printed. */
export function checkHaproxyConfig(cfgPath: string): Promise<Checked> {
  return new Promise((resolve) =>
    execFile(haproxyBin(), ['-c', '-f', cfgPath], (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out: stdout + stderr });
    }),
  );
}

/** The `[WARNING]` lines of haproxy's output, without the pid, e.g. `config : parsing [x.cfg:21] : a 'tcp-request' rule …`. */
export function haproxyWarnings(out: string): string[] {
  return out
    .split(/\n|(?=\[(?:ALERT|WARNING|NOTICE)\])/)
    .map((l) => /^\[WARNING\]\s*(?:\(\d+\)\s*)?:\s*(.*?)\s*$/.exec(l)?.[1])
    .filter((w): w is string => w !== undefined && w !== '');
}

/** Start haproxy on a config the caller wrote (foreground, -db) and wait up to 20 s for its admin socket at `socket`. */
export function runHaproxyConfig(cfgPath: string, socket: string): Promise<Running> {
  return foreground(cfgPath, socket, 20_000, async () => undefined);
}

/**
 * haproxy -db -f cfgPath, its output kept for log(); resolves once `socket` accepts a connection. stop(): SIGINT, then
 * SIGKILL after 2 s, then `cleanup`. A haproxy that exits or stays silent past `timeoutMs` is stopped and rejected.
 */
async function foreground(cfgPath: string, socket: string, timeoutMs: number, cleanup: () => Promise<void>): Promise<Running> {
  let output = '';
  const child = spawn(haproxyBin(), ['-db', '-f', cfgPath], { cwd: dirname(cfgPath), stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    }
    await cleanup();
  };
  const deadline = Date.now() + timeoutMs;
  while (!(await socketAnswers(socket))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy -f ${cfgPath} did not open ${socket} within ${timeoutMs / 1000} s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { pid: () => child.pid ?? -1, stop, log: () => output };
}

/** Wrap a test body so HAProxy's log is printed only when the test fails. */
export function printLogOnFailure<A extends unknown[]>(
  log: () => string,
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      console.error(`--- haproxy log ---\n${log()}--- end of haproxy log ---`);
      throw err;
    }
  };
}

function socketAnswers(path: string): Promise<boolean> {
  if (!existsSync(path)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const s = connect({ path });
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
