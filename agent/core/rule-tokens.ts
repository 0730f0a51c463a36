// The tokenizer for Traefik rules: Go's scanner reduced to what a rule can contain (identifiers, Go string literals with
// their escapes, numbers, parentheses, commas, !, &&, ||, newlines and comments). Pure. rules.ts parses the tokens.

/** A rule Traefik would reject, with the character offset where parsing stopped. */
export class RuleError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
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

export type Tok = {
  readonly t: 'id' | 'str' | 'num' | '(' | ')' | ',' | '!' | '&&' | '||' | 'nl' | 'end';
  readonly pos: number;
  readonly text: string;
};

export function describe(tok: Tok): string {
  switch (tok.t) {
    case 'end':
      return 'end of rule';
    case 'nl':
      return 'newline';
    case 'str':
      return 'a string';
    case 'id':
      return quote(tok.text);
    case 'num':
      return `number ${quote(tok.text)}`;
    default:
      return `"${tok.t}"`;
  }
}

export function tokenizer(src: string): () => Tok {
  const scanner = new Scanner(src);
  return () => scanner.next();
}

const isWord = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (c >= 48 && c <= 57);

/** Go's scanner over one rule: each next() returns one token, reading as little as it must. */
class Scanner {
  private pos = 0;
  private semi = false; // Go inserts a semicolon at a newline that follows an identifier, a literal or ")"

  constructor(private readonly src: string) {}

  next(): Tok {
    const nl = this.skipBlanks();
    if (nl) return nl;
    const start = this.pos;
    if (start >= this.src.length) return { t: 'end', pos: start, text: '' };
    const c = this.src.charCodeAt(start);
    this.semi = false;
    if (isWord(c)) {
      while (this.pos < this.src.length && isWord(this.src.charCodeAt(this.pos))) this.pos++;
      this.semi = true;
      return { t: c >= 48 && c <= 57 ? 'num' : 'id', pos: start, text: this.src.slice(start, this.pos) };
    }
    return this.symbol(start, c);
  }

