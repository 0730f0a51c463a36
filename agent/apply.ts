// The HAProxy port of a sync: `read` what HAProxy serves now, then `apply` the desired maps: compare with the files and
// the live maps, render → stage → `haproxy -c` → backends exist with the right mode → rename into place → runtime replace
// (or reload). Nothing is renamed until every check passed. The order of the steps lives here; each step's I/O is in io/.
import { dirname } from 'node:path';
import type { HaproxyConfig } from './config.js';
import { backendFault, MAP_NAMES } from './core/maps.js';
import { mapTextHolds, renderMap, sameEntries } from './core/render.js';
import { type BackendMode, MIN_RUNTIME_VERSION, type ShowInfo, versionAtLeast } from './core/reply.js';
import type { Entry, MapName } from './core/types.js';
import { ApplyError, HaproxyReplyError } from './errors.js';
import { checkConfig, readConfigBackends } from './io/check.js';
import { discardFile, discardLeftovers, promoteFile, readMapFile, readMapFiles, readMapText, stageFile } from './io/files.js';
import { runReload } from './io/reload.js';
import { createRuntime, isNothingListening, isUnreachable, type Runtime } from './io/runtime.js';
import { count, type Log } from './log.js';
import type { ApplyResult, Current, HaproxyPort } from './ports.js';

/** Edges a caller may supply: a long-lived runtime (its mutex then spans syncs), or a wrapped one in tests; what `read`
 * returned; and, for a CARP follower, files only when HAProxy does not run. */
export type ApplyDeps = { readonly runtime?: Runtime; readonly current?: Current; readonly fileOnlyWithoutHaproxy?: boolean };
/** The note of an apply that wrote the files only (a CARP follower whose HAProxy does not run). */
export const FILE_ONLY = 'file-only: HAProxy is not running on this node';

const CHECK_TIMEOUT_MS = 30_000;

type Live = { readonly info: ShowInfo; readonly loaded: ReadonlySet<string> };
/** Why the socket could not be reached, and whether nothing listens there (no file, or nobody accepts on it). */
type Unreached = { readonly why: string; readonly nothingListens: boolean };
type Note = (level: 'info' | 'warn', text: string) => void;
type Desired = Record<MapName, readonly Entry[]>;

/** The HAProxy port for one sync, built from the config's `haproxy` section; read and apply share one runtime client. */
export function createHaproxyPort(h: HaproxyConfig, opts: { readonly fileOnlyWithoutHaproxy?: boolean } = {}): HaproxyPort {
  const runtime = createRuntime(h.socket, { timeoutMs: h.timeoutMs });
  const fileOnly = opts.fileOnlyWithoutHaproxy === true ? { fileOnlyWithoutHaproxy: true } : {};
  return {
    read: async ({ dryRun, likely }) => (dryRun ? { maps: await readMapFiles(h.maps), source: 'file' } : readLive(h, { runtime }, likely)),
    apply: (desired, current, log) => applyMaps(h, desired, log, { runtime, current, ...fileOnly }),
  };
}

/**
 * What HAProxy serves now: `show map` for each loaded map when the socket answers, else the map files. A socket that is
 * gone, late or garbled means the files (as a dry run plans): applyMaps then fails and says what is wrong with HAProxy.
 * `likely` (HaproxyPort.read): a map listed exactly so is answered with those entries, not parsed again.
 */
export async function readLive(
  h: HaproxyConfig,
  deps: ApplyDeps = {},
  likely?: Readonly<Record<MapName, readonly Entry[]>>,
): Promise<Current> {
  const runtime = deps.runtime ?? createRuntime(h.socket, { timeoutMs: h.timeoutMs });
  const probed = await probe(runtime).catch(noReply);
  const live = probed && 'info' in probed ? probed : undefined;
  const maps = {} as Record<MapName, readonly Entry[]>;
  const shownMaps: Partial<Record<MapName, readonly Entry[]>> = {};
  for (const m of MAP_NAMES) {
    const shown = live?.loaded.has(h.maps[m])
      ? await runtime.showMap(h.maps[m], likely ? { likely: likely[m] } : {}).catch(noReply)
      : undefined;
    if (shown) maps[m] = shownMaps[m] = shown;
    else maps[m] = await readMapFile(h.maps[m]);
  }
  const fromRuntime = Object.keys(shownMaps).length;
  // Which backends HAProxy's checks report DOWN, for failover; unreadable means unknown, and unknown counts as UP.
  const backendStatus = live ? await runtime.backendStatus().catch(noReply) : undefined;
  return {
    maps,
    source: fromRuntime === MAP_NAMES.length ? 'runtime' : 'file',
    ...(live && fromRuntime ? { process: { info: live.info, maps: shownMaps } } : {}),
    ...(backendStatus ? { backendStatus } : {}),
  };
}

