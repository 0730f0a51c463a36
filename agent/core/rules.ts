// Parse a Traefik rule the way Traefik does (Go expression syntax read by vulcand/predicate: traefik pkg/rules/parser.go)
// and work out which exact hosts it serves, as a map key each. Pure. Host values are lower-cased, nothing more: routes.ts
// checks DNS syntax. Of the other matchers' values (paths, IPs, regexps) only the emptiness and
// count are checked, so a few rules Traefik disables still parse.
import { asciiLower } from './hosts.js';
import { and, type Hosts, hostless, hostsAndReasons, negative, or, positive } from './rule-hosts.js';
import { describe, fail, firstIllegal, quote, RuleError, type Tok, tokenizer } from './rule-tokens.js';
import type { RouterKind, Syntax } from './types.js';

export type RuleHosts = {
  /** Exact hosts some alternative of the rule requires (rule-hosts.ts): lower-cased, deduplicated, sorted, not DNS-checked. */
  readonly hosts: readonly string[];
  /** Why parts of the rule cannot be map keys (patterns, wildcards, negations, no host constraint). One line each.
   *  They never take a host out of `hosts`: Traefik still serves those through this router. */
  readonly unmappable: readonly string[];
  /** Set when Traefik itself would reject the rule (the router is disabled); hosts and unmappable are then empty. */
  readonly error?: string;
};

type Role = 'host' | 'pattern' | 'other';
type Arity = 'some' | 'pairs' | 'one' | 'two' | 'oneOrTwo';
type Matcher = { readonly name: string; readonly role: Role; readonly arity: Arity };
type Table = ReadonlyMap<string, Matcher>; // keyed by lower-case name

// Names and arities: @v3.7.9 pkg/muxer/http/matcher.go, matcher_v2.go, pkg/muxer/tcp/matcher.go, matcher_v2.go.
// v2 matchers are variadic; Headers/HeadersRegexp go to gorilla/mux, which wants name/value pairs.
const TABLES: Record<RouterKind, Record<Syntax, Table>> = {
  http: {
    v2: table('some', [
      ['Host', 'host'],
      ['HostHeader', 'host'],
      ['HostRegexp', 'pattern'],
      ['ClientIP'],
      ['Path'],
      ['PathPrefix'],
      ['Method'],
      ['Headers', 'other', 'pairs'],
      ['HeadersRegexp', 'other', 'pairs'],
      ['Query'],
    ]),
    v3: table('one', [
      ['Host', 'host'],
      ['HostRegexp', 'pattern'],
      ['ClientIP'],
      ['Method'],
      ['Path'],
      ['PathRegexp'],
      ['PathPrefix'],
      ['Header', 'other', 'two'],
      ['HeaderRegexp', 'other', 'two'],
      ['Query', 'other', 'oneOrTwo'],
      ['QueryRegexp', 'other', 'oneOrTwo'],
    ]),
  },
  tcp: {
    v2: table('some', [['HostSNI', 'host'], ['HostSNIRegexp', 'pattern'], ['ClientIP'], ['ALPN']]),
    v3: table('one', [['HostSNI', 'host'], ['HostSNIRegexp', 'pattern'], ['ClientIP'], ['ALPN']]),
  },
};

function table(arity: Arity, rows: readonly (readonly [string, Role?, Arity?])[]): Table {
  return new Map(rows.map(([name, role = 'other', a = arity]) => [name.toLowerCase(), { name, role, arity: a }]));
}

// Go's go/parser has its own limit (1e5); ours keeps the recursion (3 frames per level) far from the stack limit.
const MAX_DEPTH = 1000;

/**
 * Parses `rule` with the matchers of `syntax` and `kind`, and returns the exact hosts it requires. Never throws.
 * @example parseRule('Host(`a.example.com`) && PathPrefix(`/api`)', 'v3', 'http') // { hosts: ['a.example.com'], unmappable: [] }
 */
export function parseRule(rule: string, syntax: Syntax, kind: RouterKind): RuleHosts {
  try {
    if (typeof rule !== 'string') return failed('rule is not a string');
    if (rule.length === 0) return failed('empty rule');
    return evaluate(rule, TABLES[kind][syntax], syntax, kind);
  } catch (e) {
    return failed(e instanceof RuleError ? e.message : `rule could not be parsed: ${String(e)}`);
  }
}

function failed(error: string): RuleHosts {
  return { hosts: [], unmappable: [], error };
}

// Traefik's order of errors: a syntax error (or an illegal character before it), then the first unknown matcher name,
// then the first matcher whose arity or values are wrong.
function evaluate(src: string, matchers: Table, syntax: Syntax, kind: RouterKind): RuleHosts {
  const parser = new Parser(tokenizer(src), matchers, syntax, kind);
  let root: Hosts = hostless();
  let syntaxError: RuleError | undefined;
  try {
    const parsed = parser.parseAll();
    if (parsed === undefined) return failed('empty rule'); // blanks and comments only
    root = parsed;
  } catch (e) {
    if (!(e instanceof RuleError)) throw e;
    syntaxError = e;
  }
  // go/scanner rejects NUL anywhere and a byte order mark after the start; go/parser reports the first error by position.
  const illegal = firstIllegal(src);
  if (illegal >= 0 && (syntaxError === undefined || illegal <= syntaxError.pos)) {
    return failed(`illegal ${src.charCodeAt(illegal) === 0 ? 'character NUL' : 'byte order mark'} at ${illegal}`);
  }
  const error = syntaxError?.message ?? parser.nameError ?? parser.matcherError;
  if (error !== undefined) return failed(error);

  const { hosts, unmappable } = hostsAndReasons(root, kind);
  return { hosts: hosts.map((key) => parser.spellings.get(key) ?? key).sort(), unmappable };
}

