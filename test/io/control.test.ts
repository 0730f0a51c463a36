// The control socket in a real tmp dir: binding it is the lock (mode 0600), a live holder is told from a file its dead
// owner left (taken over), malformed requests get an error reply and never stop the holder, and every failure names the socket.

import { type ChildProcess, spawn } from 'node:child_process';
import { access, mkdtemp, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AgentError } from '../../agent/errors.js';
import { askControl, type Control, controlPathFor, type Hello, holdControl, parseRequest } from '../../agent/io/control.js';

const test = suite('control socket');
let dir = '';
let path = '';
const held: Control[] = [];
const me: Hello = { pid: process.pid, role: 'daemon', version: '0.1.0' };
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

test.before.each(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ra-ctl-'));
  path = controlPathFor(join(dir, 'hosts.map'));
});
test.after.each(async () => {
  for (const c of held.splice(0)) await c.release();
  await rm(dir, { recursive: true, force: true });
});

async function hold(hello: Hello = me): Promise<Control> {
  const h = await holdControl(path, hello);
  if (h.kind !== 'held') throw new Error(`expected to hold ${path}, held by ${JSON.stringify(h.holder)}`);
  held.push(h.control);
  return h.control;
}

/** Send raw bytes (then, with `hangUp`, close our side), return everything the holder sends back before it closes. */
function raw(text: string, hangUp = false): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const c = createConnection(path, () => (hangUp ? c.end(text) : c.write(text)));
    c.on('data', (d: Buffer) => (got += d.toString()));
    c.on('error', reject);
    c.on('close', () => resolve(got));
  });
}

