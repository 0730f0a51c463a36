// Turn a Traefik API body that already passed its schema (schemas/traefik-routers.schema.json) into Router[].
// Pure: keeps only the fields of Router, in the body's order, and drops no router (internal, disabled…): routes.ts decides.
// Also reads the default rule syntax out of an /api/version body.
import type { Router, RouterKind, Syntax } from './types.js';

/** A router object as /api/rawdata holds it: no name or provider (the map key carries them). */
export type RouterInfo = {
  readonly provider?: string;
  readonly rule?: string;
  readonly ruleSyntax?: string;
  readonly status?: string;
  readonly using?: readonly string[];
  readonly entryPoints?: readonly string[];
  readonly service?: string;
  readonly tls?: { readonly passthrough?: boolean; readonly [k: string]: unknown };
  readonly [k: string]: unknown;
};

/** A router object as /api/{http,tcp}/routers lists it. */
export type ListedRouter = RouterInfo & { readonly name: string };

/** The part of /api/rawdata that holds routers; each map is keyed by `<name>@<provider>`. */
export type Rawdata = {
  readonly routers?: { readonly [name: string]: RouterInfo };
  readonly tcpRouters?: { readonly [name: string]: RouterInfo };
  readonly [k: string]: unknown;
};

/** Routers of one listing page (`/api/http/routers` or `/api/tcp/routers`). */
export function routersFromListing(kind: RouterKind, body: readonly ListedRouter[]): Router[] {
  return body.map((info) => toRouter(kind, info.name, info));
}

/** HTTP then TCP routers of an `/api/rawdata` body. */
export function routersFromRawdata(body: Rawdata): Router[] {
  const http = Object.entries(body.routers ?? {}).map(([name, info]) => toRouter('http', name, info));
  const tcp = Object.entries(body.tcpRouters ?? {}).map(([name, info]) => toRouter('tcp', name, info));
  return [...http, ...tcp];
}

/** The provider part of a qualified router name: what follows the first `@` (Traefik's getProviderName), or ''. */
export function providerOf(name: string): string {
  const at = name.indexOf('@');
  return at < 0 ? '' : name.slice(at + 1);
}

function toRouter(kind: RouterKind, name: string, info: RouterInfo): Router {
  // A listing names the provider itself; rawdata (and the webui mocks) may not, so fall back to the name's suffix.
  const router: { -readonly [K in keyof Router]: Router[K] } = { kind, name, provider: info.provider ?? providerOf(name) };
  if (info.rule !== undefined) router.rule = info.rule;
  if (info.ruleSyntax !== undefined) router.ruleSyntax = info.ruleSyntax;
  if (info.status !== undefined) router.status = info.status;
  if (info.using !== undefined) router.using = [...info.using];
  if (info.entryPoints !== undefined) router.entryPoints = [...info.entryPoints];
  if (info.tls !== undefined) router.tls = { ...info.tls };
  if (info.service !== undefined) router.service = info.service;
  return router;
}

/**
 * The default rule syntax of a server, from the `Version` of /api/version: `2.x` → v2, `3.x` and later → v3,
 * `dev` (a build from source) → v3; a leading `v` is accepted. Anything else (1.x, garbage) → undefined.
 */
export function syntaxFromVersion(version: string): Syntax | undefined {
  const text = version.trim().replace(/^v/i, '');
  if (text === 'dev') return 'v3';
  const major = /^(\d+)(?:[.+-]|$)/.exec(text)?.[1];
  if (major === undefined) return undefined;
  if (Number(major) === 2) return 'v2';
  return Number(major) >= 3 ? 'v3' : undefined;
}
