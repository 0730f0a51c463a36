// Request/reply over a child's IPC channel: the orchestrator (bench/run.ts, under tsx) drives bundled workers
// (bench/worker.ts) with `call(op, args)`; a worker answers with `serve(handlers)` and exits when its parent goes.
import type { ChildProcess } from 'node:child_process';
import { stopChild, track } from './procs.js';

export type Worker = {
  readonly pid: number;
  call<T = unknown>(op: string, args?: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
};

type Reply = { id: number; ok: boolean; result?: unknown; error?: string };

export function startWorker(bundle: string, mode: string, opts: { execArgv?: string[]; cwd?: string } = {}): Worker {
  const child: ChildProcess = track(process.execPath, [...(opts.execArgv ?? []), bundle, mode], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    cwd: opts.cwd,
  });
  let next = 0;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  child.on('message', (m: Reply) => {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.ok) w?.resolve(m.result);
    else w?.reject(new Error(`${mode} worker: ${m.error}`));
  });
  child.on('error', () => undefined); // a send on a closed channel (the worker died, e.g. on Ctrl-C) rejects below instead
  child.once('exit', (code, signal) => {
    for (const w of waiting.values()) w.reject(new Error(`${mode} worker exited (${code ?? signal})`));
    waiting.clear();
  });
  return {
    pid: child.pid ?? -1,
    call: <T>(op: string, args: Record<string, unknown> = {}) =>
      new Promise<T>((resolve, reject) => {
        if (!child.connected) return reject(new Error(`${mode} worker is gone (${child.exitCode ?? child.signalCode ?? 'disconnected'})`));
        const id = ++next;
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, op, args }, (err) => {
          if (!err) return;
          waiting.delete(id);
          reject(new Error(`${mode} worker: ${err.message}`));
        });
      }),
    async close() {
      // A disconnect lets the worker exit by itself (so --cpu-prof can write its profile); SIGTERM only if it does not.
      const exited = new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
      if (child.connected) child.disconnect();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      await stopChild(child, 3000, 'SIGTERM');
    },
  };
}

export type Handlers = Record<string, (args: Record<string, unknown>) => Promise<unknown> | unknown>;

export function serve(handlers: Handlers): void {
  process.on('message', (m: { id: number; op: string; args: Record<string, unknown> }) => {
    const fn = handlers[m.op];
    Promise.resolve()
      .then(() => {
        if (!fn) throw new Error(`unknown op ${m.op}`);
        return fn(m.args);
      })
      .then(
        (result) => process.send?.({ id: m.id, ok: true, result }),
        (err: Error) => process.send?.({ id: m.id, ok: false, error: err.stack ?? err.message }),
      );
  });
  process.on('disconnect', () => process.exit(0));
}
