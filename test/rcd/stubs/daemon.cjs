#!/usr/bin/env node
// daemon(8) stand-in for test/rcd, installed as <root>/usr/sbin/daemon: the supervisor behaviour that rc.d/routeagent
// relies on (FreeBSD daemon(8)). -P: supervisor pidfile; -p: child pidfile, rewritten at every (re)start;
// -r / -R n: restart the child n s after it exits; -T/-l/-s: child output to "syslog" (<root>/var/log/messages);
// -t: title, which ps shows as "daemon: <title>[<child pid>] (daemon)". SIGTERM goes on to the child, restarts stop, and
// both pidfiles are removed once the child has exited. SIGHUP is not forwarded. Exit 3 when -P names a live supervisor.
// Not FreeBSD: the supervisor is started by the test process (through <root>/daemon-host.sock) instead of being
// orphaned to init, so that it is reaped the moment it exits and rc.subr's `kill -0` wait never sees a zombie.
// Every start, signal and exit is appended to <root>/calls.jsonl.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const root = path.resolve(__dirname, '../..');
const record = (event) =>
  fs.appendFileSync(path.join(root, 'calls.jsonl'), `${JSON.stringify({ who: 'daemon', pid: process.pid, ...event })}\n`);

function parse(argv) {
  const o = {
    f: false,
    P: undefined,
    p: undefined,
    restartSec: 0,
    syslog: false,
    tag: 'daemon',
    facility: 'daemon',
    priority: 'notice',
    title: undefined,
  };
  let i = 0;
  for (; i < argv.length && argv[i].startsWith('-') && argv[i] !== '-'; i++) {
    const flag = argv[i];
    if (flag === '--') {
      i++;
      break;
    }
    const value = () => {
      if (i + 1 >= argv.length) fail(1, `option requires an argument -- ${flag.slice(1)}`);
      return argv[++i];
    };
    switch (
      flag // one flag per word: rc.d/routeagent never bundles them
    ) {
      case '-f':
        o.f = true;
        break;
      case '-S':
        o.syslog = true;
        break;
      case '-r':
        o.restartSec = 1;
        break;
      case '-R':
        o.restartSec = Number(value());
        if (!(o.restartSec >= 1 && o.restartSec <= 31536000)) fail(1, 'invalid restart delay');
        break;
      case '-P':
        o.P = value();
        break;
      case '-p':
        o.p = value();
        break;
      case '-T':
        o.tag = value();
        o.syslog = true;
        break;
      case '-l':
        o.facility = value();
        o.syslog = true;
        break;
      case '-s':
        o.priority = value();
        o.syslog = true;
        break;
      case '-t':
        o.title = value();
        break;
      default:
        fail(1, `unsupported option ${flag} (test stub)`);
    }
  }
  const command = argv.slice(i);
  if (command.length === 0) fail(1, 'usage: daemon [-f] [-P pidfile] [-p pidfile] [-R n] [-T tag] [-t title] command ...');
  return { ...o, command };
}

function fail(code, message) {
  process.stderr.write(`daemon: ${message}\n`);
  process.exit(code);
}

/** The pid in a supervisor pidfile, if that process is alive and is a daemon(8) supervisor. */
function liveSupervisor(file) {
  if (!file) return undefined;
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').startsWith('daemon:') ? pid : undefined;
  } catch {
    return undefined;
  }
}

const argv = process.argv.slice(2);
const o = parse(argv);

if (process.env.DAEMON_STUB_SUPERVISOR !== '1') {
  // The invoking process: hand over to a supervisor and return, as daemon(3) does.
  const running = liveSupervisor(o.P);
  if (running) fail(3, `process already running, pid: ${running}`);
  record({ event: 'invoked', argv });
  const env = { ...process.env, DAEMON_STUB_SUPERVISOR: '1' };
  const sock = path.join(root, 'daemon-host.sock');
  if (fs.existsSync(sock)) {
    const c = net.connect(sock, () => c.write(`${JSON.stringify({ argv, env })}\n`));
    c.on('data', () => process.exit(0));
    c.on('error', (e) => fail(1, `cannot reach the test's daemon host: ${e.message}`));
  } else {
    spawn(process.execPath, [__filename, ...argv], { detached: true, stdio: o.f ? 'ignore' : 'inherit', env }).unref();
    process.exit(0);
  }
} else {
  supervise();
}

function supervise() {
  let child;
  let terminating = false;
  const title = o.title ?? path.basename(o.command[0]);
  const syslog = (line) =>
    fs.appendFileSync(path.join(root, 'var/log/messages'), `${o.facility}.${o.priority} ${o.tag}[${process.pid}]: ${line}\n`);
  const finish = (code) => {
    for (const f of [o.p, o.P]) if (f) fs.rmSync(f, { force: true });
    record({ event: 'exit', code });
    process.exit(code);
  };

  process.title = `daemon: ${title}[0] (daemon)`;
  if (o.P) fs.writeFileSync(o.P, `${process.pid}\n`);
  record({ event: 'supervising', argv });

  process.on('SIGHUP', () => record({ event: 'signal', signal: 'SIGHUP' })); // kept: reopens -o files with -H
  process.on('SIGTERM', () => {
    record({ event: 'signal', signal: 'SIGTERM' });
    terminating = true;
    if (child) child.kill('SIGTERM');
    else finish(0);
  });
  for (const sig of ['SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']) {
    process.on(sig, () => {
      // default action: the supervisor dies, which a correct rc script never causes
      record({ event: 'signal', signal: sig });
      if (child) child.kill('SIGKILL');
      finish(128 + os.constants.signals[sig]);
    });
  }

  const start = () => {
    const env = { ...process.env };
    delete env.DAEMON_STUB_SUPERVISOR;
    const out = o.syslog ? 'pipe' : 'ignore';
    const c = spawn(o.command[0], o.command.slice(1), { stdio: ['ignore', out, out], env });
    child = c;
    c.on('error', (e) => syslog(`${o.command[0]}: ${e.message}`));
    if (c.pid) {
      if (o.p) fs.writeFileSync(o.p, `${c.pid}\n`);
      process.title = `daemon: ${title}[${c.pid}] (daemon)`;
      record({ event: 'child', childPid: c.pid });
    }
    for (const s of [c.stdout, c.stderr]) if (s) readline.createInterface({ input: s }).on('line', syslog);
    c.on('close', (code, signal) => {
      record({ event: 'child-exit', childPid: c.pid, code, signal });
      child = undefined;
      if (terminating || !o.restartSec) finish(0);
      else setTimeout(start, o.restartSec * 1000); // a SIGTERM meanwhile exits at once
    });
  };
  start();
}
