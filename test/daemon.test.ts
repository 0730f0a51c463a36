// The daemon as rc.d runs it: `node dist/routeagent.js run --config F`, against a real haproxy and two fake Traefik clusters,
// proven with real requests through HAProxy. It syncs at start and on its schedule, follows a migration with no command
// from anyone, keeps the previous config through broken edits and applies a valid one at once, changes nothing live
// during an outage (nor after a SIGKILL and restart during one, taking over the stale control socket), holds on the guard
// until `sync --force`, answers SIGUSR2/SIGHUP and `sync`/`status` over its control socket (each command prints the result
// of its own request, in the shape it has without a daemon), finishes a sync on SIGTERM, refuses a second daemon on the same
// maps, coalesces triggers that arrive during a slow sync into one more sync, serves /metrics that agree with the status
// file, and never signals a process named by a file (a reused pid survives).

import { spawn, spawnSync } from 'node:child_process';
import { access, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { askControl } from '../agent/io/control.js';
import { createRuntime } from '../agent/io/runtime.js';
import { type Agent, assertBuilt, BUNDLE, killAll, runBundle, startAgent, until } from './harness/agent.js';
import { freePort, haproxyMissing } from './harness/haproxy.js';
import { app, startWorld, tcpRouter, type World } from './harness/world.js';

const missing = haproxyMissing();
const daemon = suite('routeagent run (the daemon)');
let w: World;
let agent: Agent;
let metricsPort: number;

const appHosts = Array.from({ length: 8 }, (_, i) => `app${i}.technis.io`);
const apps = appHosts.map((h) => app(h));
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const sockPath = () => join(w.dir, 'maps', '.routeagent.sock');
/** Who holds the control socket, as it says itself (undefined: nobody, or a stale file). */
const holder = () => askControl(sockPath(), { op: 'hello' }, 5000);
const daemonHello = (a: Agent) => ({ pid: a.pid, role: 'daemon', version: '0.1.0' });
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

type Status = {
  at: string;
  outcome: string;
  durationMs: number;
  applied: boolean;
  method: string;
  clusters: Record<string, { state: string; routers: number; since?: string; error?: string }>;
  entries: { hosts: number; sni: number };
  conflicts: unknown[];
  skipped: number;
  guard: { held: boolean; reasons: string[] };
  heldEntries?: { hosts: number; sni: number };
  lastSuccess?: string;
};
const status = async (): Promise<Status | undefined> => JSON.parse(await readFile(w.statusFile, 'utf8').catch(() => 'null')) ?? undefined;
/** The status of the first sync that ends after this call (its `at` differs from the one on disk now). */
async function nextStatus(what: string, timeoutMs = 5000): Promise<Status> {
  const before = (await status())?.at;
  return until(
    what,
    async () => {
      const s = await status();
      return s && s.at !== before ? s : undefined;
    },
    timeoutMs,
  );
}
const live = async () => {
  const rt = createRuntime(w.haproxy.socket);
  return { hosts: await rt.showMap(w.haproxy.mapPaths.hosts), sni: await rt.showMap(w.haproxy.mapPaths.sni) };
};

function metrics(): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: metricsPort, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`/metrics: ${res.statusCode}`));
        const rows = body.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
        resolve(Object.fromEntries(rows.map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))])));
      });
    });
    req.on('error', reject);
    req.end();
  });
}
/** /metrics and the status file tell the same story (read until both come from the same sync), and /metrics shows `expect`. */
async function metricsMatchStatus(expect: Record<string, number> = {}): Promise<Record<string, number>> {
  return until('/metrics to agree with the status file', async () => {
    const s = (await status())!;
    const m = await metrics();
    const want: Record<string, number> = {
      'routeagent_map_entries{map="hosts"}': s.entries.hosts,
      'routeagent_map_entries{map="sni"}': s.entries.sni,
      'routeagent_cluster_up{cluster="hades"}': s.clusters['hades']!.state === 'ok' ? 1 : 0,
      'routeagent_cluster_up{cluster="illmatic"}': s.clusters['illmatic']!.state === 'ok' ? 1 : 0,
      routeagent_conflicts: s.conflicts.length,
      routeagent_guard_holding: s.guard.held ? 1 : 0,
      routeagent_sync_duration_seconds: s.durationMs / 1000,
      ...(s.lastSuccess ? { routeagent_last_success_timestamp_seconds: Date.parse(s.lastSuccess) / 1000 } : {}),
    };
    const s2 = (await status())!;
    if (s2.at !== s.at) return undefined;
    return [...Object.entries(want), ...Object.entries(expect)].every(([k, v]) => m[k] === v) ? m : undefined;
  });
}