  /** Skip blanks and comments; a newline (or a comment spanning one) may become a token, which is returned. */
  private skipBlanks(): Tok | undefined {
    const { src } = this;
    for (; this.pos < src.length; this.pos++) {
      const c = src.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0d || (c === 0xfeff && this.pos === 0)) continue;
      if (c === 0x0a) {
        if (!this.semi) continue;
        this.semi = false;
        return { t: 'nl', pos: this.pos++, text: '' };
      }
      if (c !== 0x2f || (src.charCodeAt(this.pos + 1) !== 0x2f && src.charCodeAt(this.pos + 1) !== 0x2a)) return undefined;
      const nl = this.skipComment();
      if (nl) return nl;
    }
    return undefined;
  }

  /** At `//` or `/*`: skip the comment, leaving pos on its last character; a comment that ends a line may be a newline. */
  private skipComment(): Tok | undefined {
    const { src, pos } = this;
    const line = src.charCodeAt(pos + 1) === 0x2f;
    const end = line ? src.indexOf('\n', pos) : src.indexOf('*/', pos + 2);
    if (!line && end < 0) fail(`unterminated comment at ${pos}`, pos);
    const afterComment = line ? (end < 0 ? src.length : end) : end + 2;
    if (this.semi && (line || src.slice(pos, afterComment).includes('\n'))) {
      this.semi = false;
      this.pos = afterComment; // a line comment's own newline is then plain blank space
      return { t: 'nl', pos, text: '' };
    }
    this.pos = afterComment - 1;
    return undefined;
  }

  /** A string, a parenthesis, a comma or an operator starting at `start`. */
  private symbol(start: number, c: number): Tok {
    switch (c) {
      case 0x60:
        return this.rawString(start);
      case 0x22: {
        const text = this.readQuoted();
        this.semi = true;
        return { t: 'str', pos: start, text };
      }
      case 0x27:
        return fail(`single quotes are not accepted at ${start} (use backticks or double quotes)`, start);
      case 0x28:
        this.pos++;
        return { t: '(', pos: start, text: '(' };
      case 0x29:
        this.pos++;
        this.semi = true;
        return { t: ')', pos: start, text: ')' };
      case 0x2c:
        this.pos++;
        return { t: ',', pos: start, text: ',' };
      case 0x21:
        this.pos++;
        return { t: '!', pos: start, text: '!' };
      case 0x26:
      case 0x7c: {
        if (this.src.charCodeAt(start + 1) !== c) break;
        this.pos += 2;
        return c === 0x26 ? { t: '&&', pos: start, text: '&&' } : { t: '||', pos: start, text: '||' };
      }
    }
    return fail(`unexpected character ${JSON.stringify(String.fromCodePoint(this.src.codePointAt(start) ?? c))} at ${start}`, start);
  }

  // `raw`: no escapes; go/scanner drops carriage returns
  private rawString(start: number): Tok {
    const end = this.src.indexOf('`', start + 1);
    if (end < 0) fail(`unterminated string at ${start}`, start);
    const raw = this.src.slice(start + 1, end);
    this.pos = end + 1;
    this.semi = true;
    return { t: 'str', pos: start, text: raw.includes('\r') ? raw.replaceAll('\r', '') : raw };
  }

  // "interpreted": Go escapes; \x and octal escapes are bytes, decoded as UTF-8 together with their neighbours.
  private readQuoted(): string {
    const { src } = this;
    const start = this.pos;
    const out = new Decoded();
    let seg = ++this.pos;
    for (;;) {
      if (this.pos >= src.length) fail(`unterminated string at ${start}`, start);
      const c = src.charCodeAt(this.pos);
      if (c === 0x0a) fail(`unterminated string at ${start}`, start);
      if (c !== 0x22 && c !== 0x5c) {
        this.pos++;
        continue;
      }
      if (seg < this.pos) out.text(src.slice(seg, this.pos));
      if (c === 0x22) {
        this.pos++;
        return out.result();
      }
      this.readEscape(out);
      seg = this.pos;
    }
  }

  /** At a backslash inside a quoted string: decode one escape into `out` and step over it. */
  private readEscape(out: Decoded): void {
    const { src } = this;
    const esc = this.pos;
    const e = src[esc + 1] ?? '';
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      out.text(simple);
      this.pos += 2;
    } else if (e === 'x' || (e >= '0' && e <= '7')) {
      const digits = e === 'x' ? src.slice(esc + 2, esc + 4) : src.slice(esc + 1, esc + 4);
      const value = e === 'x' ? (HEX2.test(digits) ? parseInt(digits, 16) : NaN) : OCT3.test(digits) ? parseInt(digits, 8) : NaN;
      if (!(value <= 255)) fail(`invalid escape sequence at ${esc}`, esc);
      out.byte(value);
      this.pos += 4;
    } else if (e === 'u' || e === 'U') {
      const width = e === 'u' ? 4 : 8;
      const digits = src.slice(esc + 2, esc + 2 + width);
      if (!(e === 'u' ? HEX4 : HEX8).test(digits)) fail(`invalid escape sequence at ${esc}`, esc);
      const cp = parseInt(digits, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) fail(`escape at ${esc} is not a valid Unicode code point`, esc);
      out.text(String.fromCodePoint(cp));
      this.pos += 2 + width;
    } else {
      fail(`unknown escape sequence at ${esc}`, esc);
    }
  }
}

/** A quoted string's value: text as is, escaped bytes decoded as UTF-8 in runs (a run ends at the next text). */
class Decoded {
  private out = '';
  private bytes: number[] = [];

  text(s: string): void {
    this.flush();
    this.out += s;
  }

  byte(b: number): void {
    this.bytes.push(b);
  }

  result(): string {
    this.flush();
    return this.out;
  }

  private flush(): void {
    if (this.bytes.length === 0) return;
    this.out += UTF8.decode(Uint8Array.from(this.bytes)); // invalid UTF-8 becomes U+FFFD: non-ASCII either way, so routes.ts rejects it
    this.bytes = [];
  }
}

const UTF8 = new TextDecoder();
const HEX2 = /^[0-9a-fA-F]{2}$/;
const HEX4 = /^[0-9a-fA-F]{4}$/;
const HEX8 = /^[0-9a-fA-F]{8}$/;
const OCT3 = /^[0-7]{3}$/;
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
};
