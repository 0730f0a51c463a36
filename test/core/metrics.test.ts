// Proves renderMetrics: the Prometheus text the daemon serves on /metrics, from its counters and the last status.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Counters, renderMetrics } from '../../agent/core/metrics.js';
import type { Status } from '../../agent/core/status.js';

const counters: Counters = { syncs: { ok: 7, failed: 2, held: 1 }, failovers: 3 };

const status: Status = {
  version: 1,
  at: '2024-05-01T10:00:05.000Z',
  outcome: 'ok',
  durationMs: 1500,
  applied: true,
  method: 'runtime',
  clusters: { hades: { state: 'ok', routers: 4 }, 'odd"name': { state: 'stale', routers: 0, error: 'x' } },
  entries: { hosts: 12, sni: 3 },
  conflicts: [{ host: 'a.technis.io', map: 'hosts', claimants: ['hades', 'illmatic'], winner: 'hades' }],
  skipped: 0,
  guard: { held: false, reasons: [] },
  lastSuccess: '2024-05-01T10:00:05.000Z',
};

test('without a status: only the counters, each with HELP and TYPE', () => {
  assert.is(
    renderMetrics(counters, undefined),
    [
      '# HELP routeagent_syncs_total Syncs by outcome.',
      '# TYPE routeagent_syncs_total counter',
      'routeagent_syncs_total{outcome="ok"} 7',
      'routeagent_syncs_total{outcome="failed"} 2',
      'routeagent_syncs_total{outcome="held"} 1',
      '# HELP routeagent_failovers_total Failovers started (a host routed away from its unhealthy preferred cluster).',
      '# TYPE routeagent_failovers_total counter',
      'routeagent_failovers_total 3',
      '',
    ].join('\n'),
  );
});

test('with a status: gauges from it, seconds not milliseconds, one row per map and cluster', () => {
  const lines = renderMetrics(counters, status).split('\n');
  for (const row of [
    'routeagent_last_success_timestamp_seconds 1714557605',
    'routeagent_sync_duration_seconds 1.5',
    'routeagent_map_entries{map="hosts"} 12',
    'routeagent_map_entries{map="sni"} 3',
    'routeagent_cluster_up{cluster="hades"} 1',
    'routeagent_conflicts 1',
    'routeagent_failovers 0',
    'routeagent_unhealthy_claims 0',
    'routeagent_guard_holding 0',
  ]) {
    assert.ok(lines.includes(row), `missing ${row} in:\n${lines.join('\n')}`);
  }
});

test('a cluster name is escaped inside its label; a stale cluster is down', () => {
  assert.ok(renderMetrics(counters, status).includes('routeagent_cluster_up{cluster="odd\\"name"} 0\n'));
});

test('no last success yet: no timestamp gauge (rather than a 1970 one)', () => {
  const { lastSuccess: _unused, ...never } = status;
  assert.not.ok(renderMetrics(counters, never).includes('routeagent_last_success_timestamp_seconds'));
});

test('a held guard shows as 1', () => {
  assert.ok(renderMetrics(counters, { ...status, guard: { held: true, reasons: ['r'] } }).includes('\nrouteagent_guard_holding 1\n'));
});

test.run();
