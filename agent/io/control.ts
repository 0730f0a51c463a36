// The control socket: one per set of maps, `.routeagent.sock` beside the `hosts` map. Binding it is the lock (a second
// agent cannot bind), and `connect` tells a live holder from a file its dead owner left, which is taken over. The CLI asks
// the holder over it (hello, sync, status) and never signals a pid read from a file: a pid can be reused, a socket cannot.
// Protocol: one request per connection, one JSON line each way: {"op":"hello"|"status"} or {"op":"sync","force":bool} →
// {"ok":true,"result":…} or {"ok":false,"error":"…"}. What a sync or a status *means* is the caller's business.

import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { AgentError } from '../errors.js';

export type Role = 'daemon' | 'sync';
export type Hello = { readonly pid: number; readonly role: Role; readonly version: string };
export type Request = { readonly op: 'hello' } | { readonly op: 'status' } | { readonly op: 'sync'; readonly force: boolean };
/** What the holder answers besides hello; an op without a handler gets an error reply. */
export type Handlers = { readonly sync?: (force: boolean) => Promise<unknown>; readonly status?: () => Promise<unknown> };
export type Control = {
  readonly path: string;
  /** Start answering sync/status; requests that arrive before this wait for it (hello is answered at once). */
  serve(handlers: Handlers): void;
  /** Stop listening and remove the socket. */
  release(): Promise<void>;
};
/** Either we hold the socket now, or a live agent does (and said who it is). */
export type Held = { readonly kind: 'held'; readonly control: Control } | { readonly kind: 'busy'; readonly holder: Hello };

// FreeBSD's sockaddr_un.sun_path is 104 bytes, NUL included; Node silently truncates a longer path (Linux allows 108).
const MAX_PATH_BYTES = 103;
const MAX_LINE_BYTES = 64 * 1024;
/** A client that connects and says nothing is dropped after this long. */
const IDLE_MS = 10_000;
const HELLO_MS = 5_000;
/**
 * Waits before asking again when a connect is refused (ECONNREFUSED) or the listen queue is full (EAGAIN, Linux). FreeBSD
 * answers ECONNREFUSED when a live holder's listen queue is full (a daemon busy in a sync): only a refusal that lasts
 * through all of these (about 1.5 s) means nobody listens.
 */
const RETRY_DELAYS_MS = [50, 100, 200, 400, 800];

export function controlPathFor(mapPath: string): string {
  return join(dirname(mapPath), '.routeagent.sock');
}

/** `another routeagent (pid 4711)` or `a one-shot routeagent sync (pid 4711)`, for messages about a holder. */
export function describeHolder(h: Hello): string {
  return h.role === 'sync' ? `a one-shot routeagent sync (pid ${h.pid})` : `another routeagent (pid ${h.pid})`;
}

/** Validate one request line; a string is the reason it is not a request. */
export function parseRequest(line: string): Request | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const { op, force } = value as Record<string, unknown>;
  if (op === 'hello' || op === 'status') return { op };
  if (op === 'sync')
    return typeof force === 'boolean' || force === undefined ? { op, force: force ?? false } : '"force" must be true or false';
  return `unknown op ${JSON.stringify(op) ?? 'undefined'} (expected "hello", "sync" or "status")`;
}

/**
 * Bind the socket (the lock) or learn who holds it. A file nobody listens on is stale: removed and bound again; a racer
 * that binds first is then the live holder.
 */
export async function holdControl(path: string, hello: Hello): Promise<Held> {
  checkPathLength(path);
  await mkdir(dirname(path), { recursive: true }).catch((e: unknown) => {
    throw cannotCreate(path, e);
  });
  for (let attempt = 0; attempt < 3; attempt++) {
    const served = servedRequests(hello);
    const bound = await bind(served.server, path);
    if (bound === true) {
      await chmod(path, 0o600).catch(async (e: unknown) => {
        await closeServer(served.server);
        throw cannotCreate(path, e);
      });
      const release = async () => {
        const closed = closeServer(served.server);
        served.dropUnanswered();
        await closed;
      };
      return { kind: 'held', control: { path, serve: served.serve, release } };
    }
    if (bound.code !== 'EADDRINUSE') throw cannotCreate(path, bound);
    const holder = await liveHolder(path);
    if (holder !== undefined) return { kind: 'busy', holder };
  }
  throw new AgentError('ERR_CONTROL', `control socket ${path}: could not be taken (another agent keeps replacing it); exiting`);
}

