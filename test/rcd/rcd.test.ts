// rc.d/routeagent under FreeBSD's real rc.subr (test/fixtures/freebsd, run by dash in the sandbox of ./sandbox.ts), and
// rc.d/install.sh under a ROOT prefix: the exact output and exit code of each verb, the signals node and daemon(8) got,
// the files install.sh writes. Needs dash and shellcheck (skipUnless: a failing test under CI, a counted skip elsewhere).
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from '../harness/tools.js';
import { until, WAIT_MS } from '../harness/wait.js';
import { createSandbox, type Result, repo, type Sandbox } from './sandbox.js';

const healthy = { text: 'last sync 12:00:05: ok; hosts 3 entries, sni 4 entries\n', exit: 0 };
const badApi = '/clusters/0/api: must match pattern "^https?://"';
const down = 'traefik[hades]: GET http://127.0.0.1:9/api/version: connection refused';

// ---------------------------------------------------------------------------------------------------------------------
if (!skipUnless('rc.d/routeagent under rc.subr', 'dash')) {
  const rcd = suite('rc.d/routeagent under rc.subr');
  let sb: Sandbox;
  let supervisor = 0; // daemon(8), from the -P pidfile
  let node = 0; // node, from the -p pidfile

  const res = (code: number, stdout: string, stderr = ''): Result => ({ code, stdout, stderr });
  const refused = (verb: string, consequence: string) =>
    `${badApi}\n${sb.paths.script}: ERROR: ${sb.paths.config} fails 'routeagent check'; ${verb}${consequence}. See: service routeagent check\n`;
  const nodeSignals = (pid: number) =>
    sb
      .calls()
      .filter((c) => c.who === 'node' && c.pid === pid && c.event === 'signal')
      .map((c) => c.signal);
  const daemonSignals = () =>
    sb
      .calls()
      .filter((c) => c.who === 'daemon' && c.event === 'signal')
      .map((c) => c.signal);
  const invocations = () => sb.calls().filter((c) => c.who === 'daemon' && c.event === 'invoked');
  const nodeRuns = (verb: string) => sb.calls().filter((c) => c.who === 'node' && c.event === 'start' && c.argv?.[0] === verb);

  rcd.before(async () => {
    sb = await createSandbox();
  });
  rcd.after(async () => {
    await sb?.cleanup();
  });

  rcd('without routeagent_enable every verb but status says how to enable it, and does nothing', async () => {
    sb.writeRcConf({ routeagent_enable: undefined });
    try {
      for (const verb of ['start', 'stop', 'check', 'reload', 'sync']) {
        assert.equal(
          await sb.rc(verb),
          res(0, `Cannot '${verb}' routeagent. Set routeagent_enable to YES in /etc/rc.conf or use 'one${verb}' instead of '${verb}'.\n`),
          verb,
        );
      }
      assert.equal(await sb.rc('status'), res(1, 'routeagent is not running.\n'));
      assert.equal(sb.calls(), []);
    } finally {
      sb.writeRcConf();
    }
  });

  rcd('check prints what `routeagent check` prints and exits with its verdict', async () => {
    sb.writeConfig({});
    assert.equal(await sb.rc('check'), res(0, 'ok: config valid\n'));
    sb.writeConfig({ invalid: [badApi] });
    assert.equal(await sb.rc('check'), res(1, '', `${badApi}\n`)); // rc.subr turns any failing _cmd into 1
    sb.writeConfig({ problems: [down] });
    assert.equal(await sb.rc('check'), res(1, '', `problem: ${down}\n`));
    assert.equal(
      nodeRuns('check').map((c) => [c.argv, c.mark]),
      Array.from({ length: 3 }, () => [['check', '--config', sb.paths.config], 'from-rc.conf.d']),
    );
  });

  rcd('start refuses a config that fails check, says why, and starts nothing', async () => {
    sb.writeConfig({ invalid: [badApi] });
    assert.equal(await sb.rc('start'), res(1, '', refused('not starting', '')));
    assert.equal(invocations(), []);
    assert.not.ok(existsSync(sb.paths.pidfile));
    assert.match(readFileSync(sb.paths.messages, 'utf8'), `user.notice logger: ${sb.paths.script}: ERROR: ${sb.paths.config} fails`);
  });

  rcd('start runs node under daemon(8): restart delay, both pidfiles, syslog tag at notice', async () => {
    // A cluster that is down at boot is no reason to stay down: check's exit 1 is a warning, only 2 (invalid config) refuses.
    sb.writeConfig({ problems: [down] });
    assert.equal(
      await sb.rc('start'),
      res(
        0,
        'Starting routeagent.\n',
        `problem: ${down}\nrouteagent: 'routeagent check' found the problems above; continuing: routeagent keeps the current maps and retries\n`,
      ),
    );
    sb.writeConfig({});
    const ready = await until('node to be ready', () => sb.calls().find((c) => c.who === 'node' && c.event === 'ready'));
    assert.equal(
      invocations().map((c) => c.argv),
      [
        [
          '-f',
          '-P',
          sb.paths.pidfile,
          '-p',
          sb.paths.childPidfile,
          '-R',
          '2',
          '-T',
          'routeagent',
          '-l',
          'daemon',
          '-s',
          'notice',
          '-t',
          'routeagent',
          process.execPath,
          '--optimize-for-size',
          sb.paths.agent,
          'run',
          '--config',
          sb.paths.config,
        ],
      ],
    );
    supervisor = sb.readPid(sb.paths.pidfile) ?? 0;
    node = sb.readPid(sb.paths.childPidfile) ?? 0;
    assert.is(ready.pid, node);
    const run = nodeRuns('run');
    assert.equal(
      run.map((c) => [c.pid, c.ppid, c.argv, c.mark]),
      [[node, supervisor, ['run', '--config', sb.paths.config], 'from-rc.conf.d']],
    );
    assert.ok(sb.isOurs(supervisor), 'daemon(8) runs');
    await until('node output in syslog', () =>
      readFileSync(sb.paths.messages, 'utf8').includes(`daemon.notice routeagent[${supervisor}]: info daemon: started\n`),
    );
  });

  rcd('start while running says so, checks nothing and starts nothing', async () => {
    const checks = nodeRuns('check').length;
    assert.equal(await sb.rc('start'), res(1, '', `routeagent already running?  (pid=${supervisor}).\n`));
    assert.is(invocations().length, 1);
    assert.is(nodeRuns('check').length, checks);
    assert.is(nodeRuns('run').length, 1);
  });

  rcd('status prints the rc line, then `routeagent status`, and exits with its verdict', async () => {
    sb.writeConfig({ status: healthy });
    assert.equal(await sb.rc('status'), res(0, `routeagent is running as pid ${supervisor}.\n${healthy.text}`));
    const failing = { text: 'last sync 12:00:05: failed: haproxy -c rejected the maps\n', exit: 1 };
    sb.writeConfig({ status: failing });
    assert.equal(await sb.rc('status'), res(1, `routeagent is running as pid ${supervisor}.\n${failing.text}`));
  });

  rcd('reload checks the config, then sends SIGHUP to node, not to daemon(8)', async () => {
    sb.writeConfig({});
    const checks = nodeRuns('check').length;
    assert.equal(await sb.rc('reload'), res(0, `Reloading routeagent config (node pid ${node}).\n`));
    await until('node to get SIGHUP', () => nodeSignals(node).length > 0);
    assert.equal(nodeSignals(node), ['SIGHUP']);
    assert.equal(daemonSignals(), []);
    assert.is(nodeRuns('check').length, checks + 1);
  });

  rcd('reload refuses a config that fails check: no signal, node keeps running', async () => {
    sb.writeConfig({ invalid: [badApi] });
    assert.equal(await sb.rc('reload'), res(1, '', refused('not reloading', '; node keeps its current config')));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(nodeSignals(node), ['SIGHUP']);
    assert.ok(sb.isOurs(node));
  });

  rcd('restart refuses a config that fails check before stopping anything', async () => {
    assert.equal(await sb.rc('restart'), res(1, '', refused('not restarting', '; routeagent keeps running with its current config')));
    assert.equal(daemonSignals(), []);
    assert.is(sb.readPid(sb.paths.pidfile), supervisor);
    assert.ok(sb.isOurs(supervisor) && sb.isOurs(node));
  });

  rcd('sync sends SIGUSR2 to node, not to daemon(8)', async () => {
    sb.writeConfig({});
    assert.equal(await sb.rc('sync'), res(0, `Requesting a sync from routeagent (node pid ${node}).\n`));
    await until('node to get SIGUSR2', () => nodeSignals(node).length > 1);
    assert.equal(nodeSignals(node), ['SIGHUP', 'SIGUSR2']);
    assert.equal(daemonSignals(), []);
  });

  rcd('while daemon(8) waits to restart a dead node: status and sync exit 1; then node is back', async () => {
    sb.writeConfig({ status: healthy });
    const dead = node;
    process.kill(dead, 'SIGKILL');
    await until('daemon(8) to see node exit', () => sb.calls().some((c) => c.event === 'child-exit' && c.childPid === dead));
    assert.equal(await sb.rc('sync'), res(1, '', `routeagent: node is restarting (daemon(8) pid ${supervisor}); try again in 2 s.\n`));
    assert.equal(
      await sb.rc('status'),
      res(
        1,
        `routeagent is running as pid ${supervisor}.\nrouteagent: node is not running; daemon(8) restarts it within 2 s (see the system log).\n${healthy.text}`,
      ),
    );
    const again = await until('a new node', () => sb.calls().find((c) => c.who === 'node' && c.event === 'ready' && c.pid !== dead));
    node = again.pid;
    assert.is(sb.readPid(sb.paths.childPidfile), node);
    assert.equal(
      nodeRuns('run').map((c) => c.ppid),
      [supervisor, supervisor],
    );
    assert.equal(await sb.rc('status'), res(0, `routeagent is running as pid ${supervisor}.\n${healthy.text}`));
  });

  rcd('stop: SIGTERM to daemon(8), which passes it to node and waits for it; both pidfiles go', async () => {
    assert.equal(await sb.rc('stop'), res(0, `Stopping routeagent.\nWaiting for PIDS: ${supervisor}.\n`));
    assert.equal(nodeSignals(node), ['SIGTERM']);
    assert.ok(
      sb.calls().some((c) => c.who === 'node' && c.pid === node && c.event === 'exit' && c.code === 0),
      'node exited 0',
    );
    assert.equal(daemonSignals(), ['SIGTERM']);
    assert.not.ok(existsSync(sb.paths.pidfile), 'supervisor pidfile removed');
    assert.not.ok(existsSync(sb.paths.childPidfile), 'child pidfile removed');
    assert.not.ok(sb.isOurs(supervisor) || sb.isOurs(node), 'no process left');
  });

  rcd('once stopped: status and stop exit 1, sync runs one sync in the foreground', async () => {
    assert.equal(await sb.rc('status'), res(1, 'routeagent is not running.\n'));
    assert.equal(await sb.rc('stop'), res(1, '', `routeagent not running? (check ${sb.paths.pidfile}).\n`));
    const synced = { text: 'sync: hosts +1 ~0 -0, sni +1 ~0 -0; applied @3 in 41 ms\n', exit: 0 };
    sb.writeConfig({ sync: synced });
    assert.equal(await sb.rc('sync'), res(0, synced.text));
    assert.equal(
      nodeRuns('sync').map((c) => [c.argv, c.mark]),
      [[['sync', '--config', sb.paths.config], 'from-rc.conf.d']],
    );
    sb.writeConfig({ sync: { text: 'sync: guarded: hosts would lose 9 of 12 entries\n', exit: 1 } });
    assert.equal(await sb.rc('sync'), res(1, 'sync: guarded: hosts would lose 9 of 12 entries\n'));
    assert.is(invocations().length, 1);
  });

  rcd.run();
}

