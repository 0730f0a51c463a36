// The lock next to the maps: one agent at a time; stale locks (dead pid, or written before the last boot when the pid may
// now be another program's) are taken over; a release never removes another agent's lock.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { uptime } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock, lockHolder } from '../../agent/io/lock.js';
import { AgentError } from '../../agent/errors.js';

const lock = suite('lock');
let dir = '';
let path = '';
const boot = () => Math.round(Date.now() / 1000 - uptime());
lock.before.each(async () => {
  dir = await mkdtemp(join(tmpdir(), 'routeagent-lock-'));
  path = join(dir, '.routeagent.lock');
});
lock.after.each(async () => rm(dir, { recursive: true, force: true }));

lock('a live holder keeps the lock; the message names it', async () => {
  await writeFile(path, `${process.ppid} daemon ${boot()}\n`);
  const e = await acquireLock(path, 'sync').catch((x: unknown) => x);
  assert.instance(e, AgentError);
  assert.is((e as Error).message, `lock ${path}: another routeagent (pid ${process.ppid}) drives these maps; exiting`);
});
lock('a lock from before the last boot is stale even if its pid is alive now (a power loss)', async () => {
  await writeFile(path, `${process.ppid} daemon ${boot() - 3600}\n`);
  assert.is(await lockHolder(path), undefined);
  const l = await acquireLock(path, 'daemon');
  assert.match(await readFile(path, 'utf8'), new RegExp(`^${process.pid} daemon \\d+\\n$`));
  await l.release();
});
lock('a lock whose pid is gone is taken over', async () => {
  await writeFile(path, `999999999 daemon ${boot()}\n`);
  const l = await acquireLock(path, 'sync');
  assert.equal(await lockHolder(path), { pid: process.pid, role: 'sync' });
  await l.release();
  assert.is(await lockHolder(path), undefined);
});
lock('release leaves alone a lock that is no longer ours', async () => {
  const l = await acquireLock(path, 'daemon');
  const theirs = `${process.ppid} daemon ${boot()}\n`;
  await writeFile(path, theirs); // taken over meanwhile (ours was judged stale)
  await l.release();
  assert.is(await readFile(path, 'utf8'), theirs);
});
lock.run();
