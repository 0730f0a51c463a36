// The shared vocabulary of routeagent (see shared/DESIGN.md "Vocabulary").
// Types only; no behaviour lives here. The map kinds themselves are a table in maps.ts.
import type { MAP_KINDS } from './maps.js';

/** The maps routeagent owns: `hosts` (Host header → backend) and `sni` (TLS SNI → backend), one row each in MAP_KINDS. */
export type MapName = keyof typeof MAP_KINDS;

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
