// The runtime client against a real haproxy on loopback: queries, a 20,000-entry replaceMap through many payload
// chunks, aborts that commit nothing, serialised replaces, and the exact errors for a missing, refusing or silent socket.

import { readFile, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseMapText, renderMap, sameEntries } from '../../agent/core/render.js';
import { HaproxyReplyError } from '../../agent/errors.js';
import { createRuntime, isUnreachable, type Runtime } from '../../agent/io/runtime.js';
import { freePort, type Haproxy, printLogOnFailure, startHaproxy } from '../harness/haproxy.js';
import { skipUnless } from '../harness/tools.js';

const missing = skipUnless('runtime (real haproxy)', 'haproxy');

type Ctx = { h: Haproxy; rt: Runtime; tcpPort: number };
const test = suite<Ctx>('runtime (real haproxy)', {} as Ctx);
let log = () => '';
const it = (name: string, fn: (ctx: Ctx) => Promise<void>) =>
  test(
    name,
    printLogOnFailure(() => log(), fn),
  );

test.before(async (ctx) => {
  ctx.tcpPort = await freePort();
  ctx.h = await startHaproxy({
    maps: { hosts: 'app1.test be_app1\napp2.test be_app2\n', sni: 'tls1.test be_tls1\n' },
    backends: [
      { name: 'be_app1', mode: 'http', port: 1 },
      { name: 'be_app2', mode: 'http', port: 1 },
      { name: 'be_tls1', mode: 'tcp', port: 1 },
    ],
    extraGlobal: `    stats socket ipv4@127.0.0.1:${ctx.tcpPort} level admin`,
  });
  log = ctx.h.log;
  ctx.rt = createRuntime(ctx.h.socket, { timeoutMs: 5000 });
});
test.after(async (ctx) => {
  await ctx.h?.stop();
});

it('info reads the version and the pid of the running haproxy', async ({ h, rt }) => {
  const info = await rt.info();
  assert.match(info.version, /^\d+\.\d+/);
  assert.is(info.pid, h.pid());
  assert.ok(info.startTimeSec > 1_600_000_000);
});

it('listMaps lists both maps by the path the config uses', async ({ h, rt }) => {
  const maps = await rt.listMaps();
  assert.equal(maps.map((m) => m.path).sort(), [h.mapPaths.hosts, h.mapPaths.sni]);
});

it('showMap returns the entries loaded from the file', async ({ h, rt }) => {
  assert.equal(await rt.showMap(h.mapPaths.hosts), [
    { key: 'app1.test', backend: 'be_app1' },
    { key: 'app2.test', backend: 'be_app2' },
  ]);
});

it('backends maps each backend to its mode (show stat)', async ({ rt }) => {
  const modes = await rt.backends();
  assert.is(modes.get('be_app1'), 'http');
  assert.is(modes.get('be_tls1'), 'tcp');
  assert.is(modes.get('be_default'), 'http');
  assert.is(modes.get('be_nope'), undefined);
});

it('send returns the raw reply, error texts included', async ({ rt }) => {
  assert.is(await rt.send('show map /nope.map'), 'Unknown map identifier. Please use #<id> or <file>.\n\n');
});

it('a TCP stats socket works as ipv4@host:port and host:port', async ({ h, tcpPort }) => {
  assert.is((await createRuntime(`ipv4@127.0.0.1:${tcpPort}`).info()).pid, h.pid());
  assert.is((await createRuntime(`127.0.0.1:${tcpPort}`).info()).pid, h.pid());
});

