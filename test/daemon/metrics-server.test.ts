// The /metrics server on loopback: GET /metrics serves the rendered text (read at each request), anything else is a 404,
// a port already taken leaves metrics off with one warning, a restarted one serves, and stop frees the port.

import { request } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createMetricsServer, type MetricsServer } from '../../agent/daemon/metrics-server.js';
import { createLog } from '../../agent/log.js';

const test = suite('createMetricsServer');
let lines: string[] = [];
let server: MetricsServer | undefined;
const log = createLog((l) => lines.push(l.trimEnd()));
test.before.each(() => {
  lines = [];
});
test.after.each(async () => {
  await server?.stop();
  server = undefined;
});

function get(address: string, path: string): Promise<{ status: number | undefined; type: string | undefined; body: string }> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: path === '/post' ? 'POST' : 'GET', agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}
const on = (port = 0) => ({ enabled: true, address: '127.0.0.1', port });

test('serves the rendered text at /metrics, freshly rendered each time', async () => {
  let n = 0;
  server = createMetricsServer(log, () => `routeagent_renders ${++n}\n`);
  await server.restart(on());
  const address = server.address()!;
  assert.equal(lines, [`info metrics: serving http://${address}/metrics`]);
  assert.equal(await get(address, '/metrics?x=1'), { status: 200, type: 'text/plain; version=0.0.4', body: 'routeagent_renders 1\n' });
  assert.is((await get(address, '/metrics')).body, 'routeagent_renders 2\n');
});

test('anything but GET /metrics is a 404 that points there', async () => {
  server = createMetricsServer(log, () => 'x 1\n');
  await server.restart(on());
  const address = server.address()!;
  assert.equal(await get(address, '/'), { status: 404, type: 'text/plain', body: 'not found: try /metrics\n' });
  assert.is((await get(address, '/post')).status, 404);
});

test('disabled: nothing listens', async () => {
  server = createMetricsServer(log, () => 'x 1\n');
  await server.restart({ enabled: false, address: '127.0.0.1', port: 0 });
  assert.is(server.address(), undefined);
  assert.equal(lines, []);
});

test('a port already taken leaves metrics off with one warning', async () => {
  const taken = createNetServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as AddressInfo).port;
  try {
    server = createMetricsServer(log, () => 'x 1\n');
    await server.restart(on(port));
    assert.is(server.address(), undefined);
    assert.equal(lines, [
      `warn metrics: cannot listen on 127.0.0.1:${port} (listen EADDRINUSE: address already in use 127.0.0.1:${port}); metrics off`,
    ]);
  } finally {
    await new Promise((r) => taken.close(r));
  }
});

test('a restarted server serves; stop frees its port', async () => {
  server = createMetricsServer(log, () => 'x 1\n');
  await server.restart(on());
  await server.restart(on());
  const second = server.address()!;
  assert.is((await get(second, '/metrics')).status, 200);
  await server.stop();
  assert.is(server.address(), undefined);
  await get(second, '/metrics').then(
    () => assert.unreachable('still listening after stop'),
    (e: NodeJS.ErrnoException) => assert.is(e.code, 'ECONNREFUSED'),
  );
});

test.run();
