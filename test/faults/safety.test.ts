// Safety stops, end to end: a cluster that suddenly reports no routers (the guard holds, and says how to pass it), both
// clusters unreachable when the daemon starts (nothing removed, `routeagent status` unhealthy), and a host claimed back
// and forth by two clusters on every sync (sticky: it moves only when its owner drops it; priority: the higher priority
// keeps it, whoever answers first).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type Daemon, startDaemon } from '../../agent/daemon.js';
import type { SyncReport } from '../../agent/sync.js';
import { ensureBundle, startAgent } from '../harness/agent.js';
import { skipUnless } from '../harness/tools.js';
import { until } from '../harness/wait.js';
import { app, startWorld, tcpRouter, type World } from '../harness/world.js';
import { assertEach, assertServes, captureLog, clusterPatch, mapsNow, syncer, type Version, version, versionOf } from './kit.js';

const missing = skipUnless('faults: safety', 'haproxy', 'openssl');

type Ctx = { w: World; daemon?: Daemon };
const test = suite<Ctx>('faults: safety', {} as Ctx);
const cap = captureLog();
const NEVER = '0 0 1 1 *';

test.before(() => {
  if (!missing) ensureBundle();
});
test.before.each(async (ctx) => {
  if (missing) return;
  cap.clear();
  ctx.w = await startWorld({ schedule: NEVER });
  await ctx.w.writeConfig({ schedule: NEVER });
});
test.after.each(async (ctx) => {
  await ctx.daemon?.stop();
  delete ctx.daemon;
  await ctx.w?.close();
});

const apps = (n: number, prefix = 'app') => Array.from({ length: n }, (_, i) => app(`${prefix}${i}.technis.io`));

