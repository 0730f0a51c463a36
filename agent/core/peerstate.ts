// The document two nodes of a CARP pair exchange (`GET /v1/state`): the map files a node holds, byte for byte, their
// SHA-256, its role, the sync that produced them and the failover counters. Pure: build it, check what a peer sent,
// and turn a leader's document into the entries a follower applies.
import { createHash } from 'node:crypto';
import type { CarpState, Role } from './carp.js';
import type { ClaimCount, Failover } from './failover.js';
import { MAP_NAMES } from './maps.js';
import { parseMapText, renderMap } from './render.js';
import type { Entry, MapName } from './types.js';

export type PeerMap = { readonly text: string; readonly sha256: string };
export type PeerFailover = { readonly claims: [string, ClaimCount][]; readonly failovers: [string, Failover][] };
export type PeerState = {
  readonly version: 1;
  readonly role: Role;
  readonly carp: CarpState;
  /** Start of the sync that produced these maps; absent until this node has synced once. */
  readonly at?: string;
  readonly maps: Record<MapName, PeerMap>;
  readonly failover: PeerFailover;
};
/** What a follower takes from its leader: the entries to apply (they render to exactly the leader's bytes) and the rest. */
export type Mirror = {
  readonly at: string;
  readonly entries: Record<MapName, Entry[]>;
  readonly digests: Record<MapName, string>;
  readonly failover: PeerFailover;
};

/** SHA-256 of a map file's bytes, lowercase hex. */
export function digest(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function buildPeerState(p: {
  role: Role;
  carp: CarpState;
  at?: string;
  texts: Record<MapName, string>;
  failover: PeerFailover;
}): PeerState {
  const maps = Object.fromEntries(MAP_NAMES.map((m) => [m, { text: p.texts[m], sha256: digest(p.texts[m]) }])) as Record<MapName, PeerMap>;
  return { version: 1, role: p.role, carp: p.carp, ...(p.at !== undefined ? { at: p.at } : {}), maps, failover: p.failover };
}

/** The shape of a peer's answer, or why it is not a state document. Says nothing yet about whether to mirror it. */
export function parsePeerState(json: unknown): { state: PeerState } | { error: string } {
  const o = json as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null) return { error: 'the answer is not a JSON object' };
  if (o['version'] !== 1) return { error: `unknown state version ${JSON.stringify(o['version'])}` };
  if (o['role'] !== 'leader' && o['role'] !== 'follower') return { error: `unknown role ${JSON.stringify(o['role'])}` };
  if (o['at'] !== undefined && (typeof o['at'] !== 'string' || Number.isNaN(Date.parse(o['at'])))) return { error: '"at" is not a time' };
  const maps = o['maps'] as Record<string, unknown> | undefined;
  for (const m of MAP_NAMES) {
    const pm = maps?.[m] as Record<string, unknown> | undefined;
    if (typeof pm?.['text'] !== 'string' || typeof pm['sha256'] !== 'string') return { error: `map ${m} is missing its text or sha256` };
  }
  const f = o['failover'] as Record<string, unknown> | undefined;
  if (!f || !Array.isArray(f['claims']) || !f['claims'].every(isClaim)) return { error: 'failover claims are malformed' };
  if (!Array.isArray(f['failovers']) || !f['failovers'].every(isFailover)) return { error: 'failovers are malformed' };
  return { state: json as PeerState };
}

/**
 * What a follower mirrors from `s`, or why it must not: only a leader that has synced, whose every map matches its
 * digest and is a map as routeagent writes it (sorted, valid entries), so that rendering the entries gives the same bytes.
 */
export function mirrorOf(s: PeerState): { mirror: Mirror } | { error: string } {
  if (s.role !== 'leader') return { error: `the peer is not the leader (its CARP state is ${s.carp})` };
  if (s.at === undefined) return { error: 'the leader has not synced yet' };
  const entries = {} as Record<MapName, Entry[]>;
  const digests = {} as Record<MapName, string>;
  for (const m of MAP_NAMES) {
    const { text, sha256 } = s.maps[m];
    if (digest(text) !== sha256) return { error: `map ${m}: its sha256 ${sha256} does not match its text` };
    const parsed = parseMapText(text);
    let rendered: string;
    try {
      rendered = renderMap(parsed);
    } catch (e) {
      return { error: `map ${m}: ${(e as Error).message}` };
    }
    if (rendered !== text) return { error: `map ${m}: not a map as routeagent writes it (sorted "host backend" lines)` };
    entries[m] = parsed;
    digests[m] = sha256;
  }
  return { mirror: { at: s.at, entries, digests, failover: s.failover } };
}

/**
 * The first mirrored entry that this node's own allowlist refuses (`allowed` says no: not exposed here and not one of
 * this node's static routes), as the reason not to mirror; undefined when every entry is allowed. All or nothing: a
 * follower never serves a host its operator did not allow, nor a part of the leader's decision.
 */
export function refusedEntry(mirror: Mirror, allowed: (map: MapName, host: string) => boolean): string | undefined {
  for (const m of MAP_NAMES) {
    const e = mirror.entries[m].find((x) => !allowed(m, x.key));
    if (e) return `map ${m}: host ${e.key} is not exposed by this node's config (expose, static) and would be public here`;
  }
  return undefined;
}

function isClaim(v: unknown): boolean {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string') return false;
  const c = v[1] as Record<string, unknown> | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    Number.isInteger(c['down']) &&
    Number.isInteger(c['up']) &&
    typeof c['unhealthy'] === 'boolean' &&
    typeof c['reason'] === 'string'
  );
}

function isFailover(v: unknown): boolean {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string') return false;
  const f = v[1] as Record<string, unknown> | null;
  return (
    typeof f === 'object' &&
    f !== null &&
    ['host', 'from', 'to', 'reason', 'since'].every((k) => typeof f[k] === 'string') &&
    MAP_NAMES.includes(f['map'] as MapName)
  );
}
