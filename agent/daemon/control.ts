// The daemon's end of the control channel (io/control.ts speaks the protocol): take the socket at start (it is the
// lock on these maps) and answer `sync` with a sync queued for the request and `status` with the daemon's last status.
import type { Config } from '../config.js';
import type { Status } from '../core/status.js';
import { AgentError } from '../errors.js';
import { type Control, controlPathFor, describeHolder, holdControl } from '../io/control.js';
import type { SyncReport } from '../sync.js';
import { VERSION } from '../version.js';

/** Bind the control socket, or refuse to start naming the agent that holds it. */
export async function takeControl(config: Config): Promise<Control> {
  const path = controlPathFor(config.haproxy.maps.hosts);
  const held = await holdControl(path, { pid: process.pid, role: 'daemon', version: VERSION });
  if (held.kind === 'held') return held.control;
  throw new AgentError('ERR_LOCKED', `control socket ${path}: ${describeHolder(held.holder)} drives these maps; exiting`);
}

/** Answer the CLI's requests: `sync` waits for a sync that starts after it, `status` is the daemon's own. */
export function serveDaemon(
  control: Control,
  on: { sync: (force: boolean) => Promise<SyncReport>; status: () => Status | undefined },
): void {
  control.serve({ sync: on.sync, status: async () => on.status() });
}