it('replaceMap swaps in 20,000 entries through many chunks; show map equals them; the file is untouched', async ({ h, rt }) => {
  const entries = Array.from({ length: 20_000 }, (_, i) => ({ key: `host-${i}.bulk.example.com`, backend: i % 2 ? 'be_app1' : 'be_app2' }));
  const before = (await rt.listMaps()).find((m) => m.path === h.mapPaths.hosts)!;
  const r = await rt.replaceMap(h.mapPaths.hosts, entries);
  assert.is(r.entries, 20_000);
  assert.ok(r.chunks >= Buffer.byteLength(renderMap(entries)) / 8000, `${r.chunks} chunks`);
  assert.is(r.version, before.nextVer + 1);
  assert.ok(sameEntries(await rt.showMap(h.mapPaths.hosts), entries));
  const after = (await rt.listMaps()).find((m) => m.path === h.mapPaths.hosts)!;
  assert.is(after.currVer, r.version);
  assert.is(after.entryCount, 20_000);
  assert.equal(parseMapText(await readFile(h.mapPaths.hosts, 'utf8')), [
    { key: 'app1.test', backend: 'be_app1' },
    { key: 'app2.test', backend: 'be_app2' },
  ]);
});

it('showMap with likely entries: those very entries when listed exactly so, else what HAProxy lists', async ({ h, rt }) => {
  const entries = Array.from({ length: 3000 }, (_, i) => ({ key: `app-${String(i).padStart(4, '0')}.test`, backend: 'be_app1' }));
  await rt.replaceMap(h.mapPaths.hosts, entries);
  assert.is(await rt.showMap(h.mapPaths.hosts, { likely: entries }), entries, 'listed exactly: not parsed again');
  const moved = entries.map((e, i) => (i === 2999 ? { ...e, backend: 'be_app2' } : e));
  assert.equal(await rt.showMap(h.mapPaths.hosts, { likely: moved }), entries, 'one entry differs: what HAProxy lists');
  assert.equal(await rt.showMap(h.mapPaths.hosts, { likely: entries.slice(1) }), entries, 'one entry more live');
  assert.equal(await rt.showMap(h.mapPaths.hosts, { likely: [...entries].reverse() }), entries, 'another order');
  assert.equal(await rt.showMap(h.mapPaths.sni, { likely: [] }), [{ key: 'tls1.test', backend: 'be_tls1' }], 'nothing likely');
});

it('replaceMap to an empty map empties it', async ({ h, rt }) => {
  await rt.replaceMap(h.mapPaths.sni, []);
  assert.equal(await rt.showMap(h.mapPaths.sni), []);
  await rt.replaceMap(h.mapPaths.sni, [{ key: 'tls1.test', backend: 'be_tls1' }]);
  assert.equal(await rt.showMap(h.mapPaths.sni), [{ key: 'tls1.test', backend: 'be_tls1' }]);
});

it('replaceMap on a map HAProxy does not know: exact error, nothing prepared', async ({ rt }) => {
  const err = await rt.replaceMap('/nope/hosts.map', [{ key: 'a.test', backend: 'be_app1' }]).catch((e: unknown) => e);
  assert.instance(err, HaproxyReplyError);
  assert.is(
    (err as Error).message,
    'haproxy: prepare map /nope/hosts.map: "Unknown map identifier. Please use #<id> or <file>."; live map unchanged',
  );
});

it('a chunk over tune.bufsize: HAProxy drops it, nothing is committed, the live map stays', async ({ h }) => {
  const rt = createRuntime(h.socket, { maxPayloadBytes: 20_000 }); // 2.6: tune.bufsize 16384 bounds command + payload
  const entries = Array.from({ length: 800 }, (_, i) => ({ key: `big-${i}.example.com`, backend: 'be_app1' })); // ~22 KB
  const liveBefore = await rt.showMap(h.mapPaths.sni);
  const before = (await rt.listMaps()).find((m) => m.path === h.mapPaths.sni)!;
  const err = await rt.replaceMap(h.mapPaths.sni, entries).catch((e: unknown) => e);
  assert.instance(err, HaproxyReplyError);
  assert.is(
    (err as Error).message,
    `haproxy: add map @${before.nextVer + 1} ${h.mapPaths.sni} <<: "empty reply (HAProxy closed the connection)"; not committed, live map unchanged`,
  );
  assert.equal(await rt.showMap(h.mapPaths.sni), liveBefore);
  const after = (await rt.listMaps()).find((m) => m.path === h.mapPaths.sni)!;
  assert.is(after.currVer, before.currVer);
  assert.is(after.entryCount, liveBefore.length); // the aborted version was cleared
});

