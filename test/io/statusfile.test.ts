// Proves readStatus on a real tmp dir: `routeagent status` gets the last status, or undefined for a file that is
// missing, not JSON, or from another format version (never a half-read object).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Status } from '../../agent/core/status.js';
import { readStatus } from '../../agent/io/statusfile.js';

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'routeagent-statusfile-'));
});
test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const status: Status = {
  version: 1,
  at: '2024-05-01T10:00:05.000Z',
  outcome: 'ok',
  durationMs: 41,
  applied: true,
  method: 'runtime',
  clusters: { hades: { state: 'ok', routers: 4 } },
  entries: { hosts: 4, sni: 1 },
  conflicts: [],
  skipped: 0,
  guard: { held: false, reasons: [] },
  lastSuccess: '2024-05-01T10:00:05.000Z',
};

test('reads a status file written as JSON', async () => {
  const path = join(dir, 'status.json');
  await writeFile(path, `${JSON.stringify(status, null, 2)}\n`);
  assert.equal(await readStatus(path), status);
});

test('a missing file: undefined', async () => {
  assert.is(await readStatus(join(dir, 'no-such.json')), undefined);
});

test('a file that is not JSON (e.g. cut short): undefined', async () => {
  const path = join(dir, 'torn.json');
  await writeFile(path, JSON.stringify(status).slice(0, 40));
  assert.is(await readStatus(path), undefined);
});

test('another format version, or JSON null: undefined', async () => {
  const v2 = join(dir, 'v2.json');
  await writeFile(v2, JSON.stringify({ ...status, version: 2 }));
  assert.is(await readStatus(v2), undefined);
  const empty = join(dir, 'null.json');
  await writeFile(empty, 'null');
  assert.is(await readStatus(empty), undefined);
});

test.run();
