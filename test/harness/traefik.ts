// Provides a fake Traefik API: a real node:http server on 127.0.0.1:0 that answers /api/rawdata and /api/version like
// Traefik's pkg/api handler (maps keyed by qualified name in name order, empty maps omitted, Go's HTML-escaping JSON
// encoder, http.Error-style errors, basic or bearer auth), plus per-path faults for error tests.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * What to do instead of (or on top of) the normal answer on one path. `status` or `body` replace the response
 * (a `body` alone is served as 200 application/json; a non-2xx `status` alone gets Go's `404 Not Found\n`-style text);
 * `contentType` and `headers` are set last; `delayMs` holds the response headers back; `dripBytesPerSec` sends the body slowly.
 */
export type Fault = {
  status?: number;
  body?: string;
  delayMs?: number;
  dripBytesPerSec?: number;
  contentType?: string;
  headers?: Record<string, string>;
};

/**
 * One request as the fake saw it; times are performance.now() of this process, so fakes can be compared. `closed` turns
 * true when the connection's response is over, written to the end (`answeredAt` set) or cut by the client.
 */
export type Hit = { readonly path: string; readonly receivedAt: number; answeredAt?: number; closed: boolean };

export type FakeTraefik = {
  url: string; // http://127.0.0.1:PORT/api
  /** Routers as /api/{http,tcp}/routers lists them (with `name`); rawdata keys them by name. */
  setRouters(kind: 'http' | 'tcp', routers: unknown[]): void;
  /** Services as /api/{http,tcp}/services lists them (with `name`, `serverStatus`…); rawdata keys them by name. */
  setServices(kind: 'http' | 'tcp', services: unknown[]): void;
  setVersion(v: string): void;
  setFault(path: string, fault: Fault | undefined): void; // path without query, e.g. '/api/rawdata'
  requests: string[]; // path + query of every request, in arrival order
  hits: Hit[]; // the same requests, with when each arrived and when its response was fully written
  close(): Promise<void>;
};

export type FakeOptions = {
  http?: unknown[];
  tcp?: unknown[];
  services?: unknown[];
  tcpServices?: unknown[];
  version?: string; // default 3.7.9
  auth?: { username: string; password: string } | { token: string };
};

type Reply = { status: number; headers: Record<string, string>; body: string };

const FIXTURES = new URL('../fixtures/traefik/', import.meta.url);

/** Parse test/fixtures/traefik/<relPath>, e.g. 'v3.7.9/pkg/api/testdata/routers.json'. */
export function loadFixture(relPath: string): unknown {
  return JSON.parse(readFileSync(new URL(relPath, FIXTURES), 'utf8'));
}

/** The list /api/{http,tcp}/routers would serve for a recorded /api/rawdata body (name and provider added, as the handler does).
 * The fake takes routers in this shape and turns them back into rawdata. */
export function listingFromRawdata(rawdata: unknown, kind: 'http' | 'tcp'): unknown[] {
  const routers = (rawdata as Record<string, Record<string, object> | undefined>)[kind === 'http' ? 'routers' : 'tcpRouters'] ?? {};
  return Object.entries(routers).map(([name, info]) => ({ ...info, name, provider: name.slice(name.indexOf('@') + 1) }));
}

/** Start a fake Traefik; close it in the suite's `after` hook. */
export async function startTraefik(opts: FakeOptions = {}): Promise<FakeTraefik> {
  const routers: Record<'http' | 'tcp', unknown[]> = { http: opts.http ?? [], tcp: opts.tcp ?? [] };
  const services: Record<'http' | 'tcp', unknown[]> = { http: opts.services ?? [], tcp: opts.tcpServices ?? [] };
  let version = opts.version ?? '3.7.9';
  const faults = new Map<string, Fault>();
  const requests: string[] = [];
  const hits: Hit[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const answer = (req: IncomingMessage): Reply => {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.method !== 'GET') return text(405, '405 method not allowed');
    if (opts.auth !== undefined && !isAuthorized(req.headers.authorization, opts.auth)) {
      const reply = text(401, '401 Unauthorized');
      reply.headers['www-authenticate'] = 'username' in opts.auth ? 'Basic realm="traefik"' : 'Bearer';
      return reply;
    }
    switch (url.pathname) {
      case '/api/version':
        return json({ Version: version, Codename: 'fake', startDate: '2025-01-01T00:00:00Z' });
      case '/api/rawdata':
        return json(rawdataFrom({ http: routers.http, tcp: routers.tcp, services: services.http, tcpServices: services.tcp }));
      default:
        return text(404, '404 page not found');
    }
  };

  const respond = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    const hit: Hit = { path, receivedAt: performance.now(), closed: false };
    requests.push(path);
    hits.push(hit);
    res.on('finish', () => (hit.answeredAt = performance.now()));
    res.on('close', () => (hit.closed = true));
    const fault = faults.get(new URL(path, 'http://fake').pathname);
    const reply = fault === undefined ? answer(req) : withFault(answer(req), fault);
    later(fault?.delayMs ?? 0, () => send(res, reply, fault?.dripBytesPerSec));
  };

  // Go's http server sends Content-Length only when the whole body fits its 2 KiB buffer, else it streams chunked.
  const send = (res: ServerResponse, reply: Reply, dripBytesPerSec: number | undefined) => {
    if (isGone(res)) return;
    const body = Buffer.from(reply.body);
    const headers = { ...reply.headers };
    if (body.length <= 2048 && !hasHeader(headers, 'content-length')) headers['content-length'] = String(body.length);
    res.writeHead(reply.status, headers);
    if (dripBytesPerSec === undefined) {
      res.write(body);
      res.end();
      return;
    }
    const tickMs = 50;
    const perTick = Math.max(1, Math.round((dripBytesPerSec * tickMs) / 1000));
    const drip = (offset: number) => {
      if (isGone(res)) return;
      if (offset >= body.length) return void res.end();
      res.write(body.subarray(offset, offset + perTick));
      later(tickMs, () => drip(offset + perTick));
    };
    drip(0);
  };

  const server = createServer(respond);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/api`,
    setRouters: (kind, list) => {
      routers[kind] = list;
    },
    setServices: (kind, list) => {
      services[kind] = list;
    },
    setVersion: (v) => {
      version = v;
    },
    setFault: (path, fault) => void (fault === undefined ? faults.delete(path) : faults.set(path, fault)),
    requests,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy(); // hanging requests must not hold close() up
      }),
  };
}

/** The /api/rawdata body of routers and services given as their listings show them (handler.go RunTimeRepresentation):
 * each kind a map by qualified name (Go sorts map keys), without name/provider/priorityStr, empty maps omitted. */
export function rawdataFrom(lists: {
  http?: unknown[];
  tcp?: unknown[];
  services?: unknown[];
  tcpServices?: unknown[];
}): Record<string, object> {
  const byName = (list: unknown[]) =>
    Object.fromEntries(
      [...list]
        .sort((a, b) => compare(String(field(a, 'name')), String(field(b, 'name'))))
        .map((r) => {
          const { name, provider: _provider, priorityStr: _priorityStr, ...info } = r as Record<string, unknown>;
          return [String(name), info];
        }),
    );
  const body: Record<string, object> = {};
  for (const [key, list] of [
    ['routers', lists.http],
    ['tcpRouters', lists.tcp],
    ['services', lists.services],
    ['tcpServices', lists.tcpServices],
  ] as const) {
    if (list !== undefined && list.length > 0) body[key] = byName(list);
  }
  return body;
}

function withFault(reply: Reply, fault: Fault): Reply {
  let result = reply;
  if (fault.body !== undefined) result = { status: fault.status ?? 200, headers: { 'content-type': 'application/json' }, body: fault.body };
  else if (fault.status !== undefined)
    result =
      fault.status < 300
        ? { ...reply, status: fault.status }
        : text(fault.status, `${fault.status} ${STATUS_CODES[fault.status] ?? ''}`.trim());
  const headers = { ...result.headers };
  if (fault.contentType !== undefined) headers['content-type'] = fault.contentType;
  for (const [key, value] of Object.entries(fault.headers ?? {})) headers[key.toLowerCase()] = value;
  return { ...result, headers };
}

function isAuthorized(header: string | undefined, auth: NonNullable<FakeOptions['auth']>): boolean {
  if ('token' in auth) return header === `Bearer ${auth.token}`;
  return header === `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
}

// encoding/json escapes <, >, & (and U+2028/9) inside strings unless told not to; Traefik's API never tells it.
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function json(value: unknown): Reply {
  return { status: 200, headers: { 'content-type': 'application/json' }, body: `${goJson(value)}\n` };
}

function text(status: number, body: string): Reply {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }, body: `${body}\n` };
}

// The client hung up (a timeout, a body cap): nothing more to write.
function isGone(res: ServerResponse): boolean {
  return res.destroyed || res.socket === null || res.socket.destroyed;
}

function field(router: unknown, key: string): unknown {
  return typeof router === 'object' && router !== null ? (router as Record<string, unknown>)[key] : undefined;
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((k) => k.toLowerCase() === name);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