it('an entry that could inject a map line is refused before HAProxy sees anything', async ({ h, rt }) => {
  const before = (await rt.listMaps()).find((m) => m.path === h.mapPaths.hosts)!;
  const err = await rt.replaceMap(h.mapPaths.hosts, [{ key: 'a.test', backend: 'be_app1\nevil.test be_app2' }]).catch((e: unknown) => e);
  assert.is(
    (err as Error).message,
    'map entry refused: backend "be_app1\\nevil.test be_app2" of a.test is not a backend name ([A-Za-z0-9._:-])',
  );
  assert.is((await rt.listMaps()).find((m) => m.path === h.mapPaths.hosts)!.nextVer, before.nextVer);
});

it('concurrent replaceMap calls run one at a time; the last one wins', async ({ h, rt }) => {
  const one = [{ key: 'one.test', backend: 'be_app1' }];
  const two = [{ key: 'two.test', backend: 'be_app2' }];
  const [a, b] = await Promise.all([rt.replaceMap(h.mapPaths.hosts, one), rt.replaceMap(h.mapPaths.hosts, two)]);
  assert.is(b.version, a.version + 1);
  assert.equal(await rt.showMap(h.mapPaths.hosts), two);
});

it('a failed replaceMap does not block the next one', async ({ h, rt }) => {
  const bad = rt.replaceMap('/nope/hosts.map', []).catch(() => 'failed');
  const good = rt.replaceMap(h.mapPaths.hosts, [{ key: 'three.test', backend: 'be_app1' }]);
  assert.is(await bad, 'failed');
  assert.is((await good).entries, 1);
});

if (!missing) test.run();

// Sockets that are missing, refuse, or never answer: no haproxy needed.
const errors = suite('runtime: unreachable and silent sockets');

errors('a socket path that does not exist', async () => {
  const path = join(tmpdir(), `routeagent-none-${process.pid}.sock`);
  const err = await createRuntime(path)
    .info()
    .catch((e: unknown) => e);
  assert.instance(err, HaproxyReplyError);
  assert.is((err as Error).message, `socket ${path}: not found (is HAProxy running?)`);
  assert.ok(isUnreachable(err));
});

errors('a TCP socket nobody listens on', async () => {
  const port = await freePort();
  const err = await createRuntime(`ipv4@127.0.0.1:${port}`)
    .info()
    .catch((e: unknown) => e);
  assert.is((err as Error).message, `socket ipv4@127.0.0.1:${port}: connection refused (is HAProxy running?)`);
  assert.ok(isUnreachable(err));
});

errors('a HAProxy that never answers: no reply within timeoutMs', async () => {
  const path = join(tmpdir(), `routeagent-silent-${process.pid}.sock`);
  await rm(path, { force: true });
  const held: Socket[] = [];
  const server: Server = createServer({ allowHalfOpen: true }, (s) => held.push(s)); // accepts, reads, never writes, never closes
  await new Promise<void>((resolve) => server.listen(path, resolve));
  try {
    const err = await createRuntime(path, { timeoutMs: 200 })
      .info()
      .catch((e: unknown) => e);
    assert.instance(err, HaproxyReplyError);
    assert.is((err as Error).message, `haproxy ${path}: show info: no reply within 200 ms`);
    assert.not.ok(isUnreachable(err));
  } finally {
    for (const s of held) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

errors('a command with a newline is refused before anything is sent', async () => {
  const err = await createRuntime('/nonexistent.sock')
    .send('show info\nshow map')
    .catch((e: unknown) => e);
  assert.is((err as Error).message, 'haproxy /nonexistent.sock: command contains a newline: "show info\\nshow map"');
});

errors('a map path the CLI cannot carry is refused', async () => {
  const err = await createRuntime('/nonexistent.sock')
    .showMap('/maps/my hosts.map')
    .catch((e: unknown) => e);
  assert.is((err as Error).message, `map path "/maps/my hosts.map": contains a blank, ';', '\\' or '#', which the HAProxy CLI cannot take`);
});

errors.run();
