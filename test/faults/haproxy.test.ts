// HAProxy misbehaving, end to end through syncOnce: `haproxy -c` failing, the socket missing, refusing, closing or never
// answering, HAProxy restarting between prepare and commit, an HAProxy older than 2.4, a map the running config does not
// load. Each case: the sync returns (no throw), both maps (live and file) are the old or the new version, the exact
// warning says what happened and what happens next, and once the fault is gone the next sync converges.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRuntime } from '../../agent/io/runtime.js';
import { skipUnless } from '../harness/tools.js';
import { alive, until } from '../harness/wait.js';
import { app, startWorld, tcpRouter, type World } from '../harness/world.js';
import {
  assertEach,
  assertServes,
  captureLog,
  haproxyPatch,
  mapsNow,
  type Restarted,
  restartHaproxy,
  type SocketProxy,
  startSocketProxy,
  stubReload,
  syncer,
  type Version,
  version,
  watchLive,
} from './kit.js';

const missing = skipUnless('faults: HAProxy', 'haproxy', 'openssl');

type Ctx = { w: World; proxy?: SocketProxy; restarted?: Restarted };
const test = suite<Ctx>('faults: HAProxy', {} as Ctx);
const cap = captureLog();
let sync: ReturnType<typeof syncer>;

const OLD: Version = version({
  hosts: { 'a.technis.io': 'hades_http_ipvANY' },
  sni: { 'a.technis.io': 'hades_https_ipvANY', 'mqtt.technis.io': 'illmatic_https_ipvANY' },
});
const NEW: Version = version({
  hosts: { 'a.technis.io': 'hades_http_ipvANY', 'c.technis.io': 'illmatic_http_ipvANY' },
  sni: { 'a.technis.io': 'hades_https_ipvANY', 'c.technis.io': 'illmatic_https_ipvANY', 'mqtt.technis.io': 'illmatic_https_ipvANY' },
});

test.before.each(async (ctx) => {
  if (missing) return;
  ctx.w = await startWorld();
  ctx.w.clusters.hades.traefik.setRouters('http', [app('a.technis.io')]);
  ctx.w.clusters.illmatic.traefik.setRouters('tcp', [tcpRouter('mqtt', 'mqtt.technis.io')]);
  sync = syncer(ctx.w, cap.log);
  assert.ok((await sync.run()).applied);
  await assertServes(ctx.w, OLD, 'baseline');
  ctx.w.clusters.illmatic.traefik.setRouters('http', [app('c.technis.io')]); // the change every case tries to apply
  cap.clear();
});
test.after.each(async (ctx) => {
  await ctx.proxy?.close();
  await ctx.restarted?.stop();
  await ctx.w?.close();
  delete ctx.proxy;
  delete ctx.restarted;
});

/** The lines the sync logged at warn level. */
const warnings = () => cap.lines.filter((l) => l.startsWith('warn '));
/** Only the two map files, the config and what the world keeps there: no staged file or config copy left. */
async function noLeftovers(w: World): Promise<void> {
  assert.equal(
    (await readdir(dirname(w.haproxy.mapPaths.hosts))).filter((f) => f.startsWith('.') && !f.startsWith('.routeagent')),
    [],
  );
}

/** After the fault: the next sync (socket and config as the world has them) converges on NEW. */
async function converges(ctx: Ctx, expectApplied = true): Promise<void> {
  await ctx.w.writeConfig();
  cap.clear();
  const r = await sync.run();
  assert.is(r.error, undefined, r.error);
  assert.is(r.applied, expectApplied, cap.lines.join('\n'));
  await assertServes(ctx.w, NEW, 'converged');
  await noLeftovers(ctx.w);
}

