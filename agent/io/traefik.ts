// Fetch each cluster's routers from Traefik's API: /version (its default rule syntax), then every page of
// /http/routers and /tcp/routers. Every failure is one TraefikError line naming the cluster and the URL, never a credential.
// It neither logs nor retries: the caller keeps the cluster's last good snapshot (shared/DESIGN.md "Unreachable clusters").
import { readFile } from 'node:fs/promises';
import got, { RequestError, type Response } from 'got';
import type { ErrorObject } from 'ajv';
import { routersFromListing, syntaxFromVersion, type ListedRouter, type Rawdata } from '../core/traefik-body.js';
import type { Router, RouterKind, Syntax } from '../core/types.js';
import { TraefikError } from '../errors.js';
import { validateRawdata, validateRouterListing, validateVersion } from '../generated/validators.js';

export type ClusterAuth = { username: string; password?: string; passwordFile?: string } | { token?: string; tokenFile?: string };
export type ClusterTarget = {
  name: string;
  api: string; // where Traefik's /api lives, e.g. http://10.0.0.1:9000/api
  auth?: ClusterAuth;
  tls?: { ca?: string /* path to a PEM file */; insecureSkipVerify?: boolean };
  timeoutMs: number;
  syntax?: Syntax;
};
export type FetchOptions = {
  perPage?: number; // default 1000
  maxBodyBytes?: number; // default 16 MiB, per page
  maxPages?: number; // default 100, per listing
  maxRouters?: number; // default 100_000, per listing
};
export type ClusterRouters = {
  routers: Router[];
  syntax: Syntax; // default rule syntax: the server's major version, or target.syntax
  version?: string; // as /api/version said it; absent when target.syntax skipped the request
};
export type FetchResult = { ok: true; value: ClusterRouters } | { ok: false; error: TraefikError };

const DEFAULTS: Required<FetchOptions> = { perPage: 1000, maxBodyBytes: 16 * 1024 * 1024, maxPages: 100, maxRouters: 100_000 };

// Compiled from schemas/ by build.sh (allErrors: a bad body reports its first three problems, not only the first).
const validators = { 'router listing': validateRouterListing, rawdata: validateRawdata, version: validateVersion };
export type BodySchema = keyof typeof validators;

/** Every way `body` differs from its schema (`/0/name must be string`), or [] when it matches. */
export function schemaProblems(schema: BodySchema, body: unknown): string[] {
  const validate = validators[schema];
  return validate(body) ? [] : [...new Set((validate.errors ?? []).map(describeProblem))];
}

/** Fetch one cluster's HTTP and TCP routers (all pages) and its default rule syntax; rejects with a TraefikError. */
export async function fetchCluster(target: ClusterTarget, opts: FetchOptions = {}): Promise<ClusterRouters> {
  const limits: Required<FetchOptions> = {
    perPage: opts.perPage ?? DEFAULTS.perPage,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
    maxPages: opts.maxPages ?? DEFAULTS.maxPages,
    maxRouters: opts.maxRouters ?? DEFAULTS.maxRouters,
  };
  const client = await createClient(target, limits);
  // One request at a time: a cluster's fetch is a few LAN round trips, and the first failure is then always the same one.
  const version = target.syntax === undefined ? await fetchVersion(client) : undefined;
  const routers = [...(await fetchListing(client, 'http')), ...(await fetchListing(client, 'tcp'))];
  if (version === undefined) return { routers, syntax: target.syntax ?? 'v3' };
  return { routers, syntax: version.syntax, version: version.version };
}

/** Fetch every cluster at once; never rejects: each cluster gets its routers or its TraefikError. */
export async function fetchAll(targets: readonly ClusterTarget[], opts: FetchOptions = {}): Promise<Map<string, FetchResult>> {
  const results = await Promise.all(
    targets.map(async (target): Promise<[string, FetchResult]> => {
      try {
        return [target.name, { ok: true, value: await fetchCluster(target, opts) }];
      } catch (err) {
        const error = err instanceof TraefikError ? err : new TraefikError(`traefik[${target.name}]: ${oneLine(String(err))}`);
        return [target.name, { ok: false, error }];
      }
    }),
  );
  return new Map(results);
}