// ---- the parser: precedence climbing over a lazy tokenizer; || < && < ! (Go precedence).
// `!` is pushed down with De Morgan, as Traefik's own `invert` does: under negation || becomes && and a host matcher
// matches every other host, so `!!Host(a)` is `Host(a)` again.
class Parser {
  private tok: Tok = { t: 'end', pos: 0, text: '' };
  private depth = 0;
  /** predicate rejects unknown functions before Traefik checks arities */
  nameError: string | undefined;
  /** then Traefik builds the matchers in rule order, each checking arity, then values */
  matcherError: string | undefined;
  /** host key -> the value as first written */
  readonly spellings = new Map<string, string>();

  constructor(
    private readonly next: () => Tok,
    private readonly matchers: Table,
    private readonly syntax: Syntax,
    private readonly kind: RouterKind,
  ) {}

  /** The whole rule's hosts; undefined when it holds only blanks and comments. Throws a RuleError on bad syntax. */
  parseAll(): Hosts | undefined {
    this.advance();
    if (this.is('end')) return undefined;
    const root = this.parseOr(false);
    const brokenLine = this.is('nl'); // go/parser.ParseExpr drops one automatic semicolon before the end
    if (brokenLine) this.advance();
    if (!this.is('end')) {
      const hint = brokenLine ? ' (Go ends the rule at a line break after ")": put && or || at the end of the line)' : '';
      fail(`unexpected ${describe(this.tok)} at ${this.tok.pos}${hint}`, this.tok.pos);
    }
    return root;
  }

  // tok changes under advance(), which TypeScript's narrowing cannot see: read it through is().
  private is(t: Tok['t']): boolean {
    return this.tok.t === t;
  }

  private advance(): void {
    this.tok = this.next();
  }

  private parseOr(neg: boolean): Hosts {
    let acc = this.parseAnd(neg);
    while (this.is('||')) {
      this.advance();
      const right = this.parseAnd(neg);
      acc = neg ? and(acc, right) : or(acc, right);
    }
    return acc;
  }

  private parseAnd(neg: boolean): Hosts {
    let acc = this.parseUnary(neg);
    while (this.is('&&')) {
      this.advance();
      const right = this.parseUnary(neg);
      acc = neg ? or(acc, right) : and(acc, right);
    }
    return acc;
  }

  private parseUnary(neg: boolean): Hosts {
    for (; this.is('!'); this.advance()) neg = !neg;
    if (this.is('(')) {
      if (++this.depth > MAX_DEPTH) fail(`parentheses nested deeper than ${MAX_DEPTH} at ${this.tok.pos}`, this.tok.pos);
      this.advance();
      const inner = this.parseOr(neg);
      if (!this.is(')')) fail(`expected ")" at ${this.tok.pos}, found ${describe(this.tok)}`, this.tok.pos);
      this.advance();
      this.depth--;
      return inner;
    }
    if (!this.is('id')) fail(`expected a matcher at ${this.tok.pos}, found ${describe(this.tok)}`, this.tok.pos);
    return this.parseCall(neg);
  }

  private parseCall(neg: boolean): Hosts {
    const { text: name, pos: at } = this.tok;
    this.advance();
    if (!this.is('(')) fail(`expected "(" after ${name} at ${this.tok.pos}, found ${describe(this.tok)}`, this.tok.pos);
    this.advance();
    const values = this.parseValues();
    const matcher = this.matchers.get(name.toLowerCase());
    if (matcher === undefined) {
      this.nameError ??= nameProblem(name, at, this.syntax, this.kind);
      return hostless();
    }
    this.matcherError ??= arityProblem(matcher, values, at, this.syntax) ?? valueProblem(matcher, values, at, this.syntax);
    return hostsOf(matcher, values, neg, this.spellings);
  }

  /** A call's string values up to and including its ")". */
  private parseValues(): string[] {
    const values: string[] = [];
    while (!this.is(')')) {
      if (!this.is('str')) fail(`expected a string value at ${this.tok.pos}, found ${describe(this.tok)}`, this.tok.pos);
      values.push(this.tok.text);
      this.advance();
      if (this.is(','))
        this.advance(); // Go accepts a trailing comma
      else if (!this.is(')')) fail(`expected "," or ")" at ${this.tok.pos}, found ${describe(this.tok)}`, this.tok.pos);
    }
    this.advance();
    return values;
  }
}

