// Fetch each cluster's routers and service health from Traefik's API in one consistent read: GET /rawdata, which holds
// routers and services in one unpaginated answer; /version (the default rule syntax) only when the cluster is first
// reached, comes back or moves. An answer byte-identical to the last good one is not parsed again: the last value is
// returned as it was. Every failure is one TraefikError line naming the cluster and the URL, never a credential.
// It neither logs nor retries: the caller keeps the cluster's last good snapshot (README "What happens when…").
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import type { ErrorObject } from 'ajv';
import got, { RequestError, type Response } from 'got';
import { type Rawdata, reportsTcpServerStatus, routersFromRawdata, serviceHealth, syntaxFromVersion } from '../core/traefik-body.js';
import type { Auth, Cluster, Router, ServiceHealth, Syntax } from '../core/types.js';
import { TraefikError } from '../errors.js';
import { validateRawdata, validateVersion } from '../generated/validators.js';

/** What of a cluster the client reads: `api` is where Traefik's /api lives (http://10.0.0.1:9000/api), `tls.ca` a PEM file. */
export type ClusterTarget = Pick<Cluster, 'name' | 'api' | 'auth' | 'tls' | 'timeoutMs' | 'syntax'>;
export type FetchOptions = {
  maxBodyBytes?: number; // default 64 MiB: /rawdata of ~100,000 routers with their services (~560 bytes each)
};
/** What a read is known by: all fetchCluster needs of the last one. */
export type ReadMark = {
  readonly syntax: Syntax; // default rule syntax: the server's major version, or target.syntax
  readonly version?: string; // as /api/version said it (now or at an earlier read); absent when target.syntax skips the request
  readonly api: string; // target.api of this read: another api is another server, whose version is read again
  readonly digest: string; // sha256 of the /rawdata body
};
/** A new answer, parsed. */
export type ClusterRouters = ReadMark & { readonly routers: Router[]; readonly services: ServiceHealth };
/** A cluster's new answer, or the `last` mark handed in, as it was, when the answer is identical to that read. */
export type FetchResult = { ok: true; value: ClusterRouters | ReadMark } | { ok: false; error: TraefikError };

const DEFAULTS: Required<FetchOptions> = { maxBodyBytes: 64 * 1024 * 1024 };

// Compiled from schemas/ by build.sh (allErrors: a bad body reports its first three problems, not only the first).
const validators = { rawdata: validateRawdata, version: validateVersion };
export type BodySchema = keyof typeof validators;

/** Every way `body` differs from its schema (`/routers/a@p/rule must be string`), or [] when it matches. */
export function schemaProblems(schema: BodySchema, body: unknown): string[] {
  const validate = validators[schema];
  return validate(body) ? [] : [...new Set((validate.errors ?? []).map(describeProblem))];
}

/**
 * Fetch one cluster's routers, service health and default rule syntax; rejects with a TraefikError. `last` marks the
 * cluster's last good read: its version stands while the api is the same, and when the answer is byte-identical
 * `last` itself is returned, unparsed, so the caller can reuse what it derived from that read.
 */
export async function fetchCluster(target: ClusterTarget, opts?: FetchOptions): Promise<ClusterRouters>;
export async function fetchCluster(
  target: ClusterTarget,
  opts: FetchOptions,
  last: ReadMark | undefined,
): Promise<ClusterRouters | ReadMark>;
export async function fetchCluster(target: ClusterTarget, opts: FetchOptions = {}, last?: ReadMark): Promise<ClusterRouters | ReadMark> {
  const client = await createClient(target, { maxBodyBytes: opts.maxBodyBytes ?? DEFAULTS.maxBodyBytes });
  const known =
    last !== undefined && last.api === target.api && last.version !== undefined
      ? { syntax: last.syntax, version: last.version }
      : undefined;
  // One request at a time: a cluster's fetch is a LAN round trip or two, and the first failure is then always the same one.
  const version = target.syntax === undefined ? (known ?? (await fetchVersion(client))) : undefined;
  const syntax = target.syntax ?? version!.syntax;
  const url = `${client.base}/rawdata`;
  // Not destructured: reading `text` decodes the body, which an unchanged answer never needs.
  const answer = await getBody(client, url);
  const digest = answer.digest;
  if (last !== undefined && digest === last.digest && syntax === last.syntax && last.api === target.api) return last;
  const body = parseJson(client, url, answer.text);
  const problems = schemaProblems('rawdata', body);
  if (problems.length > 0) throw schemaError(client, url, 'rawdata', problems);
  const rawdata = body as Rawdata;
  const routers = routersFromRawdata(rawdata);
  const services = serviceHealth(rawdata, reportsTcpServerStatus(version?.version));
  return { routers, services, syntax, ...(version ? { version: version.version } : {}), api: target.api, digest };
}

