// One agent per set of maps: a lock file next to the map files, taken with O_EXCL, holding `<pid> <role> <boot>`: the
// daemon (`run`) or a one-shot `sync`, and when the machine booted. A lock whose pid is gone, or that was written before
// the last boot (the map folder survives a power loss; its pid may now be another program's), is stale and taken over.
// Also the "force" marker a one-shot `sync --force` leaves for the daemon.
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { uptime } from 'node:os';
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

/** When this machine booted, in seconds; stable to a second or two between calls. */
function bootTimeSec(): number {
  return Math.round(Date.now() / 1000 - uptime());
}

/** The process holding the lock, if it is alive and took the lock since the last boot. */
export async function lockHolder(path: string): Promise<Holder | undefined> {
  return holderOf(await readFile(path, 'utf8').catch(() => ''));
}

function holderOf(text: string): Holder | undefined {
  const [pidText, roleText, bootText] = text.trim().split(/\s+/);
  const pid = Number.parseInt(pidText ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const boot = Number.parseInt(bootText ?? '', 10);
  if (Number.isInteger(boot) && Math.abs(boot - bootTimeSec()) > 30) return undefined; // from before the last boot
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
      const mine = `${process.pid} ${role} ${bootTimeSec()}\n`;
      await fh.writeFile(mine);
      await fh.close();
      // Remove the lock only while it is still ours: never another agent's, taken after ours was judged stale.
      const release = async () => {
        if ((await readFile(path, 'utf8').catch(() => '')) === mine) await unlink(path).catch(() => undefined);
      };
      return { path, release };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw cannot(e);
      const seen = await readFile(path, 'utf8').catch(() => '');
      const holder = holderOf(seen);
      if (holder !== undefined && holder.pid !== process.pid) {
        const who = holder.role === 'sync' ? 'a one-shot routeagent sync' : 'another routeagent';
        throw new AgentError('ERR_LOCKED', `lock ${path}: ${who} (pid ${holder.pid}) drives these maps; exiting`, false);
      }
      // Stale: its agent is gone. Unlink only what we judged stale; a racer that took over meanwhile keeps its lock.
      if ((await readFile(path, 'utf8').catch(() => '')) === seen) await unlink(path).catch(() => undefined);
    }
  }
  throw new AgentError('ERR_LOCK', `lock ${path}: could not be taken`, false);
}
