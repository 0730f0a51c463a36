// Which routers become routes (README "Which routers become routes"), for one cluster.
// Pure: routers in, routes and the reasons for everything skipped out. Does not resolve conflicts between clusters.
import { type Expose, isExposed, normaliseHost } from './hosts.js';
import { byteOrder } from './order.js';
import { parseRule } from './rules.js';
import type { Cluster, MapName, Route, Router, Skipped, Syntax } from './types.js';

/** What of a cluster decides its routes. */
type RouteCluster = Pick<Cluster, 'name' | 'backends' | 'entryPoints'>;

/** Turn one cluster's routers into routes; `syntax` is the server's default rule syntax. */
export function routesFromRouters(
  cluster: RouteCluster,
  routers: readonly Router[],
  syntax: Syntax,
  expose: Expose,
): { routes: Route[]; skipped: Skipped[] } {
  const byMap = new Map<MapName, Map<string, Route>>(); // map → host → route (a later router for the same host wins)
  const skipped: Skipped[] = [];
  const skip = (router: string, reason: string) => skipped.push({ cluster: cluster.name, router, reason });

  for (const r of routers) {
    if (r.provider === 'internal' || r.name.endsWith('@internal')) continue; // Traefik's own api/dashboard/ping/redirect routers
    if (r.status === 'disabled') {
      skip(r.name, 'disabled by Traefik');
      continue;
    }
    const using = r.using ?? [];
    if (using.length === 0) {
      skip(r.name, 'not attached to any entry point');
      continue;
    }
    if (cluster.entryPoints && !using.some((ep) => cluster.entryPoints!.includes(ep))) continue; // filtered by the operator: not news
    const maps = mapsFor(r, cluster);
    if (maps.length === 0) {
      skip(r.name, r.kind === 'tcp' ? 'TCP router without TLS cannot be routed by SNI' : 'no TLS and the cluster has no hosts backend');
      continue;
    }
    const parsed = parseRule(r.rule ?? '', ruleSyntax(r, syntax), r.kind);
    if (parsed.error !== undefined) {
      skip(r.name, `rule rejected: ${parsed.error}`);
      continue;
    }
    for (const reason of parsed.unmappable) skip(r.name, reason);
    for (const raw of parsed.hosts) {
      const n = normaliseHost(raw);
      if ('error' in n) {
        skip(r.name, n.error);
        continue;
      }
      if (!isExposed(n.host, expose)) {
        skip(r.name, `host ${n.host} is not allowed by expose`);
        continue;
      }
      for (const map of maps) {
        let routes = byMap.get(map);
        if (!routes) {
          routes = new Map();
          byMap.set(map, routes);
        }
        routes.set(n.host, { map, host: n.host, cluster: cluster.name, router: r.name });
      }
    }
  }
  // Sorted by map, then host: each map's routes sorted on their own (no composite keys, no map comparisons).
  const sorted: Route[] = [];
  for (const map of [...byMap.keys()].sort(byteOrder)) {
    for (const route of [...byMap.get(map)!.values()].sort((a, b) => byteOrder(a.host, b.host))) sorted.push(route);
  }
  return { routes: sorted, skipped };
}

// HTTP router with tls → HTTPS through the :443 passthrough (sni) and, when the cluster has a hosts backend, :80 (hosts:
// redirect or ACME HTTP-01). HTTP without tls → hosts only. TCP with HostSNI needs tls (passthrough or terminated) → sni.
function mapsFor(r: Router, cluster: RouteCluster): MapName[] {
  if (r.kind === 'tcp') return r.tls ? ['sni'] : [];
  const maps: MapName[] = [];
  if (cluster.backends.hosts !== undefined) maps.push('hosts');
  if (r.tls) maps.push('sni');
  return maps;
}

function ruleSyntax(r: Router, serverDefault: Syntax): Syntax {
  return r.ruleSyntax === 'v2' || r.ruleSyntax === 'v3' ? r.ruleSyntax : serverDefault;
}
