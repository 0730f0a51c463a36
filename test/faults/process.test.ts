// The agent process and the disk: `routeagent run` (the bundle) SIGKILLed during the file write and during the runtime
// apply, then restarted: file == runtime == desired, leftovers removed, the stale control socket taken over. The map folder
// read-only and the disk full: the old maps stay, the error names the file. Two agents at once: the second exits.
// Kill points are found without test hooks in the agent: a unix socket proxy in front of HAProxy's sees each command,
// and the maps folder is watched for the staged file.
import { watch } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { askControl } from '../../agent/io/control.js';
import { type Agent, ensureBundle, startAgent } from '../harness/agent.js';
import { haproxyMissing } from '../harness/haproxy.js';
import { alive, until } from '../harness/wait.js';
import { app, startWorld, type World } from '../harness/world.js';
import {
  assertEach,
  assertServes,
  captureLog,
  haproxyPatch,
  mapsNow,
  type SocketProxy,
  sh,
  startSocketProxy,
  syncer,
  type Version,
  version,
} from './kit.js';

const missing = haproxyMissing();
if (missing) console.log(`faults/process.test.ts skipped: ${missing}`);

type Ctx = { w: World; agents: Agent[]; proxy?: SocketProxy; mounted?: string };
const test = suite<Ctx>('faults: process and disk', { agents: [] } as unknown as Ctx);
const cap = captureLog();
const NEVER = '0 0 1 1 *';
const BIG = 3000; // ~100 KB per map: big enough that staging, -c and the payload chunks take a while

const OLD: Version = version({ hosts: { 'a.technis.io': 'hades_http_ipvANY' }, sni: { 'a.technis.io': 'hades_https_ipvANY' } });
const bigHosts = Array.from({ length: BIG }, (_, i) => `app${String(i).padStart(5, '0')}.technis.io`);
const BIG_V: Version = version({
  hosts: Object.fromEntries(['a.technis.io', ...bigHosts].map((h) => [h, 'hades_http_ipvANY'])),
  sni: Object.fromEntries(['a.technis.io', ...bigHosts].map((h) => [h, 'hades_https_ipvANY'])),
});

test.before(() => {
  if (!missing) ensureBundle();
});
test.before.each(async (ctx) => {
  if (missing) return;
  cap.clear();
  ctx.agents = [];
  ctx.w = await startWorld({ schedule: NEVER });
  ctx.w.clusters.hades.traefik.setRouters('http', [app('a.technis.io')]);
});
test.after.each(async (ctx) => {
  for (const a of ctx.agents) await a.kill();
  await ctx.proxy?.close();
  delete ctx.proxy;
  if (ctx.mounted) await sh(`umount ${ctx.mounted}`);
  delete ctx.mounted;
  await ctx.w?.close();
});

const mapsDir = (w: World) => dirname(w.haproxy.mapPaths.hosts);
/** Hidden files in the maps folder other than the control socket: staged maps, tmp files, -c config copies. */
const leftovers = async (w: World) => (await readdir(mapsDir(w))).filter((f) => f.startsWith('.') && !f.startsWith('.routeagent.'));
const start = (ctx: Ctx, env: Record<string, string> = {}) => {
  const a = startAgent(['run', '--config', ctx.w.configPath], { env });
  ctx.agents.push(a);
  return a;
};
/** Baseline OLD through an in-process sync (no agent running). */
async function baseline(ctx: Ctx): Promise<void> {
  assert.ok((await syncer(ctx.w, cap.log).run()).applied);
  await assertServes(ctx.w, OLD, 'baseline');
}

/**
 * A restart on the real socket converges on BIG_V and takes the stale control socket over. With `leftBy`, the dead agent's staged
 * files are removed, and said so.
 */
async function restartConverges(ctx: Ctx, leftBy?: Agent): Promise<Agent> {
  await ctx.w.writeConfig({ schedule: NEVER });
  const again = start(ctx);
  await again.waitFor(/^info sync: .*; applied by runtime in \d+ ms$/);
  await assertServes(ctx.w, BIG_V, 'after the restart');
  assert.equal(await leftovers(ctx.w), []);
  if (leftBy) {
    const removed = new RegExp(`^info haproxy: removed \\.[a-z]+\\.map\\.staged-${leftBy.pid} \\(left by a routeagent that is gone\\)$`);
    assert.ok(
      again.lines.some((l) => removed.test(l)),
      again.lines.join('\n'),
    );
  }
  assert.is(((await askControl(join(mapsDir(ctx.w), '.routeagent.sock'), { op: 'hello' }, 5000)) as { pid: number }).pid, again.pid);
  assert.ok(!again.lines.some((l) => l.startsWith('error ')), again.lines.join('\n'));
  return again;
}

