// One daemon sync around a decide step the test supplies: the status file is written (or, when it cannot be, the
// previous status kept and the operator told), the counters follow outcomes and started failovers, onSync sees each
// report, and a decide step that throws (a bug) is logged with its stack, counted, and never thrown on.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSyncRunner, type RunnerOptions } from '../../agent/daemon/runner.js';
import { createLog } from '../../agent/log.js';
import type { SyncReport } from '../../agent/sync.js';

const at = '2025-01-02T03:04:05.000Z';
function report(extra: Partial<SyncReport> = {}): SyncReport {
  return {
    at,
    durationMs: 12,
    maps: { hosts: [{ key: 'app.technis.io', backend: 'hades_http' }], sni: [{ key: 'app.technis.io', backend: 'hades_https' }] },
    served: { hosts: 1, sni: 1 },
    plan: { hosts: { add: [], change: [], remove: [] }, sni: { add: [], change: [], remove: [] } },
    conflicts: [],
    skipped: [],
    clusters: { hades: { ok: true, routers: 1 } },
    applied: false,
    method: 'none',
    failovers: [],
    unhealthyClaims: 0,
    downBackends: [],
    ...extra,
  };
}

const test = suite('createSyncRunner');
let dir = '';
let lines: string[] = [];
test.before.each(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ra-runner-'));
  lines = [];
});
test.after.each(() => rm(dir, { recursive: true, force: true }));

function runner(decide: RunnerOptions['decide'], extra: Partial<RunnerOptions> = {}) {
  const log = createLog((l) => lines.push(l.trimEnd()), 'debug');
  return createSyncRunner({ log, decide, statusFile: () => join(dir, 'status.json'), status: undefined, ...extra });
}

test('a sync writes the status file, counts its outcome and reaches onSync', async () => {
  const seen: SyncReport[] = [];
  const r = runner(async () => report(), { onSync: (x) => seen.push(x) });
  const got = await r.run('start', false);
  const file = JSON.parse(await readFile(join(dir, 'status.json'), 'utf8'));
  assert.equal([file.at, file.outcome, file.entries], [at, 'ok', { hosts: 1, sni: 1 }]);
  assert.equal(r.status(), file);
  assert.equal(r.counters, { syncs: { ok: 1, failed: 0, held: 0 }, failovers: 0 });
  assert.equal(seen, [got]);
  assert.equal(lines, ['debug sync: starting (start)']);
});

test('force is passed on and said first', async () => {
  const forced: boolean[] = [];
  await runner(async (force) => {
    forced.push(force);
    return report();
  }).run('routeagent sync --force', true);
  assert.equal(forced, [true]);
  assert.equal(lines, [
    'info sync: forced by "routeagent sync --force"; the guard does not apply to this sync',
    'debug sync: starting (routeagent sync --force, forced)',
  ]);
});

test('held and failed syncs are counted as such; only failovers this sync started count', async () => {
  const outcomes = [
    report({ held: ['hosts: would remove 9 of 10 entries'] }),
    report({ error: 'haproxy -c failed' }),
    report({
      failovers: [
        { host: 'a.technis.io', map: 'sni', from: 'hades', to: 'zeus', reason: 'hades down', since: at },
        { host: 'b.technis.io', map: 'sni', from: 'hades', to: 'zeus', reason: 'hades down', since: '2025-01-01T00:00:00.000Z' },
      ],
    }),
  ];
  const r = runner(async () => outcomes.shift()!);
  for (let i = 0; i < 3; i++) await r.run('schedule', false);
  assert.equal(r.counters, { syncs: { ok: 1, failed: 1, held: 1 }, failovers: 1 });
});

test('a status file that cannot be written keeps the previous status and says the next sync retries', async () => {
  await writeFile(join(dir, 'blocker'), '');
  const file = join(dir, 'blocker', 'status.json'); // a file where the folder should be
  const r = runner(async () => report(), { statusFile: () => file });
  const got = await r.run('start', false);
  assert.ok(got);
  assert.is(r.status(), undefined);
  assert.is(r.counters.syncs.ok, 1);
  assert.is(lines.length, 2);
  assert.match(lines[1]!, new RegExp(`^warn status ${file}: cannot write \\(.*\\); next sync retries$`));
});

test('a decide step that throws is logged with its stack, counted as failed, and not thrown on', async () => {
  const r = runner(async () => {
    throw new TypeError('boom');
  });
  assert.is(await r.run('schedule', false), undefined);
  assert.equal(r.counters, { syncs: { ok: 0, failed: 1, held: 0 }, failovers: 0 });
  assert.match(lines[1]!, /^error sync: unexpected failure: TypeError: boom +at /);
  assert.ok(lines[1]!.endsWith('; retrying at the next trigger'));
});

test.run();
