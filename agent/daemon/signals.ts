// Process signals for `routeagent run`: SIGHUP reloads the config, SIGUSR2 asks for a sync, SIGTERM/SIGINT stop.
// Installed before the daemon loads (main.ts imports it statically; it imports nothing heavy): without a handler,
// SIGHUP and SIGUSR2 kill a node process, and rc.d may signal while start-up is not over. Signals that arrive while
// starting are replayed once, when the daemon is attached.
import type { EventEmitter } from 'node:events';

/** What a signal acts on: the running daemon. */
export type SignalTarget = { reload(reason: string): unknown; trigger(reason: string): void };
export type Signals = {
  /** Act on signals from now on, replaying those that arrived before. */
  attach(target: SignalTarget): void;
  /** Resolves with the name of the first SIGTERM or SIGINT. */
  readonly stopped: Promise<string>;
};

/** Start catching the daemon's signals on `proc` (the process; tests pass an emitter). */
export function catchSignals(proc: EventEmitter = process): Signals {
  let target: SignalTarget | undefined;
  const early = new Set<'SIGHUP' | 'SIGUSR2'>();
  proc.on('SIGHUP', () => (target ? void target.reload('SIGHUP') : early.add('SIGHUP')));
  proc.on('SIGUSR2', () => (target ? target.trigger('SIGUSR2') : early.add('SIGUSR2')));
  const stopped = new Promise<string>((resolve) => {
    proc.once('SIGTERM', () => resolve('SIGTERM'));
    proc.once('SIGINT', () => resolve('SIGINT'));
  });
  return {
    attach(t) {
      target = t;
      if (early.has('SIGHUP')) void t.reload('SIGHUP');
      if (early.has('SIGUSR2')) t.trigger('SIGUSR2');
    },
    stopped,
  };
}
