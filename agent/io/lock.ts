// One agent per set of maps: a pid file next to the map files, taken with O_EXCL. A lock whose pid is gone is stale
// and taken over (a SIGKILLed agent leaves one behind). Also the "force" marker a one-shot `sync --force` leaves for the daemon.
import { open, readFile, unlink, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AgentError } from '../errors.js';

export type Lock = { readonly path: string; release(): Promise<void> };

export function lockPathFor(mapPath: string): string {
  return join(dirname(mapPath), '.routeagent.lock');
}

export function forcePathFor(mapPath: string): string {
  return join(dirname(mapPath), '.routeagent.force');
}

/** The pid holding the lock, if that process is alive. */
export async function lockHolder(path: string): Promise<number | undefined> {
  const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

/** Take the lock or throw naming the agent that holds it. */
export async function acquireLock(path: string): Promise<Lock> {
  await mkdir(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return { path, release: () => unlink(path).catch(() => undefined) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new AgentError('ERR_LOCK', `lock ${path}: cannot create (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, false);
      }
      const holder = await lockHolder(path);
      if (holder !== undefined && holder !== process.pid) {
        throw new AgentError('ERR_LOCKED', `lock ${path}: another routeagent (pid ${holder}) drives these maps; exiting`, false);
      }
      await unlink(path).catch(() => undefined); // stale: its agent is gone
    }
  }
  throw new AgentError('ERR_LOCK', `lock ${path}: could not be taken`, false);
}
