// The daemon as rc.d runs it: `node dist/routeagent.js run --config F`, against a real haproxy and two fake Traefik clusters,
// proven with real requests through HAProxy. It syncs at start and on its schedule, follows a migration with no command
// from anyone, keeps the previous config through broken edits and applies a valid one at once, changes nothing live
// during an outage (nor after a SIGKILL and restart during one), holds on the guard until `sync --force`, answers
// SIGUSR2/SIGHUP, finishes a sync on SIGTERM, refuses a second daemon on the same maps, coalesces triggers that arrive
// during a slow sync into one more sync, and serves /metrics that agree with the status file.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { access, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { createRuntime } from '../agent/io/runtime.js';
import { assertBuilt, killAll, runBundle, startAgent, until, type Agent } from './helpers/bundle.js';
import { freePort, haproxyMissing } from './helpers/haproxy.js';
import { app, startWorld, tcpRouter, type World } from './helpers/world.js';

const missing = haproxyMissing();
const daemon = suite('routeagent run (the daemon)');
let w: World;
let agent: Agent;
let metricsPort: number;

const apps = Array.from({ length: 8 }, (_, i) => app(`app${i}.technis.io`));
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const lockPath = () => join(w.dir, 'maps', '.routeagent.lock');
const forcePath = () => join(w.dir, 'maps', '.routeagent.force');
const exists = (p: string) => access(p).then(() => true, () => false);

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
  lastSuccess?: string;
};
const status = async (): Promise<Status | undefined> => JSON.parse(await readFile(w.statusFile, 'utf8').catch(() => 'null')) ?? undefined;
/** The status of the first sync that ends after this call (its `at` differs from the one on disk now). */
async function nextStatus(what: string, timeoutMs = 5000): Promise<Status> {
  const before = (await status())?.at;
  return until(what, async () => {
    const s = await status();
    return s && s.at !== before ? s : undefined;
  }, timeoutMs);
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

const startedLine = (a: Agent, schedule: string) => `info daemon: started (pid ${a.pid}), 2 clusters, schedule "${schedule}"`;
const ramDisk = () => (['hosts', 'sni'] as const).map((m) => `warn config ${w.configPath}: /haproxy/maps/${m}: ${w.haproxy.mapPaths[m]} may be lost at reboot on a RAM disk; prefer /usr/local/etc/routeagent/maps`);
const lines = (s: string) => s.split('\n').filter(Boolean);
const ramDiskCli = () => (['hosts', 'sni'] as const).map((m) => `warning: /haproxy/maps/${m}: ${w.haproxy.mapPaths[m]} may be lost at reboot on a RAM disk; prefer /usr/local/etc/routeagent/maps`);
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
    assert.equal(l.slice(0, 4), [...ramDisk(), `info metrics: serving http://127.0.0.1:${metricsPort}/metrics`, startedLine(agent, '*/1 * * * * *')]);
    assert.match(l[4]!, /^info haproxy: map hosts applied @\d+: 9 entries in 1 chunk, \d+ ms$/);
    assert.match(l[5]!, /^info haproxy: map sni applied @\d+: 10 entries in 1 chunk, \d+ ms$/);
    assert.match(l[6]!, /^info sync: hosts \+9 ~0 -0, sni \+10 ~0 -0; applied by runtime in \d+ ms$/);
    assert.is(l.length, 7, l.join('\n'));
    assert.match(await readFile(lockPath(), 'utf8'), new RegExp(`^${agent.pid} daemon \\d+\\n$`));
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
    const m = await metricsMatchStatus({ routeagent_conflicts: 0, 'routeagent_map_entries{map="hosts"}': 9, 'routeagent_map_entries{map="sni"}': 10 });
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
    await writeFile(path, JSON.stringify({ ...w.config, expose: { domains: ['example.org'] }, conflicts: 'newest', guard: { maxRemovalRatio: 7 }, bogus: true }));
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
    assert.not.ok(agent.lines.slice(from).some((l) => l.startsWith('info config') || l.startsWith('info sync')), agent.lines.slice(from).join('\n'));

    from = agent.lines.length;
    await w.writeConfig({ expose: { domains: ['technis.io'], exclude: ['app3.technis.io'] } });
    await until('app3 to be unrouted after the valid edit', async () => (await w.viaSni('app3.technis.io')) === null, 3000);
    assert.equal(agent.lines.slice(from, from + 3), [...ramDisk(), `info config ${path}: reloaded (file changed)`]);
    await agent.waitFor(/^info sync: hosts \+0 ~0 -1, sni \+0 ~0 -1; applied by runtime in \d+ ms$/, { from });
    await w.writeConfig();
    await until('app3 to be routed again', async () => (await w.viaSni('app3.technis.io')) === 'hades', 3000);
  }

  daemon('a cluster outage changes nothing live; the status says stale, and `status` exits 1', async () => {
    const before = await live();
    const from = agent.lines.length;
    w.clusters.illmatic.traefik.setFault('/api/rawdata', { status: 500 });
    const s = await until('illmatic to be stale', async () => ((await status())?.clusters['illmatic']?.state === 'stale' ? (await status())! : undefined));
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

  daemon('SIGKILL during the outage, then a restart: nothing is removed (seeded from the map files), the stale lock is taken over', async () => {
    const before = await live();
    const old = agent;
    old.signal('SIGKILL');
    assert.equal(await old.exited, { code: null, signal: 'SIGKILL' });
    assert.match(await readFile(lockPath(), 'utf8'), new RegExp(`^${old.pid} daemon \\d+\\n$`), 'a SIGKILLed daemon leaves its lock behind');
    start();
    await agent.waitFor(startedLine(agent, '*/1 * * * * *'));
    await agent.waitFor(new RegExp(`^warn traefik\\[illmatic\\]: .*: 500 Internal Server Error; keeping 3 entries from the current maps$`));
    await nextStatus('a sync after the restart');
    await nextStatus('a second sync after the restart');
    assert.equal(await live(), before);
    assert.is(await w.viaSni('grafana.technis.io'), 'illmatic');
    assert.is(await w.viaHttp('grafana.technis.io'), 'illmatic');
    assert.is(await w.viaSni('mqtt.technis.io'), 'illmatic');
    assert.not.ok(agent.lines.some((l) => l.startsWith('info sync:') || l.startsWith('warn guard')), agent.lines.join('\n'));
    assert.match(await readFile(lockPath(), 'utf8'), new RegExp(`^${agent.pid} daemon \\d+\\n$`));
    w.clusters.illmatic.traefik.setFault('/api/rawdata', undefined);
    await until('illmatic to be ok again', async () => (await status())?.clusters['illmatic']?.state === 'ok');
    assert.equal(await live(), before);
  });

  daemon('the guard holds (status says so, `status` exits 1); `sync --force` asks the daemon, which applies, and exits 0', async () => {
    const held = ['hosts: plan removes 8 of 9 entries (more than 50%)', 'sni: plan removes 8 of 10 entries (more than 50%)'];
    // Three rounds: the one-shot command must report the forced sync, not a scheduled one that ends meanwhile.
    for (let round = 0; round < 3; round++) {
      w.clusters.hades.traefik.setRouters('http', apps);
      await until('the apps to be routed', async () => (await w.viaSni('app7.technis.io')) === 'hades');
      const from = agent.lines.length;
      w.clusters.hades.traefik.setRouters('http', []);
      const s = await until('the guard to hold', async () => ((await status())?.guard.held ? (await status())! : undefined));
      assert.equal(s.guard.reasons, held);
      assert.is(s.outcome, 'held');
      await agent.waitFor(`warn guard: ${held[0]}; not applied, live maps unchanged (run "routeagent sync --force" if this is intended)`, { from });
      assert.is(await w.viaSni('app3.technis.io'), 'hades');
      const st = await runBundle(['status', '--config', w.configPath]);
      assert.is(st.code, 1, st.stdout);
      assert.ok(st.stdout.endsWith(`problem: guard holding: ${held.join('; ')}\n`), st.stdout);
      if (round === 0) {
        const m = await metricsMatchStatus({ routeagent_guard_holding: 1 });
        assert.ok(m['routeagent_syncs_total{outcome="held"}']! >= 1);
      }

      const r = await runBundle(['sync', '--force', '--config', w.configPath]);
      assert.is(r.code, 0, `round ${round}: exit ${r.code}\n${r.stdout}${r.stderr}\ndaemon log:\n${agent.lines.slice(from).join('\n')}`);
      const after = (await status())!;
      assert.equal(r.stderr.split('\n').filter(Boolean), [...ramDiskCli(), `routeagent: the daemon (pid ${agent.pid}) drives these maps; asked it to sync with --force`]);
      assert.equal(r.stdout.split('\n').filter(Boolean), [
        `healthy: last sync ${after.at} ok (applied by runtime), ${after.durationMs} ms`,
        'maps: hosts 1 entries, sni 2 entries; 0 conflicts, 0 routers skipped',
        'cluster hades: ok, 0 routers',
        'cluster illmatic: ok, 2 routers',
      ]);
      await agent.waitFor(/^info sync: forced by "routeagent sync --force" \(pid \d+\); the guard does not apply to this sync$/, { from });
      assert.is(await w.viaSni('app3.technis.io'), null);
      assert.is(await w.viaSni('grafana.technis.io'), 'illmatic');
      assert.is(after.guard.held, false);
      assert.not.ok(await exists(forcePath()), 'the daemon consumed the force marker');
      await agent.waitFor(/^info sync: hosts \+0 ~0 -8, sni \+0 ~0 -8; applied by runtime in \d+ ms$/, { from });
    }
    const ok = await runBundle(['status', '--config', w.configPath]);
    assert.is(ok.code, 0, ok.stdout);
  });

  daemon('a second `run` on the same maps exits 1 with the lock message; the first keeps running', async () => {
    const r = await runBundle(['run', '--config', w.configPath]);
    assert.is(r.code, 1, r.stderr);
    assert.equal(r.stderr.split('\n').filter(Boolean), [...ramDisk(), `error lock ${lockPath()}: another routeagent (pid ${agent.pid}) drives these maps; exiting`]);
    assert.match(await readFile(lockPath(), 'utf8'), new RegExp(`^${agent.pid} daemon \\d+\\n$`));
    await nextStatus('the first daemon to keep syncing');
  });

  daemon('SIGTERM when idle: exits 0, releases the lock and the metrics port', async () => {
    const from = agent.lines.length;
    agent.signal('SIGTERM');
    assert.equal(await agent.exited, { code: 0, signal: null });
    assert.equal(agent.lines.slice(from), ['info daemon: SIGTERM: finishing the current sync, then exiting', 'info daemon: stopped']);
    assert.not.ok(await exists(lockPath()));
    assert.ok(await metrics().then(() => false, () => true), "the metrics port is closed");
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

  daemon('`sync` while the daemon runs asks it (SIGUSR2) and reports that sync', async () => {
    w.clusters.illmatic.traefik.setRouters('http', [app('grafana.technis.io'), app('wiki.technis.io'), app('docs.technis.io'), app('blog.technis.io')]);
    const r = await runBundle(['sync', '--config', w.configPath]);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stderr.split('\n').filter(Boolean), [...ramDiskCli(), `routeagent: the daemon (pid ${agent.pid}) drives these maps; asked it to sync`]);
    assert.match(r.stdout, /^healthy: last sync \S+ ok \(applied by runtime\), \d+ ms\n/);
    assert.is(await w.viaSni('blog.technis.io'), 'illmatic');
    const j = await runBundle(['sync', '--json', '--config', w.configPath]);
    assert.is(j.code, 0, j.stdout + j.stderr);
    assert.equal(JSON.parse(j.stdout), await status(), 'with --json, stdout is the status object of the sync it asked for');
  });

  daemon('triggers that arrive during a slow sync coalesce into one more sync', async () => {
    const rawdataHits = () => w.clusters.hades.traefik.requests.filter((p) => p === '/api/rawdata').length;
    const syncs = async () => {
      const m = await metrics();
      return m['routeagent_syncs_total{outcome="ok"}']! + m['routeagent_syncs_total{outcome="failed"}']! + m['routeagent_syncs_total{outcome="held"}']!;
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
    assert.not.ok(await exists(lockPath()));
    w.clusters.illmatic.traefik.setFault('/api/rawdata', undefined);
  });

  daemon('two one-shot syncs at once: the second waits for the first instead of signalling it', async () => {
    w.clusters.illmatic.traefik.setFault('/api/version', { delayMs: 800 });
    w.clusters.illmatic.traefik.setRouters('http', [app('grafana.technis.io'), app('late.technis.io'), app('queue.technis.io')]);
    try {
      const first = runBundle(['sync', '--config', w.configPath]);
      const holder = await until('the first sync to take the lock', async () => (await readFile(lockPath(), 'utf8').catch(() => '')).match(/^(\d+) sync \d+\n$/)?.[1], 5000, 5);
      const second = await runBundle(['sync', '--config', w.configPath]);
      const one = await first;
      assert.equal([one.code, one.signal], [0, null], one.stdout + one.stderr);
      assert.equal(lines(one.stdout).slice(-1), ['applied by runtime']);
      assert.is(second.code, 0, second.stdout + second.stderr);
      assert.ok(lines(second.stderr).includes(`routeagent: a one-shot routeagent sync (pid ${holder}) holds ${lockPath()}; waiting for it to end`), second.stderr);
      assert.equal(lines(second.stdout).slice(-1), ['up to date']);
      assert.is(await w.viaSni('queue.technis.io'), 'illmatic');
      assert.not.ok(await exists(lockPath()));
    } finally {
      w.clusters.illmatic.traefik.setFault('/api/version', undefined);
    }
  });

  daemon('a SIGUSR2 or SIGHUP that arrives while the daemon is starting does not kill it', async () => {
    for (const sig of ['SIGUSR2', 'SIGHUP'] as const) {
      start();
      await until('the lock to be taken', () => exists(lockPath()), 5000, 1);
      agent.signal(sig);
      await agent.waitFor(startedLine(agent, YEARLY));
      await nextStatus('a sync');
      agent.signal('SIGTERM');
      assert.equal(await agent.exited, { code: 0, signal: null }, agent.lines.join('\n'));
    }
  });
}
daemon.run();