if (!missing) {
  test('a cluster that suddenly reports no routers: the guard holds, says how to pass; it comes back → nothing to do', async ({ w }) => {
    w.clusters.hades.traefik.setRouters('http', apps(8));
    const sync = syncer(w, cap.log);
    const first = await sync.run();
    assert.ok(first.applied);
    const OLD = versionOf(first);
    cap.clear();
    w.clusters.hades.traefik.setRouters('http', []);
    const held = await sync.run();
    assert.equal(held.held, ['hosts: plan removes 8 of 8 entries (more than 50%)', 'sni: plan removes 8 of 8 entries (more than 50%)']);
    assert.is(held.applied, false);
    assert.equal(cap.lines, [
      'warn guard: hosts: plan removes 8 of 8 entries (more than 50%); not applied, live maps unchanged (run "routeagent sync --force" if this is intended)',
      'warn guard: sni: plan removes 8 of 8 entries (more than 50%); not applied, live maps unchanged (run "routeagent sync --force" if this is intended)',
    ]);
    assertEach(await mapsNow(w), [OLD]);
    w.clusters.hades.traefik.setRouters('http', apps(8));
    const back = await sync.run();
    assert.equal([back.applied, back.held], [false, undefined]);
    await assertServes(w, OLD);
  });

  test('both clusters unreachable at start: nothing removed, the status says unhealthy and why', async (ctx) => {
    const { w } = ctx;
    w.clusters.hades.traefik.setRouters('http', apps(2, 'h'));
    w.clusters.illmatic.traefik.setRouters('tcp', [tcpRouter('mqtt', 'mqtt.technis.io')]);
    const OLD = versionOf(await syncer(w, cap.log).run());
    assert.equal([OLD.hosts.length, OLD.sni.length], [2, 3]);
    cap.clear();
    for (const c of Object.values(w.clusters)) c.traefik.setFault('/api/version', { status: 503 });
    const reports: SyncReport[] = [];
    const daemon = await startDaemon({ configPath: w.configPath, log: cap.log, onSync: (r) => reports.push(r) });
    ctx.daemon = daemon;
    await until('the first sync', () => reports.length === 1);
    const r = reports[0]!;
    assert.is(r.error, undefined);
    assert.equal(r.plan, { hosts: { add: [], change: [], remove: [] }, sni: { add: [], change: [], remove: [] } });
    assert.equal(versionOf(r), OLD);
    await assertServes(w, OLD);
    for (const [name, kept] of [
      ['hades', '4 entries'],
      ['illmatic', '1 entry'],
    ] as const) {
      const error = `traefik[${name}]: GET ${w.clusters[name].traefik.url}/version: 503 Service Unavailable`;
      assert.ok(cap.lines.includes(`warn ${error}; keeping ${kept} from the current maps`), cap.lines.join('\n'));
      assert.is(r.clusters[name]!.error, error);
    }
    const status = startAgent(['status', '--config', w.configPath]);
    assert.is((await status.exited).code, 1);
    const out = status.lines.filter((l) => !l.startsWith('warning: '));
    assert.match(out[0]!, /^unhealthy: last sync \S+ ok, \d+ ms$/);
    const stale = (name: string) =>
      new RegExp(
        `^problem: cluster ${name} stale since \\S+: traefik\\[${name}\\]: GET http://127\\.0\\.0\\.1:\\d+/api/version: 503 Service Unavailable$`,
      );
    assert.ok(out.some((l) => stale('hades').test(l)) && out.some((l) => stale('illmatic').test(l)), out.join('\n'));
  });

  /** Claims per sync: which clusters serve the host, and which of them answers first. */
  async function backAndForth(w: World, claims: ('hades' | 'illmatic')[][]): Promise<string[]> {
    const sync = syncer(w, cap.log);
    const winners: string[] = [];
    for (const [i, claimants] of claims.entries()) {
      for (const name of ['hades', 'illmatic'] as const) {
        w.clusters[name].traefik.setRouters('http', claimants.includes(name) ? [app('x.technis.io')] : []);
        // the first claimant answers first: the order of answers must not pick the winner
        w.clusters[name].traefik.setFault('/api/rawdata', claimants[0] === name ? undefined : { delayMs: 60 });
      }
      const r = await sync.run();
      assert.is(r.error, undefined);
      const winner = r.maps.sni.find((e) => e.key === 'x.technis.io')?.backend === 'hades_https_ipvANY' ? 'hades' : 'illmatic';
      winners.push(winner);
      const v: Version = version({ hosts: { 'x.technis.io': `${winner}_http_ipvANY` }, sni: { 'x.technis.io': `${winner}_https_ipvANY` } });
      await assertServes(w, v, `sync ${i + 1}`);
    }
    return winners;
  }

  test('sticky: a host claimed back and forth stays put while both claim it; it moves only when its owner drops it', async ({ w }) => {
    const winners = await backAndForth(w, [
      ['hades'],
      ['hades', 'illmatic'],
      ['illmatic', 'hades'],
      ['hades', 'illmatic'],
      ['illmatic'],
      ['hades', 'illmatic'],
      ['illmatic', 'hades'],
      ['hades'],
    ]);
    assert.equal(winners, ['hades', 'hades', 'hades', 'hades', 'illmatic', 'illmatic', 'illmatic', 'hades']);
    const conflictLines = cap.lines.filter((l) => l.includes('conflict'));
    assert.equal(conflictLines, [
      'warn conflict: x.technis.io (hosts) claimed by hades, illmatic; routing to hades',
      'warn conflict: x.technis.io (sni) claimed by hades, illmatic; routing to hades',
      'info conflict ended: x.technis.io (hosts) no longer claimed by several clusters',
      'info conflict ended: x.technis.io (sni) no longer claimed by several clusters',
      'warn conflict: x.technis.io (hosts) claimed by hades, illmatic; routing to illmatic',
      'warn conflict: x.technis.io (sni) claimed by hades, illmatic; routing to illmatic',
      'info conflict ended: x.technis.io (hosts) no longer claimed by several clusters',
      'info conflict ended: x.technis.io (sni) no longer claimed by several clusters',
    ]);
  });

  test('priority: while both claim the host it stays on the higher priority (illmatic, 20), whoever answers first', async ({ w }) => {
    await w.writeConfig({ schedule: NEVER, conflicts: 'priority' });
    const winners = await backAndForth(w, [
      ['hades'],
      ['hades', 'illmatic'],
      ['illmatic', 'hades'],
      ['hades', 'illmatic'],
      ['hades'],
      ['hades', 'illmatic'],
    ]);
    assert.equal(winners, ['hades', 'illmatic', 'illmatic', 'illmatic', 'hades', 'illmatic']);
    await w.writeConfig({ schedule: NEVER, conflicts: 'priority', clusters: clusterPatch(w, 'hades', { priority: 30 }) });
    const flipped = await backAndForth(w, [
      ['illmatic', 'hades'],
      ['hades', 'illmatic'],
    ]);
    assert.equal(flipped, ['hades', 'hades']);
  });
}

if (!missing) test.run();
