// Tiny local upstreams that answer with their own name (HTTP, and TLS with a self-signed cert made once by openssl),
// plus httpGet/tlsName, which make real requests through HAProxy and return which upstream answered.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer, connect as tlsConnect } from 'node:tls';
import { WAIT_MS } from './wait.js';

export type Upstream = { readonly name: string; readonly port: number; close(): Promise<void> };

/** An HTTP server on 127.0.0.1 (`port`, or a free one) that answers every request with 200, `x-upstream: <name>` and body `<name>`. */
export async function startHttpUpstream(name: string, port = 0): Promise<Upstream> {
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name });
    res.end(name);
  });
  return listen(name, server, port);
}

/** A TLS server on 127.0.0.1 (`port`, or a free one) that writes `<name>` after the handshake and closes. */
export async function startTlsUpstream(name: string, port = 0): Promise<Upstream> {
  const { key, cert } = await selfSignedCert();
  const server = createTlsServer({ key, cert }, (socket) => socket.end(name));
  return listen(name, server, port);
}

/** GET / through HAProxy with a Host header; the name of the upstream that answered, or `status <code>` when HAProxy did. */
export function httpGet(port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => {
        const upstream = res.headers['x-upstream'];
        resolve(typeof upstream === 'string' ? upstream : `status ${res.statusCode}`);
      });
    });
    req.setTimeout(WAIT_MS, () => req.destroy(new Error(`GET http://127.0.0.1:${port}/ (Host ${host}): no answer in ${WAIT_MS / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}

/** Open TLS through HAProxy with this SNI; the name the upstream wrote, or null when the connection was closed without one. */
export function tlsName(port: number, sni: string): Promise<string | null> {
  return new Promise((resolve) => {
    let data = '';
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: sni, rejectUnauthorized: false });
    socket.setTimeout(WAIT_MS, () => socket.destroy()); // a silence read as "no upstream" must not come from load
    socket.on('data', (d: Buffer) => (data += d.toString()));
    socket.on('close', () => resolve(data === '' ? null : data));
    socket.on('error', () => undefined); // a reset or closed handshake reads as "no upstream"
  });
}

let certOnce: Promise<{ key: Buffer; cert: Buffer }> | undefined;

function selfSignedCert(): Promise<{ key: Buffer; cert: Buffer }> {
  certOnce ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'routeagent-cert-'));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    await new Promise<void>((resolve, reject) =>
      execFile(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          key,
          '-out',
          cert,
          '-days',
          '2',
          '-subj',
          '/CN=upstream.test',
        ],
        (err, _o, stderr) => (err ? reject(new Error(`openssl req failed: ${stderr}`)) : resolve()),
      ),
    );
    const pair = { key: await readFile(key), cert: await readFile(cert) };
    await rm(dir, { recursive: true, force: true });
    return pair;
  })();
  return certOnce;
}

function listen(name: string, server: HttpServer | TlsServer, port: number): Promise<Upstream> {
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      const close = () =>
        new Promise<void>((done) => {
          if ('closeAllConnections' in server) server.closeAllConnections();
          server.close(() => done());
        });
      resolve({ name, port, close });
    });
  });
}
