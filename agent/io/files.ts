// Map files on disk: atomic writes (tmp in the same folder + fsync + rename + fsync of the folder), and the
// two halves of that write (stage, promote) so `haproxy -c` can read a staged map before it replaces the live one.
// Does not decide what to write; apply.ts does.
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { MAP_NAMES } from '../core/maps.js';
import { parseMapText } from '../core/render.js';
import type { Entry, MapName } from '../core/types.js';
import { ApplyError } from '../errors.js';

/** Write `text` to `path` atomically: readers see the old file or the new one, never a part. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = siblingPath(path, 'tmp');
  await writeSynced(tmp, text, path);
  await promoteFile(tmp, path);
}

/** Write `text` next to `path` (`.<name>.staged-<pid>`), fsynced but not yet live; returns the staged path. */
export async function stageFile(path: string, text: string): Promise<string> {
  const staged = siblingPath(path, 'staged');
  await writeSynced(staged, text, path);
  return staged;
}

/** Rename a staged file over `path` and fsync the folder, so the rename survives a power loss. */
export async function promoteFile(staged: string, path: string): Promise<void> {
  try {
    await rename(staged, path);
  } catch (err) {
    await discardFile(staged);
    throw new ApplyError('write', `map file ${path}: cannot rename ${basename(staged)} into place (${reason(err)}); ${path} unchanged`, {
      cause: err,
    });
  }
  await syncDir(dirname(path));
}

/** Remove a staged file; a file that is already gone is fine. */
export async function discardFile(staged: string): Promise<void> {
  await unlink(staged).catch(() => undefined);
}

/** Read a map file the way HAProxy does; a missing file is an empty map. */
export async function readMapFile(path: string): Promise<Entry[]> {
  return parseMapText(await readMapText(path));
}

/** A map file's text; a missing file is an empty map (''). */
export async function readMapText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new ApplyError('read', `map file ${path}: cannot read (${reason(err)})`, { cause: err });
  }
}

/** Read every map file (see readMapFile). */
export async function readMapFiles(paths: Readonly<Record<MapName, string>>): Promise<Record<MapName, Entry[]>> {
  const maps = await Promise.all(MAP_NAMES.map((m) => readMapFile(paths[m])));
  return Object.fromEntries(MAP_NAMES.map((m, i) => [m, maps[i]!])) as Record<MapName, Entry[]>;
}

// What an agent killed mid-apply leaves next to the maps: `.<name>.tmp-<pid>` and `.<name>.staged-<pid>` (siblingPath),
// and `.<config>.check-<pid>.cfg`, the `haproxy -c` copy (io/check.ts).
const LEFTOVER = /^\..+\.(?:tmp|staged)-(\d+)$|^\..+\.check-(\d+)\.cfg$/;

/** Remove the files in `dir` that an agent which is gone left behind (SIGKILL mid-write); returns their names, sorted. */
export async function discardLeftovers(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = LEFTOVER.exec(name);
    const pid = Number(m?.[1] ?? m?.[2]);
    // a live pid is ours, or a `routeagent check` running its own -c: not a leftover
    if (!m || pid === process.pid || isAlive(pid)) continue;
    await unlink(join(dir, name)).then(
      () => removed.push(name),
      () => undefined,
    );
  }
  return removed.sort();
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `.<name>.<kind>-<pid>` in the same folder as `path` (same filesystem, so rename is atomic). */
export function siblingPath(path: string, kind: 'tmp' | 'staged'): string {
  return join(dirname(path), `.${basename(path)}.${kind}-${process.pid}`);
}

async function writeSynced(tmp: string, text: string, path: string): Promise<void> {
  let created = false;
  try {
    const handle = await open(tmp, 'w', 0o644);
    created = true;
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (created) await discardFile(tmp);
    throw new ApplyError('write', `map file ${path}: cannot write ${basename(tmp)} (${reason(err)}); ${path} unchanged`, { cause: err });
  }
}

// Best effort: the rename already happened, and some filesystems refuse fsync on a folder (EINVAL).
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}

function reason(err: unknown): string {
  // "EISDIR: illegal operation on a directory, open '/x'" → "EISDIR: illegal operation on a directory"
  const e = err as NodeJS.ErrnoException;
  return e.code && e.message ? e.message.split(', ')[0]! : String(err);
}
