// Parse a Traefik rule the way Traefik does (Go expression syntax read by vulcand/predicate, shared notes/traefik-api.md §7)
// and work out which exact hosts it positively requires. Pure. Host values are lower-cased, nothing more: routes.ts checks
// DNS syntax; other matchers' values (paths, IPs, regexps) are not checked, so a few rules Traefik disables still parse.
import { asciiLower } from './hosts.js';
import { describe, fail, firstIllegal, quote, RuleError, tokenizer, type Tok } from './rule-tokens.js';
import type { RouterKind, Syntax } from './types.js';

export type RuleHosts = {
  /** Exact hosts the rule positively requires: lower-cased, deduplicated, sorted, not otherwise validated. */
  readonly hosts: readonly string[];
  /** Why parts of the rule cannot be map keys (patterns, wildcards, negations, no host constraint). One line each. */
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
    v2: table('some', [['Host', 'host'], ['HostHeader', 'host'], ['HostRegexp', 'pattern'], ['ClientIP'], ['Path'], ['PathPrefix'],
      ['Method'], ['Headers', 'other', 'pairs'], ['HeadersRegexp', 'other', 'pairs'], ['Query']]),
    v3: table('one', [['Host', 'host'], ['HostRegexp', 'pattern'], ['ClientIP'], ['Method'], ['Path'], ['PathRegexp'], ['PathPrefix'],
      ['Header', 'other', 'two'], ['HeaderRegexp', 'other', 'two'], ['Query', 'other', 'oneOrTwo'], ['QueryRegexp', 'other', 'oneOrTwo']]),
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

// ---- abstract values: "the hosts this sub-rule can match ⊆ exact ∪ (the patterns in opaque)"; exact null = any host.
// Sets are merged small-into-large and reasons concatenated as a rope, so long `||` chains stay linear.
type Rope = readonly string[] | { readonly l: Rope; readonly r: Rope } | null;
type Hosts = { readonly exact: Set<string> | null; readonly opaque: Rope };
const ANY: Hosts = { exact: null, opaque: null };

// left        | right       | or           | and
// any         | x           | any          | x
// A           | B           | A ∪ B        | A ∩ B
// A + pattern | B           | A ∪ B + pat. | B          (a pattern ANDed with a finite set stays inside that set)
// A + pattern | B + pattern | A ∪ B + both | A ∪ B + both
function or(l: Hosts, r: Hosts): Hosts {
  if (l.exact === null || r.exact === null) return ANY;
  return { exact: union(l.exact, r.exact), opaque: cat(l.opaque, r.opaque) };
}

function and(l: Hosts, r: Hosts): Hosts {
  if (l.exact === null) return r;
  if (r.exact === null) return l;
  if (l.opaque !== null && r.opaque !== null) return { exact: union(l.exact, r.exact), opaque: cat(l.opaque, r.opaque) };
  if (r.opaque !== null) return { exact: l.exact, opaque: null };
  if (l.opaque !== null) return { exact: r.exact, opaque: null };
  const [small, big] = l.exact.size <= r.exact.size ? [l.exact, r.exact] : [r.exact, l.exact];
  return { exact: new Set([...small].filter((h) => big.has(h))), opaque: null };
}

// Values are used once, so the larger set can be extended in place.
function union(a: Set<string>, b: Set<string>): Set<string> {
  const [small, big] = a.size <= b.size ? [a, b] : [b, a];
  for (const h of small) big.add(h);
  return big;
}

function cat(l: Rope, r: Rope): Rope {
  return l === null ? r : r === null ? l : { l, r };
}

function flatten(rope: Rope, out: string[]): void {
  const stack: Rope[] = [rope]; // iterative: a 10,000-term chain is a rope that deep
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (node === null) continue;
    if ('l' in node) stack.push(node.r, node.l);
    else for (const reason of node as readonly string[]) out.push(reason);
  }
}