/** A unix socket file whose process was killed -9, as a daemon killed by SIGKILL or the OOM killer leaves it. */
// Inside a new PID namespace pids are handed out in order, and ns_last_pid picks the next one: a SIGKILLed daemon's pid is
// given to a `sleep`, for real. Each step prints key=value; the namespace (and all in it) ends with the script.
const REUSE_SCRIPT = `
bundle=$1; config=$2; out=$3
started() { i=0; until grep -q 'daemon: started' "$1"; do i=$((i+1)); [ $i -lt 600 ] || { echo "$1 never started"; cat "$1"; exit 3; }; sleep 0.05; done; }
reuse() { echo $(($1 - 1)) > /proc/sys/kernel/ns_last_pid; sleep 300 & }
node "$bundle" run --config "$config" > "$out/run1.log" 2>&1 & d=$!; started "$out/run1.log"
kill -9 $d; wait $d; echo daemon1=$d
reuse $d; s1=$!; echo reused1=$s1
node "$bundle" sync --config "$config" > "$out/sync.log" 2>&1; echo sync=$?
node "$bundle" run --config "$config" > "$out/run2.log" 2>&1 & d=$!; started "$out/run2.log"
kill -9 $d; wait $d; echo daemon2=$d
reuse $d; s2=$!; echo reused2=$s2
node "$bundle" run --config "$config" > "$out/run3.log" 2>&1 & d=$!; started "$out/run3.log"; echo run3=started
node "$bundle" sync --config "$config" > "$out/sync3.log" 2>&1; echo sync3=$?
kill -TERM $d; wait $d; echo run3exit=$?
echo sleeper1=$(cat /proc/$s1/comm); echo sleeper2=$(cat /proc/$s2/comm)
`;
const pidNamespaces = spawnSync('unshare', ['-p', '-f', '--mount-proc', 'true'], { stdio: 'ignore' }).status === 0;
function runReuse(configPath: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('unshare', ['-p', '-f', '--mount-proc', 'sh', '-c', REUSE_SCRIPT, 'reuse', BUNDLE, configPath, w.dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function staleSocket(at: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(at)}, () => console.log('up'))`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await gone;
}

const startedLine = (a: Agent, schedule: string) => `info daemon: started (pid ${a.pid}), 2 clusters, schedule "${schedule}"`;
// The maps live under /tmp: the daemon warns once at start (one line for both maps); one-shot commands do not repeat it.
const ramDisk = () => [
  `warn config ${w.configPath}: /haproxy/maps: hosts ${w.haproxy.mapPaths.hosts} and sni ${w.haproxy.mapPaths.sni} may be lost at reboot on a RAM disk; prefer /usr/local/etc/routeagent/maps`,
];
const lines = (s: string) => s.split('\n').filter(Boolean);
const start = () => (agent = startAgent(['run', '--config', w.configPath]));

daemon.before(async () => {
  if (missing) return;
  assertBuilt();
  metricsPort = await freePort();
  w = await startWorld({ schedule: '*/1 * * * * *', config: { metrics: { enabled: true, address: '127.0.0.1', port: metricsPort } } });
  w.clusters.hades.traefik.setRouters('http', [app('grafana.technis.io'), ...apps]);
  w.clusters.illmatic.traefik.setRouters('tcp', [tcpRouter('mqtt', 'mqtt.technis.io')]);
});
daemon.after(async () => {
  await killAll();
  await w?.close();
});

if (missing) {
  console.log(`skipping the daemon tests: ${missing}`);
} else {
  daemon('at start it syncs: the routes are live, the log says so, one line per event', async () => {
    start();
    await agent.waitFor(/^info sync: /);
    assert.is(await w.viaSni('grafana.technis.io'), 'hades');
    assert.is(await w.viaSni('mqtt.technis.io'), 'illmatic');
    assert.is(await w.viaHttp('app3.technis.io'), 'hades');
    const l = agent.lines;
    assert.equal(l.slice(0, 3), [
      ...ramDisk(),
      `info metrics: serving http://127.0.0.1:${metricsPort}/metrics`,
      startedLine(agent, '*/1 * * * * *'),
    ]);
    assert.match(l[3]!, /^info haproxy: map hosts applied @\d+: 9 entries in 1 chunk, \d+ ms$/);
    assert.match(l[4]!, /^info haproxy: map sni applied @\d+: 10 entries in 1 chunk, \d+ ms$/);
    assert.match(l[5]!, /^info sync: hosts \+9 ~0 -0, sni \+10 ~0 -0; applied by runtime in \d+ ms$/);
    assert.is(l.length, 6, l.join('\n'));
    assert.equal(await holder(), daemonHello(agent));
    assert.is((await stat(sockPath())).mode & 0o777, 0o600);
  });

  daemon('a migration is followed with no command from anyone', async () => {
    const from = agent.lines.length;
    w.clusters.illmatic.traefik.setRouters('http', [app('grafana.technis.io')]);
    await agent.waitFor('warn conflict: grafana.technis.io (sni) claimed by hades, illmatic; routing to hades', { from });
    assert.is(await w.viaSni('grafana.technis.io'), 'hades', 'sticky: the old cluster keeps the host while it still claims it');
    await metricsMatchStatus({ routeagent_conflicts: 2 }); // the conflict is logged during the sync, counted once it ends
    w.clusters.hades.traefik.setRouters('http', apps);
    await until('grafana to answer from illmatic', async () => (await w.viaSni('grafana.technis.io')) === 'illmatic');
    assert.is(await w.viaHttp('grafana.technis.io'), 'illmatic');
    await agent.waitFor('info conflict ended: grafana.technis.io (sni) no longer claimed by several clusters', { from });
    await agent.waitFor(/^info sync: hosts \+0 ~1 -0, sni \+0 ~1 -0; applied by runtime in \d+ ms$/, { from });
  });

  daemon('metrics: syncs by outcome, clusters up, entries per map, guard, conflicts; they match the status file', async () => {
    // The migration's last sync may still be writing its status: wait for the state it leaves.
    const m = await metricsMatchStatus({
      routeagent_conflicts: 0,
      'routeagent_map_entries{map="hosts"}': 9,
      'routeagent_map_entries{map="sni"}': 10,
    });
    assert.ok(m['routeagent_syncs_total{outcome="ok"}']! >= 2, JSON.stringify(m));
    assert.is(m['routeagent_syncs_total{outcome="failed"}'], 0);
    assert.is(m['routeagent_syncs_total{outcome="held"}'], 0);
    assert.is(m['routeagent_map_entries{map="hosts"}'], 9);
    assert.is(m['routeagent_map_entries{map="sni"}'], 10);
    assert.is(m['routeagent_cluster_up{cluster="hades"}'], 1);
    assert.is(m['routeagent_cluster_up{cluster="illmatic"}'], 1);
    assert.is(m['routeagent_guard_holding'], 0);
    assert.is(m['routeagent_conflicts'], 0);
  });

  daemon('a broken config edit logs every problem and changes nothing live; a valid edit takes effect at once', async () => {
    try {
      await brokenThenValidEdits();
    } finally {
      await w.writeConfig();
    }
  });

  async function brokenThenValidEdits() {
    const before = await live();
    const path = w.configPath;
    // An editor halfway through writing a config that, were it taken, would expose nothing (and so remove everything).
    const wouldEmpty = JSON.stringify({ ...w.config, expose: { domains: ['example.org'] } }, null, 2);
    let from = agent.lines.length;
    await writeFile(path, wouldEmpty.slice(0, Math.floor(wouldEmpty.length / 2)));
    await agent.waitFor(new RegExp(`^error config ${esc(path)}: not valid JSON \\(.+\\); keeping previous config$`), { from });
    from = agent.lines.length;
    await writeFile(
      path,
      JSON.stringify({
        ...w.config,
        expose: { domains: ['example.org'] },
        conflicts: 'newest',
        guard: { maxRemovalRatio: 7 },
        bogus: true,
      }),
    );
    const last = await agent.waitFor(`error config ${path}: /guard/maxRemovalRatio: must be <= 1; keeping previous config`, { from });
    assert.equal(agent.lines.slice(last - 2, last + 1), [
      `error config ${path}: /: unknown property "bogus"; keeping previous config`,
      `error config ${path}: /conflicts: must be one of "sticky", "priority"; keeping previous config`,
      `error config ${path}: /guard/maxRemovalRatio: must be <= 1; keeping previous config`,
    ]);
    await nextStatus('a sync after the broken edits');
    await nextStatus('another sync after the broken edits');
    assert.equal(await live(), before);
    assert.is(await w.viaSni('app3.technis.io'), 'hades');
    assert.not.ok(
      agent.lines.slice(from).some((l) => l.startsWith('info config') || l.startsWith('info sync')),
      agent.lines.slice(from).join('\n'),
    );

    from = agent.lines.length;
    await w.writeConfig({ expose: { domains: ['technis.io'], exclude: ['app3.technis.io'] } });
    await until('app3 to be unrouted after the valid edit', async () => (await w.viaSni('app3.technis.io')) === null, 3000);
    assert.equal(agent.lines.slice(from, from + 2), [...ramDisk(), `info config ${path}: reloaded (file changed)`]);
    await agent.waitFor(/^info sync: hosts \+0 ~0 -1, sni \+0 ~0 -1; applied by runtime in \d+ ms$/, { from });
    await w.writeConfig();
    await until('app3 to be routed again', async () => (await w.viaSni('app3.technis.io')) === 'hades', 3000);
  }

  daemon('a cluster outage changes nothing live; the status says stale, and `status` exits 1', async () => {
    const before = await live();
    const from = agent.lines.length;
    w.clusters.illmatic.traefik.setFault('/api/rawdata', { status: 500 });
    const s = await until('illmatic to be stale', async () =>
      (await status())?.clusters['illmatic']?.state === 'stale' ? (await status())! : undefined,
    );
    const url = `${w.clusters.illmatic.traefik.url}/rawdata`;
    const error = `traefik[illmatic]: GET ${url}: 500 Internal Server Error`;
    assert.equal(s.clusters['illmatic'], { state: 'stale', routers: 2, since: s.clusters['illmatic']!.since!, error });
    assert.is(s.outcome, 'ok');
    await agent.waitFor(new RegExp(`^warn ${esc(error)}; keeping 2 routers from \\d\\d:\\d\\d:\\d\\d$`), { from });
    assert.equal(await live(), before);
    assert.is(await w.viaSni('grafana.technis.io'), 'illmatic');
    assert.is(await w.viaSni('mqtt.technis.io'), 'illmatic');
    const r = await runBundle(['status', '--config', w.configPath]);
    assert.is(r.code, 1, r.stdout + r.stderr);
    assert.ok(r.stdout.includes(`cluster illmatic: stale since ${s.clusters['illmatic']!.since}, 2 routers\n`), r.stdout);
    assert.ok(r.stdout.endsWith(`problem: cluster illmatic stale since ${s.clusters['illmatic']!.since}: ${error}\n`), r.stdout);
    await metricsMatchStatus({ 'routeagent_cluster_up{cluster="illmatic"}': 0 });
  });

  daemon(
    'SIGKILL during the outage, then a restart: nothing is removed (seeded from the map files), the stale socket is taken over',
    async () => {
      const before = await live();
      const old = agent;
      old.signal('SIGKILL');
      assert.equal(await old.exited, { code: null, signal: 'SIGKILL' });
      assert.ok(await exists(sockPath()), 'a SIGKILLed daemon leaves its socket file behind');
      assert.is(await holder(), undefined, 'nobody answers on it');
      start();
      await agent.waitFor(startedLine(agent, '*/1 * * * * *'));
      await agent.waitFor(/^warn traefik\[illmatic\]: .*: 500 Internal Server Error; keeping 3 entries from the current maps$/);
      await nextStatus('a sync after the restart');
      await nextStatus('a second sync after the restart');
      assert.equal(await live(), before);
      assert.is(await w.viaSni('grafana.technis.io'), 'illmatic');
      assert.is(await w.viaHttp('grafana.technis.io'), 'illmatic');
      assert.is(await w.viaSni('mqtt.technis.io'), 'illmatic');
      assert.not.ok(
        agent.lines.some((l) => l.startsWith('info sync:') || l.startsWith('warn guard')),
        agent.lines.join('\n'),
      );
      assert.equal(await holder(), daemonHello(agent));
      w.clusters.illmatic.traefik.setFault('/api/rawdata', undefined);
      await until('illmatic to be ok again', async () => (await status())?.clusters['illmatic']?.state === 'ok');
      assert.equal(await live(), before);
    },
  );

  daemon('the guard holds (status says so, `status` exits 1); `sync --force` asks the daemon, which applies, and exits 0', async () => {
    const held = ['hosts: plan removes 8 of 9 entries (more than 50%)', 'sni: plan removes 8 of 10 entries (more than 50%)'];
    // Three rounds, with a sync every second: the one-shot command must report its forced sync, never a scheduled one.
    for (let round = 0; round < 3; round++) {
      w.clusters.hades.traefik.setRouters('http', apps);
      await until('the apps to be routed', async () => (await w.viaSni('app7.technis.io')) === 'hades');
      const from = agent.lines.length;
      w.clusters.hades.traefik.setRouters('http', []);
      const s = await until('the guard to hold', async () => ((await status())?.guard.held ? (await status())! : undefined));
      assert.equal(s.guard.reasons, held);
      assert.is(s.outcome, 'held');
      await agent.waitFor(`warn guard: ${held[0]}; not applied, live maps unchanged (run "routeagent sync --force" if this is intended)`, {
        from,
      });
      assert.is(await w.viaSni('app3.technis.io'), 'hades');
      const st = await runBundle(['status', '--config', w.configPath]);
      assert.is(st.code, 1, st.stdout);
      assert.ok(st.stdout.endsWith(`problem: guard holding: ${held.join('; ')}\n`), st.stdout);
      // What HAProxy serves (the status file's `entries`), and the held plan apart from it.
      assert.equal(st.stdout.split('\n').slice(1, 3), [
        'maps: HAProxy serves hosts 9 entries, sni 10 entries; 0 conflicts, 0 routers skipped',
        'held plan: hosts 1 entry, sni 2 entries; not applied while the guard holds it',
      ]);
      assert.equal(
        { entries: s.entries, heldEntries: s.heldEntries },
        { entries: { hosts: 9, sni: 10 }, heldEntries: { hosts: 1, sni: 2 } },
      );
      if (round === 0) {
        const m = await metricsMatchStatus({ routeagent_guard_holding: 1 });
        assert.ok(m['routeagent_syncs_total{outcome="held"}']! >= 1);
      }

      const r = await runBundle(['sync', '--force', '--config', w.configPath]);
      assert.is(r.code, 0, `round ${round}: exit ${r.code}\n${r.stdout}${r.stderr}\ndaemon log:\n${agent.lines.slice(from).join('\n')}`);
      assert.equal(r.stderr.split('\n').filter(Boolean), [
        `routeagent: the daemon (pid ${agent.pid}) drives these maps; asked it to sync with --force`,
      ]);
      // The forced sync's own report, as a one-shot `sync --force` without a daemon prints it.
      const removed = (m: 'hosts' | 'sni') => appHosts.map((h) => `  - ${h} hades_${m === 'sni' ? 'https' : 'http'}_ipvANY`);
      assert.equal(lines(r.stdout), [
        'cluster hades: 0 routers',
        'cluster illmatic: 2 routers',
        'hosts: +0 ~0 -8 (1 entry)',
        ...removed('hosts'),
        'sni: +0 ~0 -8 (2 entries)',
        ...removed('sni'),
        'applied by runtime',
      ]);
      await agent.waitFor('info sync: forced by "routeagent sync --force"; the guard does not apply to this sync', { from });
      await agent.waitFor(/^info guard: no longer holding \(held since \d\d:\d\d:\d\d\); syncs apply their plans again$/, { from });
      // The episode is logged once: each poll that held again said nothing new.
      assert.is(
        agent.lines
          .slice(from)
          .filter(
            (l) => l === `warn guard: ${held[0]}; not applied, live maps unchanged (run "routeagent sync --force" if this is intended)`,
          ).length,
        1,
      );
      assert.is(await w.viaSni('app3.technis.io'), null);
      assert.is(await w.viaSni('grafana.technis.io'), 'illmatic');
      assert.is((await status())!.guard.held, false);
      await agent.waitFor(/^info sync: hosts \+0 ~0 -8, sni \+0 ~0 -8; applied by runtime in \d+ ms$/, { from });
    }
    const ok = await runBundle(['status', '--config', w.configPath]);
    assert.is(ok.code, 0, ok.stdout);
  });

  daemon('a second `run` on the same maps exits 1 naming the first (asked over the socket); the first keeps running', async () => {
    const r = await runBundle(['run', '--config', w.configPath]);
    assert.is(r.code, 1, r.stderr);
    assert.equal(r.stderr.split('\n').filter(Boolean), [
      ...ramDisk(),
      `error control socket ${sockPath()}: another routeagent (pid ${agent.pid}) drives these maps; exiting`,
    ]);
    assert.equal(await holder(), daemonHello(agent));
    await nextStatus('the first daemon to keep syncing');
  });

  daemon('SIGTERM when idle: exits 0, removes the control socket, releases the metrics port', async () => {
    const from = agent.lines.length;
    agent.signal('SIGTERM');
    assert.equal(await agent.exited, { code: 0, signal: null });
    assert.equal(agent.lines.slice(from), ['info daemon: SIGTERM: finishing the current sync, then exiting', 'info daemon: stopped']);
    assert.not.ok(await exists(sockPath()));
    assert.ok(
      await metrics().then(
        () => false,
        () => true,
      ),
      'the metrics port is closed',
    );
  });

  // From here on the schedule is once a year: every sync below comes from a signal.
  const YEARLY = '0 0 1 1 *';

  daemon('SIGUSR2 syncs now', async () => {
    await w.writeConfig({ schedule: YEARLY });
    start();
    await agent.waitFor(startedLine(agent, YEARLY));
    await nextStatus('the start-up sync');
    w.clusters.illmatic.traefik.setRouters('http', [app('grafana.technis.io'), app('wiki.technis.io')]);
    assert.is(await w.viaSni('wiki.technis.io'), null);
    agent.signal('SIGUSR2');
    await until('wiki to be routed after SIGUSR2', async () => (await w.viaSni('wiki.technis.io')) === 'illmatic');
  });

  daemon('SIGHUP reloads the config and syncs', async () => {
    const from = agent.lines.length;
    w.clusters.illmatic.traefik.setRouters('http', [app('grafana.technis.io'), app('wiki.technis.io'), app('docs.technis.io')]);
    agent.signal('SIGHUP');
    await agent.waitFor(`info config ${w.configPath}: reloaded (SIGHUP)`, { from });
    await until('docs to be routed after SIGHUP', async () => (await w.viaSni('docs.technis.io')) === 'illmatic');
  });

  daemon('`sync` while the daemon runs asks it over the socket and prints the report of the sync it asked for', async () => {
    w.clusters.illmatic.traefik.setRouters('http', [
      app('grafana.technis.io'),
      app('wiki.technis.io'),
      app('docs.technis.io'),
      app('blog.technis.io'),
    ]);
    const r = await runBundle(['sync', '--config', w.configPath]);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.equal(lines(r.stderr), [`routeagent: the daemon (pid ${agent.pid}) drives these maps; asked it to sync`]);
    assert.equal(lines(r.stdout), [
      'cluster hades: 0 routers',
      'cluster illmatic: 5 routers',
      'hosts: +1 ~0 -0 (4 entries)',
      '  + blog.technis.io illmatic_http_ipvANY',
      'sni: +1 ~0 -0 (5 entries)',
      '  + blog.technis.io illmatic_https_ipvANY',
      'applied by runtime',
    ]);
    assert.is(await w.viaSni('blog.technis.io'), 'illmatic');
  });

  daemon('`sync --json` while the daemon runs prints its sync as a report, the shape a sync without a daemon prints', async () => {
    const dry = await runBundle(['sync', '--dry-run', '--json', '--config', w.configPath]); // runs here, even with a daemon
    assert.is(dry.code, 0, dry.stdout + dry.stderr);
    assert.equal(lines(dry.stderr), []);
    const j = await runBundle(['sync', '--json', '--config', w.configPath]);
    assert.is(j.code, 0, j.stdout + j.stderr);
    assert.equal(lines(j.stderr), [`routeagent: the daemon (pid ${agent.pid}) drives these maps; asked it to sync`]);
    const report = JSON.parse(j.stdout);
    assert.equal(report, { ...JSON.parse(dry.stdout), applied: false });
    assert.equal(Object.keys(report), ['maps', 'plan', 'conflicts', 'skipped', 'clusters', 'applied', 'failovers']);
    assert.is(report.maps.sni['blog.technis.io'], 'illmatic_https_ipvANY');
  });

  daemon('`status` and `status --json` while the daemon runs print what the daemon says, as they print the status file', async () => {
    const text = await runBundle(['status', '--config', w.configPath]);
    const json = await runBundle(['status', '--json', '--config', w.configPath]);
    assert.is(json.code, 0, json.stdout + json.stderr);
    assert.equal(lines(json.stderr), []);
    const s = JSON.parse(json.stdout) as Status;
    assert.equal(s, await status(), 'the daemon wrote what it said');
    assert.is(text.code, 0, text.stdout + text.stderr);
    assert.equal(lines(text.stderr), []);
    assert.match(lines(text.stdout)[0]!, /^healthy: last sync \S+ ok, \d+ ms$/);
    assert.equal(lines(text.stdout).slice(1), [
      'maps: HAProxy serves hosts 4 entries, sni 5 entries; 0 conflicts, 0 routers skipped',
      'cluster hades: ok, 0 routers',
      'cluster illmatic: ok, 5 routers',
    ]);
  });

  daemon('triggers that arrive during a slow sync coalesce into one more sync', async () => {
    const rawdataHits = () => w.clusters.hades.traefik.requests.filter((p) => p === '/api/rawdata').length;
    const syncs = async () => {
      const m = await metrics();
      return (
        m['routeagent_syncs_total{outcome="ok"}']! +
        m['routeagent_syncs_total{outcome="failed"}']! +
        m['routeagent_syncs_total{outcome="held"}']!
      );
    };
    const [hits0, syncs0, at0] = [rawdataHits(), await syncs(), (await status())!.at];
    w.clusters.hades.traefik.setFault('/api/rawdata', { delayMs: 700 });
    agent.signal('SIGUSR2');
    await until('the first sync to reach hades', () => rawdataHits() === hits0 + 1);
    for (const sig of ['SIGUSR2', 'SIGUSR2', 'SIGHUP', 'SIGUSR2'] as const) agent.signal(sig);
    await until('two syncs to end', async () => (await syncs()) === syncs0 + 2, 5000);
    // Idle now: give a third sync, if one were queued, time to show up at the fake (each takes 700 ms there).
    await new Promise((r) => setTimeout(r, 1500));
    assert.is(rawdataHits(), hits0 + 2);
    assert.is(await syncs(), syncs0 + 2);
    assert.is.not((await status())!.at, at0);
    w.clusters.hades.traefik.setFault('/api/rawdata', undefined);
  });

  daemon('SIGTERM during a sync finishes it, then exits 0', async () => {
    const routerHits = () => w.clusters.illmatic.traefik.requests.filter((p) => p === '/api/rawdata').length;
    const hits0 = routerHits();
    w.clusters.illmatic.traefik.setFault('/api/rawdata', { delayMs: 1000 });
    w.clusters.illmatic.traefik.setRouters('http', [app('grafana.technis.io'), app('late.technis.io')]);
    const from = agent.lines.length;
    agent.signal('SIGUSR2');
    await until('the sync to be waiting on illmatic', () => routerHits() === hits0 + 1);
    agent.signal('SIGTERM');
    assert.equal(await agent.exited, { code: 0, signal: null });
    const l = agent.lines.slice(from);
    assert.is(l[0], 'info daemon: SIGTERM: finishing the current sync, then exiting');
    assert.match(l[l.length - 2]!, /^info sync: hosts \+1 ~0 -3, sni \+1 ~0 -3; applied by runtime in \d+ ms$/);
    assert.is(l[l.length - 1], 'info daemon: stopped');
    assert.is(await w.viaSni('late.technis.io'), 'illmatic');
    assert.not.ok(await exists(sockPath()));
    w.clusters.illmatic.traefik.setFault('/api/rawdata', undefined);
  });

  daemon('two one-shot syncs at once: the second waits for the first, then runs its own; both exit 0 with their own report', async () => {
    // The first holds the socket for 4 s (a slow cluster, within a longer timeout), so that the second, however slowly
    // node starts on a busy machine, finds it still there.
    const clusters = (w.config['clusters'] as Record<string, unknown>[]).map((c) => ({ ...c, timeoutMs: 15_000 }));
    await w.writeConfig({ schedule: YEARLY, clusters });
    w.clusters.illmatic.traefik.setFault('/api/version', { delayMs: 4000 });
    w.clusters.illmatic.traefik.setRouters('http', [app('grafana.technis.io'), app('late.technis.io'), app('queue.technis.io')]);
    try {
      const first = runBundle(['sync', '--config', w.configPath]);
      const firstPid = await until(
        'the first sync to hold the socket',
        async () => {
          const h = (await holder().catch(() => undefined)) as { pid: number; role: string } | undefined;
          return h?.role === 'sync' ? h.pid : undefined;
        },
        20_000,
        5,
      );
      const second = await runBundle(['sync', '--config', w.configPath]);
      const one = await first;
      assert.equal([one.code, one.signal], [0, null], one.stdout + one.stderr);
      assert.equal(lines(one.stdout).slice(-1), ['applied by runtime']);
      assert.is(second.code, 0, second.stdout + second.stderr);
      assert.ok(
        lines(second.stderr).includes(
          `routeagent: a one-shot routeagent sync (pid ${firstPid}) holds ${sockPath()}; waiting for it to end`,
        ),
        second.stderr,
      );
      assert.ok(lines(one.stdout).includes('  + queue.technis.io illmatic_https_ipvANY'), one.stdout);
      assert.equal(lines(second.stdout).slice(-3), ['hosts: no changes (3 entries)', 'sni: no changes (4 entries)', 'up to date']);
      assert.is(await w.viaSni('queue.technis.io'), 'illmatic');
      assert.not.ok(await exists(sockPath()));
    } finally {
      w.clusters.illmatic.traefik.setFault('/api/version', undefined);
      await w.writeConfig({ schedule: YEARLY });
    }
  });

  daemon(
    'a stale socket and an old lock file naming a live process (a reused pid): sync and run take over; that process is untouched',
    async () => {
      const sleeper = spawn('sleep', ['300'], { stdio: 'ignore' });
      const legacy = ['.routeagent.lock', '.routeagent.force'].map((f) => join(w.dir, 'maps', f));
      try {
        await staleSocket(sockPath());
        await writeFile(legacy[0]!, `${sleeper.pid} daemon ${Math.round(Date.now() / 1000)}\n`); // as an older routeagent left it
        await writeFile(legacy[1]!, `${sleeper.pid}\n`);
        const r = await runBundle(['sync', '--config', w.configPath]);
        assert.is(r.code, 0, r.stdout + r.stderr);
        assert.equal(lines(r.stderr), []);
        assert.equal(lines(r.stdout).slice(-1), ['up to date']);
        assert.not.ok(await exists(sockPath()), 'the one-shot removed its socket when it ended');
        await staleSocket(sockPath());
        start();
        await agent.waitFor(startedLine(agent, YEARLY));
        assert.equal(await holder(), daemonHello(agent));
        agent.signal('SIGTERM');
        assert.equal(await agent.exited, { code: 0, signal: null }, agent.lines.join('\n'));
        assert.equal([sleeper.exitCode, sleeper.signalCode], [null, null], 'the process a stale lock named was never signalled');
      } finally {
        sleeper.kill('SIGKILL');
        for (const f of legacy) await rm(f, { force: true });
      }
    },
  );

  daemon(
    'a daemon killed -9 whose pid a live process now has (a real reuse, in a PID namespace): `sync` signals nothing, `run` starts',
    async () => {
      if (!pidNamespaces)
        return void console.log(
          '  skipped: no PID namespace here (unshare -p needs root); the reuse is covered by the stale-lock test above',
        );
      const r = await runReuse(w.configPath);
      assert.is(r.code, 0, r.stdout + r.stderr);
      const facts = Object.fromEntries(
        lines(r.stdout)
          .filter((l) => l.includes('='))
          .map((l) => l.split('=', 2) as [string, string]),
      );
      assert.is(facts['reused1'], facts['daemon1'], "the sleeper has the killed daemon's pid");
      assert.is(facts['reused2'], facts['daemon2'], "the second sleeper has the second killed daemon's pid");
      assert.is(facts['sync'], '0', 'a one-shot sync over the stale socket');
      assert.is(facts['run3'], 'started', "`run` starts while the stale socket's pid is alive");
      assert.is(facts['sync3'], '0', '`sync` asks the new daemon');
      assert.is(facts['run3exit'], '0');
      assert.equal(
        [facts['sleeper1'], facts['sleeper2']],
        ['sleep', 'sleep'],
        "both processes that got a dead daemon's pid were never signalled",
      );
    },
  );

  daemon('a SIGUSR2 or SIGHUP that arrives while the daemon is starting does not kill it', async () => {
    for (const sig of ['SIGUSR2', 'SIGHUP'] as const) {
      start();
      await until('the control socket to be bound', () => exists(sockPath()), 20_000, 1);
      agent.signal(sig);
      await agent.waitFor(startedLine(agent, YEARLY));
      await nextStatus('a sync');
      agent.signal('SIGTERM');
      assert.equal(await agent.exited, { code: 0, signal: null }, agent.lines.join('\n'));
    }
  });
}
daemon.run();
