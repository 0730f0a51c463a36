// One agent per set of maps: a lock file next to the map files, taken with O_EXCL, holding `<pid> <role>`: the daemon
// (`run`) or a one-shot `sync`. A lock whose pid is gone is stale and taken over (a SIGKILLed agent leaves one behind).
// Also the "force" marker a one-shot `sync --force` leaves for the daemon.
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AgentError } from '../errors.js';

export type LockRole = 'daemon' | 'sync';
export type Lock = { readonly path: string; release(): Promise<void> };
/** Who holds a lock; `role` is undefined for a lock written by an older agent (pid only). */
export type Holder = { readonly pid: number; readonly role: LockRole | undefined };

export function lockPathFor(mapPath: string): string {
  return join(dirname(mapPath), '.routeagent.lock');
}

export function forcePathFor(mapPath: string): string {
  return join(dirname(mapPath), '.routeagent.force');
}

/** The process holding the lock, if it is alive. */
export async function lockHolder(path: string): Promise<Holder | undefined> {
  const [pidText, roleText] = (await readFile(path, 'utf8').catch(() => '')).trim().split(/\s+/);
  const pid = Number.parseInt(pidText ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const role = roleText === 'daemon' || roleText === 'sync' ? roleText : undefined;
  try {
    process.kill(pid, 0);
    return { pid, role };
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? { pid, role } : undefined;
  }
}

/** Take the lock or throw naming the agent that holds it. */
export async function acquireLock(path: string, role: LockRole): Promise<Lock> {
  const cannot = (e: unknown) => new AgentError('ERR_LOCK', `lock ${path}: cannot create (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, false);
  await mkdir(dirname(path), { recursive: true }).catch((e: unknown) => {
    throw cannot(e);
  });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644);
      await fh.writeFile(`${process.pid} ${role}\n`);
      await fh.close();
      return { path, release: () => unlink(path).catch(() => undefined) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw cannot(e);
      const holder = await lockHolder(path);
      if (holder !== undefined && holder.pid !== process.pid) {
        const who = holder.role === 'sync' ? 'a one-shot routeagent sync' : 'another routeagent';
        throw new AgentError('ERR_LOCKED', `lock ${path}: ${who} (pid ${holder.pid}) drives these maps; exiting`, false);
      }
      await unlink(path).catch(() => undefined); // stale: its agent is gone
    }
  }
  throw new AgentError('ERR_LOCK', `lock ${path}: could not be taken`, false);
}
