// The tokenizer for Traefik rules: Go's scanner reduced to what a rule can contain (identifiers, Go string literals with
// their escapes, numbers, parentheses, commas, !, &&, ||, newlines and comments). Pure. rules.ts parses the tokens.

/** A rule Traefik would reject, with the character offset where parsing stopped. */
export class RuleError extends Error {
  constructor(message: string, readonly pos: number) {
    super(message);
  }
}

export function fail(message: string, pos: number): never {
  throw new RuleError(message, pos);
}

export function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** Go's scanner rejects NUL anywhere and a byte order mark after the start: the first such offset, or -1. */
export function firstIllegal(src: string): number {
  const nul = src.indexOf('\0');
  const bom = src.indexOf('\uFEFF', 1);
  return nul < 0 ? bom : bom < 0 ? nul : Math.min(nul, bom);
}

export type Tok = { readonly t: 'id' | 'str' | 'num' | '(' | ')' | ',' | '!' | '&&' | '||' | 'nl' | 'end'; readonly pos: number; readonly text: string };

export function describe(tok: Tok): string {
  switch (tok.t) {
    case 'end': return 'end of rule';
    case 'nl': return 'newline';
    case 'str': return 'a string';
    case 'id': return quote(tok.text);
    case 'num': return `number ${quote(tok.text)}`;
    default: return `"${tok.t}"`;
  }
}

export function tokenizer(src: string): () => Tok {
  const n = src.length;
  let pos = 0;
  let semi = false; // Go inserts a semicolon at a newline that follows an identifier, a literal or ")"

  const word = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (c >= 48 && c <= 57);
  const run = (from: number): number => {
    let end = from;
    while (end < n && word(src.charCodeAt(end))) end++;
    return end;
  };

  return function next(): Tok {
    for (; pos < n; pos++) { // skip blanks and comments; a newline (or a comment spanning one) may become a token
      const c = src.charCodeAt(pos);
      if (c === 0x20 || c === 0x09 || c === 0x0d || (c === 0xfeff && pos === 0)) continue;
      if (c === 0x0a) {
        if (!semi) continue;
        semi = false;
        return { t: 'nl', pos: pos++, text: '' };
      }
      if (c !== 0x2f || (src.charCodeAt(pos + 1) !== 0x2f && src.charCodeAt(pos + 1) !== 0x2a)) break;
      const line = src.charCodeAt(pos + 1) === 0x2f;
      const end = line ? src.indexOf('\n', pos) : src.indexOf('*/', pos + 2);
      if (!line && end < 0) fail(`unterminated comment at ${pos}`, pos);
      const afterComment = line ? (end < 0 ? n : end) : end + 2;
      if (semi && (line || src.slice(pos, afterComment).includes('\n'))) {
        semi = false;
        const at = pos;
        pos = afterComment; // a line comment's own newline is then plain blank space
        return { t: 'nl', pos: at, text: '' };
      }
      pos = afterComment - 1;
    }
    const start = pos;
    if (start >= n) return { t: 'end', pos: start, text: '' };
    const c = src.charCodeAt(start);
    semi = false;
    if (word(c)) {
      pos = run(start);
      semi = true;
      return { t: c >= 48 && c <= 57 ? 'num' : 'id', pos: start, text: src.slice(start, pos) };
    }
    switch (c) {
      case 0x60: { // `raw`: no escapes; go/scanner drops carriage returns
        const end = src.indexOf('`', start + 1);
        if (end < 0) fail(`unterminated string at ${start}`, start);
        const raw = src.slice(start + 1, end);
        pos = end + 1;
        semi = true;
        return { t: 'str', pos: start, text: raw.includes('\r') ? raw.replaceAll('\r', '') : raw };
      }
      case 0x22: {
        const text = readQuoted();
        semi = true;
        return { t: 'str', pos: start, text };
      }
      case 0x27: return fail(`single quotes are not accepted at ${start} (use backticks or double quotes)`, start);
      case 0x28: pos++; return { t: '(', pos: start, text: '(' };
      case 0x29: pos++; semi = true; return { t: ')', pos: start, text: ')' };
      case 0x2c: pos++; return { t: ',', pos: start, text: ',' };
      case 0x21: pos++; return { t: '!', pos: start, text: '!' };
      case 0x26: case 0x7c: {
        if (src.charCodeAt(start + 1) !== c) break;
        pos += 2;
        return c === 0x26 ? { t: '&&', pos: start, text: '&&' } : { t: '||', pos: start, text: '||' };
      }
    }
    return fail(`unexpected character ${JSON.stringify(String.fromCodePoint(src.codePointAt(start) ?? c))} at ${start}`, start);
  };

  // "interpreted": Go escapes; \x and octal escapes are bytes, decoded as UTF-8 together with their neighbours.
  function readQuoted(): string {
    const start = pos;
    let out = '';
    let bytes: number[] = [];
    const flush = (): void => {
      if (bytes.length === 0) return;
      out += UTF8.decode(Uint8Array.from(bytes)); // invalid UTF-8 becomes U+FFFD: non-ASCII either way, so routes.ts rejects it
      bytes = [];
    };
    let seg = ++pos;
    for (;;) {
      if (pos >= n) fail(`unterminated string at ${start}`, start);
      const c = src.charCodeAt(pos);
      if (c === 0x0a) fail(`unterminated string at ${start}`, start);
      if (c !== 0x22 && c !== 0x5c) {
        pos++;
        continue;
      }
      if (seg < pos) {
        flush();
        out += src.slice(seg, pos);
      }
      if (c === 0x22) {
        pos++;
        flush();
        return out;
      }
      const esc = pos;
      const e = src[pos + 1] ?? '';
      const simple = SIMPLE_ESCAPES[e];
      if (simple !== undefined) {
        flush();
        out += simple;
        pos += 2;
      } else if (e === 'x' || (e >= '0' && e <= '7')) {
        const digits = e === 'x' ? src.slice(pos + 2, pos + 4) : src.slice(pos + 1, pos + 4);
        const value = e === 'x' ? (HEX2.test(digits) ? parseInt(digits, 16) : NaN) : (OCT3.test(digits) ? parseInt(digits, 8) : NaN);
        if (!(value <= 255)) fail(`invalid escape sequence at ${esc}`, esc);
        bytes.push(value);
        pos += 4;
      } else if (e === 'u' || e === 'U') {
        const width = e === 'u' ? 4 : 8;
        const digits = src.slice(pos + 2, pos + 2 + width);
        if (!(e === 'u' ? HEX4 : HEX8).test(digits)) fail(`invalid escape sequence at ${esc}`, esc);
        const cp = parseInt(digits, 16);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) fail(`escape at ${esc} is not a valid Unicode code point`, esc);
        flush();
        out += String.fromCodePoint(cp);
        pos += 2 + width;
      } else {
        fail(`unknown escape sequence at ${esc}`, esc);
      }
      seg = pos;
    }
  }
}

const UTF8 = new TextDecoder();
const HEX2 = /^[0-9a-fA-F]{2}$/;
const HEX4 = /^[0-9a-fA-F]{4}$/;
const HEX8 = /^[0-9a-fA-F]{8}$/;
const OCT3 = /^[0-7]{3}$/;
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"',
};
