// The shared vocabulary of routeagent (ARCHITECTURE.md, "Vocabulary").
// Types only; no behaviour lives here. The map kinds themselves are a table in maps.ts.
import type { MAP_KINDS } from './maps.js';

/** The maps routeagent owns: `hosts` (Host header → backend) and `sni` (TLS SNI → backend), one row each in MAP_KINDS. */
export type MapName = keyof typeof MAP_KINDS;

/** The maps every cluster must name a backend for (`required` in MAP_KINDS); the others are optional. */
type RequiredMap = { [M in MapName]: (typeof MAP_KINDS)[M]['required'] extends true ? M : never }[MapName];
/** A cluster's HAProxy backend per map: where the hosts it serves are routed. */
export type Backends = { readonly [M in RequiredMap]: string } & { readonly [M in Exclude<MapName, RequiredMap>]?: string };
/** How routeagent authenticates to a cluster's Traefik API: basic or bearer, each secret inline or from a file. */
export type Auth =
  | { readonly username: string; readonly password?: string; readonly passwordFile?: string }
  | { readonly token?: string; readonly tokenFile?: string };

/** One cluster (one Traefik API) as the config resolves it; every layer takes this type, or a Pick of it. */
export type Cluster = {
  readonly name: string;
  readonly api: string;
  readonly backends: Backends;
  readonly priority: number;
  readonly entryPoints?: readonly string[];
  readonly auth?: Auth;
  readonly tls?: { readonly ca?: string; readonly insecureSkipVerify?: boolean };
  readonly timeoutMs: number;
  readonly syntax?: Syntax;
};

/** One `key value` line of a map. */
export type Entry = { readonly key: string; readonly backend: string };

/** Traefik's two router kinds that carry host matchers (UDP routers have no rule). */
export type RouterKind = 'http' | 'tcp';

/** Rule grammar version: Traefik 2.x (or a v3 router with `ruleSyntax: "v2"`) vs 3.x. */
export type Syntax = 'v2' | 'v3';

/** A Traefik router as the API lists it, reduced to the fields routeagent reads. */
export type Router = {
  readonly kind: RouterKind;
  readonly name: string; // always `<name>@<provider>`
  readonly provider: string;
  readonly rule?: string;
  readonly ruleSyntax?: string;
  readonly status?: string; // enabled | warning | disabled
  readonly using?: readonly string[];
  readonly entryPoints?: readonly string[];
  readonly tls?: { readonly passthrough?: boolean; readonly [k: string]: unknown };
  readonly service?: string;
};

/** host → cluster for one map, derived from one router. */
export type Route = { readonly map: MapName; readonly host: string; readonly cluster: string; readonly router: string };

/** A router (or part of one) that produced no route, and why. */
export type Skipped = { readonly cluster: string; readonly router: string; readonly reason: string };

/**
 * Whether each Traefik service of a cluster has a server UP, keyed by qualified name (`name@provider`). A service absent
 * from the map is unknown and counts as healthy (Traefik marks servers DOWN only under an active health check).
 */
export type ServiceHealth = Readonly<Record<string, boolean>>;
