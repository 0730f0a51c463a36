// Turn an /api/rawdata body that already passed its schema (schemas/traefik-routers.schema.json) into Router[] and the
// health of each service. Pure: keeps only the fields of Router, in the body's order, and drops no router (internal,
// disabled…): routes.ts decides. Also reads the default rule syntax out of an /api/version body.
import type { Router, RouterKind, ServiceHealth, Syntax } from './types.js';

/** A router object as /api/rawdata holds it: no name (the map key carries it); `provider` only in listings and mocks. */
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

type ChildRef = { readonly name: string };
/** A service object as /api/rawdata holds it (HTTP and TCP), reduced to what its health depends on. */
export type ServiceInfo = {
  readonly loadBalancer?: { readonly servers?: readonly { readonly url?: string; readonly address?: string }[] };
  readonly weighted?: { readonly services?: readonly ChildRef[] };
  readonly highestRandomWeight?: { readonly services?: readonly ChildRef[] };
  readonly mirroring?: { readonly service?: string };
  readonly failover?: { readonly service?: string; readonly fallback?: string };
  readonly serverStatus?: { readonly [server: string]: string };
  readonly [k: string]: unknown;
};

/** The parts of /api/rawdata routeagent reads; each map is keyed by `<name>@<provider>`, and empty maps are omitted. */
export type Rawdata = {
  readonly routers?: { readonly [name: string]: RouterInfo };
  readonly tcpRouters?: { readonly [name: string]: RouterInfo };
  readonly services?: { readonly [name: string]: ServiceInfo };
  readonly tcpServices?: { readonly [name: string]: ServiceInfo };
  readonly [k: string]: unknown;
};

/**
 * HTTP then TCP routers of an `/api/rawdata` body. Routers are held until the cluster's next changed answer, so the
 * values most routers repeat (provider, entry points, `using`, the tls options) are shared, not copied per router.
 */
export function routersFromRawdata(body: Rawdata): Router[] {
  const share = createSharer();
  const routers: Router[] = [];
  for (const [name, info] of Object.entries(body.routers ?? {})) routers.push(toRouter('http', name, info, share));
  for (const [name, info] of Object.entries(body.tcpRouters ?? {})) routers.push(toRouter('tcp', name, info, share));
  return routers;
}

/** The provider part of a qualified router name: what follows the first `@` (Traefik's getProviderName), or ''. */
export function providerOf(name: string): string {
  const at = name.indexOf('@');
  return at < 0 ? '' : name.slice(at + 1);
}

type Sharer = <T>(value: T) => T;

// One copy of each equal value per body: 15,000 routers on one entry point otherwise hold 15,000 `["websecure"]` arrays
// and strings (~2 MiB of the daemon's heap). The values are never mutated (Router is readonly).
function createSharer(): Sharer {
  const seen = new Map<string, unknown>();
  return <T>(value: T): T => {
    const key = typeof value === 'string' ? `s${value}` : `j${JSON.stringify(value)}`;
    const known = seen.get(key);
    if (known !== undefined) return known as T;
    seen.set(key, value);
    return value;
  };
}

function toRouter(kind: RouterKind, name: string, info: RouterInfo, share: Sharer): Router {
  // Rawdata names no provider (the webui mocks may): take the part of the name after the first "@".
  const router: { -readonly [K in keyof Router]: Router[K] } = { kind, name, provider: share(info.provider ?? providerOf(name)) };
  if (info.rule !== undefined) router.rule = info.rule;
  if (info.ruleSyntax !== undefined) router.ruleSyntax = share(info.ruleSyntax);
  if (info.status !== undefined) router.status = share(info.status);
  if (info.using !== undefined) router.using = share([...info.using]);
  if (info.entryPoints !== undefined) router.entryPoints = share([...info.entryPoints]);
  if (info.tls !== undefined) router.tls = share({ ...info.tls });
  if (info.service !== undefined) router.service = info.service;
  return router;
}

/**
 * Whether each service of an `/api/rawdata` body has a server UP, keyed by qualified name; a service whose health is
 * unknown is left out (it counts as healthy). `tcpServerStatus`: the server reports TCP `serverStatus` (Traefik ≥ 3.6).
 *
 * service                                      | health
 * load balancer, no servers (allowEmptyServices) | false
 * load balancer with serverStatus              | a server UP (a server not listed is UP: Traefik's default)
 * HTTP load balancer without serverStatus      | true (servers are UP unless an active health check says DOWN)
 * TCP load balancer without it, Traefik < 3.6  | unknown
 * weighted, highestRandomWeight, failover      | a child is healthy; else unknown if a child is; else false
 * mirroring                                    | its main service (mirrors get copies, their answers are dropped)
 * child missing from the body, or in a cycle   | false (Traefik cannot serve through it)
 * anything else (api@internal, noop@internal)  | unknown
 */
export function serviceHealth(body: Rawdata, tcpServerStatus: boolean): ServiceHealth {
  const health: Record<string, boolean> = {};
  for (const [services, tcp] of [
    [body.services, false],
    [body.tcpServices, true],
  ] as const) {
    if (services === undefined) continue;
    const judged = new Map<string, boolean | undefined>();
    const visiting = new Set<string>();
    const judge = (name: string): boolean | undefined => {
      if (judged.has(name)) return judged.get(name);
      const info = services[name];
      if (info === undefined || visiting.has(name)) return false;
      visiting.add(name);
      const result = judgeService(info, tcp && !tcpServerStatus, childrenOf(info, providerOf(name)).map(judge));
      visiting.delete(name);
      judged.set(name, result);
      return result;
    };
    for (const name of Object.keys(services)) {
      const result = judge(name);
      // An HTTP and a TCP service of one name (rare): healthy when either is, so health never fails over on a guess.
      if (result !== undefined) health[name] = (health[name] ?? false) || result;
    }
  }
  return health;
}

function childrenOf(info: ServiceInfo, provider: string): string[] {
  const names: string[] = [];
  for (const child of info.weighted?.services ?? []) names.push(child.name);
  for (const child of info.highestRandomWeight?.services ?? []) names.push(child.name);
  if (info.mirroring?.service !== undefined) names.push(info.mirroring.service);
  if (info.failover?.service !== undefined) names.push(info.failover.service);
  if (info.failover?.fallback !== undefined) names.push(info.failover.fallback);
  // An unqualified reference belongs to the parent's provider (Traefik's GetQualifiedName).
  return names.map((n) => (n.includes('@') || provider === '' ? n : `${n}@${provider}`));
}

function judgeService(info: ServiceInfo, statusUnreported: boolean, children: readonly (boolean | undefined)[]): boolean | undefined {
  const lb = info.loadBalancer;
  if (lb !== undefined) {
    const servers = lb.servers ?? [];
    if (servers.length === 0) return false;
    const status = info.serverStatus;
    if (status === undefined) return statusUnreported ? undefined : true;
    return servers.some((s) => (status[s.url ?? s.address ?? ''] ?? 'UP') === 'UP') || Object.values(status).includes('UP');
  }
  if (children.length === 0) return undefined;
  if (children.includes(true)) return true;
  return children.includes(undefined) ? undefined : false;
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

/** Whether a Traefik version reports `serverStatus` on TCP services (v3.6 and later, and `dev`). */
export function reportsTcpServerStatus(version: string | undefined): boolean {
  if (version === undefined) return false;
  const text = version.trim().replace(/^v/i, '');
  if (text === 'dev') return true;
  const m = /^(\d+)\.(\d+)/.exec(text);
  if (m === null) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 3 || (major === 3 && minor >= 6);
}
