// CARP state → this node's role in an HA pair. Pure: `ifconfig` output in, role out.
// FreeBSD prints one line per vhid, e.g. `	carp: MASTER vhid 10 advbase 1 advskew 0` (states INIT, BACKUP, MASTER).

export type Role = 'leader' | 'follower';
/** The vhid's CARP state as ifconfig printed it, or `missing` when no line names the vhid. */
export type CarpState = 'MASTER' | 'BACKUP' | 'INIT' | 'missing';

const CARP_LINE = /^\s*carp:\s+(\S+)\s+vhid\s+(\d+)\b/;

/** The state of `vhid` in `ifconfig` output. The same vhid on several interfaces is MASTER only when every line says so. */
export function carpState(ifconfigOutput: string, vhid: number): CarpState {
  const states = ifconfigOutput
    .split('\n')
    .map((line) => CARP_LINE.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && Number(m[2]) === vhid)
    .map((m) => m[1]!.toUpperCase());
  if (states.length === 0) return 'missing';
  if (states.every((s) => s === 'MASTER')) return 'MASTER';
  return states.includes('BACKUP') ? 'BACKUP' : 'INIT';
}

/** MASTER leads; every other state, a missing vhid included, follows: two leaders are worse than none. */
export function roleOf(state: CarpState): Role {
  return state === 'MASTER' ? 'leader' : 'follower';
}
