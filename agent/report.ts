// Human text for a sync report (`routeagent sync` without --json): the plan per map, conflicts, skipped routers, outcome.
import { MAP_NAMES } from './core/maps.js';
import { count } from './log.js';
import type { SyncReport } from './sync.js';

export function formatPlan(r: SyncReport, dryRun: boolean): string {
  const lines: string[] = [];
  for (const [name, c] of Object.entries(r.clusters)) {
    lines.push(`cluster ${name}: ${c.ok ? count(c.routers, 'router', 'routers') : `unreachable, using its last known routes (${c.error})`}`);
  }
  for (const m of MAP_NAMES) {
    const p = r.plan[m];
    const total = Object.keys(r.maps[m]).length;
    if (!p.add.length && !p.change.length && !p.remove.length) {
      lines.push(`${m}: no changes (${count(total, 'entry', 'entries')})`);
      continue;
    }
    lines.push(`${m}: +${p.add.length} ~${p.change.length} -${p.remove.length} (${count(total, 'entry', 'entries')})`);
    for (const e of p.add) lines.push(`  + ${e.key} ${e.backend}`);
    for (const c of p.change) lines.push(`  ~ ${c.key} ${c.from} -> ${c.to}`);
    for (const e of p.remove) lines.push(`  - ${e.key} ${e.backend}`);
  }
  for (const c of r.conflicts) lines.push(`conflict: ${c.host} (${c.map}) claimed by ${c.claimants.join(', ')}; routed to ${c.winner}`);
  for (const f of r.failovers) lines.push(`failover: ${f.map} ${f.host} ${f.from} → ${f.to}: ${f.reason}`);
  if (r.skipped.length) lines.push(`skipped: ${count(r.skipped.length, 'router', 'routers')} (see --json for each one and why)`);
  for (const h of r.held ?? []) lines.push(`held by the guard: ${h}; run with --force to apply`);
  if (r.error !== undefined) lines.push(`failed: ${r.error}`);
  lines.push(dryRun ? 'dry run: nothing changed' : r.applied ? `applied by ${r.method}` : r.error || r.held ? 'nothing applied; live maps unchanged' : 'up to date');
  return lines.join('\n') + '\n';
}