/** Make the map files and HAProxy's live maps equal `desired`; throws ApplyError before anything is live when a check fails. */
export async function applyMaps(h: HaproxyConfig, desired: Desired, log: Log, deps: ApplyDeps = {}): Promise<ApplyResult> {
  const runtime = deps.runtime ?? createRuntime(h.socket, { timeoutMs: h.timeoutMs });
  const notes: string[] = [];
  const note: Note = (level, text) => {
    notes.push(text);
    log[level](text);
  };
  await discardLeftoversBeside(h, log);

  // 1. What differs: desired vs the file, and desired vs HAProxy (runtime ≠ file is drift, repaired too).
  const probed = await beforeLive(probe(runtime));
  const live = 'info' in probed ? probed : undefined;
  if (deps.fileOnlyWithoutHaproxy === true) mustBeFileOnlyOrLive(probed);
  const changed = await changedMaps(h, desired, runtime, live, deps.current, note);
  if (changed.length === 0) return { applied: false, method: 'none', changed, notes };

  // 2. Render and stage next to the live files; from here until the rename, any failure removes the staged files.
  const texts = renderChanged(changed, desired);
  const staged = { ...h.maps };
  let promoted = false;
  try {
    for (const m of changed) staged[m] = await stageFile(h.maps[m], texts[m]!);
    await checkStaged(h, changed, staged, note); // 3. haproxy -c on the running config, loading the staged maps
    await checkBackends(h, changed, desired, live ? runtime : undefined); // 4. -c does not check that map values name backends

    // 5. How to make it live: runtime replace needs a reachable socket, HAProxy >= 2.4 and the map loaded.
    const reasons = whyNotLive(h, changed, live, probed);
    // A CARP follower's HAProxy may be stopped on purpose (pfSense "Carp monitor" starts it from the files on failover):
    // the files are all it needs, and a reload command would start HAProxy on the backup.
    const fileOnly = !live && deps.fileOnlyWithoutHaproxy === true; // nothing listens: mustBeFileOnlyOrLive let it through
    if (reasons.size > 0 && !h.reload && !fileOnly) {
      throw new ApplyError(
        'reload',
        `haproxy: ${[...reasons].join('; ')}; no reload command configured: set haproxy.reload (e.g. "service haproxy reload"); live maps unchanged`,
      );
    }

    // 6. Disk first: from here a reload by anyone yields the new maps (HAProxy reads map files only when it starts).
    for (const m of changed) await promoteFile(staged[m], h.maps[m]);
    promoted = true;

    if (fileOnly) {
      for (const m of changed)
        log.info(`haproxy: map ${m} written to ${h.maps[m]} (${count(desired[m].length, 'entry', 'entries')}); ${FILE_ONLY}`);
      return { applied: false, method: 'none', changed, notes: [...notes, FILE_ONLY] };
    }
    if (reasons.size > 0) {
      await runReload(h.reload!);
      for (const why of reasons) note('warn', `haproxy: ${why}; ran reload command "${h.reload}"`);
      for (const m of changed)
        log.info(`haproxy: map ${m} written to ${h.maps[m]} (${count(desired[m].length, 'entry', 'entries')}); applied by reload`);
      return { applied: true, method: 'reload', changed, notes };
    }
    await replaceLive(h, changed, desired, runtime, live!, note, log); // 7.
    return { applied: true, method: 'runtime', changed, notes };
  } finally {
    if (!promoted) for (const m of changed) if (staged[m] !== h.maps[m]) await discardFile(staged[m]);
  }
}

