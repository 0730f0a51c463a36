// Bad config through the daemon: at start (the bundle, `routeagent run`) an invalid file exits 2 listing every problem;
// while running (startDaemon in-process) a half-saved or deleted file keeps the previous config and syncs go on; secrets
// in a world-readable file are warned about; a backend HAProxy lacks, or of the wrong mode, applies nothing and names
// host and backend. Every case checks the maps (live and file) and the exact log lines.
import { chmod, readFile, unlink, writeFile } from 'node:fs/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type Daemon, startDaemon } from '../../agent/daemon.js';
import type { SyncReport } from '../../agent/sync.js';
import { ensureBundle, startAgent } from '../harness/agent.js';
import { skipUnless } from '../harness/tools.js';
import { until } from '../harness/wait.js';
import { app, startWorld, type World } from '../harness/world.js';
import { assertEach, assertServes, captureLog, clusterPatch, mapsNow, type Version, version } from './kit.js';

const missing = skipUnless('faults: config', 'haproxy', 'openssl');

type Ctx = { w: World; daemon?: Daemon; reports: SyncReport[] };
const test = suite<Ctx>('faults: config', { reports: [] } as unknown as Ctx);
const cap = captureLog();
const NEVER = '0 0 1 1 *'; // no scheduled sync during a test: syncs come from start, config changes and trigger()

const OLD: Version = version({ hosts: { 'a.technis.io': 'hades_http_ipvANY' }, sni: { 'a.technis.io': 'hades_https_ipvANY' } });
/** After the edit that also exposes example.org. */
const NEW: Version = version({
  hosts: { 'a.technis.io': 'hades_http_ipvANY', 'b.example.org': 'hades_http_ipvANY' },
  sni: { 'a.technis.io': 'hades_https_ipvANY', 'b.example.org': 'hades_https_ipvANY' },
});
const EXPOSE_OLD = { domains: ['technis.io'] };
const EXPOSE_NEW = { domains: ['technis.io', 'example.org'] };

test.before(() => {
  if (!missing) ensureBundle();
});
test.before.each(async (ctx) => {
  if (missing) return;
  cap.clear();
  ctx.reports = [];
  ctx.w = await startWorld({ schedule: NEVER });
  ctx.w.clusters.hades.traefik.setRouters('http', [app('a.technis.io'), app('b.example.org')]);
  await ctx.w.writeConfig({ expose: EXPOSE_OLD });
});
test.after.each(async (ctx) => {
  await ctx.daemon?.stop();
  delete ctx.daemon;
  await ctx.w?.close();
});

const configPath = (ctx: Ctx) => ctx.w.configPath;
async function start(ctx: Ctx): Promise<Daemon> {
  ctx.daemon = await startDaemon({ configPath: ctx.w.configPath, log: cap.log, onSync: (r) => ctx.reports.push(r) });
  await until('the first sync', () => ctx.reports.length === 1);
  return ctx.daemon;
}
/** Trigger a sync and wait for its report. */
async function syncNow(ctx: Ctx): Promise<SyncReport> {
  const n = ctx.reports.length;
  ctx.daemon!.trigger('test');
  await until('a sync', () => ctx.reports.length > n);
  return ctx.reports.at(-1)!;
}
const line = (re: RegExp) => until(`a log line matching ${re}`, () => cap.lines.some((l) => re.test(l)));
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