// One matcher as a sub-rule. Under an odd number of `!` it is the && of its negated values (v2 values are alternatives).
function hostsOf(matcher: Matcher, values: readonly string[], neg: boolean, spellings: Map<string, string>): Hosts {
  if (matcher.role === 'other') return hostless();
  if (neg) return negative(matcher.role === 'host' ? exactKeys(values, spellings) : new Set(), `negated ${call(matcher.name, values)}`);
  if (matcher.role === 'pattern')
    return positive(
      new Set(),
      values.map((v) => `${call(matcher.name, [v])} is a pattern`),
    );
  const wildcards = values
    .filter(isWildcard)
    .map((v) => `${call(matcher.name, [v])} is a wildcard${v === '*' ? ' (matches every host)' : ''}`);
  return positive(exactKeys(values, spellings), wildcards);
}

// Traefik compares hosts lower-cased and ignores one trailing dot on either side (matcher.go `host`), so `a.com.` and
// `a.com` are one key. The value as written (lower-cased) is what leaves parseRule: routes.ts drops that dot itself.
function exactKeys(values: readonly string[], spellings: Map<string, string>): Set<string> {
  const keys = new Set<string>();
  for (const v of values) {
    if (isWildcard(v)) continue;
    const lower = asciiLower(v);
    const key = lower.endsWith('.') ? lower.slice(0, -1) : lower;
    if (!spellings.has(key)) spellings.set(key, lower);
    keys.add(key);
  }
  return keys;
}

function isWildcard(value: string): boolean {
  return value.includes('*'); // v3.7: `*.example.com` (one label) and `*` (any host)
}

function nameProblem(name: string, at: number, syntax: Syntax, kind: RouterKind): string {
  const lower = name.toLowerCase();
  const otherSyntax = TABLES[kind][syntax === 'v2' ? 'v3' : 'v2'].get(lower);
  if (otherSyntax !== undefined) return `${otherSyntax.name} at ${at} is not a ${syntax} matcher`;
  const otherKind = TABLES[kind === 'http' ? 'tcp' : 'http'];
  const foreign = otherKind.v3.get(lower) ?? otherKind.v2.get(lower);
  if (foreign !== undefined) return `${foreign.name} at ${at} is not ${kind === 'http' ? 'an HTTP' : 'a TCP'} matcher`;
  return `unknown matcher ${quote(name)} at ${at}`;
}

// Traefik's CheckRule (no value, or an empty one) runs before each matcher's own arity check.
function arityProblem(m: Matcher, values: readonly string[], at: number, syntax: Syntax): string | undefined {
  const n = values.length;
  if (n > 0 && values.includes('')) return `empty value for ${m.name} at ${at}`;
  const [ok, wants] =
    m.arity === 'some'
      ? [n >= 1, 'needs at least 1 value']
      : m.arity === 'pairs'
        ? [n >= 2 && n % 2 === 0, 'takes name, value pairs']
        : m.arity === 'one'
          ? [n === 1, `takes exactly 1 value in ${syntax}`]
          : m.arity === 'two'
            ? [n === 2, `takes exactly 2 values in ${syntax}`]
            : [n === 1 || n === 2, `takes 1 or 2 values in ${syntax}`];
  return ok ? undefined : `${m.name} at ${at} ${wants}, got ${n}`;
}

// Host values Traefik refuses when it builds the matcher (the router is then disabled): non-ASCII in Host/HostHeader/
// HostRegexp (v2 and v3, pkg/muxer/http/matcher.go, matcher_v2.go `IsASCII`) and HostSNIRegexp (v3, pkg/muxer/tcp/matcher.go);
// HostSNI accepts `*` or `^[[:word:].:-]+$` (v3.4+; v2/v3.0 alnum, stricter; v3.7 also `*.`), ASCII letters only.
const SNI_VALUE = /^(\*\.)?[A-Za-z0-9_.:-]+$/;

function valueProblem(m: Matcher, values: readonly string[], at: number, syntax: Syntax): string | undefined {
  const asciiChecked = m.role !== 'other' && !(m.name === 'HostSNIRegexp' && syntax === 'v2');
  for (const v of values) {
    if (asciiChecked && /[\u0080-\uffff]/.test(v)) return `non-ASCII value ${escaped(v)} for ${m.name} at ${at} (use punycode)`;
    if (m.name === 'HostSNI' && v !== '*' && !SNI_VALUE.test(v))
      return `invalid value ${escaped(v)} for HostSNI at ${at} (not a host name or IP)`;
  }
  return undefined;
}

// A look-alike letter must stand out in a log line: every non-ASCII character as \uXXXX; long values cut.
function escaped(value: string): string {
  const shown = JSON.stringify(value.slice(0, 40)).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return value.length > 40 ? `${shown}…` : shown;
}

// Reasons end up in log lines: printable ASCII in backticks, anything else JSON-escaped; long values cut.
function call(name: string, values: readonly string[]): string {
  const shown = values.map((v) => {
    const cut = v.length > 100 ? `${v.slice(0, 100)}…` : v;
    return /^[\x20-\x5f\x61-\x7e]*$/.test(v) ? `\`${cut}\`` : JSON.stringify(cut);
  });
  return `${name}(${shown.join(', ')})`;
}
