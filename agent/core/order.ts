// Byte order for strings: maps, plans and logs are sorted with it, so output is identical whatever the locale.
// Pure.

/** Compare by UTF-16 code unit (the same as byte order for the ASCII keys and backends that reach a map). */
export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
