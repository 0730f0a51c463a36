// A FreeBSD-shaped root in a tmp dir where rc.d/routeagent runs under the real rc.subr (test/fixtures/freebsd) with dash.
// Only paths are rewritten: /etc/rc.subr and /var/run in a copy of the script; /etc/defaults/rc.conf, /etc/rc.conf.d,
// ps, sysctl and logger in a copy of rc.subr. What FreeBSD has and Linux lacks is stubbed (test/rcd/stubs): daemon(8),
// limits, kenv, pwait, a ps that knows the jid column. node is the real one; the agent is a stub that records argv and signals.
// This process hosts the daemon(8) stand-in's supervisors (see stubs/daemon.cjs), so it must not block while they run:
// use rc(), never a synchronous spawn.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WAIT_MS } from '../harness/wait.js';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, '../..');

export type Result = { code: number; stdout: string; stderr: string };
export type Call = {
  who: 'daemon' | 'node';
  pid: number;
  event: string;
  argv?: string[];
  ppid?: number;
  mark?: string;
  signal?: string;
  childPid?: number;
  code?: number;
};

/** Every occurrence of `from` replaced, after checking there are exactly `count`: a changed upstream file fails loudly. */
function rewrite(text: string, from: string, to: string, count: number): string {
  const found = text.split(from).length - 1;
  if (found !== count) throw new Error(`sandbox: expected ${count} × ${JSON.stringify(from)}, found ${found}`);
  return text.split(from).join(to);
}

export type Sandbox = Awaited<ReturnType<typeof createSandbox>>;

