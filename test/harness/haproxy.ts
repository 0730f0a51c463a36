// Starts a real haproxy on loopback (config modelled on shared/notes/haproxy-sample.cfg, admin socket in a tmp dir);
// suites that need it say so with skipUnless(name, 'haproxy') from ./tools.ts.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MapName } from '../../agent/core/types.js';
import { skipUnless } from './tools.js';
import { WAIT_MS } from './wait.js';

/** `server` is appended to the server line, e.g. `check inter 200ms` for health checks. */
export type BackendSpec = { readonly name: string; readonly mode: 'http' | 'tcp'; readonly port: number; readonly server?: string };
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
  await writeFile(cfgPath, configText({ socket, httpPort, sniPort, mapPaths, backends, extraGlobal: opts.extraGlobal ?? '', loadMaps: opts.loadMaps ?? true }));

  const check = await new Promise<{ ok: boolean; out: string }>((resolve) =>
    execFile(haproxyBin(), ['-c', '-f', cfgPath], (err, stdout, stderr) => resolve({ ok: !err, out: stdout + stderr })),
  );
  if (!check.ok) throw new Error(`haproxy -c rejected the test config ${cfgPath}:\n${check.out}`);

  let output = '';
  const child = spawn(haproxyBin(), ['-db', '-f', cfgPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
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
    if (!opts.dir) await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + WAIT_MS;
  while (!(await socketAnswers(socket))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy did not open ${socket} within ${WAIT_MS / 1000} s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { dir, cfgPath, socket, httpPort, sniPort, mapPaths, pid: () => child.pid ?? -1, stop, log: () => output };
}

/** Wrap a test body so HAProxy's log is printed only when the test fails. */
export function printLogOnFailure<A extends unknown[]>(log: () => string, fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      console.error(`--- haproxy log ---\n${log()}--- end of haproxy log ---`);
      throw err;
    }
  };
}

function configText(o: {
  socket: string;
  httpPort: number;
  sniPort: number;
  mapPaths: Record<MapName, string>;
  backends: BackendSpec[];
  extraGlobal: string;
  loadMaps: boolean;
}): string {
  const hostsExpr = `req.hdr(host),field(1,:),lower,map(${o.mapPaths.hosts})`;
  const sniExpr = `req.ssl_sni,lower,map(${o.mapPaths.sni})`;
  // Guarded as DESIGN.md's snippet prints them: an unguarded dynamic use_backend disables every later one.
  const useHosts = o.loadMaps ? `    use_backend %[${hostsExpr}] if { ${hostsExpr} -m found }\n` : '';
  const useSni = o.loadMaps ? `    use_backend %[${sniExpr}] if { ${sniExpr} -m found }\n` : '';
  const backends = o.backends
    .map((b) => `backend ${b.name}\n    mode ${b.mode}\n    server s1 127.0.0.1:${b.port}${b.server ? ` ${b.server}` : ''}\n`)
    .join('\n');
  return `# written by test/harness/haproxy.ts
global
    log stdout format raw local0
    stats socket ${o.socket} mode 600 level admin expose-fd listeners
    stats timeout 30s
${o.extraGlobal}
defaults
    log global
    timeout connect 2s
    timeout client 10s
    timeout server 10s

frontend fe_http
    mode http
    bind 127.0.0.1:${o.httpPort}
    option httplog
${useHosts}    default_backend be_default

frontend fe_sni
    mode tcp
    bind 127.0.0.1:${o.sniPort}
    option tcplog
    tcp-request inspect-delay 5s
    tcp-request content accept if { req.ssl_hello_type 1 }
${useSni}    default_backend be_tls_default

# no servers: the default backends answer 503 (http) or close (tcp)
backend be_default
    mode http

backend be_tls_default
    mode tcp

${backends}`;
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
