// applyMaps and readLive against a real haproxy with real upstreams: routing by Host and by SNI follows the maps
// without a reload (same pid); every failed check leaves files and live maps as they were; reload is the fallback
// when the socket is gone, the map is not loaded, or HAProxy is older than 2.4; drift is repaired.

import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { applyMaps, readLive } from '../agent/apply.js';
import type { HaproxyConfig as HaproxySettings } from '../agent/config.js';
import { parseMapText, renderMap, sameEntries } from '../agent/core/render.js';
import type { Entry, MapName } from '../agent/core/types.js';
import { ApplyError, HaproxyReplyError } from '../agent/errors.js';
import { createRuntime, type Runtime } from '../agent/io/runtime.js';
import { createLog } from '../agent/log.js';
import { type Haproxy, type HaproxyOptions, haproxyBin, printLogOnFailure, startHaproxy } from './harness/haproxy.js';
import { skipUnless } from './harness/tools.js';
import { httpGet, startHttpUpstream, startTlsUpstream, tlsName, type Upstream } from './harness/upstream.js';

const missing = skipUnless('applyMaps (real haproxy)', 'haproxy', 'openssl');

type Ctx = { ups: Upstream[]; h?: Haproxy };
const test = suite<Ctx>('applyMaps (real haproxy)', { ups: [] } as Ctx);
const it = (name: string, fn: (ctx: Ctx) => Promise<void>) => test(name, (ctx) => printLogOnFailure(() => ctx.h?.log() ?? '', fn)(ctx));

test.before(async (ctx) => {
  ctx.ups = [
    await startHttpUpstream('app1'),
    await startHttpUpstream('app2'),
    await startTlsUpstream('tls1'),
    await startTlsUpstream('tls2'),
  ];
});
test.after.each(async (ctx) => {
  await ctx.h?.stop();
  delete ctx.h;
});
test.after(async (ctx) => {
  for (const u of ctx.ups) await u.close();
});

async function start(ctx: Ctx, opts: HaproxyOptions = {}): Promise<Haproxy> {
  const [app1, app2, tls1, tls2] = ctx.ups;
  ctx.h = await startHaproxy({
    backends: [
      { name: 'be_app1', mode: 'http', port: app1!.port },
      { name: 'be_app2', mode: 'http', port: app2!.port },
      { name: 'be_tls1', mode: 'tcp', port: tls1!.port },
      { name: 'be_tls2', mode: 'tcp', port: tls2!.port },
    ],
    ...opts,
  });
  return ctx.h;
}

function settings(h: Haproxy, extra: Partial<HaproxySettings> = {}): HaproxySettings {
  return { bin: haproxyBin(), config: h.cfgPath, socket: h.socket, maps: h.mapPaths, timeoutMs: 5000, ...extra };
}

function capture() {
  const lines: string[] = [];
  return { lines, log: createLog((l) => lines.push(l)) };
}

