// The configured reload command (`haproxy.reload`), run when a live apply is impossible: HAProxy < 2.4, the socket gone,
// a map not loaded. It runs through /bin/sh, as the operator wrote it; this file knows the process, not when to run it.
import { execFile } from 'node:child_process';
import { ApplyError } from '../errors.js';

const RELOAD_TIMEOUT_MS = 60_000;

/** Run `command`; rejects with an ApplyError naming the command and its last stderr line. */
export function runReload(command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', command], { timeout: RELOAD_TIMEOUT_MS, maxBuffer: 1 << 20 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const e = err as { code?: number | string; killed?: boolean };
      const why = e.killed ? `no exit within ${RELOAD_TIMEOUT_MS} ms` : `exit ${e.code}`;
      const last = stderr.trim().split('\n').pop();
      reject(
        new ApplyError(
          'reload',
          `haproxy: reload command "${command}" failed (${why}${last ? `: ${last}` : ''}); map files are written, HAProxy may still serve the old maps`,
        ),
      );
    });
  });
}