if (!missing) {
  test('invalid JSON at start: `run` exits 2, the problem and "not started" are logged, nothing touched', async (ctx) => {
    await writeFile(configPath(ctx), '{"clusters": [');
    const before = await mapsNow(ctx.w);
    const agent = startAgent(['run', '--config', configPath(ctx)]);
    const { code } = await agent.exited;
    assert.is(code, 2);
    let message = '';
    try {
      JSON.parse('{"clusters": [');
    } catch (e) {
      message = (e as Error).message;
    }
    const p = configPath(ctx);
    assert.equal(agent.lines, [
      `error config ${p}: not valid JSON (${message})`,
      `error daemon: not started: config ${p} is invalid (1 problem)`,
    ]);
    assert.equal(await mapsNow(ctx.w), before);
  });

  test('schema violations at start: `run` exits 2 and lists every one, one line each', async (ctx) => {
    const bad = {
      clusters: [{ name: 'bad name!', api: 'ftp://x', backends: { hosts: 'h b' }, priority: 'high', colour: 'red', timeoutMs: 5 }],
      expose: { domains: 'technis.io' },
      conflicts: 'random',
      haproxy: { maps: { hosts: 'relative.map' }, timeoutMs: 0 },
      guard: { maxRemovalRatio: 2 },
      schedule: '',
      metrics: { port: 70000 },
      extra: true,
    };
    await writeFile(configPath(ctx), JSON.stringify(bad));
    const agent = startAgent(['run', '--config', configPath(ctx)]);
    assert.is((await agent.exited).code, 2);
    const p = configPath(ctx);
    assert.equal(
      agent.lines.sort(),
      [
        `error config ${p}: /: unknown property "extra"`,
        `error config ${p}: /clusters/0: unknown property "colour"`,
        `error config ${p}: /clusters/0/backends: must have required property 'sni'`,
        `error config ${p}: /clusters/0/api: must match pattern "^https?://"`,
        `error config ${p}: /clusters/0/backends/hosts: must match pattern "^[A-Za-z0-9._:-]{1,255}$"`,
        `error config ${p}: /clusters/0/name: must match pattern "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"`,
        `error config ${p}: /clusters/0/priority: must be integer`,
        `error config ${p}: /clusters/0/timeoutMs: must be >= 100`,
        `error config ${p}: /conflicts: must be one of "sticky", "priority"`,
        `error config ${p}: /expose/domains: must be array`,
        `error config ${p}: /guard/maxRemovalRatio: must be <= 1`,
        `error config ${p}: /haproxy/maps/hosts: must match pattern "^/"`,
        `error config ${p}: /haproxy/timeoutMs: must be >= 100`,
        `error config ${p}: /metrics/port: must be <= 65535`,
        `error config ${p}: /schedule: must NOT have fewer than 1 characters`,
        `error daemon: not started: config ${p} is invalid (15 problems)`,
      ].sort(),
    );
  });

  test('an edit saved half-way: the error is logged, the previous config stays and syncs go on; the full save applies', async (ctx) => {
    await start(ctx);
    await assertServes(ctx.w, OLD);
    const full = JSON.stringify({ ...ctx.w.config, expose: EXPOSE_NEW }, null, 2);
    const half = full.slice(0, Math.floor(full.length / 2));
    await writeFile(configPath(ctx), half);
    const p = configPath(ctx);
    await line(
      new RegExp(
        `^error config ${esc(p)}: not valid JSON \\((.+ at line \\d+ column \\d+|Unexpected end of JSON input)\\); keeping previous config$`,
      ),
    );
    const during = await syncNow(ctx);
    assert.is(during.error, undefined);
    await assertServes(ctx.w, OLD, 'previous config still in force');

    await writeFile(configPath(ctx), full);
    await line(new RegExp(`^info config ${esc(p)}: reloaded \\(file changed\\)$`));
    await until('the sync after the reload', async () => (await mapsNow(ctx.w)).live.sni.length === 2);
    await assertServes(ctx.w, NEW);
  });

  test('a reload with cross-field problems: each logged on its own line; the previous config stays', async (ctx) => {
    await start(ctx);
    const clusters = ctx.w.config['clusters'] as Record<string, unknown>[];
    const dup = { ...clusters[0], auth: { username: 'agent', token: 't' } };
    await ctx.w.writeConfig({
      expose: { domains: ['technis.io', 'bad domain'] },
      clusters: [clusters[0], dup],
      pins: { 'x.technis.io': 'nowhere' },
      haproxy: { ...(ctx.w.config['haproxy'] as object), maps: { hosts: '/var/etc/haproxy/m.map', sni: '/var/etc/haproxy/m.map' } },
      schedule: 'every minute',
    });
    const p = configPath(ctx);
    const problems = [
      '/clusters/1/name: duplicate cluster name "hades" (also /clusters/0)',
      '/clusters/1/auth: use either username/password or token, not both',
      '/clusters/1/auth: needs exactly one of password, passwordFile',
      '/expose/domains/1: host "bad domain" has whitespace, control or non-ASCII characters (use punycode)',
      '/pins/x.technis.io: unknown cluster "nowhere"',
      '/haproxy/maps: hosts and sni must be different files',
      '/haproxy/maps/hosts: /var/etc/haproxy/m.map is inside /var/etc/haproxy, which pfSense wipes on every Apply',
      '/haproxy/maps/sni: /var/etc/haproxy/m.map is inside /var/etc/haproxy, which pfSense wipes on every Apply',
      '/schedule: "every minute" is not a valid cron expression',
    ];
    await line(new RegExp(`^error config ${esc(p)}: /schedule: `));
    const logged = cap.lines.filter((l) => l.startsWith('error config '));
    assert.equal(logged.sort(), problems.map((x) => `error config ${p}: ${x}; keeping previous config`).sort());
    assert.is((await syncNow(ctx)).error, undefined);
    await assertServes(ctx.w, OLD, 'previous config still in force');
  });

  test('the file deleted: a warning, syncs go on with the previous config; the file back is reloaded', async (ctx) => {
    await start(ctx);
    const saved = await readFile(configPath(ctx), 'utf8');
    await unlink(configPath(ctx));
    const p = configPath(ctx);
    await line(new RegExp(`^warn config ${esc(p)}: file deleted; keeping previous config until it is back$`));
    ctx.w.clusters.hades.traefik.setRouters('http', [app('a.technis.io'), app('c.technis.io'), app('b.example.org')]);
    const r = await syncNow(ctx);
    assert.is(r.error, undefined);
    const withC = version({
      hosts: { 'a.technis.io': 'hades_http_ipvANY', 'c.technis.io': 'hades_http_ipvANY' },
      sni: { 'a.technis.io': 'hades_https_ipvANY', 'c.technis.io': 'hades_https_ipvANY' },
    });
    await assertServes(ctx.w, withC, 'synced with the previous config');
    await writeFile(configPath(ctx), saved.replace('"technis.io"', '"technis.io", "example.org"'), { mode: 0o600 });
    await line(new RegExp(`^info config ${esc(p)}: reloaded \\(file (created|changed)\\)$`));
    await until('the sync after the file came back', async () =>
      (await mapsNow(ctx.w)).live.sni.includes('b.example.org hades_https_ipvANY'),
    );
  });

  test('secrets in a world-readable file: warned at start and at reload; the daemon works', async (ctx) => {
    const p = configPath(ctx);
    await ctx.w.writeConfig({
      expose: EXPOSE_OLD,
      clusters: clusterPatch(ctx.w, 'hades', { auth: { username: 'agent', password: 'pw-never-logged' } }),
    });
    await chmod(p, 0o644);
    await start(ctx);
    const warning = `warn config ${p}: config is world-readable and holds secrets of cluster hades; chmod 600 it or use passwordFile/tokenFile`;
    assert.ok(cap.lines.includes(warning), cap.lines.join('\n'));
    await assertServes(ctx.w, OLD);
    const n = cap.lines.filter((l) => l === warning).length;
    ctx.daemon!.reload('test');
    await until('the warning again at reload', () => cap.lines.filter((l) => l === warning).length > n);
    assert.not.ok(cap.lines.some((l) => l.includes('pw-never-logged')));
    await chmod(p, 0o600);
    await ctx.daemon!.reload('test');
    assert.is(cap.lines.filter((l) => l === warning).length, n + 1, 'no warning once the file is private');
  });

  test('a backend HAProxy lacks: nothing applied, the message names host and backend; the fix applies', async (ctx) => {
    await start(ctx);
    await ctx.w.writeConfig({
      expose: EXPOSE_NEW,
      clusters: clusterPatch(ctx.w, 'hades', { backends: { sni: 'hades_tls_ipvANY', hosts: 'hades_http_ipvANY' } }),
    });
    await line(/^info config .*: reloaded \(file changed\)$/);
    await until('the sync after the reload', () => ctx.reports.length >= 2);
    const r = ctx.reports.at(-1)!;
    const error =
      'haproxy: map sni: a.technis.io → hades_tls_ipvANY: no backend hades_tls_ipvANY in HAProxy (show stat) (and 1 more); live maps unchanged';
    assert.is(r.error, error);
    assert.ok(cap.lines.includes(`warn ${error}`), cap.lines.join('\n'));
    assertEach(await mapsNow(ctx.w), [OLD]);
    await ctx.w.writeConfig({ expose: EXPOSE_NEW });
    await until('the fixed config applied', async () => (await mapsNow(ctx.w)).live.sni.length === 2);
    await assertServes(ctx.w, NEW);
  });

  test('a backend of the wrong mode (http for sni): nothing applied, host, backend and modes named', async (ctx) => {
    await start(ctx);
    await ctx.w.writeConfig({ expose: EXPOSE_NEW, clusters: clusterPatch(ctx.w, 'hades', { backends: { sni: 'hades_http_ipvANY' } }) });
    await until('the sync after the reload', () => ctx.reports.length >= 2);
    const r = ctx.reports.at(-1)!;
    const error =
      'haproxy: map sni: a.technis.io → hades_http_ipvANY: backend hades_http_ipvANY is mode http, sni needs mode tcp (and 1 more); live maps unchanged';
    assert.is(r.error, error);
    assert.ok(cap.lines.includes(`warn ${error}`), cap.lines.join('\n'));
    assertEach(await mapsNow(ctx.w), [OLD]);
  });
}

if (!missing) test.run();
