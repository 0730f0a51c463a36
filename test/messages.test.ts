// Messages a newcomer can act on, each pinned with its exact text: a missing config says so and where one comes from,
// an unknown key suggests the known one, the guard is logged once per episode (a pure function and a fake clock),
// `status` tells what HAProxy serves apart from the held plan, counts read "1 entry" / "2 entries", and a stale cluster's
// `since` is never later than the sync that reports it (a real sync against a real haproxy).

import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_CONFIG_PATH } from '../agent/config.js';
import { type Status, statusFromReport } from '../agent/core/status.js';
import { formatStatus } from '../agent/output.js';

type ReportLike = Parameters<typeof statusFromReport>[0];

import { GUARD_REMIND_MS, type GuardEpisode, guardNotices } from '../agent/sync.js';
import { captureLog, syncer } from './faults/kit.js';
import { assertBuilt, killAll, runBundle } from './harness/agent.js';
import { skipUnless } from './harness/tools.js';
import { app, startWorld } from './harness/world.js';

const lines = (s: string) => s.split('\n').filter(Boolean);

// --- the guard: one episode, logged when it starts, reminded at most every 10 minutes, logged when it ends -------------
const guard = suite('guardNotices (fake clock)');
const T0 = Date.parse('2026-03-01T10:42:05Z');
const MIN = 60_000;
const HOSTS = 'hosts: plan removes 5 of 6 entries (more than 50%)';
const SNI = 'sni: plan removes 5 of 6 entries (more than 50%)';
const TAIL = 'not applied, live maps unchanged (run "routeagent sync --force" if this is intended)';

/** Feed one sync per tick (`held` at each `atMs`) and collect every line logged. */
function replay(ticks: [number, string[]][]): string[] {
  let episode: GuardEpisode | undefined;
  const logged: string[] = [];
  for (const [atMs, held] of ticks) {
    const r = guardNotices(episode, held, atMs);
    episode = r.episode;
    logged.push(...r.notices.map((n) => `${n.level} ${n.message}`));
  }
  return logged;
}

guard('a held plan is logged when it starts, not at every poll, and once when it ends', () => {
  const polls = Array.from({ length: 6 }, (_, i): [number, string[]] => [T0 + i * 1000, [HOSTS]]);
  assert.equal(replay([...polls, [T0 + 6000, []], [T0 + 7000, []]]), [
    `warn guard: ${HOSTS}; ${TAIL}`,
    'info guard: no longer holding (held since 10:42:05); syncs apply their plans again',
  ]);
});

guard('a guard that keeps holding is reminded every 10 minutes, no more often', () => {
  const ticks: [number, string[]][] = [];
  for (let t = 0; t <= 25 * MIN; t += 15_000) ticks.push([T0 + t, [HOSTS]]);
  assert.equal(replay(ticks), [
    `warn guard: ${HOSTS}; ${TAIL}`,
    `warn guard: still holding since 10:42:05: ${HOSTS}; ${TAIL}`, // at +10 min
    `warn guard: still holding since 10:42:05: ${HOSTS}; ${TAIL}`, // at +20 min
  ]);
  assert.is(GUARD_REMIND_MS, 10 * MIN);
});

guard('another map held is news; a changed count for the same map is not', () => {
  const fewer = 'hosts: plan removes 4 of 6 entries (more than 50%)';
  assert.equal(
    replay([
      [T0, [HOSTS]],
      [T0 + 1000, [fewer]],
      [T0 + 2000, [fewer, SNI]],
    ]),
    [`warn guard: ${HOSTS}; ${TAIL}`, `warn guard: ${fewer}; ${TAIL}`, `warn guard: ${SNI}; ${TAIL}`],
  );
});

guard('nothing held and no episode: nothing to say', () => {
  assert.equal(guardNotices(undefined, [], T0), { notices: [] });
});
guard.run();

// --- status: what HAProxy serves, the held plan apart, plurals -----------------------------------------------------
const status = suite('status: served entries, held plan, plurals');
const at = '2026-03-01T10:42:05.000Z';
const heldReport: ReportLike = {
  at,
  durationMs: 12,
  maps: { hosts: [{ key: 'a.technis.io', backend: 'hades_http_ipvANY' }], sni: [{ key: 'a.technis.io', backend: 'hades_https_ipvANY' }] },
  served: { hosts: 6, sni: 6 },
  conflicts: [{ host: 'g.technis.io', map: 'sni', claimants: ['hades', 'illmatic'], winner: 'hades' }],
  skipped: [{}],
  clusters: { hades: { ok: true, routers: 1 } },
  applied: false,
  method: 'none',
  held: [HOSTS],
};

status('while the guard holds, entries are what HAProxy serves and heldEntries the held plan', () => {
  const s = statusFromReport(heldReport);
  assert.equal([s.outcome, s.entries, s.heldEntries], ['held', { hosts: 6, sni: 6 }, { hosts: 1, sni: 1 }]);
  assert.equal(lines(formatStatus(s, [`guard holding: ${HOSTS}`])), [
    `unhealthy: last sync ${at} held, 12 ms`,
    'maps: HAProxy serves hosts 6 entries, sni 6 entries; 1 conflict, 1 router skipped',
    'held plan: hosts 1 entry, sni 1 entry; not applied while the guard holds it',
    'cluster hades: ok, 1 router',
    'conflict: g.technis.io (sni) claimed by hades, illmatic; routed to hades',
    `problem: guard holding: ${HOSTS}`,
  ]);
});

