// Atomic map-file writes in a real tmp dir: success replaces the file whole; a failed write leaves the old file
// intact and no tmp file behind; staged files stay invisible until promoted; a missing map file reads as empty.

import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ApplyError } from '../../agent/errors.js';
import { discardFile, discardLeftovers, promoteFile, readMapFile, siblingPath, stageFile, writeFileAtomic } from '../../agent/io/files.js';

const test = suite<{ dir: string }>('files', { dir: '' });
test.before.each(async (ctx) => {
  ctx.dir = await mkdtemp(join(tmpdir(), 'routeagent-files-'));
});
test.after.each(async (ctx) => {
  await rm(ctx.dir, { recursive: true, force: true });
});

test('writeFileAtomic replaces the content and leaves only the file', async ({ dir }) => {
  const path = join(dir, 'hosts.map');
  await writeFile(path, 'old.test be_old\n');
  await writeFileAtomic(path, 'a.test be_a\n');
  assert.is(await readFile(path, 'utf8'), 'a.test be_a\n');
  assert.equal(await readdir(dir), ['hosts.map']);
});

test('writeFileAtomic creates a missing file', async ({ dir }) => {
  const path = join(dir, 'sni.map');
  await writeFileAtomic(path, '');
  assert.is(await readFile(path, 'utf8'), '');
});

test('a tmp file that cannot be created: old file intact, exact error', async ({ dir }) => {
  const path = join(dir, 'hosts.map');
  await writeFile(path, 'old.test be_old\n');
  const tmp = siblingPath(path, 'tmp');
  await mkdir(tmp); // a directory squats the tmp path, so open() fails with EISDIR
  const err = await writeFileAtomic(path, 'a.test be_a\n').catch((e: unknown) => e);
  assert.instance(err, ApplyError);
  assert.is((err as ApplyError).step, 'write');
  assert.is(
    (err as Error).message,
    `map file ${path}: cannot write .hosts.map.tmp-${process.pid} (EISDIR: illegal operation on a directory); ${path} unchanged`,
  );
  assert.is(await readFile(path, 'utf8'), 'old.test be_old\n');
  assert.equal((await readdir(dir)).sort(), [`.hosts.map.tmp-${process.pid}`, 'hosts.map']); // only our squatter dir
});

test('a rename that fails: no tmp file left behind, exact error', async ({ dir }) => {
  const path = join(dir, 'hosts.map');
  await mkdir(path); // a non-empty directory where the map should be: rename() fails
  await writeFile(join(path, 'keep'), 'x');
  const err = await writeFileAtomic(path, 'a.test be_a\n').catch((e: unknown) => e);
  assert.instance(err, ApplyError);
  assert.is(
    (err as Error).message,
    `map file ${path}: cannot rename .hosts.map.tmp-${process.pid} into place (EISDIR: illegal operation on a directory); ${path} unchanged`,
  );
  assert.equal(await readdir(dir), ['hosts.map']);
  assert.equal(await readdir(path), ['keep']);
});

test('a folder that does not exist: exact error, nothing created', async ({ dir }) => {
  const path = join(dir, 'nope', 'hosts.map');
  const err = await writeFileAtomic(path, 'a.test be_a\n').catch((e: unknown) => e);
  assert.is(
    (err as Error).message,
    `map file ${path}: cannot write .hosts.map.tmp-${process.pid} (ENOENT: no such file or directory); ${path} unchanged`,
  );
  assert.equal(await readdir(dir), []);
});

test('stageFile writes a hidden sibling; the live file changes only on promoteFile', async ({ dir }) => {
  const path = join(dir, 'hosts.map');
  await writeFile(path, 'old.test be_old\n');
  const staged = await stageFile(path, 'a.test be_a\n');
  assert.is(staged, join(dir, `.hosts.map.staged-${process.pid}`));
  assert.is(await readFile(path, 'utf8'), 'old.test be_old\n');
  await promoteFile(staged, path);
  assert.is(await readFile(path, 'utf8'), 'a.test be_a\n');
  assert.equal(await readdir(dir), ['hosts.map']);
});

test('discardFile removes a staged file, and is quiet when it is already gone', async ({ dir }) => {
  const path = join(dir, 'hosts.map');
  const staged = await stageFile(path, 'a.test be_a\n');
  await discardFile(staged);
  await discardFile(staged);
  assert.equal(await readdir(dir), []);
});

test('readMapFile parses the file; a missing file is an empty map', async ({ dir }) => {
  const path = join(dir, 'hosts.map');
  assert.equal(await readMapFile(path), []);
  await writeFile(path, '# comment\nb.test be_b\na.test be_a\n');
  assert.equal(await readMapFile(path), [
    { key: 'b.test', backend: 'be_b' },
    { key: 'a.test', backend: 'be_a' },
  ]);
});

test('readMapFile on a directory: exact error', async ({ dir }) => {
  const err = await readMapFile(dir).catch((e: unknown) => e);
  assert.is((err as Error).message, `map file ${dir}: cannot read (EISDIR: illegal operation on a directory)`);
});

test('discardLeftovers removes what a dead agent left (staged, tmp, -c copy), keeps live pids and other files', async ({ dir }) => {
  const dead = 2 ** 22 + 1; // above Linux's pid_max: never a live process
  const names = [
    `.hosts.map.staged-${dead}`,
    `.sni.map.tmp-${dead}`,
    `.haproxy.cfg.check-${dead}.cfg`,
    `.hosts.map.staged-${process.pid}`, // ours: a sync in progress
    `.hosts.map.staged-1`, // pid 1 is alive, as a `routeagent check` running its own -c would be
    'hosts.map',
    '.routeagent.lock',
    '.hosts.map.staged-x',
  ];
  for (const n of names) await writeFile(join(dir, n), '');
  assert.equal(await discardLeftovers(dir), [`.haproxy.cfg.check-${dead}.cfg`, `.hosts.map.staged-${dead}`, `.sni.map.tmp-${dead}`]);
  assert.equal(
    (await readdir(dir)).sort(),
    ['.hosts.map.staged-1', `.hosts.map.staged-${process.pid}`, '.hosts.map.staged-x', '.routeagent.lock', 'hosts.map'].sort(),
  );
  assert.equal(await discardLeftovers(join(dir, 'missing')), []);
});

test.run();