/** A stub reload command that records each call in a file next to the config. */
async function stubReload(h: Haproxy): Promise<{ command: string; calls: () => Promise<number> }> {
  const record = join(h.dir, 'reload.calls');
  const command = join(h.dir, 'reload.sh');
  await writeFile(command, `#!/bin/sh\necho reloaded >> ${record}\n`);
  await chmod(command, 0o755);
  const calls = async () => (await readFile(record, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
  return { command, calls };
}

const desiredOf = (hosts: Entry[], sni: Entry[] = []): Record<MapName, Entry[]> => ({ hosts, sni });
const on = (key: string, backend: string): Entry => ({ key, backend });
const fileOf = async (path: string) => readFile(path, 'utf8');
const mapsDir = (h: Haproxy) => readdir(dirname(h.mapPaths.hosts)).then((f) => f.sort());

it('routes by Host and by SNI; a migration moves both with the same HAProxy pid (no reload)', async (ctx) => {
  const h = await start(ctx);
  const rt = createRuntime(h.socket);
  const { pid, startTimeSec } = await rt.info();
  assert.is(await httpGet(h.httpPort, 'app.example.test'), 'status 503');
  assert.is(await tlsName(h.sniPort, 'app.example.test'), null);

  const { lines, log } = capture();
  const first = desiredOf([on('app.example.test', 'be_app1')], [on('app.example.test', 'be_tls1')]);
  assert.equal(await applyMaps(settings(h), first, log), { applied: true, method: 'runtime', changed: ['hosts', 'sni'], notes: [] });
  assert.is(await httpGet(h.httpPort, 'app.example.test'), 'app1');
  assert.is(await httpGet(h.httpPort, 'APP.example.test:8080'), 'app1'); // lower + field(1,:) in the frontend
  assert.is(await tlsName(h.sniPort, 'app.example.test'), 'tls1');
  assert.is(lines.length, 2);
  assert.match(lines[0]!, /^info haproxy: map hosts applied @1: 1 entry in 1 chunk, \d+ ms\n$/);
  assert.match(lines[1]!, /^info haproxy: map sni applied @1: 1 entry in 1 chunk, \d+ ms\n$/);

  const moved = desiredOf([on('app.example.test', 'be_app2')], [on('app.example.test', 'be_tls2')]);
  assert.equal(await applyMaps(settings(h), moved, log), { applied: true, method: 'runtime', changed: ['hosts', 'sni'], notes: [] });
  assert.is(await httpGet(h.httpPort, 'app.example.test'), 'app2');
  assert.is(await tlsName(h.sniPort, 'app.example.test'), 'tls2');
  assert.equal(await rt.info().then((i) => [i.pid, i.startTimeSec]), [pid, startTimeSec]);
  assert.is(pid, h.pid());

  for (const m of ['hosts', 'sni'] as const) {
    assert.is(await fileOf(h.mapPaths[m]), renderMap(moved[m]));
    assert.equal(await rt.showMap(h.mapPaths[m]), moved[m]);
  }
  assert.equal(await mapsDir(h), ['hosts.map', 'sni.map']);
});

it('nothing to do: applied false, method none, nothing logged', async (ctx) => {
  const h = await start(ctx, { maps: { hosts: 'a.test be_app1\n' } });
  const { lines, log } = capture();
  assert.equal(await applyMaps(settings(h), desiredOf([on('a.test', 'be_app1')]), log), {
    applied: false,
    method: 'none',
    changed: [],
    notes: [],
  });
  assert.equal(lines, []);
});

it('20,000 entries go live through many payload chunks; show map equals the file afterwards', async (ctx) => {
  const h = await start(ctx);
  const hosts = Array.from({ length: 20_000 }, (_, i) =>
    on(`host-${String(i).padStart(5, '0')}.bulk.example.com`, i % 2 ? 'be_app1' : 'be_app2'),
  );
  const { lines, log } = capture();
  const r = await applyMaps(settings(h), desiredOf(hosts), log);
  assert.equal(r, { applied: true, method: 'runtime', changed: ['hosts'], notes: [] });
  assert.match(lines[0]!, /^info haproxy: map hosts applied @1: 20000 entries in (\d{2,}) chunks, \d+ ms\n$/);
  const live = await createRuntime(h.socket).showMap(h.mapPaths.hosts);
  assert.ok(sameEntries(live, parseMapText(await fileOf(h.mapPaths.hosts))));
  assert.is(live.length, 20_000);
  assert.is(await httpGet(h.httpPort, 'host-00001.bulk.example.com'), 'app1');
  assert.is(await httpGet(h.httpPort, 'host-19998.bulk.example.com'), 'app2');
});

it('a backend HAProxy does not have: nothing applied, files unchanged, no staged file left', async (ctx) => {
  const h = await start(ctx, { maps: { hosts: 'app.example.test be_app1\n' } });
  const err = await applyMaps(
    settings(h),
    desiredOf([on('app.example.test', 'be_app1'), on('new.example.test', 'be_nope')]),
    capture().log,
  ).catch((e: unknown) => e);
  assert.instance(err, ApplyError);
  assert.is((err as ApplyError).step, 'backends');
  assert.is(
    (err as Error).message,
    'haproxy: map hosts: new.example.test → be_nope: no backend be_nope in HAProxy (show stat); live maps unchanged',
  );
  assert.is(await fileOf(h.mapPaths.hosts), 'app.example.test be_app1\n');
  assert.equal(await createRuntime(h.socket).showMap(h.mapPaths.hosts), [on('app.example.test', 'be_app1')]);
  assert.equal(await mapsDir(h), ['hosts.map', 'sni.map']);
  assert.is(await httpGet(h.httpPort, 'new.example.test'), 'status 503');
});

it('a backend of the wrong mode (sni needs tcp): nothing applied, every problem counted', async (ctx) => {
  const h = await start(ctx);
  const sni = [on('a.example.test', 'be_app1'), on('b.example.test', 'be_tls1'), on('c.example.test', 'be_app2')];
  const err = await applyMaps(settings(h), desiredOf([], sni), capture().log).catch((e: unknown) => e);
  assert.is((err as ApplyError).step, 'backends');
  assert.is(
    (err as Error).message,
    'haproxy: map sni: a.example.test → be_app1: backend be_app1 is mode http, sni needs mode tcp (and 1 more); live maps unchanged',
  );
  assert.is(await fileOf(h.mapPaths.sni), '');
  assert.equal(await mapsDir(h), ['hosts.map', 'sni.map']);
});

it('haproxy -c fails: nothing applied, files unchanged, the first ALERT in the message', async (ctx) => {
  const h = await start(ctx, { maps: { hosts: 'app.example.test be_app1\n' } });
  // The running config on disk went bad (as after a broken pfSense edit): -c must stop the apply.
  await writeFile(h.cfgPath, (await readFile(h.cfgPath, 'utf8')).replace('default_backend be_default', 'default_backend be_gone'));
  const err = await applyMaps(settings(h), desiredOf([on('app.example.test', 'be_app2')]), capture().log).catch((e: unknown) => e);
  assert.instance(err, ApplyError);
  assert.is((err as ApplyError).step, 'check');
  assert.is(
    (err as Error).message,
    "haproxy -c rejected the staged maps: config : Proxy 'fe_http': unable to find required default_backend: 'be_gone'.; live maps unchanged",
  );
  assert.is(await fileOf(h.mapPaths.hosts), 'app.example.test be_app1\n');
  assert.equal(await mapsDir(h), ['hosts.map', 'sni.map']);
  assert.equal(await readdir(h.dir).then((f) => f.filter((n) => n.includes('.check-'))), []);
  assert.is(await httpGet(h.httpPort, 'app.example.test'), 'app1');
});

it('an entry that is not a DNS name: nothing staged, exact error', async (ctx) => {
  const h = await start(ctx);
  const err = await applyMaps(settings(h), desiredOf([on('Bad Host', 'be_app1')]), capture().log).catch((e: unknown) => e);
  assert.is((err as ApplyError).step, 'render');
  assert.is(
    (err as Error).message,
    'haproxy: map hosts: map entry refused: key "Bad Host" is not a lowercase DNS name; live maps unchanged',
  );
  assert.equal(await mapsDir(h), ['hosts.map', 'sni.map']);
});

it('socket missing: backends checked against the config, files written, reload command run', async (ctx) => {
  const h = await start(ctx);
  const stub = await stubReload(h);
  const socket = join(h.dir, 'gone.sock');
  const s = settings(h, { socket, reload: stub.command });

  const bad = await applyMaps(s, desiredOf([on('a.example.test', 'be_nope')]), capture().log).catch((e: unknown) => e);
  assert.is(
    (bad as Error).message,
    `haproxy: map hosts: a.example.test → be_nope: no backend be_nope in HAProxy (config ${h.cfgPath}); live maps unchanged`,
  );
  const wrongMode = await applyMaps(s, desiredOf([], [on('a.example.test', 'be_app1')]), capture().log).catch((e: unknown) => e);
  assert.is(
    (wrongMode as Error).message,
    'haproxy: map sni: a.example.test → be_app1: backend be_app1 is mode http, sni needs mode tcp; live maps unchanged',
  );
  assert.is(await stub.calls(), 0);

  const { lines, log } = capture();
  const desired = desiredOf([on('a.example.test', 'be_app1')], [on('a.example.test', 'be_tls1')]);
  const note = `haproxy: socket ${socket}: not found (is HAProxy running?); ran reload command "${stub.command}"`;
  assert.equal(await applyMaps(s, desired, log), { applied: true, method: 'reload', changed: ['hosts', 'sni'], notes: [note] });
  assert.is(await stub.calls(), 1);
  assert.is(await fileOf(h.mapPaths.hosts), 'a.example.test be_app1\n');
  assert.is(await fileOf(h.mapPaths.sni), 'a.example.test be_tls1\n');
  assert.equal(lines, [
    `warn ${note}\n`,
    `info haproxy: map hosts written to ${h.mapPaths.hosts} (1 entry); applied by reload\n`,
    `info haproxy: map sni written to ${h.mapPaths.sni} (1 entry); applied by reload\n`,
  ]);
  assert.equal(pick(await readLive(s)), { maps: desired, source: 'file' });
});

it('socket missing and no reload command: nothing applied, the error says what to do', async (ctx) => {
  const h = await start(ctx);
  const socket = join(h.dir, 'gone.sock');
  const err = await applyMaps(settings(h, { socket }), desiredOf([on('a.example.test', 'be_app1')]), capture().log).catch(
    (e: unknown) => e,
  );
  assert.is((err as ApplyError).step, 'reload');
  assert.is(
    (err as Error).message,
    `haproxy: socket ${socket}: not found (is HAProxy running?); no reload command configured: set haproxy.reload (e.g. "service haproxy reload"); live maps unchanged`,
  );
  assert.is(await fileOf(h.mapPaths.hosts), '');
  assert.equal(await mapsDir(h), ['hosts.map', 'sni.map']);
});

it('file-only (a CARP follower) only when nothing listens: no socket writes the files, EACCES is an apply error', async (ctx) => {
  const h = await start(ctx);
  const desired = desiredOf([on('a.example.test', 'be_app1')]);
  // Root (as the tests run) is never denied a unix socket: the EACCES that a non-root agent gets is simulated on every command.
  const real = createRuntime(h.socket);
  const denied = new HaproxyReplyError(`haproxy: socket ${h.socket}: permission denied (run routeagent as root or fix the socket mode)`, {
    cause: Object.assign(new Error('connect EACCES'), { code: 'EACCES' }),
  });
  const deny = async (): Promise<never> => {
    throw denied;
  };
  const noAccess: Runtime = { ...real, send: deny, info: deny, listMaps: deny, showMap: deny, backends: deny, backendStatus: deny };
  const err = await applyMaps(settings(h), desired, capture().log, { runtime: noAccess, fileOnlyWithoutHaproxy: true }).catch(
    (e: unknown) => e,
  );
  assert.instance(err, ApplyError);
  assert.is((err as ApplyError).step, 'socket');
  assert.is(
    (err as Error).message,
    `${denied.message}; HAProxy may be running on this node, so the maps are not written file-only; live maps unchanged, the next sync retries`,
  );
  assert.is(await fileOf(h.mapPaths.hosts), '');
  assert.equal(await mapsDir(h), ['hosts.map', 'sni.map']);

  // No socket (HAProxy stopped, e.g. pfSense's Carp monitor on the backup): the files are all it needs.
  const stopped = settings(h, { socket: join(h.dir, 'gone.sock') });
  const refused = await applyMaps(stopped, desired, capture().log, { fileOnlyWithoutHaproxy: true });
  assert.equal(refused, { applied: false, method: 'none', changed: ['hosts'], notes: ['file-only: HAProxy is not running on this node'] });
  assert.is(await fileOf(h.mapPaths.hosts), 'a.example.test be_app1\n');
});

it('map not loaded by the running config: files written, reload command run, both reasons noted', async (ctx) => {
  const h = await start(ctx, { loadMaps: false });
  const stub = await stubReload(h);
  const r = await applyMaps(settings(h, { reload: stub.command }), desiredOf([on('a.example.test', 'be_app1')]), capture().log);
  assert.equal(r, {
    applied: true,
    method: 'reload',
    changed: ['hosts'],
    notes: [
      `haproxy: config ${h.cfgPath} does not use map ${h.mapPaths.hosts}; its entries route nothing until the snippet lines are added`,
      `haproxy: the running HAProxy has not loaded map ${h.mapPaths.hosts} (not in show map); ran reload command "${stub.command}"`,
    ],
  });
  assert.is(await stub.calls(), 1);
  assert.is(await fileOf(h.mapPaths.hosts), 'a.example.test be_app1\n');
});

it('HAProxy older than 2.4 (version simulated): reload instead of prepare/commit; runtime untouched', async (ctx) => {
  const h = await start(ctx, { maps: { hosts: 'a.example.test be_app1\n' } });
  const stub = await stubReload(h);
  const real = createRuntime(h.socket);
  const old: Runtime = { ...real, info: async () => ({ ...(await real.info()), version: '2.2.1' }) };
  const r = await applyMaps(settings(h, { reload: stub.command }), desiredOf([on('a.example.test', 'be_app2')]), capture().log, {
    runtime: old,
  });
  assert.equal(r, {
    applied: true,
    method: 'reload',
    changed: ['hosts'],
    notes: [`haproxy: HAProxy 2.2.1 has no prepare/commit map (needs 2.4); ran reload command "${stub.command}"`],
  });
  assert.is(await stub.calls(), 1);
  assert.is(await fileOf(h.mapPaths.hosts), 'a.example.test be_app2\n');
  const listing = (await real.listMaps()).find((m) => m.path === h.mapPaths.hosts)!;
  assert.equal([listing.currVer, listing.nextVer], [0, 0]); // no prepare was sent
  assert.is(await httpGet(h.httpPort, 'a.example.test'), 'app1'); // the stub reload reloads nothing
});

const pick = ({ maps, source }: { maps: unknown; source: unknown }) => ({ maps, source });

it('drift (set map behind our back) is found and repaired even though the file is right', async (ctx) => {
  const h = await start(ctx);
  const desired = desiredOf([on('app.example.test', 'be_app1')]);
  await applyMaps(settings(h), desired, capture().log);
  const rt = createRuntime(h.socket);
  assert.is(await rt.send(`set map ${h.mapPaths.hosts} app.example.test be_app2`), '\n');
  assert.is(await httpGet(h.httpPort, 'app.example.test'), 'app2');
  assert.equal(pick(await readLive(settings(h))), { maps: desiredOf([on('app.example.test', 'be_app2')]), source: 'runtime' });

  const { lines, log } = capture();
  const note = `haproxy: map hosts: HAProxy's live entries differ from ${h.mapPaths.hosts} (drift); repairing`;
  assert.equal(await applyMaps(settings(h), desired, log), { applied: true, method: 'runtime', changed: ['hosts'], notes: [note] });
  assert.is(lines[0], `warn ${note}\n`);
  assert.is(await httpGet(h.httpPort, 'app.example.test'), 'app1');
  assert.equal(pick(await readLive(settings(h))), { maps: desired, source: 'runtime' });
});

it('what readLive dumped is reused by applyMaps while HAProxy is the same process, and dumped again after a restart', async (ctx) => {
  const h = await start(ctx);
  const desired = desiredOf([on('app.example.test', 'be_app1')]);
  await applyMaps(settings(h), desired, capture().log);
  const real = createRuntime(h.socket);
  let dumps = 0;
  const counting: Runtime = {
    ...real,
    showMap: (path, opts) => {
      dumps++;
      return real.showMap(path, opts);
    },
  };
  const current = await readLive(settings(h), { runtime: counting });
  assert.ok(current.process);
  dumps = 0;
  assert.equal(await applyMaps(settings(h), desired, capture().log, { runtime: counting, current }), {
    applied: false,
    method: 'none',
    changed: [],
    notes: [],
  });
  assert.is(dumps, 0, 'no second dump of the same maps');
  // A different process (restarted since readLive): its maps are dumped, not taken from the old one.
  const other = { ...current, process: { ...current.process!, info: { ...current.process!.info, pid: current.process!.info.pid + 1 } } };
  assert.equal(await applyMaps(settings(h), desired, capture().log, { runtime: counting, current: other }), {
    applied: false,
    method: 'none',
    changed: [],
    notes: [],
  });
  assert.is(dumps, 2); // both maps, dumped from the process that is running now
});

it('a runtime apply that fails after the rename does not reload (even with a reload command); the next sync repairs it live', async (ctx) => {
  const h = await start(ctx);
  const stub = await stubReload(h);
  const real = createRuntime(h.socket);
  const failing: Runtime = {
    ...real,
    replaceMap: async (path) => {
      throw new HaproxyReplyError(`haproxy: commit map @1 ${path}: "Version number out of range."; not committed, live map unchanged`);
    },
  };
  const withReload = await applyMaps(settings(h, { reload: stub.command }), desiredOf([on('a.example.test', 'be_app1')]), capture().log, {
    runtime: failing,
  }).catch((e: unknown) => e);
  assert.instance(withReload, HaproxyReplyError);
  assert.is(
    (withReload as Error).message,
    `haproxy: commit map @1 ${h.mapPaths.hosts}: "Version number out of range."; not committed, live map unchanged; the map files are written, the next sync applies them live`,
  );
  assert.is(await stub.calls(), 0);

  // Without a reload command the error propagates; the file is already right, so the next sync sees drift and repairs it.
  const err = await applyMaps(settings(h), desiredOf([on('a.example.test', 'be_app1')]), capture().log, { runtime: failing }).catch(
    (e: unknown) => e,
  );
  assert.instance(err, HaproxyReplyError);
  assert.equal(await applyMaps(settings(h), desiredOf([on('a.example.test', 'be_app1')]), capture().log), {
    applied: true,
    method: 'runtime',
    changed: ['hosts'],
    notes: [`haproxy: map hosts: HAProxy's live entries differ from ${h.mapPaths.hosts} (drift); repairing`],
  });
});

it('a failing reload command: exact error naming the command and its exit', async (ctx) => {
  const h = await start(ctx, { loadMaps: false });
  const reload = 'echo "haproxy.sh: config check failed" >&2; exit 3';
  const err = await applyMaps(settings(h, { reload }), desiredOf([on('a.example.test', 'be_app1')]), capture().log).catch(
    (e: unknown) => e,
  );
  assert.is((err as ApplyError).step, 'reload');
  assert.is(
    (err as Error).message,
    `haproxy: reload command "${reload}" failed (exit 3: haproxy.sh: config check failed); map files are written, HAProxy may still serve the old maps`,
  );
});

if (!missing) test.run();