/** A unix socket file whose process was killed -9: what a daemon killed by SIGKILL or the OOM killer leaves. */
async function staleSocket(at: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(at)}, () => console.log('up'))`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  await killed(child);
}
const killed = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

test('binds with mode 0600; hello names the holder; release removes the socket', async () => {
  const c = await hold();
  assert.is(c.path, join(dir, '.routeagent.sock'));
  assert.is((await stat(path)).mode & 0o777, 0o600);
  assert.equal(await askControl(path, { op: 'hello' }, 5000), me);
  await c.release();
  held.length = 0;
  assert.not.ok(await exists(path));
});

test('a live holder keeps the socket: a second agent learns who holds it', async () => {
  await hold({ pid: 4711, role: 'sync', version: '0.1.0' });
  const second = await holdControl(path, me);
  assert.equal(second, { kind: 'busy', holder: { pid: 4711, role: 'sync', version: '0.1.0' } });
  assert.equal(await askControl(path, { op: 'hello' }, 5000), { pid: 4711, role: 'sync', version: '0.1.0' });
});

test('a socket file left by a process killed -9 is stale: taken over', async () => {
  await staleSocket(path);
  assert.ok(await exists(path), 'a killed process leaves its socket file');
  assert.is(await askControl(path, { op: 'hello' }, 5000), undefined, 'nobody answers: no holder');
  await hold();
  assert.equal(await askControl(path, { op: 'hello' }, 5000), me);
});

// A live holder whose event loop is busy (blocked reading its stdin) with a listen queue of 1: the kernel queues two
// connections, then refuses more (Linux: EAGAIN; FreeBSD: ECONNREFUSED) until the holder accepts again.
const BUSY_HOLDER = `
const fs = require('fs');
const hello = JSON.stringify({ ok: true, result: { pid: process.pid, role: 'daemon', version: '0.1.0' } }) + '\\n';
const server = require('net').createServer((c) => { c.on('error', () => {}); c.on('data', () => c.end(hello)); });
server.listen({ path: process.argv[1], backlog: 1 }, () => { console.log('up'); fs.readSync(0, Buffer.alloc(1)); });`;

/** Connect until the kernel refuses: the holder's queue is then full. Returns the queued connections, to close later. */
async function fillQueue(at: string): Promise<Socket[]> {
  const queued: Socket[] = [];
  for (let i = 0; i < 100; i++) {
    const c = createConnection(at);
    c.on('error', () => undefined);
    const ok = await new Promise<boolean>((resolve) => {
      c.once('connect', () => resolve(true));
      c.once('error', () => resolve(false));
    });
    if (!ok) return queued;
    queued.push(c);
  }
  throw new Error(`the listen queue of ${at} never filled`);
}

test('a live holder whose listen queue is full is asked again, never judged stale: its socket stays, it is named', async () => {
  const busy = spawn(process.execPath, ['-e', BUSY_HOLDER, path], { stdio: ['pipe', 'pipe', 'inherit'] });
  const queued: Socket[] = [];
  try {
    await new Promise<void>((resolve) => busy.stdout!.once('data', () => resolve()));
    const before = await stat(path);
    queued.push(...(await fillQueue(path)));
    const second = holdControl(path, me).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100)); // let the first attempt meet the full queue
    busy.stdin!.write('go'); // the holder's loop runs again and accepts
    assert.equal(await second, { kind: 'busy', holder: { pid: busy.pid, role: 'daemon', version: '0.1.0' } });
    assert.is((await stat(path)).ino, before.ino, 'the live holder keeps its socket');
  } finally {
    for (const c of queued) c.destroy();
    await killed(busy);
  }
});

test('a holder that drops the hello as it ends (a finishing one-shot) is asked again: then the socket is taken', async () => {
  let dropped = 0;
  const ending = createServer((conn) => {
    dropped++;
    conn.destroy(); // closing: the connection is dropped unanswered …
    ending.close(() => void unlink(path).catch(() => undefined)); // … and the holder is gone right after
  });
  await new Promise<void>((resolve) => ending.listen(path, resolve));
  const c = await hold();
  assert.is(dropped, 1, 'the ending holder was asked once, and dropped it');
  assert.equal(await askControl(path, { op: 'hello' }, 5000), me);
  assert.ok(c);
});

test('a regular file in the way is not a holder: replaced by the socket', async () => {
  await writeFile(path, 'not a socket');
  await hold();
  assert.ok((await stat(path)).isSocket());
});

test('sync and status wait for serve(); the handlers answer; an op without one gets an error naming the holder', async () => {
  const c = await hold({ pid: 4711, role: 'sync', version: '0.1.0' });
  const early = askControl(path, { op: 'status' }, 5000);
  await new Promise((r) => setTimeout(r, 100));
  c.serve({ status: async () => ({ outcome: 'ok' }) });
  assert.equal(await early, { outcome: 'ok' });
  const e = await askControl(path, { op: 'sync', force: true }, 5000).catch((x: unknown) => x);
  assert.instance(e, AgentError);
  assert.is((e as Error).message, `control socket ${path}: sync: a one-shot routeagent sync (pid 4711) does not take sync requests`);
});

test('the force flag reaches the handler; a null result is null', async () => {
  const c = await hold();
  const asked: boolean[] = [];
  c.serve({
    sync: async (force) => {
      asked.push(force);
      return { force };
    },
    status: async () => undefined,
  });
  assert.equal(await askControl(path, { op: 'sync', force: true }, 5000), { force: true });
  assert.equal(await askControl(path, { op: 'sync', force: false }, 5000), { force: false });
  assert.is(await askControl(path, { op: 'status' }, 5000), null);
  assert.equal(asked, [true, false]);
});

test('malformed lines get an error reply; the holder keeps serving', async () => {
  const c = await hold();
  c.serve({});
  const rows: [string, string][] = [
    ['garbage\n', 'bad request: not JSON'],
    ['[1]\n', 'bad request: not a JSON object'],
    ['{"op":"reboot"}\n', 'bad request: unknown op "reboot" (expected "hello", "sync" or "status")'],
    ['{}\n', 'bad request: unknown op undefined (expected "hello", "sync" or "status")'],
    ['{"op":"sync","force":"yes"}\n', 'bad request: "force" must be true or false'],
  ];
  for (const [line, error] of rows) assert.is(await raw(line), `${JSON.stringify({ ok: false, error })}\n`, line);
  assert.is(await raw('{"op":"hello"', true), '', 'a client that closes mid-line gets nothing, and nothing breaks');
  assert.equal(await askControl(path, { op: 'hello' }, 5000), me);
});

test('parseRequest: the three ops; force defaults to false', () => {
  assert.equal(parseRequest('{"op":"hello"}'), { op: 'hello' });
  assert.equal(parseRequest('{"op":"status","extra":1}'), { op: 'status' });
  assert.equal(parseRequest('{"op":"sync"}'), { op: 'sync', force: false });
  assert.equal(parseRequest('{"op":"sync","force":true}'), { op: 'sync', force: true });
});

test('release with a client still waiting: the client is told the connection closed without an answer', async () => {
  const c = await hold();
  c.serve({ sync: () => new Promise(() => undefined) });
  const waiting = askControl(path, { op: 'sync', force: false }, 20_000).catch((x: unknown) => x);
  await new Promise((r) => setTimeout(r, 100));
  await c.release();
  held.length = 0;
  assert.is(((await waiting) as Error).message, `control socket ${path}: the holder closed the connection without an answer`);
  assert.not.ok(await exists(path));
});

test('no socket file: no holder', async () => {
  assert.is(await askControl(path, { op: 'status' }, 5000), undefined);
});

test('a path too long for a unix socket (FreeBSD: 104 bytes): an error naming it, before anything is created', async () => {
  const deep = join(dir, 'm'.repeat(120), 'hosts.map');
  const long = controlPathFor(deep);
  const why = `control socket ${long}: path is ${Buffer.byteLength(long)} bytes, more than the 103 a unix socket allows (FreeBSD); move the maps to a shorter folder`;
  for (const attempt of [holdControl(long, me), askControl(long, { op: 'hello' }, 5000)]) {
    const e = await attempt.catch((x: unknown) => x);
    assert.instance(e, AgentError);
    assert.is((e as Error).message, why);
  }
  assert.not.ok(await exists(join(dir, 'm'.repeat(120))));
});

test('a folder that cannot be created: an error naming the socket', async () => {
  await writeFile(join(dir, 'file'), '');
  const inside = controlPathFor(join(dir, 'file', 'maps', 'hosts.map'));
  const e = await holdControl(inside, me).catch((x: unknown) => x);
  assert.is((e as Error).message, `control socket ${inside}: cannot create (ENOTDIR)`);
});

test.run();