/**
 * Send one request to the holder and return its result; undefined when nobody holds the socket (no file, or a stale one).
 * Throws an AgentError naming the socket for an error reply, a closed connection or no answer within `timeoutMs`.
 */
export async function askControl(path: string, request: Request, timeoutMs: number): Promise<unknown> {
  checkPathLength(path);
  const reply = await exchangeRetrying(path, `${JSON.stringify(request)}\n`, timeoutMs);
  if (reply === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(reply);
  } catch {
    throw new AgentError(
      'ERR_CONTROL',
      `control socket ${path}: ${request.op}: the holder answered something that is not JSON; nothing done`,
    );
  }
  const r = parsed as { ok?: unknown; result?: unknown; error?: unknown };
  if (r.ok === true) return r.result;
  throw new AgentError('ERR_CONTROL', `control socket ${path}: ${request.op}: ${typeof r.error === 'string' ? r.error : 'refused'}`);
}

function checkPathLength(path: string): void {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_PATH_BYTES) {
    throw new AgentError(
      'ERR_CONTROL',
      `control socket ${path}: path is ${bytes} bytes, more than the ${MAX_PATH_BYTES} a unix socket allows (FreeBSD); move the maps to a shorter folder`,
    );
  }
}

function cannotCreate(path: string, e: unknown): AgentError {
  return new AgentError(
    'ERR_CONTROL',
    `control socket ${path}: cannot create (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
  );
}

/** The live holder's hello, or undefined when the file is stale (and then removed, unless it changed meanwhile). */
async function liveHolder(path: string): Promise<Hello | undefined> {
  const before = await lstat(path).catch(() => undefined);
  if (before === undefined) return undefined; // gone already: bind again
  try {
    const hello = await helloOf(path);
    if (isHello(hello)) return hello;
    if (hello !== undefined) throw new AgentError('ERR_CONTROL', 'its hello is not a routeagent hello');
  } catch (e) {
    if (!(e instanceof AgentError)) throw e;
    // It accepted the connection, so something lives there, even if it does not answer as a routeagent does.
    const why = e.message.replace(`control socket ${path}: `, '');
    throw new AgentError(
      'ERR_LOCKED',
      `control socket ${path}: held by a process that does not answer as routeagent does (${why}); exiting`,
    );
  }
  // Stale. Remove only the file judged stale: a racer may have replaced it with its own live socket meanwhile.
  const now = await lstat(path).catch(() => undefined);
  if (now !== undefined && now.ino === before.ino && now.dev === before.dev) await unlink(path).catch(() => undefined);
  return undefined;
}

// A holder that is ending (a one-shot sync that just finished) drops the connections it has not answered as it closes:
// ask again, as for a refused connect, until it answers, its file is gone, or it keeps dropping every attempt.
async function helloOf(path: string): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await askControl(path, { op: 'hello' }, HELLO_MS);
    } catch (e) {
      const delay = RETRY_DELAYS_MS[attempt];
      if (!(e instanceof AgentError) || e.code !== DROPPED || delay === undefined) throw e;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

function isHello(v: unknown): v is Hello {
  const h = v as Hello;
  return typeof h === 'object' && h !== null && Number.isInteger(h.pid) && (h.role === 'daemon' || h.role === 'sync');
}

function bind(server: Server, path: string): Promise<true | NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    const failed = (e: NodeJS.ErrnoException) => resolve(e);
    server.once('error', failed);
    server.listen(path, () => {
      server.off('error', failed);
      // A failed accept (EMFILE, …) must not kill the agent; the client sees its connection fail and may ask again.
      server.on('error', () => undefined);
      resolve(true);
    });
  });
}

// Node unlinks a unix socket's file when its server closes; close() waits for the open connections to end.
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * The server side: parse each request, answer hello at once, the rest once `serve` has been called.
 * dropUnanswered closes the connections still waiting for an answer (on release, so that close() can end).
 */
function servedRequests(hello: Hello): { server: Server; serve: (h: Handlers) => void; dropUnanswered: () => void } {
  let ready: (h: Handlers) => void = () => undefined;
  const handlers = new Promise<Handlers>((resolve) => (ready = resolve));
  const answer = async (req: Request): Promise<unknown> => {
    if (req.op === 'hello') return hello;
    const h = await handlers;
    const handler = req.op === 'sync' ? h.sync && (() => h.sync!(req.force)) : h.status;
    if (!handler)
      throw new AgentError(
        'ERR_CONTROL',
        `a ${hello.role === 'sync' ? 'one-shot routeagent sync' : 'routeagent daemon'} (pid ${hello.pid}) does not take ${req.op} requests`,
      );
    return handler();
  };
  const unanswered = new Set<Socket>();
  const server = createServer((conn) => {
    unanswered.add(conn);
    conn.once('close', () => unanswered.delete(conn));
    void serveConnection(conn, answer).finally(() => unanswered.delete(conn));
  });
  const dropUnanswered = () => {
    for (const conn of unanswered) conn.destroy();
  };
  return { server, serve: ready, dropUnanswered };
}

async function serveConnection(conn: Socket, answer: (req: Request) => Promise<unknown>): Promise<void> {
  conn.on('error', () => undefined); // a client that went away: nobody left to answer
  conn.setTimeout(IDLE_MS, () => conn.destroy());
  const line = await readLine(conn);
  if (line === undefined) return void conn.destroy();
  conn.setTimeout(0); // a sync may take a while; the client sets its own deadline
  const req = parseRequest(line);
  let reply: object;
  if (typeof req === 'string') {
    reply = { ok: false, error: `bad request: ${req}` };
  } else {
    reply = await answer(req).then(
      (result) => ({ ok: true, result: result ?? null }),
      (e: unknown) => ({ ok: false, error: e instanceof AgentError ? e.message : `internal error: ${(e as Error)?.message ?? String(e)}` }),
    );
  }
  if (!conn.destroyed) conn.end(`${JSON.stringify(reply)}\n`);
}

/** The first line a peer sends (without its newline); undefined if it closes first or sends too much. */
function readLine(conn: Socket): Promise<string | undefined> {
  return new Promise((resolve) => {
    let buf = '';
    const done = (v: string | undefined) => {
      conn.off('data', onData);
      resolve(v);
    };
    const onData = (d: Buffer) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(buf.slice(0, nl));
      else if (buf.length > MAX_LINE_BYTES) done(undefined);
    };
    conn.on('data', onData);
    conn.once('end', () => done(undefined));
    conn.once('close', () => done(undefined));
  });
}

/**
 * exchange, asked again with backoff while the connect is refused or the queue is full: undefined when nobody listens (no
 * file, or refused every time). A queue that stays full is a live holder that cannot answer now: an error, never "stale".
 */
async function exchangeRetrying(path: string, text: string, timeoutMs: number): Promise<string | undefined> {
  for (let attempt = 0; ; attempt++) {
    const reply = await exchange(path, text, timeoutMs);
    if (reply.kind === 'line') return reply.line;
    if (reply.kind === 'ENOENT') return undefined;
    const delay = RETRY_DELAYS_MS[attempt];
    if (delay === undefined) {
      if (reply.kind === 'ECONNREFUSED') return undefined;
      throw new AgentError(
        'ERR_CONTROL',
        `control socket ${path}: its listen queue stayed full (EAGAIN) for ${RETRY_DELAYS_MS.length + 1} attempts`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** The holder took the connection and dropped it unanswered: it was closing its socket (a holder that ends), or it crashed. */
const DROPPED = 'ERR_CONTROL_DROPPED';

type Exchanged = { readonly kind: 'line'; readonly line: string } | { readonly kind: 'ENOENT' | 'ECONNREFUSED' | 'EAGAIN' };
const NOT_CONNECTED = new Set(['ENOENT', 'ECONNREFUSED', 'EAGAIN']);

/** Send `text`, return the first line of the reply, or the connect error that says nobody (or nobody now) takes it. */
function exchange(path: string, text: string, timeoutMs: number): Promise<Exchanged> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      f();
    };
    const fail = (why: string, code = 'ERR_CONTROL') => settle(() => reject(new AgentError(code, `control socket ${path}: ${why}`)));
    const timer = setTimeout(() => fail(`no answer within ${Math.round(timeoutMs / 1000)} s`), timeoutMs);
    const conn = createConnection(path, () => conn.write(text));
    conn.on('error', (e: NodeJS.ErrnoException) => {
      const code = e.code;
      if (code !== undefined && NOT_CONNECTED.has(code) && !conn.bytesWritten)
        settle(() => resolve({ kind: code as 'ENOENT' | 'ECONNREFUSED' | 'EAGAIN' }));
      else fail(`${code ?? e.message}`, code === 'ECONNRESET' || code === 'EPIPE' ? DROPPED : 'ERR_CONTROL');
    });
    void readLine(conn).then((line) =>
      line === undefined
        ? fail('the holder closed the connection without an answer', DROPPED)
        : settle(() => resolve({ kind: 'line', line })),
    );
  });
}