status('an applied sync has no held plan; a sync that could not read the maps keeps the previous count', () => {
  const { held: _held, ...withoutHeld } = heldReport;
  const { served: _served, ...withoutServed } = withoutHeld;
  const applied = statusFromReport({ ...withoutHeld, served: { hosts: 1, sni: 1 }, applied: true, method: 'runtime' });
  assert.equal([applied.outcome, applied.entries, 'heldEntries' in applied], ['ok', { hosts: 1, sni: 1 }, false]);
  const unread = statusFromReport({ ...withoutServed, maps: { hosts: [], sni: [] }, error: 'map file …: cannot read' }, applied);
  assert.equal(unread.entries, { hosts: 1, sni: 1 });
});

status('no --json field is repurposed: the old fields keep their meaning', () => {
  const s: Status = statusFromReport(heldReport);
  assert.equal(s.guard, { held: true, reasons: [HOSTS] });
  assert.is(s.skipped, 1);
});
status.run();

// --- the built bundle: a missing config, an unknown key ---------------------------------------------------------------
const bundle = suite('bundle: config messages');
let dir = '';
bundle.before(async () => {
  assertBuilt();
  dir = await mkdtemp(join(tmpdir(), 'routeagent-messages-'));
});
bundle.after(async () => {
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

bundle('no config at the default path: says it does not exist, names install.sh and --config, exit 2', async () => {
  if (existsSync(DEFAULT_CONFIG_PATH)) return console.log(`  (skipped: ${DEFAULT_CONFIG_PATH} exists on this machine)`);
  const r = await runBundle(['sync']);
  assert.is(r.code, 2, r.stderr);
  assert.is(r.stdout, '');
  assert.equal(lines(r.stderr), [
    `${DEFAULT_CONFIG_PATH}: no such file; rc.d/install.sh writes a sample config there to edit, or name another file with --config FILE`,
    `routeagent: config ${DEFAULT_CONFIG_PATH} does not exist; nothing done`,
  ]);
  const run = await runBundle(['run']);
  assert.is(run.code, 2, run.stderr);
  assert.equal(lines(run.stderr), [
    `error config ${DEFAULT_CONFIG_PATH}: no such file; rc.d/install.sh writes a sample config there to edit, or name another file with --config FILE`,
    `error daemon: not started: config ${DEFAULT_CONFIG_PATH} does not exist`,
  ]);
});

bundle('an unknown key close to a known one: "did you mean"', async () => {
  const path = join(dir, 'typo.json');
  await writeFile(
    path,
    JSON.stringify({
      clusters: [{ name: 'a', api: 'http://127.0.0.1:1/api', backends: { sni: 'a_https' } }],
      expose: { domain: ['technis.io'] },
    }),
  );
  const r = await runBundle(['check', '--config', path]);
  assert.is(r.code, 2, r.stderr);
  assert.equal(lines(r.stderr), [
    '/expose: unknown property "domain"; did you mean "domains"?',
    `routeagent: config ${path} is invalid (1 problem); nothing done`,
  ]);
});
bundle.run();

// --- stale since: never later than the sync that reports it ---------------------------------------------------------
const stale = suite('stale since and last sync agree');
const missing = skipUnless('stale since and last sync agree', 'haproxy', 'openssl');
stale('a cluster that fails (slowly) is stale since a sync start, never after the `at` it is reported with', async () => {
  if (missing) return; // skipUnless counted it
  const w = await startWorld({ schedule: '0 0 1 1 *' });
  try {
    const cap = captureLog();
    w.clusters.hades.traefik.setRouters('http', [app('a.technis.io')]);
    w.clusters.illmatic.traefik.setRouters('http', [app('b.technis.io')]);
    w.clusters.illmatic.traefik.setFault('/api/rawdata', { status: 503, delayMs: 300 });
    // A fresh start while illmatic is down: seeded from the maps by this very sync, so stale since this sync's start.
    const first = await syncer(w, cap.log).run();
    assert.is(first.clusters['illmatic']!.staleSince, first.at);
    const status = statusFromReport(first);
    assert.is(status.clusters['illmatic']!.since, status.at);

    // Fetched once, then failing: stale since the start of the sync that fetched it, which is earlier than this one.
    w.clusters.illmatic.traefik.setFault('/api/rawdata', undefined);
    const sync = syncer(w, cap.log);
    const good = await sync.run();
    assert.is(good.clusters['illmatic']!.ok, true);
    w.clusters.illmatic.traefik.setFault('/api/rawdata', { status: 503, delayMs: 300 });
    const bad = await sync.run();
    assert.is(bad.clusters['illmatic']!.staleSince, good.at);
    assert.ok(
      Date.parse(bad.clusters['illmatic']!.staleSince!) < Date.parse(bad.at),
      `${bad.clusters['illmatic']!.staleSince} < ${bad.at}`,
    );
  } finally {
    await w.close();
  }
});
stale.run();