// An agent killed mid-apply (SIGKILL, power loss) left staged files or a -c copy beside the maps: they are never live, just clutter.
async function discardLeftoversBeside(h: HaproxyConfig, log: Log): Promise<void> {
  for (const dir of new Set(MAP_NAMES.map((m) => dirname(h.maps[m])))) {
    for (const name of await discardLeftovers(dir)) log.info(`haproxy: removed ${name} (left by a routeagent that is gone)`);
  }
}

// Until the files are renamed into place, a bad or late reply from HAProxy means nothing was applied.
function beforeLive<T>(step: Promise<T>): Promise<T> {
  return step.catch((err: unknown) => {
    throw err instanceof HaproxyReplyError
      ? new HaproxyReplyError(`${err.message}; nothing applied, live maps unchanged`, { cause: err })
      : err;
  });
}

async function changedMaps(
  h: HaproxyConfig,
  desired: Desired,
  runtime: Runtime,
  live: Live | undefined,
  current: Current | undefined,
  note: Note,
): Promise<MapName[]> {
  // The same HAProxy process (pid and start time) that read dumped moments ago: reuse its maps. A restart in between
  // loaded the files, so it is dumped again. A `set map` by someone else in between is seen as drift at the next sync.
  const seen = current?.process;
  const same = seen && live && seen.info.pid === live.info.pid && seen.info.startTimeSec === live.info.startTimeSec;
  const seenMaps = same ? seen.maps : {};
  const changed: MapName[] = [];
  for (const m of MAP_NAMES) {
    const path = h.maps[m];
    const fileDiffers = !mapTextHolds(await readMapText(path), desired[m]);
    const runtimeDiffers =
      live?.loaded.has(path) === true && !sameEntries(seenMaps[m] ?? (await beforeLive(runtime.showMap(path))), desired[m]);
    if (!fileDiffers && !runtimeDiffers) continue;
    changed.push(m);
    if (!fileDiffers) note('warn', `haproxy: map ${m}: HAProxy's live entries differ from ${path} (drift); repairing`);
  }
  return changed;
}

function renderChanged(changed: readonly MapName[], desired: Desired): Partial<Record<MapName, string>> {
  const texts: Partial<Record<MapName, string>> = {};
  for (const m of changed) {
    try {
      texts[m] = renderMap(desired[m]);
    } catch (err) {
      throw new ApplyError('render', `haproxy: map ${m}: ${(err as Error).message}; live maps unchanged`, { cause: err });
    }
  }
  return texts;
}

async function checkStaged(h: HaproxyConfig, changed: readonly MapName[], staged: Record<MapName, string>, note: Note): Promise<void> {
  const check = await checkConfig({ bin: h.bin, config: h.config, mapPaths: h.maps, staged, timeoutMs: CHECK_TIMEOUT_MS }).catch(
    (err: Error) => {
      throw new ApplyError('check', `${err.message}; live maps unchanged`, { cause: err });
    },
  );
  if (!check.ok)
    throw new ApplyError('check', `haproxy -c rejected the staged maps: ${check.alerts[0] ?? 'no ALERT line'}; live maps unchanged`);
  for (const m of changed) {
    if (!check.loaded[m])
      note(
        'warn',
        `haproxy: config ${h.config} does not use map ${h.maps[m]}; its entries route nothing until the snippet lines are added`,
      );
  }
}

/** Every value of a changed map names a backend of the right mode: `show stat` when the socket answers, else the config file. */
async function checkBackends(h: HaproxyConfig, changed: readonly MapName[], desired: Desired, runtime: Runtime | undefined): Promise<void> {
  const modes: ReadonlyMap<string, BackendMode> = runtime ? await beforeLive(runtime.backends()) : await readConfigBackends(h.config);
  const source = runtime ? 'show stat' : `config ${h.config}`;
  for (const m of changed) {
    const problems = desired[m].flatMap((e) => {
      const fault = backendFault(m, e.backend, modes);
      if (fault?.kind === 'missing') return [`map ${m}: ${e.key} → ${e.backend}: no backend ${e.backend} in HAProxy (${source})`];
      if (fault?.kind === 'mode')
        return [`map ${m}: ${e.key} → ${e.backend}: backend ${e.backend} is mode ${fault.actual}, ${m} needs mode ${fault.need}`];
      return [];
    });
    if (problems.length === 0) continue;
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    throw new ApplyError('backends', `haproxy: ${problems[0]}${more}; live maps unchanged`);
  }
}

