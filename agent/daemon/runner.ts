// One sync as the daemon runs it: the decide step between the two edges (syncOnce today), then the status file, the
// /metrics counters and the onSync hook. Never throws: an unexpected failure (a bug) is logged with its stack and
// counted. It decides nothing about *when* to sync (queue.ts) nor *what* a sync does (the decide step passed in).
import type { Counters } from '../core/metrics.js';
import type { Status } from '../core/status.js';
import { recordStatus } from '../io/statusfile.js';
import type { Log } from '../log.js';
import type { SyncReport } from '../sync.js';

export type RunnerOptions = {
  readonly log: Log;
  /** One sync, with or without the guard. A follower of a pair would pass its own step here, between the same edges. */
  readonly decide: (force: boolean) => Promise<SyncReport>;
  /** The status file of the config in force (a reload may move it). */
  readonly statusFile: () => string;
  /** The status file as found at start: what /metrics and `status` show until the first sync ends. */
  readonly status: Status | undefined;
  readonly onSync?: ((report: SyncReport) => void) | undefined;
};
export type SyncRunner = {
  /** Run one sync; undefined when it failed unexpectedly. */
  run(reason: string, force: boolean): Promise<SyncReport | undefined>;
  /** The last sync's status, newer than the file when writing it failed. */
  status(): Status | undefined;
  readonly counters: Counters;
};

/** A runner that keeps the last status and the counters of every sync it ran. */
export function createSyncRunner(opts: RunnerOptions): SyncRunner {
  const { log } = opts;
  const counters: Counters = { syncs: { ok: 0, failed: 0, held: 0 }, failovers: 0 };
  let status = opts.status;

  const record = async (report: SyncReport) => {
    const file = opts.statusFile();
    status = await recordStatus(file, report, status).catch((e: Error) => {
      log.warn(`status ${file}: cannot write (${e.message}); next sync retries`);
      return status;
    });
  };
  const count = (report: SyncReport) => {
    counters.syncs[report.error !== undefined ? 'failed' : report.held?.length ? 'held' : 'ok']++;
    counters.failovers += report.failovers.filter((f) => f.since === report.at).length; // started by this sync
  };

  const run = async (reason: string, force: boolean): Promise<SyncReport | undefined> => {
    if (force) log.info('sync: forced by "routeagent sync --force"; the guard does not apply to this sync');
    log.debug(`sync: starting (${reason}${force ? ', forced' : ''})`);
    try {
      const report = await opts.decide(force);
      await record(report);
      count(report);
      opts.onSync?.(report);
      return report;
    } catch (e) {
      counters.syncs.failed++;
      log.error(`sync: unexpected failure: ${(e as Error).stack ?? String(e)}; retrying at the next trigger`);
      return undefined;
    }
  };
  return { run, status: () => status, counters };
}