/** Fetch every cluster at once; never rejects: each cluster gets its routers or its TraefikError. `last`: by cluster name. */
export async function fetchAll(
  targets: readonly ClusterTarget[],
  opts: FetchOptions = {},
  last: ReadonlyMap<string, ReadMark> = new Map(),
): Promise<Map<string, FetchResult>> {
  const results = await Promise.all(
    targets.map(async (target): Promise<[string, FetchResult]> => {
      try {
        return [target.name, { ok: true, value: await fetchCluster(target, opts, last.get(target.name)) }];
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
  /** Date.now() by which the whole fetch (version and rawdata) must be done. */
  readonly deadline: number;
  readonly maxBodyBytes: number;
};

// Secrets and the CA are read at every fetch, so a rotated token or certificate needs no restart.
async function createClient(target: ClusterTarget, limits: { maxBodyBytes: number }): Promise<Client> {
  const cluster = target.name;
  let url: URL;
  try {
    url = new URL(target.api);
  } catch {
    throw new TraefikError(`traefik[${cluster}]: api is not a valid URL`);
  }
  // userinfo in the URL is honoured as basic auth but never printed
  const userinfo: Auth | undefined =
    url.username === '' ? undefined : { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
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
  // timeoutMs bounds the cluster's whole fetch (/version and /rawdata together), not each request: a slow Traefik holds
  // the sync (and every other cluster's changes) up for timeoutMs at most.
  return {
    cluster,
    base,
    headers,
    https,
    timeoutMs: target.timeoutMs,
    deadline: Date.now() + target.timeoutMs,
    maxBodyBytes: limits.maxBodyBytes,
  };
}

async function fetchVersion(client: Client): Promise<{ syntax: Syntax; version: string }> {
  const url = `${client.base}/version`;
  const body = parseJson(client, url, (await getBody(client, url)).text);
  const problems = schemaProblems('version', body);
  if (problems.length > 0) throw schemaError(client, url, 'version', problems);
  const version = (body as { Version: string }).Version;
  const syntax = syntaxFromVersion(version);
  if (syntax === undefined) throw requestError(client, url, `unsupported Traefik version ${JSON.stringify(version)}`);
  return { syntax, version };
}

// Streams the body so an oversized one is dropped at the cap instead of being buffered whole, and hashes it on the way.
// Each chunk is decoded as it arrives and let go, though an unchanged answer is then decoded for nothing (2-7 ms for
// 15,000 routers): a chunk kept until the body ends outlives a young-generation GC, and its C-heap memory is then freed
// only by a full GC, long after; glibc keeps what piles up meanwhile (its heap held 22-28 MiB at 15,000 routers,
// 8-9 MiB once chunks were let go). StringDecoder decodes as Buffer#toString does, a BOM kept (JSON.parse rejects it).
async function getBody(client: Client, url: string): Promise<{ text: string; digest: string }> {
  const { maxBodyBytes } = client;
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
  const hash = createHash('sha256');
  const decoder = new StringDecoder('utf8');
  let body = '';
  try {
    const response = await new Promise<Response>((resolve, reject) => {
      stream.once('response', resolve);
      stream.once('error', reject);
    });
    if (response.statusCode < 200 || response.statusCode > 299) {
      throw requestError(client, url, `${response.statusCode} ${response.statusMessage ?? ''}`.trim());
    }
    if (Number(response.headers['content-length']) > maxBodyBytes) throw tooLarge();
    let size = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBodyBytes) throw tooLarge();
      hash.update(chunk);
      body += decoder.write(chunk);
    }
  } catch (err) {
    throw err instanceof TraefikError ? err : requestError(client, url, describeFailure(client, err));
  } finally {
    stream.destroy();
  }
  return { text: body + decoder.end(), digest: hash.digest('hex') };
}

function parseJson(client: Client, url: string, text: string): unknown {
  try {
    return JSON.parse(text);
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
