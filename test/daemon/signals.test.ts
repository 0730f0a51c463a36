// Signals for `routeagent run`, sent on an emitter (not this process): HUP reloads, USR2 syncs, TERM/INT resolve the
// stop, and signals that arrive before the daemon is attached are replayed once, when it is.
import { EventEmitter } from 'node:events';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { catchSignals, type SignalTarget } from '../../agent/daemon/signals.js';

function recorder(): SignalTarget & { seen: string[] } {
  const seen: string[] = [];
  return { seen, reload: (r) => seen.push(`reload ${r}`), trigger: (r) => seen.push(`trigger ${r}`) };
}

const test = suite('catchSignals');

test('HUP reloads and USR2 triggers a sync once attached, every time', () => {
  const proc = new EventEmitter();
  const signals = catchSignals(proc);
  const daemon = recorder();
  signals.attach(daemon);
  proc.emit('SIGHUP');
  proc.emit('SIGUSR2');
  proc.emit('SIGUSR2');
  assert.equal(daemon.seen, ['reload SIGHUP', 'trigger SIGUSR2', 'trigger SIGUSR2']);
});

test('signals before attach are replayed once each, reload first', () => {
  const proc = new EventEmitter();
  const signals = catchSignals(proc);
  proc.emit('SIGUSR2');
  proc.emit('SIGHUP');
  proc.emit('SIGUSR2');
  const daemon = recorder();
  signals.attach(daemon);
  assert.equal(daemon.seen, ['reload SIGHUP', 'trigger SIGUSR2']);
});

test('nothing is replayed when no signal came early', () => {
  const signals = catchSignals(new EventEmitter());
  const daemon = recorder();
  signals.attach(daemon);
  assert.equal(daemon.seen, []);
});

test('the first SIGTERM or SIGINT resolves the stop with its name', async () => {
  const proc = new EventEmitter();
  const signals = catchSignals(proc);
  proc.emit('SIGINT');
  proc.emit('SIGTERM');
  assert.is(await signals.stopped, 'SIGINT');
});

test.run();
