// The map kinds routeagent owns, as one table: what each map is keyed by, which frontend reads it, the mode its backends
// must have and its default file. Render, apply, check, preflight, snippet and status all read this table, so a new
// map kind is one row here plus the routes that feed it (core/routes.ts) and its tests. Pure data and two lookups.
import type { BackendMode } from './reply.js';
import type { MapName } from './types.js';

export type MapKind = {
  /** What HAProxy looks the key up by, as a sample expression (the snippet adds `,map(<file>)`). */
  readonly sample: string;
  /** The frontend whose `use_backend` reads the map: `:443` passes TLS through, `:80` speaks HTTP. */
  readonly frontend: ':443' | ':80';
  /** The mode a backend named in this map must have: a TCP frontend cannot use an HTTP backend, and back. */
  readonly mode: BackendMode;
  /** Whether every cluster must name its backend for this map (`backends.<map>` in the config). */
  readonly required: boolean;
  /** The file's name in the default map folder. */
  readonly file: string;
};

// Declared once; MapName (core/types.ts) is the list of these keys.
export const MAP_KINDS = {
  hosts: { sample: 'req.hdr(host),field(1,:),lower', frontend: ':80', mode: 'http', required: false, file: 'hosts.map' },
  sni: { sample: 'req.ssl_sni,lower', frontend: ':443', mode: 'tcp', required: true, file: 'sni.map' },
} as const satisfies Record<string, MapKind>;

/** Every map, in byte order of its name: the order of every output that lists maps. */
export const MAP_NAMES: readonly MapName[] = (Object.keys(MAP_KINDS) as MapName[]).sort();

/** The maps a cluster names backends for, the required ones first (the order `check` reports them in). */
export const CLUSTER_MAPS: readonly MapName[] = [
  ...MAP_NAMES.filter((m) => MAP_KINDS[m].required),
  ...MAP_NAMES.filter((m) => !MAP_KINDS[m].required),
];

/** Folder of the map files when the config names none. */
export const DEFAULT_MAP_DIR = '/usr/local/etc/routeagent/maps';

/** One record with a value per map. */
export function perMap<T>(value: (map: MapName) => T): Record<MapName, T> {
  return Object.fromEntries(MAP_NAMES.map((m) => [m, value(m)])) as Record<MapName, T>;
}

/** What is wrong with `backend` as a value of `map`, given HAProxy's backends and their modes; undefined when nothing. */
export type BackendFault =
  | { readonly kind: 'missing' }
  | { readonly kind: 'mode'; readonly actual: BackendMode; readonly need: BackendMode };

/** Does `backend` exist in `modes` with the mode `map` needs? `-c` does not check map values, so this is the only check. */
export function backendFault(map: MapName, backend: string, modes: ReadonlyMap<string, BackendMode>): BackendFault | undefined {
  const actual = modes.get(backend);
  const need = MAP_KINDS[map].mode;
  if (actual === undefined) return { kind: 'missing' };
  return actual === need ? undefined : { kind: 'mode', actual, need };
}
