// Map text: render entries to the file/payload format, parse it back, split it into runtime payload chunks.
// Pure. renderMap is the last line of defence against map-line injection: it refuses any key or backend
// that could split a line, start a comment or carry whitespace.

import { byteOrder } from './order.js';
import type { Entry } from './types.js';

/** Keys: lowercase DNS names (routes.ts normalises them before they get here). */
const KEY = /^[a-z0-9_](?:[a-z0-9._-]{0,251}[a-z0-9_])?$/;
/** Values: HAProxy backend names as pfSense emits them (`hades_https_ipvANY`). */
const BACKEND = /^[A-Za-z0-9._:-]{1,255}$/;

/** Why an entry cannot be written into a map; undefined when it can. */
export function invalidEntry(entry: Entry): string | undefined {
  if (!KEY.test(entry.key)) return `key ${JSON.stringify(entry.key)} is not a lowercase DNS name`;
  if (!BACKEND.test(entry.backend)) {
    return `backend ${JSON.stringify(entry.backend)} of ${entry.key} is not a backend name ([A-Za-z0-9._:-])`;
  }
  return undefined;
}

/**
 * invalidEntry for every entry of one map, each backend's verdict kept: a map has a handful of backends, so each name
 * is checked once, not once per entry.
 */
function entryChecker(): (entry: Entry) => string | undefined {
  const goodBackends = new Set<string>();
  return (entry) => {
    if (goodBackends.has(entry.backend) && KEY.test(entry.key)) return undefined;
    const problem = invalidEntry(entry);
    if (problem === undefined) goodBackends.add(entry.backend);
    return problem;
  };
}

/** Entries → map text: sorted by key, one `key value\n` line each; throws on an invalid entry or a duplicate key. */
export function renderMap(entries: readonly Entry[]): string {
  return renderPayload(byKey(entries), Number.POSITIVE_INFINITY)[0] ?? '';
}

/**
 * Sorted entries → the map text cut into runtime payloads of whole lines, at most `maxBytes` each (runtime payloads must
 * stay under tune.bufsize), built in one pass, without the whole text as one string. The same refusals as renderMap.
 */
export function renderPayload(sorted: readonly Entry[], maxBytes = 8000): string[] {
  const chunks: string[] = [];
  const invalid = entryChecker();
  let chunk = '';
  for (let i = 0; i < sorted.length; i++) {
    const entry = sorted[i]!;
    const problem = invalid(entry);
    if (problem) throw new Error(`map entry refused: ${problem}`);
    const previous = sorted[i - 1];
    if (previous && previous.key === entry.key) {
      throw new Error(`map entry refused: duplicate key ${entry.key} (${previous.backend}, ${entry.backend})`);
    }
    const line = `${entry.key} ${entry.backend}\n`; // `+`, not a template literal: 6× cheaper per line in V8 (bench/)
    // A valid line is ASCII (KEY, BACKEND), so its bytes are its characters.
    if (line.length > maxBytes) throw new Error(`map line of ${line.length} bytes exceeds the ${maxBytes}-byte payload limit`);
    if (chunk.length + line.length > maxBytes) {
      chunks.push(chunk);
      chunk = '';
    }
    chunk += line;
  }
  if (chunk !== '') chunks.push(chunk);
  return chunks;
}

/** Does map text hold exactly these entries, duplicates counted, order ignored (sameEntries of what parseMapText reads)? */
export function mapTextHolds(text: string, entries: readonly Entry[]): boolean {
  return isRenderingOf(text, entries) || sameEntries(parseMapText(text), entries);
}

/**
 * Is `text` exactly one renderMap line per entry, in this order? Checked in place, with no entry made: a no-change sync
 * compares each map file with the desired entries at every poll. false means only "not in this exact form".
 */
function isRenderingOf(text: string, entries: readonly Entry[]): boolean {
  const invalid = entryChecker();
  let p = 0;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!; // indexed: once per sync, mostly unoptimised, where for…of allocates per entry
    // Only entries renderMap would write: a line that matches is then one parseMapText reads back as this entry.
    if (invalid(entry) !== undefined) return false;
    const { key, backend } = entry;
    const b = p + key.length + 1;
    const end = b + backend.length;
    // slice equality, as in reply.ts createListMatcher: faster than startsWith at an offset
    if (text.charCodeAt(end) !== 0x0a || text.charCodeAt(b - 1) !== 0x20 || text.slice(p, b - 1) !== key || text.slice(b, end) !== backend)
      return false;
    p = end + 1;
  }
  return p === text.length;
}

/**
 * Map text → entries, read the way HAProxy reads a map file (pattern.c, HAProxy 2.6): `#` in column 0 is a comment, blank lines
 * are skipped, leading blanks are ignored, the key ends at the first blank, the value is the rest minus trailing blanks.
 */
export function parseMapText(text: string): Entry[] {
  const entries: Entry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.startsWith('#')) continue;
    const m = /^[ \t]*(\S+)(?:[ \t]+(.*?))?[ \t]*$/.exec(line);
    if (!m) continue;
    entries.push({ key: m[1]!, backend: m[2] ?? '' });
  }
  return entries;
}

/** Do two entry lists hold exactly the same key/value pairs, duplicates counted (order ignored)? */
export function sameEntries(a: readonly Entry[], b: readonly Entry[]): boolean {
  if (a.length !== b.length) return false;
  // Usually both are in the same (sorted) order: HAProxy lists a map in the order it was loaded. Sort only when not.
  let i = 0;
  while (i < a.length && a[i]!.key === b[i]!.key && a[i]!.backend === b[i]!.backend) i++;
  if (i === a.length) return true;
  const x = byKey(a);
  const y = byKey(b);
  return x.every((e, j) => e.key === y[j]!.key && e.backend === y[j]!.backend);
}

/** Entries sorted by key, then backend (byte order, so output is stable across locales); always a new array. */
export function byKey(entries: readonly Entry[]): Entry[] {
  const copy = [...entries];
  for (let i = 1; i < copy.length; i++) {
    if (compareEntries(copy[i - 1]!, copy[i]!) > 0) return copy.sort(compareEntries);
  }
  return copy; // already sorted (the usual case): skip the O(n log n) sort
}

function compareEntries(a: Entry, b: Entry): number {
  return byteOrder(a.key, b.key) || byteOrder(a.backend, b.backend);
}