type Client = {
  readonly cluster: string;
  readonly base: string; // api URL without credentials or trailing slash; safe to print
  readonly headers: Record<string, string>;
  readonly https: { certificateAuthority?: string; rejectUnauthorized: boolean };
  readonly timeoutMs: number;
  /** Date.now() by which the whole fetch (version and every page) must be done. */
  readonly deadline: number;
  readonly limits: Required<FetchOptions>;
};

// Secrets and the CA are read at every fetch, so a rotated token or certificate needs no restart.
async function createClient(target: ClusterTarget, limits: Required<FetchOptions>): Promise<Client> {
  const cluster = target.name;
  let url: URL;
  try {
    url = new URL(target.api);
  } catch {
    throw new TraefikError(`traefik[${cluster}]: api is not a valid URL`);
  }
  // userinfo in the URL is honoured as basic auth but never printed
  const userinfo: ClusterAuth | undefined = url.username === '' ? undefined : { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  const base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  const fail = (what: string) => new TraefikError(`traefik[${cluster}]: ${base}: ${what}`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw fail('api must be an http or https URL');
  const read = async (label: string, path: string) => {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      throw fail(`cannot read ${label} ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  };
  const secret = async (label: string, path: string) => {
    const value = (await read(label, path)).replace(/[\r\n]+$/, '');
    if (value === '') throw fail(`${label} ${path} is empty`);
    return value;
  };

  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'routeagent' };
  const auth = target.auth ?? userinfo;
  if (auth !== undefined && 'username' in auth) {
    const password = auth.passwordFile !== undefined ? await secret('passwordFile', auth.passwordFile) : (auth.password ?? '');
    headers.authorization = `Basic ${Buffer.from(`${auth.username}:${password}`).toString('base64')}`;
  } else if (auth !== undefined) {
    const token = auth.tokenFile !== undefined ? await secret('tokenFile', auth.tokenFile) : auth.token;
    if (token === undefined || token === '') throw fail('auth has neither token nor tokenFile');
    headers.authorization = `Bearer ${token}`;
  }
  const https: Client['https'] = { rejectUnauthorized: target.tls?.insecureSkipVerify !== true };
  if (target.tls?.ca !== undefined) https.certificateAuthority = await read('tls.ca', target.tls.ca);
  // timeoutMs bounds the cluster's whole fetch, not each request: with pages, a per-request timeout would let a
  // slow Traefik hold the sync (and every other cluster's changes) up for maxPages × timeoutMs.
  return { cluster, base, headers, https, timeoutMs: target.timeoutMs, deadline: Date.now() + target.timeoutMs, limits };
}

async function fetchVersion(client: Client): Promise<{ syntax: Syntax; version: string }> {
  const url = `${client.base}/version`;
  const { body } = await getJson(client, url);
  const problems = schemaProblems('version', body);
  if (problems.length > 0) throw schemaError(client, url, 'version', problems);
  const version = (body as { Version: string }).Version;
  const syntax = syntaxFromVersion(version);
  if (syntax === undefined) throw requestError(client, url, `unsupported Traefik version ${JSON.stringify(version)}`);
  return { syntax, version };
}

// A listing that fits one page is one consistent answer. Traefik rebuilds and sorts the list for every request, though, so
// a router deleted while later pages are read shifts them and one router that still exists is never seen: a multi-page
// listing counts only when two complete reads agree on the router names (never plan from partial input).
const MAX_READS = 3;

async function fetchListing(client: Client, kind: RouterKind): Promise<Router[]> {
  let read = await readPages(client, kind);
  if (read.pages === 1) return [...read.byName.values()];
  for (let attempt = 1; attempt < MAX_READS; attempt++) {
    const again = await readPages(client, kind);
    if (sameNames(read.byName, again.byName)) return [...again.byName.values()];
    read = again;
  }
  throw requestError(client, `${client.base}/${kind}/routers`, `the router list changed between pages in each of ${MAX_READS} reads`);
}

function sameNames(a: ReadonlyMap<string, Router>, b: ReadonlyMap<string, Router>): boolean {
  if (a.size !== b.size) return false;
  for (const name of a.keys()) if (!b.has(name)) return false;
  return true;
}

// Follow X-Next-Page until it says "1" (Traefik's "last page") or is absent. A next page that does not move forward is a
// loop, and an error: the pages after it were never read. A reload between two requests can shift a router onto two
// pages: keep each name once.
async function readPages(client: Client, kind: RouterKind): Promise<{ byName: Map<string, Router>; pages: number }> {
  const { perPage, maxPages, maxRouters } = client.limits;
  const byName = new Map<string, Router>();
  for (let page = 1, fetched = 1; ; fetched++) {
    const url = `${client.base}/${kind}/routers?page=${page}&per_page=${perPage}`;
    const { body, nextPage } = await getJson(client, url);
    const problems = schemaProblems('router listing', body);
    if (problems.length > 0) throw schemaError(client, url, 'router listing', problems);
    for (const router of routersFromListing(kind, body as ListedRouter[])) byName.set(router.name, router);
    if (byName.size > maxRouters) throw requestError(client, url, `more than ${maxRouters} routers`);
    if (nextPage === undefined || nextPage === '1') return { byName, pages: fetched };
    if (!/^\d+$/.test(nextPage)) throw requestError(client, url, `X-Next-Page ${JSON.stringify(nextPage)} is not a page number`);
    const next = Number(nextPage);
    if (next <= page) throw requestError(client, url, `pagination loops (X-Next-Page ${next} after page ${page})`);
    if (fetched >= maxPages) throw requestError(client, url, `pagination did not end after ${maxPages} pages`);
    page = next;
  }
}

// Streams the body so an oversized one is dropped at the cap instead of being buffered whole.
async function getJson(client: Client, url: string): Promise<{ body: unknown; nextPage: string | undefined }> {
  const { maxBodyBytes } = client.limits;
  const tooLarge = () => requestError(client, url, `body larger than ${maxBodyBytes} bytes`);
  const remainingMs = client.deadline - Date.now();
  if (remainingMs <= 0) throw requestError(client, url, `timed out after ${client.timeoutMs} ms`);
  const stream = got.stream(url, {
    headers: client.headers,
    https: client.https,
    timeout: { request: remainingMs }, // covers the whole exchange, body included
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false, // a redirect must not carry the Authorization header elsewhere
    decompress: false, // so the byte cap counts what JSON.parse will see
  });
  stream.on('error', () => undefined); // errors are read below; this only keeps a late one from going unhandled
  let text: string;
  let response: Response;
  try {
    response = await new Promise<Response>((resolve, reject) => {
      stream.once('response', resolve);
      stream.once('error', reject);
    });
    if (response.statusCode < 200 || response.statusCode > 299) {
      throw requestError(client, url, `${response.statusCode} ${response.statusMessage ?? ''}`.trim());
    }
    if (Number(response.headers['content-length']) > maxBodyBytes) throw tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBodyBytes) throw tooLarge();
      chunks.push(chunk);
    }
    text = Buffer.concat(chunks).toString('utf8');
  } catch (err) {
    throw err instanceof TraefikError ? err : requestError(client, url, describeFailure(client, err));
  } finally {
    stream.destroy();
  }
  const nextPage = response.headers['x-next-page'];
  try {
    return { body: JSON.parse(text), nextPage: Array.isArray(nextPage) ? nextPage[0] : nextPage };
  } catch (err) {
    throw requestError(client, url, `body is not JSON (${(err as Error).message})`);
  }
}

// The request's own error is not kept as `cause`: got errors carry the request options, Authorization header included.
function requestError(client: Client, url: string, what: string): TraefikError {
  return new TraefikError(oneLine(`traefik[${client.cluster}]: GET ${url}: ${what}`));
}

function schemaError(client: Client, url: string, schema: BodySchema, problems: readonly string[]): TraefikError {
  const more = problems.length > 3 ? `; and ${problems.length - 3} more` : '';
  return requestError(client, url, `body does not match the ${schema} schema: ${problems.slice(0, 3).join('; ')}${more}`);
}

function describeProblem(e: ErrorObject): string {
  return `${e.instancePath || '/'} ${e.message ?? e.keyword}`;
}

const SOCKET_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS lookup timed out)',
};

function describeFailure(client: Client, err: unknown): string {
  if (!(err instanceof RequestError)) return String(err);
  if (err.name === 'TimeoutError') return `timed out after ${client.timeoutMs} ms`;
  const known = SOCKET_ERRORS[err.code];
  if (known !== undefined) return known;
  if (/CERT|SELF_SIGNED|TLS|SSL/.test(err.code)) return `TLS: ${err.message} (${err.code})`;
  return err.message;
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ');
}