// ---------------------------------------------------------------------------------------------------------------------
if (!skipUnless('rc.d shellcheck', 'shellcheck')) {
  const lint = suite('rc.d shellcheck');
  lint('rc.d/routeagent, rc.d/install.sh and the test stubs pass shellcheck -s sh', () => {
    const files = [
      'rc.d/routeagent',
      'rc.d/install.sh',
      ...['ps', 'limits', 'kenv', 'pwait', 'logger', 'sysctl'].map((t) => `test/rcd/stubs/bin/${t}`),
    ];
    const r = spawnSync('shellcheck', ['-s', 'sh', ...files], { cwd: repo, encoding: 'utf8' });
    assert.is(r.stdout + r.stderr, '');
    assert.is(r.status, 0);
  });
  lint.run();
}

// ---------------------------------------------------------------------------------------------------------------------
if (!skipUnless('rc.d/install.sh', 'dash')) {
  const inst = suite('rc.d/install.sh');
  let tmp = '';
  let bundle = '';

  const installSh = (root: string, bundlePath = bundle) =>
    new Promise<Result>((resolve) => {
      const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ROOT: root, BUNDLE: bundlePath };
      execFile('dash', [join(repo, 'rc.d/install.sh')], { env, timeout: 2 * WAIT_MS }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
      });
    });
  const layout = (name: string, files: Record<string, string> = {}) => {
    const root = join(tmp, name);
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(join(root, rel, '..'), { recursive: true });
      writeFileSync(join(root, rel), text);
    }
    mkdirSync(root, { recursive: true });
    return root;
  };
  const mode = (path: string) => (statSync(path).mode & 0o7777).toString(8);
  const read = (path: string) => readFileSync(path, 'utf8');
  const nextSteps = [
    '',
    'Next steps:',
    '  1. Edit /usr/local/etc/routeagent/config.json: your clusters, and the domains you allow to be exposed.',
    '  2. node /usr/local/libexec/routeagent/routeagent.js snippet: paste its lines into the HAProxy frontends, then Apply.',
    '  3. service routeagent check     (validates the config, reaches each cluster, runs haproxy -c)',
    '  4. service routeagent start     (or: service routeagent restart, to run a new version)',
    '  5. service routeagent status    (the last sync; the log is in syslog, tag routeagent)',
    '',
  ];
  const noNode = 'warning: no /usr/local/bin/node: install Node.js >= 20, or set routeagent_node in /usr/local/etc/rc.conf.d/routeagent\n';

  inst.before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'rcd-install-'));
    bundle = join(tmp, 'routeagent.js');
    writeFileSync(bundle, '#!/usr/bin/env node\nconsole.log("bundle");\n');
  });
  inst.after(() => rmSync(tmp, { recursive: true, force: true }));

  inst('pfSense (/etc/pfSense-rc): bundle, rc script also as routeagent.sh, config folders, sample config, enable knob', async () => {
    const root = layout('pfsense', { 'etc/pfSense-rc': '#!/bin/sh\n' });
    assert.equal(await installSh(root), {
      code: 0,
      stdout: [
        `Installing under ROOT=${root}`,
        'installed /usr/local/libexec/routeagent/routeagent.js',
        'installed /usr/local/libexec/routeagent/package.json (node runs the bundle as CommonJS)',
        'installed /usr/local/etc/rc.d/routeagent (service routeagent ...)',
        'installed /usr/local/etc/rc.d/routeagent.sh (pfSense starts it at boot)',
        'created   /usr/local/etc/routeagent/',
        'created   /usr/local/etc/routeagent/maps/',
        'created   /usr/local/etc/routeagent/maps/hosts.map (empty)',
        'created   /usr/local/etc/routeagent/maps/sni.map (empty)',
        'wrote     /usr/local/etc/routeagent/config.json (a sample: edit it)',
        'wrote     /usr/local/etc/rc.conf.d/routeagent (routeagent_enable="YES")',
        ...nextSteps,
      ].join('\n'),
      stderr: noNode,
    });
    const at = (rel: string) => join(root, rel);
    assert.is(read(at('usr/local/libexec/routeagent/routeagent.js')), read(bundle));
    assert.is(mode(at('usr/local/libexec/routeagent/routeagent.js')), '444');
    assert.equal(JSON.parse(read(at('usr/local/libexec/routeagent/package.json'))), { type: 'commonjs' });
    assert.is(mode(at('usr/local/libexec/routeagent/package.json')), '444');
    for (const rc of ['routeagent', 'routeagent.sh']) {
      assert.is(read(at(`usr/local/etc/rc.d/${rc}`)), read(join(repo, 'rc.d/routeagent')), rc);
      assert.is(mode(at(`usr/local/etc/rc.d/${rc}`)), '555', rc);
    }
    assert.ok(statSync(at('usr/local/etc/routeagent/maps')).isDirectory());
    assert.is(read(at('usr/local/etc/rc.conf.d/routeagent')), 'routeagent_enable="YES"\n');
    assert.is(mode(at('usr/local/etc/routeagent/config.json')), '640');
  });

  inst('the sample config is valid against schemas/config.schema.json', () => {
    const schema = JSON.parse(read(join(repo, 'schemas/config.schema.json'))) as object;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const sample = JSON.parse(read(join(tmp, 'pfsense/usr/local/etc/routeagent/config.json'))) as unknown;
    assert.ok(validate(sample), JSON.stringify(validate.errors));
  });

  inst('a second run replaces the bundle and scripts but keeps config.json and rc.conf.d', async () => {
    const root = join(tmp, 'pfsense');
    const config = join(root, 'usr/local/etc/routeagent/config.json');
    const rcConf = join(root, 'usr/local/etc/rc.conf.d/routeagent');
    writeFileSync(config, '{"clusters":[]}\n');
    writeFileSync(rcConf, 'routeagent_enable="YES"\nrouteagent_delay="9"\n');
    const v2 = join(tmp, 'routeagent-v2.js');
    writeFileSync(v2, 'console.log("v2");\n');
    const r = await installSh(root, v2);
    assert.is(r.code, 0, r.stderr);
    assert.is(
      r.stdout.split('\n').slice(5, 11).join('\n'),
      [
        'kept      /usr/local/etc/routeagent/',
        'kept      /usr/local/etc/routeagent/maps/',
        'kept      /usr/local/etc/routeagent/maps/hosts.map',
        'kept      /usr/local/etc/routeagent/maps/sni.map',
        'kept      /usr/local/etc/routeagent/config.json',
        'kept      /usr/local/etc/rc.conf.d/routeagent',
      ].join('\n'),
    );
    assert.is(read(config), '{"clusters":[]}\n');
    assert.is(read(rcConf), 'routeagent_enable="YES"\nrouteagent_delay="9"\n');
    assert.is(read(join(root, 'usr/local/libexec/routeagent/routeagent.js')), 'console.log("v2");\n');
  });

  inst('the installed bundle runs, even under a package.json that says "type": "module"', async () => {
    const built = join(repo, 'dist/routeagent.js');
    assert.ok(existsSync(built), 'dist/routeagent.js: run ./build.sh first');
    const root = layout('real-bundle', { 'usr/local/package.json': '{ "type": "module" }\n' });
    assert.is((await installSh(root, built)).code, 0);
    const installed = join(root, 'usr/local/libexec/routeagent/routeagent.js');
    // --no-experimental-detect-module: as node before 20.19 reads a .js file, whatever this node's default
    for (const flags of [[], ['--no-experimental-detect-module']]) {
      const help = spawnSync(process.execPath, [...flags, installed, '--help'], { encoding: 'utf8' });
      assert.is(help.status, 0, help.stderr);
      assert.match(help.stdout, /^usage: routeagent /);
    }
  });

  inst('plain FreeBSD: no routeagent.sh; with node installed, no warning', async () => {
    const root = layout('freebsd', { 'usr/local/bin/node': '#!/bin/sh\n' });
    chmodSync(join(root, 'usr/local/bin/node'), 0o755);
    const r = await installSh(root);
    assert.equal([r.code, r.stderr], [0, '']);
    assert.not.match(r.stdout, 'routeagent.sh');
    assert.ok(existsSync(join(root, 'usr/local/etc/rc.d/routeagent')));
    assert.not.ok(existsSync(join(root, 'usr/local/etc/rc.d/routeagent.sh')));
  });

  inst('/etc/platform naming pfSense counts as pfSense', async () => {
    const root = layout('platform', { 'etc/platform': 'pfSense\n' });
    const r = await installSh(root);
    assert.is(r.code, 0, r.stderr);
    assert.ok(existsSync(join(root, 'usr/local/etc/rc.d/routeagent.sh')));
  });

  inst('a missing bundle stops the install before it writes anything', async () => {
    const root = layout('nobundle');
    assert.equal(await installSh(root, join(tmp, 'missing.js')), {
      code: 1,
      stdout: '',
      stderr: `install.sh: BUNDLE=${join(tmp, 'missing.js')}: no such file\n`,
    });
    assert.not.ok(existsSync(join(root, 'usr')));
  });

  inst.run();
}