if (!missing) {
  test('haproxy -c fails: nothing applied, the ALERT is quoted, the next good check applies', async (ctx) => {
    const { w } = ctx;
    const broken = join(w.dir, 'haproxy-edited.cfg'); // the config on disk was edited into a state HAProxy would refuse
    await writeFile(
      broken,
      (await readFile(w.haproxy.cfgPath, 'utf8')).replace('    mode http\n', '    mode http\n    bogus_keyword on\n'),
    );
    await w.writeConfig({ haproxy: haproxyPatch(w, { config: broken }) });
    const r = await sync.run();
    const error = `haproxy -c rejected the staged maps: config : parsing [${broken}:15] : unknown keyword 'bogus_keyword' in 'frontend' section; live maps unchanged`;
    assert.is(r.error, error);
    assert.is(r.applied, false);
    assert.equal(warnings(), [`warn ${error}`]);
    assertEach(await mapsNow(w), [OLD]);
    await noLeftovers(w);
    await converges(ctx);
  });

  test('socket missing, no reload command: nothing applied, the error says what to set', async (ctx) => {
    const { w } = ctx;
    const socket = join(w.dir, 'gone.sock');
    await w.writeConfig({ haproxy: haproxyPatch(w, { socket }) });
    const r = await sync.run();
    const error = `haproxy: socket ${socket}: not found (is HAProxy running?); no reload command configured: set haproxy.reload (e.g. "service haproxy reload"); live maps unchanged`;
    assert.is(r.error, error);
    assert.equal(warnings(), [`warn ${error}`]);
    assertEach(await mapsNow(w), [OLD]);
    await converges(ctx);
  });

  test('socket missing, with a reload command: files written, reload run, HAProxy reloaded serves them', async (ctx) => {
    const { w } = ctx;
    const socket = join(w.dir, 'gone.sock');
    const stub = await stubReload(w.dir);
    await w.writeConfig({ haproxy: haproxyPatch(w, { socket, reload: stub.command }) });
    const r = await sync.run();
    assert.is(r.error, undefined);
    assert.is(r.method, 'reload');
    assert.is(await stub.calls(), 1);
    const note = `haproxy: socket ${socket}: not found (is HAProxy running?); ran reload command "${stub.command}"`;
    assert.equal(warnings(), [`warn ${note}`]);
    const now = await mapsNow(w);
    assert.equal(now.file, NEW);
    assertEach(now, [OLD, NEW]); // the stub reloads nothing: live is still OLD, never a mix
    ctx.restarted = await restartHaproxy(w); // what the reload command does on the router
    await assertServes(w, NEW);
    await converges(ctx, false);
  });

  test('socket refuses (HAProxy died; its socket file is left): nothing applied; HAProxy back → applied', async (ctx) => {
    const { w } = ctx;
    const pid = w.haproxy.pid();
    process.kill(pid, 'SIGKILL');
    await until('haproxy to die', () => !alive(pid));
    const r = await sync.run();
    const error = `haproxy: socket ${w.haproxy.socket}: connection refused (is HAProxy running?); no reload command configured: set haproxy.reload (e.g. "service haproxy reload"); live maps unchanged`;
    assert.is(r.error, error);
    assert.equal(warnings(), [`warn ${error}`]);
    assert.equal((await readFile(w.haproxy.mapPaths.sni, 'utf8')).split('\n').filter(Boolean), OLD.sni);
    ctx.restarted = await restartHaproxy(w); // rc.d / daemon(8) brings HAProxy back; it loads the files (OLD)
    assertEach(await mapsNow(w), [OLD]);
    await converges(ctx);
  });

  test('socket accepts and closes without a word: the sync returns, nothing applied, the next sync applies', async (ctx) => {
    const { w } = ctx;
    ctx.proxy = await startSocketProxy(join(w.dir, 'proxy.sock'), w.haproxy.socket, () => ({ kind: 'close' }));
    await w.writeConfig({ haproxy: haproxyPatch(w, { socket: ctx.proxy.path }) });
    const r = await sync.run();
    const error = `haproxy: show info: "empty reply (HAProxy closed the connection)"; nothing applied, live maps unchanged`;
    assert.is(r.error, error);
    assert.equal(warnings(), [`warn ${error}`]);
    assertEach(await mapsNow(w), [OLD]);
    await noLeftovers(w);
    await converges(ctx);
  });

  test('a reply HAProxy never sends: bounded by haproxy.timeoutMs, clear error, nothing applied', async (ctx) => {
    const { w } = ctx;
    ctx.proxy = await startSocketProxy(join(w.dir, 'proxy.sock'), w.haproxy.socket, () => ({ kind: 'hang' }));
    await w.writeConfig({ haproxy: haproxyPatch(w, { socket: ctx.proxy.path, timeoutMs: 300 }) });
    const r = await sync.run(); // returns at all: the bound held (how soon is for bench/, not a test)
    const error = `haproxy ${ctx.proxy.path}: show info: no reply within 300 ms; nothing applied, live maps unchanged`;
    assert.is(r.error, error);
    assert.equal(warnings(), [`warn ${error}`]);
    assertEach(await mapsNow(w), [OLD]);
    await converges(ctx);
  });

  test('the commit is never answered: bounded, not committed, files written, the next sync makes live equal', async (ctx) => {
    const { w } = ctx;
    ctx.proxy = await startSocketProxy(join(w.dir, 'proxy.sock'), w.haproxy.socket, (cmd) =>
      cmd.startsWith('commit map') ? { kind: 'hang' } : { kind: 'forward' },
    );
    // every forwarded command must answer within the bound, so it is not tight: only the commit is meant to miss it
    await w.writeConfig({ haproxy: haproxyPatch(w, { socket: ctx.proxy.path, timeoutMs: 5000 }) });
    const r = await watchLive(w, [OLD, NEW], sync.run());
    const error = `haproxy ${ctx.proxy.path}: commit map @2 ${w.haproxy.mapPaths.hosts}: no reply within 5000 ms; not committed, live map unchanged; the map files are written, the next sync applies them live`;
    assert.is(r.result.error, error);
    assert.equal(warnings(), [`warn ${error}`]);
    const now = await mapsNow(w);
    assert.equal(now.file, NEW);
    assertEach(now, [OLD, NEW]);
    await converges(ctx);
    assert.ok(
      cap.lines.includes(`warn haproxy: map hosts: HAProxy's live entries differ from ${w.haproxy.mapPaths.hosts} (drift); repairing`),
      cap.lines.join('\n'),
    );
  });

  /** The hosts map's first `add map @v` request without its c.technis.io line: a line lost on the way, answered ok. */
  const withoutC = (request: string) => request.replace(/^c\.technis\.io .*\n/m, '');
  const firstAdd = () => {
    let adds = 0;
    return (cmd: string) => cmd.startsWith('add map @') && cmd.includes('/hosts.map') && adds++ === 0;
  };

  test('a line lost on its way to HAProxy, the add answered ok: the entry count shows it, nothing committed', async (ctx) => {
    const { w } = ctx;
    const isFirstAdd = firstAdd();
    ctx.proxy = await startSocketProxy(join(w.dir, 'proxy.sock'), w.haproxy.socket, (cmd) =>
      isFirstAdd(cmd) ? { kind: 'forward', request: withoutC } : { kind: 'forward' },
    );
    await w.writeConfig({ haproxy: haproxyPatch(w, { socket: ctx.proxy.path }) });
    const r = await watchLive(w, [OLD], sync.run());
    const error = `haproxy: show map: the entry count of ${w.haproxy.mapPaths.hosts} rose by 1 while @2 was filled, expected 2 (lines lost, or another client changed the map); not committed, live map unchanged; the map files are written, the next sync applies them live`;
    assert.is(r.result.error, error);
    assert.equal(warnings(), [`warn ${error}`]);
    // counted, not dumped: the staged version is never listed entry by entry
    assert.not.ok(
      ctx.proxy.commands.some((c) => c.startsWith('show map @')),
      ctx.proxy.commands.join('\n'),
    );
    const now = await mapsNow(w);
    assert.equal(now.live, OLD);
    assert.equal(now.file, NEW);
    await converges(ctx);
  });

  test('another client adds its own entry to @v while routeagent fills it: the count differs, nothing committed', async (ctx) => {
    const { w } = ctx;
    const isFirstAdd = firstAdd();
    const other = createRuntime(w.haproxy.socket);
    ctx.proxy = await startSocketProxy(join(w.dir, 'proxy.sock'), w.haproxy.socket, (cmd) =>
      isFirstAdd(cmd)
        ? {
            kind: 'forward',
            after: async () => {
              assert.is(await other.send(`add map @2 ${w.haproxy.mapPaths.hosts} x.technis.io hades_http_ipvANY`), '\n');
            },
          }
        : { kind: 'forward' },
    );
    await w.writeConfig({ haproxy: haproxyPatch(w, { socket: ctx.proxy.path }) });
    const r = await sync.run();
    assert.is(
      r.error,
      `haproxy: show map: the entry count of ${w.haproxy.mapPaths.hosts} rose by 3 while @2 was filled, expected 2 (lines lost, or another client changed the map); not committed, live map unchanged; the map files are written, the next sync applies them live`,
    );
    assert.equal((await mapsNow(w)).live, OLD); // x.technis.io never went live
    await converges(ctx);
  });

  test('an HAProxy that lists no entry counts: @v is dumped and compared instead, and a lost line is caught', async (ctx) => {
    const { w } = ctx;
    const isFirstAdd = firstAdd();
    ctx.proxy = await startSocketProxy(join(w.dir, 'proxy.sock'), w.haproxy.socket, (cmd) =>
      /(^|;)show map$/.test(cmd)
        ? { kind: 'forward', reply: (text) => text.replace(/ curr_ver=\d+ next_ver=\d+ entry_cnt=\d+$/gm, '') }
        : isFirstAdd(cmd)
          ? { kind: 'forward', request: withoutC }
          : { kind: 'forward' },
    );
    await w.writeConfig({ haproxy: haproxyPatch(w, { socket: ctx.proxy.path }) });
    const r = await watchLive(w, [OLD], sync.run());
    const error = `haproxy: show map @2 ${w.haproxy.mapPaths.hosts}: staged version holds 1 entries, expected 2; not committed, live map unchanged; the map files are written, the next sync applies them live`;
    assert.is(r.result.error, error);
    assert.ok(ctx.proxy.commands.includes(`show map @2 ${w.haproxy.mapPaths.hosts}`), ctx.proxy.commands.join('\n'));
    assert.equal((await mapsNow(w)).live, OLD);
    await converges(ctx);
  });

  test('HAProxy restarts between prepare and commit: it loaded the new files; the sync says so and verifies', async (ctx) => {
    const { w } = ctx;
    let restarts = 0;
    ctx.proxy = await startSocketProxy(join(w.dir, 'proxy.sock'), w.haproxy.socket, (cmd) =>
      cmd.startsWith('prepare map') && restarts++ === 0
        ? {
            kind: 'forward',
            after: async () => {
              ctx.restarted = await restartHaproxy(w, { hard: true });
            },
          }
        : { kind: 'forward' },
    );
    await w.writeConfig({ haproxy: haproxyPatch(w, { socket: ctx.proxy.path }) });
    const before = await mapsNow(w);
    const r = await watchLive(w, [OLD, NEW], sync.run());
    assert.equal(before.live, OLD);
    assert.is(restarts, 1, 'prepare was sent for hosts only: then HAProxy restarted, and serves both maps from the files');
    assert.is(r.result.error, undefined, r.result.error);
    assert.ok(r.result.applied);
    const [first, ...rest] = warnings();
    assert.match(
      first!,
      /^warn haproxy: HAProxy restarted during the apply \(pid \d+ → \d+\); it loaded the map files, which are already new$/,
    );
    assert.equal(rest, []);
    await assertServes(w, NEW);
    await converges(ctx, false);
  });

  test('HAProxy older than 2.4 (version rewritten on the socket): the reload command runs, no prepare is sent', async (ctx) => {
    const { w } = ctx;
    const stub = await stubReload(w.dir);
    ctx.proxy = await startSocketProxy(join(w.dir, 'proxy.sock'), w.haproxy.socket, (cmd) =>
      cmd === 'show info' ? { kind: 'forward', reply: (text) => text.replace(/^Version: .*$/m, 'Version: 2.2.1') } : { kind: 'forward' },
    );
    await w.writeConfig({ haproxy: haproxyPatch(w, { socket: ctx.proxy.path }) });
    const refused = await sync.run();
    const error = `haproxy: HAProxy 2.2.1 has no prepare/commit map (needs 2.4); no reload command configured: set haproxy.reload (e.g. "service haproxy reload"); live maps unchanged`;
    assert.is(refused.error, error);
    assertEach(await mapsNow(w), [OLD]);

    await w.writeConfig({ haproxy: haproxyPatch(w, { socket: ctx.proxy.path, reload: stub.command }) });
    cap.clear();
    const r = await sync.run();
    assert.is(r.error, undefined);
    assert.is(r.method, 'reload');
    assert.is(await stub.calls(), 1);
    assert.equal(warnings(), [`warn haproxy: HAProxy 2.2.1 has no prepare/commit map (needs 2.4); ran reload command "${stub.command}"`]);
    assert.not.ok(
      ctx.proxy.commands.some((c) => c.startsWith('prepare map')),
      ctx.proxy.commands.join('\n'),
    );
    const now = await mapsNow(w);
    assert.equal(now.file, NEW);
    assertEach(now, [OLD, NEW]);
    await ctx.proxy.close();
    delete ctx.proxy;
    ctx.restarted = await restartHaproxy(w);
    await converges(ctx, false);
  });

  test('the map is not loaded by the running config: nothing applied without a reload command, and why', async (ctx) => {
    const { w } = ctx;
    const dir = dirname(w.haproxy.mapPaths.hosts);
    const maps = { hosts: join(dir, 'routeagent-hosts.map'), sni: join(dir, 'routeagent-sni.map') };
    await w.writeConfig({ haproxy: haproxyPatch(w, { maps }) });
    const r = await sync.run();
    const error = `haproxy: the running HAProxy has not loaded map ${maps.hosts} (not in show map); the running HAProxy has not loaded map ${maps.sni} (not in show map); no reload command configured: set haproxy.reload (e.g. "service haproxy reload"); live maps unchanged`;
    assert.is(r.error, error);
    assert.equal(warnings(), [
      `warn haproxy: config ${w.haproxy.cfgPath} does not use map ${maps.hosts}; its entries route nothing until the snippet lines are added`,
      `warn haproxy: config ${w.haproxy.cfgPath} does not use map ${maps.sni}; its entries route nothing until the snippet lines are added`,
      `warn ${error}`,
    ]);
    assert.equal(await readdir(dir).then((f) => f.filter((n) => n.startsWith('routeagent-'))), []);
    assertEach(await mapsNow(w), [OLD]);

    // with a reload command: the files are written and the reload is run (it would load them once the snippet is in)
    const stub = await stubReload(w.dir);
    await w.writeConfig({ haproxy: haproxyPatch(w, { maps, reload: stub.command }) });
    cap.clear();
    const reloaded = await sync.run();
    assert.is(reloaded.error, undefined);
    assert.is(reloaded.method, 'reload');
    assert.is(await stub.calls(), 1);
    assert.equal(warnings().slice(2), [
      `warn haproxy: the running HAProxy has not loaded map ${maps.hosts} (not in show map); ran reload command "${stub.command}"`,
      `warn haproxy: the running HAProxy has not loaded map ${maps.sni} (not in show map); ran reload command "${stub.command}"`,
    ]);
    assert.is(await readFile(maps.sni, 'utf8'), `${NEW.sni.join('\n')}\n`);
    assertEach(await mapsNow(w), [OLD]); // the maps HAProxy does load were never touched
    await converges(ctx);
  });

  test('a map file that cannot be read: the sync fails with the file named, nothing planned or applied', async (ctx) => {
    const { w } = ctx;
    const dir = dirname(w.haproxy.mapPaths.hosts);
    const unreadable = join(dir, 'hosts-as-dir.map');
    await mkdir(unreadable);
    await w.writeConfig({ haproxy: haproxyPatch(w, { maps: { hosts: unreadable, sni: w.haproxy.mapPaths.sni } }) });
    const r = await sync.run();
    const error = `map file ${unreadable}: cannot read (EISDIR: illegal operation on a directory); nothing planned or applied, the next sync retries`;
    assert.is(r.error, error);
    assert.equal(warnings(), [`warn ${error}`]);
    assertEach(await mapsNow(w), [OLD]);
    await rm(unreadable, { recursive: true });
    await converges(ctx);
  });
}

if (!missing) test.run();