if (!missing) {
  test('SIGKILL after the maps are staged, before the rename: old maps everywhere; a restart converges', async (ctx) => {
    const { w } = ctx;
    await baseline(ctx);
    w.clusters.hades.traefik.setRouters('http', [app('a.technis.io'), ...bigHosts.map((h) => app(h))]);
    let agent: Agent | undefined;
    // The second show stat comes after staging and `haproxy -c`, before the rename (apply.ts step 4): kill the agent there.
    // The first is the read of the backends' health for failover, before anything is staged.
    let stats = 0;
    ctx.proxy = await startSocketProxy(join(w.dir, 'proxy.sock'), w.haproxy.socket, (cmd) => {
      if (!cmd.startsWith('show stat') || ++stats < 2) return { kind: 'forward' };
      process.kill(agent!.pid, 'SIGKILL');
      return { kind: 'hang' };
    });
    await w.writeConfig({ schedule: NEVER, haproxy: haproxyPatch(w, { socket: ctx.proxy.path }) });
    agent = start(ctx);
    assert.is((await agent.exited).signal, 'SIGKILL');
    assert.equal(await leftovers(w), [`.hosts.map.staged-${agent.pid}`, `.sni.map.staged-${agent.pid}`].sort());
    assertEach(await mapsNow(w), [OLD], 'after the kill');
    await restartConverges(ctx, agent);
  });

  test('SIGKILL as soon as the staged file appears (during the write): old maps everywhere; a restart converges', async (ctx) => {
    const { w } = ctx;
    await baseline(ctx);
    w.clusters.hades.traefik.setRouters('http', [app('a.technis.io'), ...bigHosts.map((h) => app(h))]);
    let agent: Agent | undefined;
    let killedAt = '';
    const watcher = watch(mapsDir(w), (_event, name) => {
      if (agent && !killedAt && name && /^\.hosts\.map\.staged-\d+$/.test(name.toString())) {
        process.kill(agent.pid, 'SIGKILL');
        killedAt = name.toString();
      }
    });
    try {
      agent = start(ctx);
      assert.is((await agent.exited).signal, 'SIGKILL');
    } finally {
      watcher.close();
    }
    assert.is(killedAt, `.hosts.map.staged-${agent.pid}`);
    assertEach(await mapsNow(w), [OLD], 'after the kill');
    await restartConverges(ctx, agent);
  });

  test('SIGKILL during the runtime apply (hosts committed, sni prepared): each map old or new; a restart converges', async (ctx) => {
    const { w } = ctx;
    await baseline(ctx);
    w.clusters.hades.traefik.setRouters('http', [app('a.technis.io'), ...bigHosts.map((h) => app(h))]);
    let agent: Agent | undefined;
    ctx.proxy = await startSocketProxy(join(w.dir, 'proxy.sock'), w.haproxy.socket, (cmd) => {
      if (!(cmd.startsWith('commit map') && cmd.endsWith(w.haproxy.mapPaths.sni))) return { kind: 'forward' };
      process.kill(agent!.pid, 'SIGKILL');
      return { kind: 'hang' };
    });
    await w.writeConfig({ schedule: NEVER, haproxy: haproxyPatch(w, { socket: ctx.proxy.path }) });
    agent = start(ctx);
    assert.is((await agent.exited).signal, 'SIGKILL');
    const now = await mapsNow(w);
    assert.equal(now.file, BIG_V, 'the files were renamed into place before the runtime apply');
    assert.equal(now.live.hosts, BIG_V.hosts, 'hosts was committed');
    assert.equal(now.live.sni, OLD.sni, 'sni was prepared, never committed');
    await ctx.proxy.close();
    delete ctx.proxy;
    const again = await restartConverges(ctx); // nothing staged was left: the files were already renamed
    assert.ok(
      again.lines.includes(`warn haproxy: map sni: HAProxy's live entries differ from ${w.haproxy.mapPaths.sni} (drift); repairing`),
      again.lines.join('\n'),
    );
  });

  test('the map folder read-only: the old maps stay, the error names the file; writable again → applied', async (ctx) => {
    const { w } = ctx;
    await baseline(ctx);
    const dir = mapsDir(w);
    const ro = await sh(`mount --bind ${dir} ${dir} && mount -o remount,ro,bind ${dir}`);
    if (ro.code !== 0) {
      console.log(`  skipped "read-only folder": cannot mount read-only (${ro.out.trim()}); needs root`);
      await sh(`umount ${dir}`);
      return;
    }
    ctx.mounted = dir;
    w.clusters.hades.traefik.setRouters('http', [app('a.technis.io'), app('b.technis.io')]);
    const sync = syncer(w, cap.log);
    const r = await sync.run();
    const path = w.haproxy.mapPaths.hosts;
    const error = `map file ${path}: cannot write .hosts.map.staged-${process.pid} (EROFS: read-only file system); ${path} unchanged`;
    assert.is(r.error, error);
    assert.ok(cap.lines.includes(`warn ${error}`), cap.lines.join('\n'));
    assertEach(await mapsNow(w), [OLD]);
    await sh(`umount ${dir}`);
    delete ctx.mounted;
    assert.ok((await sync.run()).applied);
    assert.equal((await mapsNow(w)).live.sni, ['a.technis.io hades_https_ipvANY', 'b.technis.io hades_https_ipvANY']);
  });

  test('the disk full (a 64 KiB tmpfs): the old maps stay intact, no partial file left; room again → applied', async (ctx) => {
    const { w } = ctx;
    const dir = mapsDir(w);
    const mounted = await sh(`mount -t tmpfs -o size=64k routeagent-full ${dir}`);
    if (mounted.code !== 0) {
      console.log(`  skipped "disk full": cannot mount a tmpfs (${mounted.out.trim()}); needs root`);
      return;
    }
    ctx.mounted = dir;
    for (const m of ['hosts', 'sni'] as const) await writeFile(w.haproxy.mapPaths[m], ''); // what HAProxy loaded at start
    await baseline(ctx);
    const many = bigHosts.slice(0, 1000);
    w.clusters.hades.traefik.setRouters('http', [app('a.technis.io'), ...many.map((h) => app(h))]);
    const r = await syncer(w, cap.log).run();
    assert.match(
      r.error ?? '',
      /^map file \/.*\/(hosts|sni)\.map: cannot write \.(hosts|sni)\.map\.staged-\d+ \(ENOSPC: no space left on device\); \/.*\.map unchanged$/,
    );
    assert.ok(cap.lines.includes(`warn ${r.error}`), cap.lines.join('\n'));
    assertEach(await mapsNow(w), [OLD]);
    assert.equal(await leftovers(w), []);
    await sh(`mount -o remount,size=1m ${dir}`);
    const again = await syncer(w, cap.log).run();
    assert.ok(again.applied, again.error);
    assert.is((await mapsNow(w)).live.sni.length, 1001);
  });

  test('two agents at once: the second exits 1 naming the first; the first keeps working', async (ctx) => {
    const { w } = ctx;
    const first = start(ctx);
    await first.waitFor(/^info sync: .*; applied by runtime in \d+ ms$/);
    const second = start(ctx);
    assert.is((await second.exited).code, 1);
    const ramDisk =
      /^warn config .*: \/haproxy\/maps: hosts .* may be lost at reboot on a RAM disk; prefer \/usr\/local\/etc\/routeagent\/maps$/; // maps under /tmp
    assert.equal(
      second.lines.filter((l) => !ramDisk.test(l)),
      [`error control socket ${join(mapsDir(w), '.routeagent.sock')}: another routeagent (pid ${first.pid}) drives these maps; exiting`],
    );
    assert.ok(alive(first.pid));
    w.clusters.hades.traefik.setRouters('http', [app('a.technis.io'), app('b.technis.io')]);
    process.kill(first.pid, 'SIGUSR2');
    await until('the first agent applies the change', async () => (await mapsNow(w)).live.sni.length === 2);
    process.kill(first.pid, 'SIGTERM');
    assert.is((await first.exited).code, 0);
  });
}

test.run();
