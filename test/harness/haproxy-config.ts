// Runs a real haproxy on a config file the test wrote itself (the README's haproxy.cfg, an OPNsense-shaped config) instead
// of the helper's own (./haproxy.ts): `haproxy -c` on it, then haproxy in the foreground until stop(). Callers skip when
// haproxyMissing() says the binary is not there.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { haproxyBin } from './haproxy.js';

export type Checked = { readonly code: number; readonly out: string };
export type Running = { pid(): number; stop(): Promise<void>; log(): string };

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

/** Start haproxy on cfgPath (foreground, -db) and wait up to 20 s for its admin socket at `socket`. */
export async function runHaproxyConfig(cfgPath: string, socket: string): Promise<Running> {
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
  };
  const deadline = Date.now() + 20_000;
  while (!(await socketAnswers(socket))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy -f ${cfgPath} did not open ${socket}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { pid: () => child.pid ?? -1, stop, log: () => output };
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
