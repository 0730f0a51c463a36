// Map text: render entries to the file/payload format, parse it back, split it into runtime payload chunks.
// Pure. renderMap is the last line of defence against map-line injection: it refuses any key or backend
// that could split a line, start a comment or carry whitespace (shared/notes/haproxy-runtime.md §3, §7.5).
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

/** Entries → map text: sorted by key, one `key value\n` line each; throws on an invalid entry or a duplicate key. */
export function renderMap(entries: readonly Entry[]): string {
  const sorted = byKey(entries);
  let text = '';
  for (let i = 0; i < sorted.length; i++) {
    const entry = sorted[i]!;
    const problem = invalidEntry(entry);
    if (problem) throw new Error(`map entry refused: ${problem}`);
    const previous = sorted[i - 1];
    if (previous && previous.key === entry.key) {
      throw new Error(`map entry refused: duplicate key ${entry.key} (${previous.backend}, ${entry.backend})`);
    }
    text += `${entry.key} ${entry.backend}\n`;
  }
  return text;
}

/**
 * Map text → entries, read the way HAProxy reads a map file (notes §4): `#` in column 0 is a comment, blank lines
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

/** Map text → chunks of whole lines, each at most `maxBytes` bytes (runtime payloads must stay under tune.bufsize). */
export function splitPayload(text: string, maxBytes = 8000): string[] {
  const chunks: string[] = [];
  let chunk = '';
  let size = 0;
  for (const line of text.split(/(?<=\n)/)) {
    if (line === '') continue;
    const bytes = utf8Length(line);
    if (bytes > maxBytes) throw new Error(`map line of ${bytes} bytes exceeds the ${maxBytes}-byte payload limit`);
    if (size + bytes > maxBytes) {
      chunks.push(chunk);
      chunk = '';
      size = 0;
    }
    chunk += line;
    size += bytes;
  }
  if (chunk !== '') chunks.push(chunk);
  return chunks;
}

/** Do two entry lists hold exactly the same key/value pairs, duplicates counted (order ignored)? */
export function sameEntries(a: readonly Entry[], b: readonly Entry[]): boolean {
  if (a.length !== b.length) return false;
  const x = byKey(a);
  const y = byKey(b);
  return x.every((e, i) => e.key === y[i]!.key && e.backend === y[i]!.backend);
}

/** Entries sorted by key, then backend (byte order, so output is stable across locales). */
export function byKey(entries: readonly Entry[]): Entry[] {
  return [...entries].sort((a, b) => cmp(a.key, b.key) || cmp(a.backend, b.backend));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
