// All clusters' routes → one entry list per map, with conflicts resolved by a stated, deterministic rule.
// Pure. Never "whichever cluster answered first": the order of `clusters` (config order) is the only tie-break.
//
// winner of a host claimed by several clusters (per map):
//   static route for the host      → the static backend (clusters are not asked)
//   pinned cluster among claimants → the pinned cluster
//   sticky and current owner claims → the current owner (moves only once the old cluster drops the host)
//   otherwise                      → highest priority, ties by config order
// With failover, the rules above choose among the healthy claimants only (a pin yields to health alone); when every
// claimant is unhealthy the current owner keeps the host: health never removes a host nor moves it to another dead cluster.
import { MAP_NAMES } from './maps.js';
import { byteOrder } from './order.js';
import type { Cluster, Entry, MapName, Route } from './types.js';

type MergeCluster = Pick<Cluster, 'name' | 'priority' | 'backends'>;
export type Conflict = { readonly host: string; readonly map: MapName; readonly claimants: readonly string[]; readonly winner: string };
/** A contested host whose policy winner (`from`) is unhealthy, so it goes to `to`. */
export type FailedOver = { readonly host: string; readonly map: MapName; readonly from: string; readonly to: string };
export type MergeInput = {
  readonly clusters: readonly MergeCluster[]; // config order
  readonly routes: readonly Route[];
  readonly static: readonly { readonly host: string; readonly backends: Partial<Record<MapName, string>> }[];
  readonly pins: Readonly<Record<string, string>>;
  readonly policy: 'sticky' | 'priority';
  readonly current: Readonly<Record<MapName, readonly Entry[]>>;
  /** Claims counted unhealthy (claimKey); absent or empty: every claim is healthy. */
  readonly unhealthy?: ReadonlySet<string>;
};
export type Desired = { readonly maps: Record<MapName, Entry[]>; readonly conflicts: Conflict[]; readonly failedOver: FailedOver[] };

/** The key of one claim (cluster serves host in map) in health sets and counters. */
export function claimKey(map: MapName, host: string, cluster: string): string {
  return `${map} ${host} ${cluster}`;
}

/** Merge every cluster's routes, static routes and pins into the desired maps. */
export function mergeDesired(input: MergeInput): Desired {
  const order = new Map(input.clusters.map((c, i) => [c.name, i]));
  const byName = new Map(input.clusters.map((c) => [c.name, c]));
  const maps = {} as Record<MapName, Entry[]>;
  const conflicts: Conflict[] = [];
  const failedOver: FailedOver[] = [];

  for (const map of MAP_NAMES) {
    const owner = new Map<string, string>(); // backend → cluster, to read who owns a host now
    for (const c of input.clusters) {
      const b = c.backends[map];
      if (b !== undefined) owner.set(b, c.name);
    }
    // host → the cluster whose backend serves it now: only a contested host asks, so most syncs never build it
    let current: Map<string, string | undefined> | undefined;
    const ownerNow = (host: string) => {
      if (!current) {
        current = new Map();
        for (const e of input.current[map]) current.set(e.key, owner.get(e.backend));
      }
      return current.get(host);
    };
    // host → its claimant, or its claimants once a second cluster claims it (most hosts have one: no Set per host)
    const claims = new Map<string, string | string[]>();
    // Indexed: this loop runs once per sync, mostly unoptimised, where for…of allocates a result per route.
    for (let i = 0; i < input.routes.length; i++) {
      const r = input.routes[i]!;
      if (r.map !== map || !byName.get(r.cluster)?.backends[map]) continue;
      const claim = claims.get(r.host);
      if (claim === undefined) claims.set(r.host, r.cluster);
      else if (typeof claim === 'string') {
        if (claim !== r.cluster) claims.set(r.host, [claim, r.cluster]);
      } else if (!claim.includes(r.cluster)) claim.push(r.cluster);
    }
    const statics = new Map<string, string>();
    for (const s of input.static) {
      const b = s.backends[map];
      if (b !== undefined) statics.set(s.host, b);
    }
    const list: Entry[] = [];
    for (const [key, backend] of statics) list.push({ key, backend });
    // forEach, not for…of: iterating a 50,000-entry Map by destructuring makes an [entry] array per host
    claims.forEach((claim, host) => {
      if (statics.has(host)) return; // static routes win over clusters
      if (typeof claim === 'string') {
        list.push({ key: host, backend: byName.get(claim)!.backends[map]! }); // a sole claimant wins whatever the pins or policy say
        return;
      }
      const claimants = claim.sort((a, b) => order.get(a)! - order.get(b)!);
      const preferred = pickWinner(host, claimants, input, ownerNow(host), byName);
      const winner = healthyWinner(map, host, claimants, preferred, input, ownerNow(host), byName);
      list.push({ key: host, backend: byName.get(winner)!.backends[map]! });
      conflicts.push({ host, map, claimants, winner });
      if (winner !== preferred) failedOver.push({ host, map, from: preferred, to: winner });
    });
    maps[map] = list.sort((a, b) => byteOrder(a.key, b.key));
  }
  conflicts.sort((a, b) => byteOrder(a.host, b.host) || byteOrder(a.map, b.map));
  failedOver.sort((a, b) => byteOrder(a.host, b.host) || byteOrder(a.map, b.map));
  return { maps, conflicts, failedOver };
}

// preferred healthy → preferred; some claimants healthy → the policy among them; none healthy → the current owner stays
// (or, for a host no cluster serves now, the preferred one).
function healthyWinner(
  map: MapName,
  host: string,
  claimants: readonly string[],
  preferred: string,
  input: MergeInput,
  currentOwner: string | undefined,
  byName: ReadonlyMap<string, MergeCluster>,
): string {
  const down = input.unhealthy;
  if (!down || down.size === 0 || !down.has(claimKey(map, host, preferred))) return preferred;
  const healthy = claimants.filter((c) => !down.has(claimKey(map, host, c)));
  if (healthy.length > 0) return pickWinner(host, healthy, input, currentOwner, byName);
  return currentOwner !== undefined && claimants.includes(currentOwner) ? currentOwner : preferred;
}

function pickWinner(
  host: string,
  claimants: readonly string[],
  input: MergeInput,
  currentOwner: string | undefined,
  byName: ReadonlyMap<string, MergeCluster>,
): string {
  const pinned = input.pins[host];
  if (pinned !== undefined && claimants.includes(pinned)) return pinned;
  if (input.policy === 'sticky' && currentOwner !== undefined && claimants.includes(currentOwner)) return currentOwner;
  // claimants are in config order, so the first of the highest priority wins ties
  return claimants.reduce((best, c) => (byName.get(c)!.priority > byName.get(best)!.priority ? c : best));
}
