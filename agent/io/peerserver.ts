// The `GET /v1/state` server a node of a CARP pair answers its peer on (`ha.listen`): bearer token compared in constant
// time, 401 otherwise, 404 for any other path. What it serves is the caller's (state()); this file only guards the door.
// Nothing here reads a file: the token and the state are the caller's, kept in memory, so a request costs no I/O and an
// unreadable token file is answered 503 without a log line per request (the caller says so once).
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { PeerState } from '../core/peerstate.js';
import type { Log } from '../log.js';

export type PeerServer = { readonly address: string; close(): Promise<void> };

/** Listen on `address:port`; resolves once listening, or with undefined after logging why it cannot. */
export async function servePeerState(
  listen: { address: string; port: number },
  /** The shared secret, or undefined while this node cannot read it. */
  token: () => string | undefined,
  /** The document to serve, or undefined while this node holds no maps its own pipeline produced. */
  state: () => PeerState | undefined,
  log: Log,
): Promise<PeerServer | undefined> {
  const server = createServer((req, res) => {
    const { status, body } = answer(req.method, req.url, req.headers.authorization, token, state);
    res
      .writeHead(status, {
        'content-type': status === 200 ? 'application/json' : 'text/plain',
        ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {}),
      })
      .end(body);
  });
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

/** Why a node answers 503: the peer then keeps its maps and says this. */
export const NO_TOKEN = 'this node cannot read its ha.tokenFile';
export const NO_MAPS = 'this node holds no maps from a sync that ended without error yet';

function answer(
  method: string | undefined,
  url: string | undefined,
  authorization: string | undefined,
  token: () => string | undefined,
  state: () => PeerState | undefined,
): { status: number; body: string } {
  if ((url ?? '').split('?')[0] !== '/v1/state') return { status: 404, body: 'not found: try GET /v1/state\n' };
  if (method !== 'GET') return { status: 405, body: 'only GET\n' };
  const secret = token();
  if (secret === undefined) return { status: 503, body: `${NO_TOKEN}\n` };
  if (!sameSecret(authorization ?? '', `Bearer ${secret}`)) return { status: 401, body: 'unauthorized\n' };
  const doc = state();
  if (!doc) return { status: 503, body: `${NO_MAPS}\n` };
  return { status: 200, body: JSON.stringify(doc) };
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
