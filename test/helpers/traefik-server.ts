// Provides a fake Traefik API: a real node:http server on 127.0.0.1:0 that answers like Traefik's pkg/api handler
// (page/per_page, X-Next-Page with "1" on the last page, 400 beyond the end, name order, search/status filters,
// Go's HTML-escaping JSON encoder, http.Error-style errors, basic or bearer auth), plus per-path faults for error tests.
import { readFileSync } from 'node:fs';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
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
  setRouters(kind: 'http' | 'tcp', routers: unknown[]): void;
  setVersion(v: string): void;
  setFault(path: string, fault: Fault | undefined): void; // path without query, e.g. '/api/http/routers'
  requests: string[]; // path + query of every request, in arrival order
  hits: Hit[]; // the same requests, with when each arrived and when its response was fully written
  close(): Promise<void>;
};

export type FakeOptions = {
  http?: unknown[];
  tcp?: unknown[];
  version?: string; // default 3.7.9
  auth?: { username: string; password: string } | { token: string };
};

type Reply = { status: number; headers: Record<string, string>; body: string };

const FIXTURES = new URL('../fixtures/traefik/', import.meta.url);

/** Parse test/fixtures/traefik/<relPath>, e.g. 'v3.7.9/pkg/api/testdata/routers.json'. */
export function loadFixture(relPath: string): unknown {
  return JSON.parse(readFileSync(new URL(relPath, FIXTURES), 'utf8'));
}

/** The list /api/{http,tcp}/routers would serve for a recorded /api/rawdata body (name and provider added, as the handler does). */
export function listingFromRawdata(rawdata: unknown, kind: 'http' | 'tcp'): unknown[] {
  const routers = (rawdata as Record<string, Record<string, object> | undefined>)[kind === 'http' ? 'routers' : 'tcpRouters'] ?? {};
  return Object.entries(routers).map(([name, info]) => ({ ...info, name, provider: name.slice(name.indexOf('@') + 1) }));
}

/** Start a fake Traefik; close it in the suite's `after` hook. */
export async function startTraefik(opts: FakeOptions = {}): Promise<FakeTraefik> {
  const routers: Record<'http' | 'tcp', unknown[]> = { http: opts.http ?? [], tcp: opts.tcp ?? [] };
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
        return json(rawdataOf(routers));
      case '/api/http/routers':
        return listing(routers.http, url.searchParams);
      case '/api/tcp/routers':
        return listing(routers.tcp, url.searchParams);
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
    setRouters: (kind, list) => void (routers[kind] = list),
    setVersion: (v) => void (version = v),
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

// pkg/api/criterion.go: defaults 1/100, a non-integer or ≤0 value is 400 "invalid request: page: 0", a page past the end
// is 400, X-Next-Page is page+1 while page*per_page < total, else "1". search matches name or rule; status is equality.
function listing(all: unknown[], query: URLSearchParams): Reply {
  const search = (query.get('search') ?? '').toLowerCase();
  const status = (query.get('status') ?? '').toLowerCase();
  const matching = all
    .filter((r) => status === '' || String(field(r, 'status')).toLowerCase() === status)
    .filter((r) => search === '' || [field(r, 'name'), field(r, 'rule')].some((v) => typeof v === 'string' && v.toLowerCase().includes(search)))
    .sort((a, b) => compare(String(field(a, 'name')), String(field(b, 'name'))));
  const perPage = intParam(query, 'per_page', 100);
  if (typeof perPage === 'string') return goError(400, perPage);
  const page = intParam(query, 'page', 1);
  if (typeof page === 'string') return goError(400, page);
  const start = (page - 1) * perPage;
  if (start !== 0 && start >= matching.length) return goError(400, `invalid request: page: ${page}, per_page: ${perPage}`);
  const reply = json(matching.slice(start, start + perPage));
  reply.headers['x-next-page'] = String(page * perPage < matching.length ? page + 1 : 1);
  return reply;
}

function intParam(query: URLSearchParams, key: string, fallback: number): number | string {
  const raw = query.get(key) ?? '';
  if (raw === '') return fallback;
  const value = /^[+-]?\d+$/.test(raw) ? Number(raw) : 0; // Go's strconv.Atoi; on error the value printed is 0
  return value > 0 ? value : `invalid request: ${key}: ${value}`;
}

function rawdataOf(routers: Record<'http' | 'tcp', unknown[]>): object {
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
  if (routers.http.length > 0) body.routers = byName(routers.http);
  if (routers.tcp.length > 0) body.tcpRouters = byName(routers.tcp);
  return body;
}

function withFault(reply: Reply, fault: Fault): Reply {
  let result = reply;
  if (fault.body !== undefined) result = { status: fault.status ?? 200, headers: { 'content-type': 'application/json' }, body: fault.body };
  else if (fault.status !== undefined) result = fault.status < 300 ? { ...reply, status: fault.status } : text(fault.status, `${fault.status} ${STATUS_CODES[fault.status] ?? ''}`.trim());
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

// Traefik's writeError: json.Marshal({message}) through http.Error, so the body is JSON but the type is text/plain.
function goError(status: number, message: string): Reply {
  return text(status, goJson({ message }));
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
