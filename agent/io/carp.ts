// Reads this node's CARP state: runs the configured `ifconfig` (no arguments: every interface) and parses its output.
import { execFile } from 'node:child_process';
import { type CarpState, carpState } from '../core/carp.js';
import { AgentError } from '../errors.js';

const IFCONFIG_TIMEOUT_MS = 10_000;

/** The state of `vhid`; throws a soft AgentError when the command cannot run (the caller then follows). */
export function readCarpState(ifconfig: string, vhid: number): Promise<CarpState> {
  return new Promise((resolve, reject) => {
    execFile(ifconfig, [], { timeout: IFCONFIG_TIMEOUT_MS, maxBuffer: 4 << 20 }, (err, stdout) => {
      if (!err) return resolve(carpState(stdout, vhid));
      const e = err as NodeJS.ErrnoException & { killed?: boolean };
      const why = e.killed ? `no exit within ${IFCONFIG_TIMEOUT_MS} ms` : typeof e.code === 'string' ? e.code : `exit ${String(e.code)}`;
      reject(new AgentError('ERR_CARP', `ha: cannot read the CARP state: "${ifconfig}" failed (${why})`));
    });
  });
}