// File-only is for a node where HAProxy does not run. A socket that exists but cannot be used (EACCES, EPERM, ENOTSOCK)
// may belong to a running HAProxy that would keep serving old maps while this node reports itself healthy.
function mustBeFileOnlyOrLive(probed: Live | Unreached): void {
  if ('info' in probed || probed.nothingListens) return;
  throw new ApplyError(
    'socket',
    `${probed.why}; HAProxy may be running on this node, so the maps are not written file-only; live maps unchanged, the next sync retries`,
  );
}

function whyNotLive(h: HaproxyConfig, changed: readonly MapName[], live: Live | undefined, probed: Live | Unreached): Set<string> {
  const reasons = new Set<string>();
  for (const m of changed) {
    const why = !live
      ? (probed as Unreached).why
      : !versionAtLeast(live.info.version, MIN_RUNTIME_VERSION)
        ? `HAProxy ${live.info.version} has no prepare/commit map (needs ${MIN_RUNTIME_VERSION})`
        : !live.loaded.has(h.maps[m])
          ? `the running HAProxy has not loaded map ${h.maps[m]} (not in show map)`
          : undefined;
    if (why) reasons.add(why);
  }
  return reasons;
}

// Live, atomically per map: prepare → add @v in chunks → check @v (its entry count) → commit.
async function replaceLive(
  h: HaproxyConfig,
  changed: readonly MapName[],
  desired: Desired,
  runtime: Runtime,
  live: Live,
  note: Note,
  log: Log,
): Promise<void> {
  for (const m of changed) {
    const started = Date.now();
    try {
      const r = await runtime.replaceMap(h.maps[m], desired[m]);
      log.info(
        `haproxy: map ${m} applied @${r.version}: ${count(r.entries, 'entry', 'entries')} in ${count(r.chunks, 'chunk', 'chunks')}, ${Date.now() - started} ms`,
      );
    } catch (err) {
      if (!(err instanceof HaproxyReplyError)) throw err;
      const restarted = await restartedServing(
        runtime,
        live.info,
        changed.map((c) => [h.maps[c], desired[c]]),
      );
      if (restarted) {
        note(
          'warn',
          `haproxy: HAProxy restarted during the apply (pid ${live.info.pid} → ${restarted.pid}); it loaded the map files, which are already new`,
        );
        return;
      }
      // Not a reload: the live apply was possible and may work next time, and a reload (pfSense: a restart) drops
      // connections on the whole edge. The files are new; the next sync sees the runtime differ and repairs it.
      throw new HaproxyReplyError(`${err.message}; the map files are written, the next sync applies them live`, { cause: err });
    }
  }
}

/** show info + show map, or why the socket cannot be reached (a late or odd reply propagates as an error). */
async function probe(runtime: Runtime): Promise<Live | Unreached> {
  try {
    const info = await runtime.info();
    const maps = await runtime.listMaps();
    return { info, loaded: new Set(maps.map((m) => m.path)) };
  } catch (err) {
    if (isUnreachable(err)) return { why: (err as Error).message, nothingListens: isNothingListening(err) };
    throw err;
  }
}

// While HAProxy is only being read, a bad or late reply counts as no HAProxy: the caller falls back to the files.
function noReply(err: unknown): undefined {
  if (err instanceof HaproxyReplyError) return undefined;
  throw err;
}

// HAProxy restarted mid-apply (a crash and daemon restart, a pfSense Apply): the new process read the map files, which were
// renamed into place before the runtime apply. It is then serving `maps` already, and no prepare/commit is needed.
async function restartedServing(runtime: Runtime, before: ShowInfo, maps: [string, readonly Entry[]][]): Promise<ShowInfo | undefined> {
  try {
    const now = await runtime.info();
    if (now.pid === before.pid && now.startTimeSec === before.startTimeSec) return undefined;
    for (const [path, entries] of maps) if (!sameEntries(await runtime.showMap(path), entries)) return undefined;
    return now;
  } catch (err) {
    return noReply(err);
  }
}
