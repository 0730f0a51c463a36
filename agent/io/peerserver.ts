// The `GET /v1/state` server a node of a CARP pair answers its peer on (`ha.listen`): bearer token compared in constant
// time, 401 otherwise, 404 for any other path. What it serves is the caller's (state()); this file only guards the door.
import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { PeerState } from '../core/peerstate.js';
import type { Log } from '../log.js';

export type PeerServer = { readonly address: string; close(): Promise<void> };

/** Listen on `address:port`; resolves once listening, or with undefined after logging why it cannot. */
export async function servePeerState(
  listen: { address: string; port: number },
  token: () => Promise<string>,
  state: () => Promise<PeerState>,
  log: Log,
): Promise<PeerServer | undefined> {
  const server = createServer((req, res) => void answer(req.method, req.url, req.headers.authorization, token, state).then(({ status, body }) => {
    res.writeHead(status, { 'content-type': status === 200 ? 'application/json' : 'text/plain', ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {}) }).end(body);
  }, (e: Error) => {
    log.warn(`ha: GET /v1/state failed (${e.message}); answered 500`);
    res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error\n');
  }));
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', (e) => {
      log.warn(`ha: cannot listen on ${listen.address}:${listen.port} (${e.message}); the peer cannot mirror or compare this node`);
      resolve(false);
    });
    server.listen(listen.port, listen.address, () => resolve(true));
  });
  if (!ok) return undefined;
  server.removeAllListeners('error');
  server.on('error', (e) => log.warn(`ha: peer server: ${e.message}; still serving`));
  const a = server.address();
  const address = a && typeof a === 'object' ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : String(a);
  log.info(`ha: answering the peer on http://${address}/v1/state`);
  return { address, close: () => closeServer(server) };
}

async function answer(
  method: string | undefined,
  url: string | undefined,
  authorization: string | undefined,
  token: () => Promise<string>,
  state: () => Promise<PeerState>,
): Promise<{ status: number; body: string }> {
  if ((url ?? '').split('?')[0] !== '/v1/state') return { status: 404, body: 'not found: try GET /v1/state\n' };
  if (method !== 'GET') return { status: 405, body: 'only GET\n' };
  if (!sameSecret(authorization ?? '', `Bearer ${await token()}`)) return { status: 401, body: 'unauthorized\n' };
  return { status: 200, body: JSON.stringify(await state()) };
}

// Digests first: timingSafeEqual needs equal lengths, and comparing lengths would tell an attacker the token's size.
function sameSecret(given: string, expected: string): boolean {
  const h = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(h(given), h(expected));
}

function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((r) => server.close(() => r()));
  server.closeAllConnections();
  return closed;
}
