// The queue of one: every trigger (schedule, config change, signal, control request) asks for a sync here. One sync runs
// at a time; whatever arrives while it runs joins the single sync queued behind it, forced if any request asked for
// --force. A request is answered with the report of a sync that started after it arrived, never the running one (that
// one may have read the clusters before the request, and without its --force). It knows nothing of what a sync does.
import { AgentError } from '../errors.js';

/** Runs one sync; undefined when it failed unexpectedly (the runner has logged it). */
export type RunSync<R> = (reason: string, force: boolean) => Promise<R | undefined>;
export type SyncQueue<R> = {
  /** Queue a sync; coalesces with one already waiting. */
  trigger(reason: string): void;
  /** Queue a sync (coalesced likewise) and resolve with its report: a sync that starts after this call. */
  request(force: boolean): Promise<R>;
  /** Refuse new syncs at once, let the running one finish, and fail the requests still waiting. */
  close(): Promise<void>;
};

/** Someone waiting for the report of the next sync (a `routeagent sync` asking over the control socket). */
type Waiter<R> = { readonly force: boolean; readonly done: (r: R | AgentError) => void };
/** The one sync queued behind the running one: why, and who waits for it. */
type Queued<R> = { readonly reason: string; readonly waiters: Waiter<R>[] };

/** A queue that calls `run` for each sync, one at a time. */
export function createSyncQueue<R>(run: RunSync<R>): SyncQueue<R> {
  let running: Promise<void> | undefined;
  let pending: Queued<R> | undefined;
  let stopping = false;

  const drain = async () => {
    while (pending && !stopping) {
      const { reason, waiters } = pending;
      pending = undefined;
      const report = await run(
        reason,
        waiters.some((w) => w.force),
      );
      for (const w of waiters) w.done(report ?? unexpectedError());
    }
    running = undefined;
  };
  const enqueue = (reason: string, waiter?: Waiter<R>) => {
    if (stopping) return waiter?.done(stoppingError());
    pending ??= { reason, waiters: [] };
    if (waiter) pending.waiters.push(waiter);
    running ??= drain();
  };

  return {
    trigger: (reason) => enqueue(reason),
    request: (force) =>
      new Promise<R>((resolve, reject) =>
        enqueue(force ? 'routeagent sync --force' : 'routeagent sync', {
          force,
          done: (r) => (r instanceof AgentError ? reject(r) : resolve(r)),
        }),
      ),
    async close() {
      stopping = true;
      await running;
      for (const w of pending?.waiters ?? []) w.done(stoppingError());
      pending = undefined;
    },
  };
}

function unexpectedError(): AgentError {
  return new AgentError('ERR_SYNC', 'the sync failed unexpectedly; see the daemon log');
}

function stoppingError(): AgentError {
  return new AgentError('ERR_STOPPING', 'the daemon is stopping; no sync run for this request');
}
