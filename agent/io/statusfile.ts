// The status file: written atomically after every sync, read by `routeagent status` and `service routeagent status`.
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SyncReport } from '../core/report.js';
import { type Status, statusFromReport } from '../core/status.js';
import { writeFileAtomic } from './files.js';

export async function readStatus(path: string): Promise<Status | undefined> {
  try {
    const s = JSON.parse(await readFile(path, 'utf8')) as Status;
    return s && s.version === 1 ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Fold a sync report into the status file; returns what was written. */
export async function recordStatus(path: string, report: SyncReport, previous?: Status): Promise<Status> {
  const status = statusFromReport(report, previous ?? (await readStatus(path)));
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, `${JSON.stringify(status, null, 2)}\n`);
  return status;
}