// ---- the parser: precedence climbing over a lazy tokenizer; || < && < ! (Go precedence).
// `!` is pushed down with De Morgan, as Traefik's own `invert` does: under negation || becomes && and a host matcher
// matches every other host, so `!!Host(a)` is `Host(a)` again.
function evaluate(src: string, matchers: Table, syntax: Syntax, kind: RouterKind): RuleHosts {
  const next = tokenizer(src);
  let tok: Tok = { t: 'end', pos: 0, text: '' };
  let depth = 0;
  let nameError: string | undefined; // predicate rejects unknown functions before Traefik checks arities
  let arityError: string | undefined;
  const negated: string[] = [];

  // tok changes under advance(), which TypeScript cannot see through closures: read it through is().
  const is = (t: Tok['t']): boolean => tok.t === t;
  const advance = (): void => {
    tok = next();
  };
  const parseOr = (neg: boolean): Hosts => {
    let acc = parseAnd(neg);
    while (is('||')) {
      advance();
      const right = parseAnd(neg);
      acc = neg ? and(acc, right) : or(acc, right);
    }
    return acc;
  };
  const parseAnd = (neg: boolean): Hosts => {
    let acc = parseUnary(neg);
    while (is('&&')) {
      advance();
      const right = parseUnary(neg);
      acc = neg ? or(acc, right) : and(acc, right);
    }
    return acc;
  };
  const parseUnary = (neg: boolean): Hosts => {
    for (; is('!'); advance()) neg = !neg;
    if (is('(')) {
      if (++depth > MAX_DEPTH) fail(`parentheses nested deeper than ${MAX_DEPTH} at ${tok.pos}`, tok.pos);
      advance();
      const inner = parseOr(neg);
      if (!is(')')) fail(`expected ")" at ${tok.pos}, found ${describe(tok)}`, tok.pos);
      advance();
      depth--;
      return inner;
    }
    if (!is('id')) fail(`expected a matcher at ${tok.pos}, found ${describe(tok)}`, tok.pos);
    return parseCall(neg);
  };
  const parseCall = (neg: boolean): Hosts => {
    const { text: name, pos: at } = tok;
    advance();
    if (!is('(')) fail(`expected "(" after ${name} at ${tok.pos}, found ${describe(tok)}`, tok.pos);
    advance();
    const values: string[] = [];
    while (!is(')')) {
      if (!is('str')) fail(`expected a string value at ${tok.pos}, found ${describe(tok)}`, tok.pos);
      values.push(tok.text);
      advance();
      if (is(',')) advance(); // Go accepts a trailing comma
      else if (!is(')')) fail(`expected "," or ")" at ${tok.pos}, found ${describe(tok)}`, tok.pos);
    }
    advance();
    const matcher = matchers.get(name.toLowerCase());
    if (matcher === undefined) {
      nameError ??= nameProblem(name, at, syntax, kind);
      return ANY;
    }
    arityError ??= arityProblem(matcher, values, at, syntax);
    return hostsOf(matcher, values, neg, negated);
  };

  let root: Hosts = ANY;
  let syntaxError: RuleError | undefined;
  try {
    advance();
    if (is('end')) return failed('empty rule'); // blanks and comments only
    root = parseOr(false);
    const brokenLine = is('nl'); // go/parser.ParseExpr drops one automatic semicolon before the end
    if (brokenLine) advance();
    if (!is('end')) {
      const hint = brokenLine ? ' (Go ends the rule at a line break after ")": put && or || at the end of the line)' : '';
      fail(`unexpected ${describe(tok)} at ${tok.pos}${hint}`, tok.pos);
    }
  } catch (e) {
    if (!(e instanceof RuleError)) throw e;
    syntaxError = e;
  }
  // go/scanner rejects NUL anywhere and a byte order mark after the start; go/parser reports the first error by position.
  const illegal = firstIllegal(src);
  if (illegal >= 0 && (syntaxError === undefined || illegal <= syntaxError.pos)) {
    return failed(`illegal ${src.charCodeAt(illegal) === 0 ? 'character NUL' : 'byte order mark'} at ${illegal}`);
  }
  const error = syntaxError?.message ?? nameError ?? arityError;
  if (error !== undefined) return failed(error);

  const unmappable: string[] = [];
  if (root.exact === null) {
    unmappable.push(`rule matches every host (no ${kind === 'tcp' ? 'HostSNI' : 'Host'} matcher required)`);
    // A negated host only explains a rule that matches every host; beside exact hosts it takes nothing from the map.
    for (const reason of negated) unmappable.push(reason);
  } else flatten(root.opaque, unmappable);
  return { hosts: root.exact === null ? [] : [...root.exact].sort(), unmappable: [...new Set(unmappable)] };
}

function hostsOf(matcher: Matcher, values: readonly string[], neg: boolean, negated: string[]): Hosts {
  if (matcher.role === 'other') return ANY;
  if (neg) {
    negated.push(`negated ${call(matcher.name, values)}`);
    return ANY;
  }
  if (matcher.role === 'pattern') return { exact: new Set(), opaque: values.map((v) => `${call(matcher.name, [v])} is a pattern`) };
  const exact = new Set<string>();
  const opaque: string[] = [];
  for (const v of values) {
    if (v === '*') opaque.push(`${call(matcher.name, [v])} is a wildcard (matches every host)`);
    else if (v.includes('*')) opaque.push(`${call(matcher.name, [v])} is a wildcard`);
    else exact.add(asciiLower(v)); // ASCII only: a non-ASCII look-alike must stay non-ASCII and be rejected
  }
  return { exact, opaque: opaque.length > 0 ? opaque : null };
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
    m.arity === 'some' ? [n >= 1, 'needs at least 1 value'] :
    m.arity === 'pairs' ? [n >= 2 && n % 2 === 0, 'takes name, value pairs'] :
    m.arity === 'one' ? [n === 1, `takes exactly 1 value in ${syntax}`] :
    m.arity === 'two' ? [n === 2, `takes exactly 2 values in ${syntax}`] :
    [n === 1 || n === 2, `takes 1 or 2 values in ${syntax}`];
  return ok ? undefined : `${m.name} at ${at} ${wants}, got ${n}`;
}

// Reasons end up in log lines: printable ASCII in backticks, anything else JSON-escaped; long values cut.
function call(name: string, values: readonly string[]): string {
  const shown = values.map((v) => {
    const cut = v.length > 100 ? `${v.slice(0, 100)}…` : v;
    return /^[\x20-\x5f\x61-\x7e]*$/.test(v) ? `\`${cut}\`` : JSON.stringify(cut);
  });
  return `${name}(${shown.join(', ')})`;
}
