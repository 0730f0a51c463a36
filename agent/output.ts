// Everything routeagent prints for the operator, as text and as JSON: the plan of a sync (`sync`, `sync --dry-run`,
// `sync --json`), the status (`status`, `status --json`) and the lines of `check`; plus the conflict and failover lines
// the log shares with them. Pure: values in, text out; main.ts and preflight.ts write it, sync.ts and failover.ts log it.
import type { Conflict } from './core/desired.js';
import type { Failover } from './core/failover.js';
import { MAP_NAMES } from './core/maps.js';
import type { SyncReport } from './core/report.js';
import type { HaStatus, Status } from './core/status.js';
import type { MapName } from './core/types.js';
import { count } from './log.js';

/** `conflict: <host> (<map>) claimed by <a>, <b>; routing to <a>` as it happens (log), `routed to` after (plan, status). */
export function conflictLine(c: Conflict, tense: 'routing' | 'routed'): string {
  return `conflict: ${c.host} (${c.map}) claimed by ${c.claimants.join(', ')}; ${tense} to ${c.winner}`;
}

/** `failover: <map> <host> <from> → <to>: <reason>`; the status adds since when. */
export function failoverLine(f: Failover, withSince = false): string {
  return `failover: ${f.map} ${f.host} ${f.from} → ${f.to}${withSince ? ` since ${f.since}` : ''}: ${f.reason}`;
}

/** Human text of a sync report (`routeagent sync` without --json): the plan per map, conflicts, skipped routers, outcome. */
export function formatPlan(r: SyncReport, dryRun: boolean): string {
  const lines: string[] = [];
  for (const [name, c] of Object.entries(r.clusters)) {
    lines.push(
      `cluster ${name}: ${c.ok ? count(c.routers, 'router', 'routers') : `unreachable, using its last known routes (${c.error})`}`,
    );
  }
  for (const m of MAP_NAMES) for (const line of planLines(r, m)) lines.push(line); // a plan may be longer than a call's arguments
  for (const c of r.conflicts) lines.push(conflictLine(c, 'routed'));
  for (const f of r.failovers) lines.push(failoverLine(f));
  if (r.skipped.length) lines.push(`skipped: ${count(r.skipped.length, 'router', 'routers')} (see --json for each one and why)`);
  for (const h of r.held ?? []) lines.push(`held by the guard: ${h}; run with --force to apply`);
  if (r.error !== undefined) lines.push(`failed: ${r.error}`);
  lines.push(
    dryRun
      ? 'dry run: nothing changed'
      : r.applied
        ? `applied by ${r.method}`
        : r.error || r.held
          ? 'nothing applied; live maps unchanged'
          : 'up to date',
  );
  return `${lines.join('\n')}\n`;
}

function planLines(r: SyncReport, m: MapName): string[] {
  const p = r.plan[m];
  const total = count(r.maps[m].length, 'entry', 'entries');
  if (!p.add.length && !p.change.length && !p.remove.length) return [`${m}: no changes (${total})`];
  return [
    `${m}: +${p.add.length} ~${p.change.length} -${p.remove.length} (${total})`,
    ...p.add.map((e) => `  + ${e.key} ${e.backend}`),
    ...p.change.map((c) => `  ~ ${c.key} ${c.from} -> ${c.to}`),
    ...p.remove.map((e) => `  - ${e.key} ${e.backend}`),
  ];
}

/** `sync --json`: the documented shape (maps, plan, conflicts, skipped, clusters, applied), plus failovers, held and error. */
export function formatPlanJson(r: SyncReport): string {
  const report = {
    maps: Object.fromEntries(MAP_NAMES.map((m) => [m, Object.fromEntries(r.maps[m].map((e) => [e.key, e.backend]))])),
    plan: r.plan,
    conflicts: r.conflicts,
    skipped: r.skipped,
    clusters: Object.fromEntries(
      Object.entries(r.clusters).map(([n, c]) => [
        n,
        { ok: c.ok, routers: c.routers, ...(c.error !== undefined ? { error: c.error } : {}) },
      ]),
    ),
    applied: r.applied,
    failovers: r.failovers,
    ...(r.held ? { held: r.held } : {}),
    ...(r.error !== undefined ? { error: r.error } : {}),
  };
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** A short human summary for `routeagent status`. */
export function formatStatus(s: Status, problems: readonly string[]): string {
  const entries = (e: Record<MapName, number>) => MAP_NAMES.map((m) => `${m} ${count(e[m], 'entry', 'entries')}`).join(', ');
  const lines = [
    `${problems.length ? 'unhealthy' : 'healthy'}: last sync ${s.at} ${s.outcome}${s.applied ? ` (applied by ${s.method})` : ''}, ${s.durationMs} ms`,
    `maps: HAProxy serves ${entries(s.entries)}; ${count(s.conflicts.length, 'conflict', 'conflicts')}, ${count(s.skipped, 'router', 'routers')} skipped`,
    ...(s.heldEntries ? [`held plan: ${entries(s.heldEntries)}; not applied while the guard holds it`] : []),
    ...Object.entries(s.clusters).map(
      ([name, c]) =>
        `cluster ${name}: ${c.state === 'ok' ? 'ok' : `stale since ${c.since ?? '?'}`}, ${count(c.routers, 'router', 'routers')}`,
    ),
    ...s.conflicts.map((c) => conflictLine(c, 'routed')),
    ...(s.failovers ?? []).map((f) => failoverLine(f, true)),
    ...(s.ha ? haLines(s.ha) : []),
    ...(s.lastSuccess && s.outcome !== 'ok' ? [`last success: ${s.lastSuccess}`] : []),
    ...problems.map((p) => `problem: ${p}`),
  ];
  return `${lines.join('\n')}\n`;
}

// A node of a CARP pair: its role, its peer, and each map's digest (what `status --peer` compares).
function haLines(ha: HaStatus): string[] {
  const peer = ha.peer;
  const reach =
    peer.reachable === undefined
      ? 'not asked'
      : peer.reachable
        ? `reachable${peer.role ? ` (${peer.role})` : ''}`
        : `unreachable: ${peer.error ?? '?'}`;
  const mirror = peer.lastMirror ? `; last mirror ${peer.lastMirror.at} of the leader's sync ${peer.lastMirror.leaderAt}` : '';
  return [
    `ha: ${ha.role} (CARP vhid ${ha.vhid} ${ha.carp === 'missing' ? 'not found' : ha.carp})${ha.fileOnly ? '; file-only: HAProxy is not running on this node' : ''}`,
    `ha: peer ${peer.url} ${reach}${mirror}`,
    ...MAP_NAMES.map((m) => `map ${m}: sha256 ${ha.digests[m]}`),
  ];
}

/** `status --json`: the status file's content as it is. */
export function formatStatusJson(s: Status): string {
  return `${JSON.stringify(s, null, 2)}\n`;
}

/** One line of `routeagent check`: `ok:` and `warning:` on stdout as found, `problem:` on stderr at the end. */
export function checkLine(kind: 'ok' | 'warning' | 'problem', text: string): string {
  return `${kind}: ${text}\n`;
}
