// Prometheus text exposition of the daemon's counters and the last status. Pure: numbers in, text out.
import type { Status } from './status.js';

export type Counters = { syncs: Record<'ok' | 'failed' | 'held', number>; failovers: number };

/** Render /metrics (text format 0.0.4). */
export function renderMetrics(counters: Counters, status: Status | undefined): string {
  const out: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, rows: [string, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of rows) out.push(`${name}${labels} ${value}`);
  };
  metric(
    'routeagent_syncs_total',
    'counter',
    'Syncs by outcome.',
    (['ok', 'failed', 'held'] as const).map((o) => [`{outcome="${o}"}`, counters.syncs[o]]),
  );
  metric('routeagent_failovers_total', 'counter', 'Failovers started (a host routed away from its unhealthy preferred cluster).', [
    ['', counters.failovers],
  ]);
  if (status) {
    if (status.lastSuccess)
      metric('routeagent_last_success_timestamp_seconds', 'gauge', 'Time of the last successful sync.', [
        ['', Date.parse(status.lastSuccess) / 1000],
      ]);
    metric('routeagent_sync_duration_seconds', 'gauge', 'Duration of the last sync.', [['', status.durationMs / 1000]]);
    metric(
      'routeagent_map_entries',
      'gauge',
      'Entries per map (what HAProxy serves).',
      Object.entries(status.entries).map(([m, n]) => [`{map="${m}"}`, n]),
    );
    metric(
      'routeagent_cluster_up',
      'gauge',
      '1 when the cluster answered the last sync.',
      Object.entries(status.clusters).map(([c, s]) => [`{cluster="${escapeLabel(c)}"}`, s.state === 'ok' ? 1 : 0]),
    );
    metric('routeagent_conflicts', 'gauge', 'Hosts claimed by several clusters.', [['', status.conflicts.length]]);
    metric('routeagent_failovers', 'gauge', 'Failovers active now.', [['', status.failovers?.length ?? 0]]);
    metric('routeagent_unhealthy_claims', 'gauge', 'Claims (cluster serves host in map) counted unhealthy.', [
      ['', status.unhealthyClaims ?? 0],
    ]);
    if (status.ha) {
      metric('routeagent_ha_leader', 'gauge', '1 when this node leads its CARP pair (decides and applies), 0 when it mirrors the leader.', [
        ['', status.ha.role === 'leader' ? 1 : 0],
      ]);
      const digests = Object.entries(status.ha.digests).map(([m, d]): [string, number] => [`{map="${m}",sha256="${d}"}`, 1]);
      metric(
        'routeagent_map_digest_info',
        'gauge',
        'SHA-256 of each map file this node holds (equal on both nodes of a pair in step).',
        digests,
      );
    }
    metric('routeagent_guard_holding', 'gauge', '1 when the guard holds a plan back.', [['', status.guard.held ? 1 : 0]]);
  }
  return `${out.join('\n')}\n`;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
