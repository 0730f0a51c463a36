// The queue of one, driven by a run function the test controls (no clock): one sync at a time, triggers during a sync
// coalesce into one more, a request gets the report of a sync that started after it, --force if any waiter asked, and
// closing lets the running sync end and fails the requests still waiting.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSyncQueue } from '../../agent/daemon/queue.js';
import { AgentError } from '../../agent/errors.js';

/** A run function whose syncs the test ends by hand; each sync's report is its number (1, 2, …). */
function manualRuns() {
  const calls: { reason: string; force: boolean; finish: (ok?: boolean) => void }[] = [];
  const run = (reason: string, force: boolean) =>
    new Promise<number | undefined>((resolve) => {
      const n = calls.length + 1;
      calls.push({ reason, force, finish: (ok = true) => resolve(ok ? n : undefined) });
    });
  return { calls, run };
}
const settle = () => new Promise((r) => setImmediate(r));

const test = suite('createSyncQueue');

test('a trigger runs one sync at once, with its reason and no force', async () => {
  const { calls, run } = manualRuns();
  createSyncQueue(run).trigger('start');
  assert.equal(
    calls.map((c) => [c.reason, c.force]),
    [['start', false]],
  );
});

test('triggers during a sync coalesce into one more sync, with the first reason', async () => {
  const { calls, run } = manualRuns();
  const q = createSyncQueue(run);
  q.trigger('start');
  q.trigger('schedule');
  q.trigger('SIGUSR2');
  q.trigger('config file changed');
  assert.is(calls.length, 1);
  calls[0]!.finish();
  await settle();
  assert.equal(
    calls.map((c) => c.reason),
    ['start', 'schedule'],
  );
  calls[1]!.finish();
  await settle();
  assert.is(calls.length, 2);
});

test('a request waits for the next sync, never the running one', async () => {
  const { calls, run } = manualRuns();
  const q = createSyncQueue(run);
  q.trigger('start');
  const answered: number[] = [];
  void q.request(false).then((r) => answered.push(r));
  calls[0]!.finish();
  await settle();
  assert.equal(answered, []);
  assert.is(calls[1]!.reason, 'routeagent sync');
  calls[1]!.finish();
  await settle();
  assert.equal(answered, [2]);
});

test('the queued sync is forced when any of its waiters asked for --force', async () => {
  const { calls, run } = manualRuns();
  const q = createSyncQueue(run);
  q.trigger('start');
  const plain = q.request(false);
  const forced = q.request(true);
  calls[0]!.finish();
  await settle();
  assert.equal([calls[1]!.reason, calls[1]!.force], ['routeagent sync', true]);
  calls[1]!.finish();
  assert.equal(await Promise.all([plain, forced]), [2, 2]);
});

test('a forced request alone names --force as the reason', async () => {
  const { calls, run } = manualRuns();
  const reply = createSyncQueue(run).request(true);
  assert.equal([calls[0]!.reason, calls[0]!.force], ['routeagent sync --force', true]);
  calls[0]!.finish();
  assert.is(await reply, 1);
});

test('a sync that failed unexpectedly fails its waiters with a message pointing at the log', async () => {
  const { calls, run } = manualRuns();
  const reply = createSyncQueue(run).request(false);
  calls[0]!.finish(false);
  const e = await reply.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(e, AgentError);
  assert.is((e as AgentError).code, 'ERR_SYNC');
  assert.is((e as AgentError).message, 'the sync failed unexpectedly; see the daemon log');
});

test('close lets the running sync finish, runs no more, and fails the waiting and later requests', async () => {
  const { calls, run } = manualRuns();
  const q = createSyncQueue(run);
  const first = q.request(false);
  const second = q.request(false).then(
    () => undefined,
    (e: AgentError) => e.message,
  );
  await settle();
  assert.is(calls.length, 1);
  // The first request started the running sync, so that sync answers it; the second waits behind it.
  const closed = q.close();
  const late = q.request(false).then(
    () => undefined,
    (e: AgentError) => e.message,
  );
  q.trigger('schedule');
  calls[0]!.finish();
  await closed;
  assert.is(await first, 1);
  assert.is(await second, 'the daemon is stopping; no sync run for this request');
  assert.is(await late, 'the daemon is stopping; no sync run for this request');
  assert.is(calls.length, 1);
});

test.run();
