// The daemon's own triggers with the real node-cron and chokidar: a schedule ticks (every second here), a restart
// replaces it rather than adding one (node-cron's task registry), and stop ends it; the config watch reloads on a change
// and on re-creation, and only warns on deletion; the CARP watch asks for a sync once when the CARP state gives another
// role than the last sync's (a fake ifconfig script prints the state the test writes).
import { chmod, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getTasks } from 'node-cron';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { HaConfig } from '../../agent/config.js';
import type { Role } from '../../agent/core/carp.js';
import { createSchedule, watchCarp, watchConfig } from '../../agent/daemon/triggers.js';
import { createLog } from '../../agent/log.js';
import { until } from '../harness/wait.js';

const test = suite('daemon triggers');
let dir = '';
let lines: string[] = [];
const log = createLog((l) => lines.push(l.trimEnd()));
test.before.each(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ra-triggers-'));
  lines = [];
});
test.after.each(() => rm(dir, { recursive: true, force: true }));

test('a schedule ticks, and stop ends it', async () => {
  let ticks = 0;
  const schedule = createSchedule(log, () => void ticks++);
  schedule.restart('* * * * * *');
  try {
    await until('a tick of "* * * * * *"', () => ticks >= 2);
  } finally {
    schedule.stop();
  }
});

test('a restart replaces the schedule: one routeagent task stays, on the new expression', async () => {
  const mine = () => [...getTasks().values()].filter((t) => t.name === 'routeagent-sync' && t.getStatus() !== 'destroyed');
  const schedule = createSchedule(log, () => undefined);
  schedule.restart('* * * * * *');
  schedule.restart('0 0 1 1 *');
  try {
    assert.is(mine().length, 1);
    assert.is(mine()[0]!.getNextRun()?.getMonth(), 0);
  } finally {
    schedule.stop();
  }
  assert.is(mine().length, 0);
});

test('the config watch reloads on a change and a re-creation, and only warns on deletion', async () => {
  const path = join(dir, 'config.json');
  await writeFile(path, '{}');
  const reloads: string[] = [];
  const watcher = watchConfig(path, log, (reason) => reloads.push(reason));
  try {
    await new Promise<void>((r) => watcher.once('ready', () => r()));
    await writeFile(path, '{"changed":true}');
    await until('a reload after the change', () => reloads.includes('file changed'));
    await unlink(path);
    await until('a warning after the deletion', () => lines.length > 0);
    assert.equal(lines, [`warn config ${path}: file deleted; keeping previous config until it is back`]);
    await writeFile(path, '{}');
    await until('a reload after the re-creation', () => reloads.includes('file created'));
    assert.equal(reloads, ['file changed', 'file created']);
  } finally {
    await watcher.close();
  }
});

test('the CARP watch asks for a sync once when the role flips, and not while the last sync has that role', async () => {
  const carp = join(dir, 'carp');
  const runs = join(dir, 'runs');
  const ifconfig = join(dir, 'ifconfig');
  await writeFile(ifconfig, `#!/bin/sh\necho x >> '${runs}'\ncat '${carp}'\n`);
  await chmod(ifconfig, 0o755);
  await writeFile(carp, '\tcarp: BACKUP vhid 10 advbase 1 advskew 0\n');
  const ha: HaConfig = {
    vhid: 10,
    peer: 'http://127.0.0.1:9',
    listen: { address: '127.0.0.1', port: 0 },
    tokenFile: join(dir, 'token'),
    ifconfig,
  };
  const polls = async () => (await readFile(runs, 'utf8').catch(() => '')).length / 2;
  let synced: Role = 'follower';
  const flips: string[] = [];
  const watch = watchCarp(
    log,
    () => synced,
    (reason) => flips.push(reason),
    20,
  );
  watch.restart(ha);
  try {
    await until('a few polls', async () => (await polls()) >= 3);
    assert.equal(flips, []);
    await writeFile(carp, '\tcarp: MASTER vhid 10 advbase 1 advskew 0\n');
    await until('a flip', () => flips.length > 0);
    const seen = await polls();
    await until('three more polls', async () => (await polls()) >= seen + 3);
    assert.equal(flips, ['CARP MASTER'], 'asked once while the sync has not run');
    synced = 'leader';
    await writeFile(carp, '');
    await until('the flip back', () => flips.length > 1);
    assert.equal(flips, ['CARP MASTER', 'CARP missing']);
    assert.equal(lines, [
      'info ha: CARP vhid 10 is now MASTER; syncing now to lead',
      `info ha: CARP vhid 10 is gone from the "${ifconfig}" output; syncing now to follow`,
    ]);
  } finally {
    watch.stop();
  }
});

test.run();