export async function createSandbox() {
  const root = mkdtempSync(join(tmpdir(), 'rcd-'));
  const p = (rel: string) => join(root, rel);
  for (const d of [
    'bin',
    'etc/defaults',
    'usr/sbin',
    'usr/local/etc/rc.d',
    'usr/local/etc/rc.conf.d',
    'usr/local/etc/routeagent',
    'usr/local/libexec/routeagent',
    'var/run',
    'var/log',
  ]) {
    mkdirSync(p(d), { recursive: true });
  }
  const install = (from: string, to: string, mode = 0o755) => {
    copyFileSync(join(here, 'stubs', from), p(to));
    chmodSync(p(to), mode);
  };
  for (const tool of ['ps', 'limits', 'kenv', 'pwait', 'logger', 'sysctl']) install(`bin/${tool}`, `bin/${tool}`);
  install('daemon.cjs', 'usr/sbin/daemon');
  install('routeagent.cjs', 'usr/local/libexec/routeagent/routeagent.js', 0o644);
  writeFileSync(p('var/log/messages'), '');
  writeFileSync(p('calls.jsonl'), '');

  let subr = readFileSync(join(repo, 'test/fixtures/freebsd/rc.subr'), 'utf8');
  subr = rewrite(subr, '/etc/defaults/rc.conf', p('etc/defaults/rc.conf'), 5); // 2 of them in comments and messages
  subr = rewrite(subr, 'for _d in /etc ${local_startup}', `for _d in ${p('etc')} \${local_startup}`, 1);
  subr = rewrite(subr, 'PS="/bin/ps -ww"', `PS="${p('bin/ps')} -ww"`, 1);
  subr = rewrite(subr, 'SYSCTL="/sbin/sysctl"', `SYSCTL="${p('bin/sysctl')}"`, 1);
  subr = rewrite(subr, '/usr/bin/logger', p('bin/logger'), 4);
  writeFileSync(p('etc/rc.subr'), subr);
  writeFileSync(
    p('etc/defaults/rc.conf'),
    [
      "# The part of FreeBSD's /etc/defaults/rc.conf that load_rc_config uses.",
      `local_startup="${p('usr/local/etc/rc.d')}"`,
      `rc_conf_files="${p('etc/rc.conf')} ${p('etc/rc.conf.local')}"`,
      'if [ -z "${source_rc_confs_defined}" ]; then',
      '\tsource_rc_confs_defined=yes',
      '\tsource_rc_confs() {',
      '\t\tfor _f in ${rc_conf_files}; do',
      '\t\t\t[ -r "${_f}" ] && . "${_f}"',
      '\t\tdone',
      '\t}',
      'fi',
      '',
    ].join('\n'),
  );

  let script = readFileSync(join(repo, 'rc.d/routeagent'), 'utf8');
  script = rewrite(script, '. /etc/rc.subr', `. ${p('etc/rc.subr')}`, 1);
  script = rewrite(script, '"/var/run/', `"${p('var/run')}/`, 2);
  const scriptPath = p('usr/local/etc/rc.d/routeagent');
  writeFileSync(scriptPath, script);
  chmodSync(scriptPath, 0o555);

  const paths = {
    script: scriptPath,
    config: p('usr/local/etc/routeagent/config.json'),
    agent: p('usr/local/libexec/routeagent/routeagent.js'),
    daemon: p('usr/sbin/daemon'),
    pidfile: p('var/run/routeagent.pid'),
    childPidfile: p('var/run/routeagent.child.pid'),
    rcConf: p('usr/local/etc/rc.conf.d/routeagent'),
    messages: p('var/log/messages'),
  };
  const rcConf = {
    routeagent_enable: 'YES',
    routeagent_config: paths.config,
    routeagent_node: process.execPath,
    routeagent_script: paths.agent,
    routeagent_program: paths.daemon, // rc.subr's ${name}_program: the daemon(8) stand-in instead of /usr/sbin/daemon
    routeagent_delay: '2',
    routeagent_env: 'ROUTEAGENT_STUB_MARK=from-rc.conf.d',
  };
  /** Writes /usr/local/etc/rc.conf.d/routeagent: the defaults above, changed by `over` (undefined drops a knob). */
  const writeRcConf = (over: Partial<Record<keyof typeof rcConf, string | undefined>> = {}) => {
    const knobs = { ...rcConf, ...over };
    writeFileSync(
      paths.rcConf,
      Object.entries(knobs)
        .flatMap(([k, v]) => (v === undefined ? [] : [`${k}="${v}"\n`]))
        .join(''),
    );
  };
  writeRcConf();
  const writeConfig = (config: object) => writeFileSync(paths.config, JSON.stringify(config));
  writeConfig({});

  // The daemon(8) stand-in asks this process to start its supervisor, so that it is reaped as soon as it exits.
  const supervisors: ChildProcess[] = [];
  const host: Server = createServer((conn) => {
    let buf = '';
    conn.on('data', (chunk) => {
      buf += chunk;
      if (!buf.includes('\n')) return;
      const { argv, env } = JSON.parse(buf) as { argv: string[]; env: NodeJS.ProcessEnv };
      const child = spawn(process.execPath, [paths.daemon, ...argv], { env, stdio: 'ignore', detached: true });
      supervisors.push(child);
      child.once('spawn', () => conn.end('ok\n'));
      child.once('error', () => conn.destroy());
    });
  });
  await new Promise<void>((resolve) => host.listen(p('daemon-host.sock'), resolve));

  const env = { PATH: `${p('bin')}:${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, HOME: root, LANG: 'C' };

  /** `dash rc.d/routeagent <verb>`, as service(8) would run it. */
  const rc = (verb: string) =>
    new Promise<Result>((resolve) => {
      execFile('dash', [paths.script, verb], { env, timeout: 2 * WAIT_MS }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      });
    });

  const calls = (): Call[] =>
    readFileSync(p('calls.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Call);
  const readPid = (file: string) => (existsSync(file) ? Number.parseInt(readFileSync(file, 'utf8'), 10) : undefined);
  /** True while `pid` is a live (not zombie) process started from this sandbox. */
  const isOurs = (pid: number) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      return cmd.includes(root) || cmd.startsWith('daemon: routeagent[');
    } catch {
      return false;
    }
  };

  /** Kills whatever is left: by pidfile, then every process the stubs recorded. Removes the sandbox. */
  const cleanup = async () => {
    const pids = new Set<number>();
    for (const f of [paths.pidfile, paths.childPidfile]) {
      const pid = readPid(f);
      if (pid) pids.add(pid);
    }
    for (const c of calls()) pids.add(c.pid);
    for (const s of supervisors) if (s.pid) pids.add(s.pid);
    for (const pid of pids) {
      if (pid !== process.pid && isOurs(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
    await new Promise<void>((resolve) => host.close(() => resolve()));
    rmSync(root, { recursive: true, force: true });
  };

  return { root, paths, rc, calls, readPid, isOurs, writeRcConf, writeConfig, cleanup };
}
