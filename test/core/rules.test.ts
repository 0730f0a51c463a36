// Proves parseRule reads Traefik rules as Traefik does (Go literals, precedence, matchers per syntax and kind, arity, the
// values Traefik refuses) and yields every host some alternative of the rule serves, and only those; hostile input ends in
// `error`, never a throw, a hang or a stack overflow. Speed is measured in bench/ (rule chains), not asserted here.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRule, type RuleHosts } from '../../agent/core/rules.js';
import type { RouterKind, Syntax } from '../../agent/core/types.js';

type Row = readonly [title: string, rule: string, syntax: Syntax, kind: RouterKind, want: RuleHosts];

const EVERY = 'rule matches every host (no Host matcher required)';
const EVERY_SNI = 'rule matches every host (no HostSNI matcher required)';
const ALT = 'an alternative without a Host matcher matches every host';
const ALT_SNI = 'an alternative without a HostSNI matcher matches every host';
const hosts = (...h: string[]): RuleHosts => ({ hosts: h, unmappable: [] });
const partly = (h: string[], ...unmappable: string[]): RuleHosts => ({ hosts: h, unmappable });
const none = (...unmappable: string[]): RuleHosts => ({ hosts: [], unmappable });
const fails = (error: string): RuleHosts => ({ hosts: [], unmappable: [], error });

function table(name: string, rows: readonly Row[]): void {
  const s = suite(name);
  for (const [title, rule, syntax, kind, want] of rows) {
    s(title, () => assert.equal(parseRule(rule, syntax, kind), want));
  }
  s.run();
}

table('parseRule: literals and tokens', [
  ['backtick raw string', 'Host(`a.example.com`)', 'v3', 'http', hosts('a.example.com')],
  ['double-quoted string', 'Host("a.example.com")', 'v3', 'http', hosts('a.example.com')],
  ['\\x and \\u escapes', 'Host("a\\x2eexample\\u002ecom")', 'v3', 'http', hosts('a.example.com')],
  ['octal and \\U escapes', 'Host("\\141.example.\\U00000063om")', 'v3', 'http', hosts('a.example.com')],
  ['\\" and \\\\ decode, kept as-is for routes.ts to reject', 'Host("a\\"b\\\\c")', 'v3', 'http', hosts('a"b\\c')],
  ['\\n escape decodes to a newline, kept as-is', 'Host("a\\nb.com")', 'v3', 'http', hosts('a\nb.com')],
  [
    '\\x bytes are UTF-8 (here: non-ASCII, refused)',
    'Host("b\\xc3\\xbccher.de")',
    'v3',
    'http',
    fails('non-ASCII value "b\\u00fccher.de" for Host at 0 (use punycode)'),
  ],
  [
    'invalid UTF-8 from \\x is non-ASCII too',
    'Host("a\\xff.com")',
    'v3',
    'http',
    fails('non-ASCII value "a\\ufffd.com" for Host at 0 (use punycode)'),
  ],
  ['raw strings keep backslashes', 'HostRegexp(`^a\\.b$`)', 'v3', 'http', none('HostRegexp(`^a\\.b$`) is a pattern')],
  [
    'double-quoted regexp has doubled backslashes',
    'HostRegexp("^.+\\\\.example\\\\.com$")',
    'v3',
    'http',
    none('HostRegexp(`^.+\\.example\\.com$`) is a pattern'),
  ],
  ['carriage returns vanish from raw strings, as in go/scanner', 'Host(`a.com\r`)', 'v3', 'http', hosts('a.com')],
  ['host values are lower-cased', 'Host(`App.Example.COM`)', 'v3', 'http', hosts('app.example.com')],
  ['whitespace between any tokens, trailing comma', ' \tHost ( `a.com` , )\t&&\tPath(`/`) ', 'v3', 'http', hosts('a.com')],
  ['line break after an operator', 'Host(`a.com`) &&\n  Path(`/`)', 'v3', 'http', hosts('a.com')],
  ['trailing line break', 'Host(`a.com`)\n', 'v3', 'http', hosts('a.com')],
  ['Go comments', 'Host(`a.com`) /* app */ && Path(`/`) // api', 'v3', 'http', hosts('a.com')],
  ['lower-case matcher names', 'host(`a.com`) && pathprefix(`/x`)', 'v3', 'http', hosts('a.com')],
  ['upper-case matcher names', 'HOST(`a.com`) && PATH(`/x`)', 'v3', 'http', hosts('a.com')],
  ['any letter case', 'HostSni(`db.example.com`) && alpn(`h2`)', 'v3', 'tcp', hosts('db.example.com')],
  ['byte order mark at the start is skipped', '\uFEFFHost(`a.com`)', 'v3', 'http', hosts('a.com')],
]);

table('parseRule: syntax errors', [
  ['empty rule', '', 'v3', 'http', fails('empty rule')],
  ['blanks and comments only', '  \n /* x */ ', 'v2', 'http', fails('empty rule')],
  ['single quotes', "Host('a.com')", 'v2', 'http', fails('single quotes are not accepted at 5 (use backticks or double quotes)')],
  ['unterminated backtick', 'Host(`a.com) && Path(', 'v3', 'http', fails('unterminated string at 5')],
  ['double quote ends at a line break', 'Host("a.com\n")', 'v3', 'http', fails('unterminated string at 5')],
  ['unknown escape', 'Host("a\\qb")', 'v3', 'http', fails('unknown escape sequence at 7')],
  ["\\' is for rune literals only", 'Host("a\\\'b")', 'v3', 'http', fails('unknown escape sequence at 7')],
  ['bad \\x digits', 'Host("\\xZZ")', 'v3', 'http', fails('invalid escape sequence at 6')],
  ['octal above 255', 'Host("\\400")', 'v3', 'http', fails('invalid escape sequence at 6')],
  ['surrogate code point', 'Host("\\uD800")', 'v3', 'http', fails('escape at 6 is not a valid Unicode code point')],
  ['bare identifier argument', 'Host(example)', 'v3', 'http', fails('expected a string value at 5, found "example"')],
  ['number argument', 'Host(42)', 'v2', 'http', fails('expected a string value at 5, found number "42"')],
  ['missing comma', 'Host(`a` `b`)', 'v2', 'http', fails('expected "," or ")" at 9, found a string')],
  ['matcher without parentheses', 'Host', 'v3', 'http', fails('expected "(" after Host at 4, found end of rule')],
  ['unclosed parenthesis', '(Host(`a.com`)', 'v3', 'http', fails('expected ")" at 14, found end of rule')],
  ['extra closing parenthesis', 'Host(`a.com`))', 'v3', 'http', fails('unexpected ")" at 13')],
  ['single &', 'Host(`a`) & Path(`/`)', 'v3', 'http', fails('unexpected character "&" at 10')],
  ['dangling operator', 'Host(`a.com`) &&', 'v3', 'http', fails('expected a matcher at 16, found end of rule')],
  ['two matchers without operator', 'Host(`a`) Path(`/`)', 'v3', 'http', fails('unexpected "Path" at 10')],
  [
    'line break before an operator ends the Go expression',
    'Host(`a.com`)\n&& Path(`/`)',
    'v3',
    'http',
    fails('unexpected "&&" at 14 (Go ends the rule at a line break after ")": put && or || at the end of the line)'),
  ],
  [
    'line break before an operator inside parentheses',
    '(Host(`a`)\n|| Host(`b`))',
    'v3',
    'http',
    fails('expected ")" at 10, found newline'),
  ],
  ['unterminated comment', 'Host(`a`) /* x', 'v3', 'http', fails('unterminated comment at 10')],
  ['byte order mark after the start', 'Host(`a`)\uFEFF', 'v3', 'http', fails('illegal byte order mark at 9')],
  [
    'syntax error wins over an unknown matcher',
    'Hots(`a`) && Host(`b`',
    'v3',
    'http',
    fails('expected "," or ")" at 21, found end of rule'),
  ],
]);

table('parseRule: HTTP v2 matchers', [
  ['several values are alternatives', 'Host(`a.com`, `b.com`)', 'v2', 'http', hosts('a.com', 'b.com')],
  ['a wildcard among values', 'Host(`a.com`, `*.b.com`)', 'v2', 'http', partly(['a.com'], 'Host(`*.b.com`) is a wildcard')],
  ['HostHeader is Host', 'HostHeader(`a.com`)', 'v2', 'http', hosts('a.com')],
  [
    'HostRegexp gorilla template',
    'HostRegexp(`{subdomain:[a-z]+}.example.com`)',
    'v2',
    'http',
    none('HostRegexp(`{subdomain:[a-z]+}.example.com`) is a pattern'),
  ],
  [
    'every host-less v2 matcher, variadic',
    'Host(`a.com`) && Method(`GET`, `POST`) && Query(`x=1`) && ClientIP(`10.0.0.0/8`) && Path(`/a`, `/b`) && PathPrefix(`/c`)',
    'v2',
    'http',
    hosts('a.com'),
  ],
  ['Headers takes a name and a value', 'Host(`a.com`) && Headers(`X-Env`, `prod`)', 'v2', 'http', hosts('a.com')],
  ['Headers takes several pairs (gorilla/mux)', 'Headers(`a`, `1`, `b`, `2`) && Host(`a.com`)', 'v2', 'http', hosts('a.com')],
  ['HeadersRegexp', 'Host(`a.com`) && HeadersRegexp(`X-Env`, `^p`)', 'v2', 'http', hosts('a.com')],
  ['Headers with an odd count', 'Headers(`X-Env`)', 'v2', 'http', fails('Headers at 0 takes name, value pairs, got 1')],
  ['no value', 'Host()', 'v2', 'http', fails('Host at 0 needs at least 1 value, got 0')],
  ['an empty value', 'Host(`a.com`, ``)', 'v2', 'http', fails('empty value for Host at 0')],
  ['Header is v3 only', 'Header(`X`, `y`)', 'v2', 'http', fails('Header at 0 is not a v2 matcher')],
  ['PathRegexp is v3 only', 'Host(`a`) && PathRegexp(`^/x`)', 'v2', 'http', fails('PathRegexp at 13 is not a v2 matcher')],
]);

table('parseRule: HTTP v3 matchers', [
  [
    'every v3 matcher with its arity',
    'Host(`a.com`) && Method(`GET`) && Path(`/a`) && PathRegexp(`^/b`) && PathPrefix(`/c`) && Header(`X`, `y`) && ' +
      'HeaderRegexp(`X`, `^y`) && Query(`q`) && Query(`q`, `1`) && QueryRegexp(`q`, `^1`) && ClientIP(`10.0.0.0/8`)',
    'v3',
    'http',
    hosts('a.com'),
  ],
  ['HostHeader does not exist in v3', 'HostHeader(`a.com`)', 'v3', 'http', fails('HostHeader at 0 is not a v3 matcher')],
  ['Headers does not exist in v3', 'Headers(`X`, `y`)', 'v3', 'http', fails('Headers at 0 is not a v3 matcher')],
  ['Host takes one value', 'Host(`a.com`, `b.com`)', 'v3', 'http', fails('Host at 0 takes exactly 1 value in v3, got 2')],
  ['Host without a value', 'Host()', 'v3', 'http', fails('Host at 0 takes exactly 1 value in v3, got 0')],
  ['empty Host value', 'Host(``)', 'v3', 'http', fails('empty value for Host at 0')],
  ['Header takes two values', 'Host(`a.com`) && Header(`X`)', 'v3', 'http', fails('Header at 17 takes exactly 2 values in v3, got 1')],
  ['Query takes one or two values', 'Query(`a`, `b`, `c`)', 'v3', 'http', fails('Query at 0 takes 1 or 2 values in v3, got 3')],
  ['Method takes one value', 'Method(`GET`, `POST`)', 'v3', 'http', fails('Method at 0 takes exactly 1 value in v3, got 2')],
  ['HostRegexp takes one value', 'HostRegexp(`^a`, `^b`)', 'v3', 'http', fails('HostRegexp at 0 takes exactly 1 value in v3, got 2')],
  ['HostSNI in an HTTP rule', 'HostSNI(`a.com`)', 'v3', 'http', fails('HostSNI at 0 is not an HTTP matcher')],
  ['ALPN in an HTTP rule', 'Host(`a.com`) && ALPN(`h2`)', 'v2', 'http', fails('ALPN at 17 is not an HTTP matcher')],
  ['unknown matcher', 'Hots(`a.com`)', 'v3', 'http', fails('unknown matcher "Hots" at 0')],
  ['unknown matcher wins over a later arity error', 'Host(`a`, `b`) && Hots(`c`)', 'v3', 'http', fails('unknown matcher "Hots" at 18')],
  ['Host wildcard (v3.7)', 'Host(`*.example.com`)', 'v3', 'http', none('Host(`*.example.com`) is a wildcard')],
  ['Host(`*`) (v3.7.7)', 'Host(`*`)', 'v3', 'http', none('Host(`*`) is a wildcard (matches every host)')],
]);

table('parseRule: TCP matchers', [
  ['HostSNI', 'HostSNI(`DB.example.com`)', 'v3', 'tcp', hosts('db.example.com')],
  ['HostSNI(`*`) is the catch-all', 'HostSNI(`*`)', 'v2', 'tcp', none('HostSNI(`*`) is a wildcard (matches every host)')],
  ['HostSNI wildcard (v3.7)', 'HostSNI(`*.example.com`)', 'v3', 'tcp', none('HostSNI(`*.example.com`) is a wildcard')],
  ['HostSNIRegexp', 'HostSNIRegexp(`^.+\\.example\\.com$`)', 'v3', 'tcp', none('HostSNIRegexp(`^.+\\.example\\.com$`) is a pattern')],
  ['ALPN and ClientIP constrain no host', 'ALPN(`h2`) && ClientIP(`10.0.0.1`)', 'v3', 'tcp', none(EVERY_SNI)],
  ['HostSNI with ALPN', 'HostSNI(`a.com`) && ALPN(`h2`)', 'v3', 'tcp', hosts('a.com')],
  ['v2 HostSNI is variadic', 'HostSNI(`a.com`, `b.com`)', 'v2', 'tcp', hosts('a.com', 'b.com')],
  ['v3 HostSNI takes one value', 'HostSNI(`a.com`, `b.com`)', 'v3', 'tcp', fails('HostSNI at 0 takes exactly 1 value in v3, got 2')],
  [
    'v3 ALPN takes one value',
    'HostSNI(`a.com`) && ALPN(`h2`, `http/1.1`)',
    'v3',
    'tcp',
    fails('ALPN at 20 takes exactly 1 value in v3, got 2'),
  ],
  ['PathPrefix in a TCP rule', 'HostSNI(`a.com`) || PathPrefix(`/`)', 'v2', 'tcp', fails('PathPrefix at 20 is not a TCP matcher')],
]);

table('parseRule: precedence and host semantics', [
  ['&& binds tighter than || (a || b && c)', 'Host(`a.com`) || Host(`b.com`) && Host(`c.com`)', 'v3', 'http', hosts('a.com')],
  ['&& binds tighter than || (a && b || c)', 'Host(`a.com`) && Host(`b.com`) || Host(`c.com`)', 'v3', 'http', hosts('c.com')],
  ['a || b && path', 'Host(`a.com`) || Host(`b.com`) && Path(`/p`)', 'v3', 'http', hosts('a.com', 'b.com')],
  ['parentheses regroup', '(Host(`a.com`) || Host(`b.com`)) && Host(`b.com`)', 'v3', 'http', hosts('b.com')],
  ['hosts grouped, then a path', '(Host(`a.com`) || Host(`b.com`)) && Path(`/p`)', 'v3', 'http', hosts('a.com', 'b.com')],
  ['sorted and deduplicated', 'Host(`b.com`) || Host(`a.com`) || Host(`A.com`)', 'v3', 'http', hosts('a.com', 'b.com')],
  [
    '|| with a host-less matcher: the host still, and the alternative reported',
    'Host(`a.com`) || PathPrefix(`/x`)',
    'v3',
    'http',
    partly(['a.com'], ALT),
  ],
  ['two hosts that can never both match', 'Host(`a.com`) && Host(`b.com`)', 'v3', 'http', hosts()],
  ['negated Host', '!Host(`a.com`)', 'v3', 'http', none(EVERY, 'negated Host(`a.com`)')],
  ['Host and not another Host', 'Host(`a.com`) && !Host(`b.com`)', 'v3', 'http', hosts('a.com')],
  ['double negation is the Host again', '!!Host(`a.com`)', 'v3', 'http', hosts('a.com')],
  ['De Morgan: !(!a && !b) is a || b', '!(!Host(`a.com`) && !Host(`b.com`))', 'v3', 'http', hosts('a.com', 'b.com')],
  [
    'De Morgan: !(a || b) matches every other host',
    '!(Host(`a.com`) || Host(`b.com`))',
    'v3',
    'http',
    none(EVERY, 'negated Host(`a.com`)', 'negated Host(`b.com`)'),
  ],
  ['!(!a || path) is a && !path', '!(!Host(`a.com`) || Path(`/admin`))', 'v3', 'http', hosts('a.com')],
  ['!(a && path)', '!(Host(`a.com`) && Path(`/p`))', 'v3', 'http', none(EVERY, 'negated Host(`a.com`)')],
  ['negated non-host matcher', 'Host(`a.com`) && !PathPrefix(`/admin`)', 'v3', 'http', hosts('a.com')],
  ['Host or a pattern', 'Host(`a.com`) || HostRegexp(`^x`)', 'v3', 'http', partly(['a.com'], 'HostRegexp(`^x`) is a pattern')],
  ['Host and a pattern stays inside the Host', 'Host(`a.com`) && HostRegexp(`^a`)', 'v3', 'http', hosts('a.com')],
  [
    'pattern or pattern, reasons deduplicated',
    'HostRegexp(`^x`) || HostRegexp(`^x`) || HostRegexp(`^y`)',
    'v3',
    'http',
    none('HostRegexp(`^x`) is a pattern', 'HostRegexp(`^y`) is a pattern'),
  ],
  [
    '(Host or pattern) and (Host or pattern)',
    '(Host(`a.com`) || HostRegexp(`^x`)) && (Host(`b.com`) || HostRegexp(`^y`))',
    'v3',
    'http',
    partly(['a.com', 'b.com'], 'HostRegexp(`^x`) is a pattern', 'HostRegexp(`^y`) is a pattern'),
  ],
  ['pattern or host-less matcher', 'HostRegexp(`^x`) || Path(`/`)', 'v3', 'http', none(EVERY, 'HostRegexp(`^x`) is a pattern')],
  ['negated pattern', 'Host(`a.com`) && !HostRegexp(`^b`)', 'v3', 'http', hosts('a.com')],
  [
    'wildcard or exact',
    'Host(`*.example.com`) || Host(`www.example.org`)',
    'v3',
    'http',
    partly(['www.example.org'], 'Host(`*.example.com`) is a wildcard'),
  ],
]);

// A host is a map key iff some alternative of the rule's DNF (after De Morgan) requires it positively and nothing in that
// alternative contradicts it (another exact host, or the same host negated). The other alternatives are reported.
table('parseRule: every alternative that names a host counts', [
  ['HTTP v3: Host || Method', 'Host(`a.com`) || Method(`GET`)', 'v3', 'http', partly(['a.com'], ALT)],
  [
    'HTTP v2: several Host values || PathPrefix',
    'Host(`a.com`, `b.com`) || PathPrefix(`/x`)',
    'v2',
    'http',
    partly(['a.com', 'b.com'], ALT),
  ],
  ['HTTP v2: HostHeader || Query', 'HostHeader(`a.com`) || Query(`x=1`)', 'v2', 'http', partly(['a.com'], ALT)],
  ['TCP v3: HostSNI || ALPN', 'HostSNI(`a.com`) || ALPN(`h2`)', 'v3', 'tcp', partly(['a.com'], ALT_SNI)],
  [
    'TCP v2: several HostSNI values || ClientIP',
    'HostSNI(`a.com`, `b.com`) || ClientIP(`10.0.0.1`)',
    'v2',
    'tcp',
    partly(['a.com', 'b.com'], ALT_SNI),
  ],
  [
    'TCP v3: HostSNI || the catch-all',
    'HostSNI(`a.com`) || HostSNI(`*`)',
    'v3',
    'tcp',
    partly(['a.com'], 'HostSNI(`*`) is a wildcard (matches every host)'),
  ],
  [
    'a host inside an && alternative',
    'Host(`a.com`) || (Host(`b.com`) && Path(`/p`)) || Method(`GET`)',
    'v3',
    'http',
    partly(['a.com', 'b.com'], ALT),
  ],
  [
    'Host || a negated Host: the negation is context',
    'Host(`a.com`) || !Host(`b.com`)',
    'v3',
    'http',
    partly(['a.com'], ALT, 'negated Host(`b.com`)'),
  ],
  [
    'Host || its own negation: still served for a',
    'Host(`a.com`) || !Host(`a.com`)',
    'v3',
    'http',
    partly(['a.com'], ALT, 'negated Host(`a.com`)'),
  ],
  [
    'Host || pattern || host-less',
    'Host(`a.com`) || HostRegexp(`^x`) || Path(`/`)',
    'v3',
    'http',
    partly(['a.com'], ALT, 'HostRegexp(`^x`) is a pattern'),
  ],
  ['!(!Host && Path) is Host || !Path', '!(!Host(`a.com`) && Path(`/p`))', 'v3', 'http', partly(['a.com'], ALT)],
  ['!(!Host && !Method) is Host || Method', '!(!Host(`a.com`) && !Method(`GET`))', 'v3', 'http', partly(['a.com'], ALT)],
  ['!! counts by parity, inside ||', '!!Host(`a.com`) || !!!Host(`b.com`)', 'v3', 'http', partly(['a.com'], ALT, 'negated Host(`b.com`)')],
  ['TCP v2: !(!HostSNI && !ALPN)', '!(!HostSNI(`a.com`) && !ALPN(`h2`))', 'v2', 'tcp', partly(['a.com'], ALT_SNI)],
]);

// && of alternatives: each combination of one alternative per side, worked out without expanding them.
table('parseRule: && of alternatives', [
  ['(a || host-less) && b: only b, where b is required', '(Host(`a.com`) || Path(`/x`)) && Host(`b.com`)', 'v3', 'http', hosts('b.com')],
  ['(a || !b) && b: nothing', '(Host(`a.com`) || !Host(`b.com`)) && Host(`b.com`)', 'v3', 'http', hosts()],
  ['(a || !b) && a: a', '(Host(`a.com`) || !Host(`b.com`)) && Host(`a.com`)', 'v3', 'http', hosts('a.com')],
  ['(a || !b) && c: c, through !b', '(Host(`a.com`) || !Host(`b.com`)) && Host(`c.com`)', 'v3', 'http', hosts('c.com')],
  [
    '(a || x) && (b || y): a and b, and x && y',
    '(Host(`a.com`) || Path(`/x`)) && (Host(`b.com`) || Path(`/y`))',
    'v3',
    'http',
    partly(['a.com', 'b.com'], ALT),
  ],
  ['(a || b) && (b || c): b', '(Host(`a.com`) || Host(`b.com`)) && (Host(`b.com`) || Host(`c.com`))', 'v3', 'http', hosts('b.com')],
  ['(!a || !b) && a: a, through !b', '(!Host(`a.com`) || !Host(`b.com`)) && Host(`a.com`)', 'v3', 'http', hosts('a.com')],
  [
    '!a && !b && (a || b || c): c',
    '!Host(`a.com`) && !Host(`b.com`) && (Host(`a.com`) || Host(`b.com`) || Host(`c.com`))',
    'v3',
    'http',
    hosts('c.com'),
  ],
  [
    '(a || pattern) && path: a, the pattern reported',
    '(Host(`a.com`) || HostRegexp(`^x`)) && Path(`/`)',
    'v3',
    'http',
    partly(['a.com'], 'HostRegexp(`^x`) is a pattern'),
  ],
  ['(a || pattern) && b: b; the pattern narrows b', '(Host(`a.com`) || HostRegexp(`^x`)) && Host(`b.com`)', 'v3', 'http', hosts('b.com')],
  ['a && !a: nothing', 'Host(`a.com`) && !Host(`a.com`)', 'v3', 'http', hosts()],
  ['!(a || path) && a: nothing', '!(Host(`a.com`) || Path(`/p`)) && Host(`a.com`)', 'v3', 'http', hosts()],
  ['!(a || path) && b: b', '!(Host(`a.com`) || Path(`/p`)) && Host(`b.com`)', 'v3', 'http', hosts('b.com')],
  [
    'the same host twice: letter case and a trailing dot do not make two hosts',
    'Host(`a.com`) && Host(`A.com.`)',
    'v3',
    'http',
    hosts('a.com'),
  ],
  ['v2: Host(a, b) && Host(b, c) is b', 'Host(`a.com`, `b.com`) && Host(`b.com`, `c.com`)', 'v2', 'http', hosts('b.com')],
  ['v2: !Host(a, b) && Host(a, c) is c', '!Host(`a.com`, `b.com`) && Host(`a.com`, `c.com`)', 'v2', 'http', hosts('c.com')],
  ['TCP v3: (a || ALPN) && b is b', '(HostSNI(`a.com`) || ALPN(`h2`)) && HostSNI(`b.com`)', 'v3', 'tcp', hosts('b.com')],
  [
    'TCP v2: (a, b || ClientIP) && !a',
    '(HostSNI(`a.com`, `b.com`) || ClientIP(`10.0.0.1`)) && !HostSNI(`a.com`)',
    'v2',
    'tcp',
    partly(['b.com'], ALT_SNI, 'negated HostSNI(`a.com`)'),
  ],
  [
    '20 factors (h_i || path_i): each h_i beside the other paths (2^20 alternatives, not expanded)',
    Array.from({ length: 20 }, (_, i) => `(Host(\`h${i}.com\`) || Path(\`/p${i}\`))`).join(' && '),
    'v3',
    'http',
    partly(Array.from({ length: 20 }, (_, i) => `h${i}.com`).sort(), ALT),
  ],
]);

// The definition itself, by brute force: expand random small rules into their DNF and compare the hosts and the
// every-host reason with parseRule's linear summary.
type Node = { op: '&&' | '||'; l: Node; r: Node } | { op: '!'; e: Node } | { op: 'host' | 'path' | 'regexp'; v: string };
type Lit = { kind: 'host' | 'path' | 'regexp'; v: string; neg: boolean };
function dnf(n: Node, neg: boolean): Lit[][] {
  if (n.op === '!') return dnf(n.e, !neg);
  if ('v' in n) return [[{ kind: n.op, v: n.v, neg }]];
  const [l, r] = [dnf(n.l, neg), dnf(n.r, neg)];
  return (n.op === '||') !== neg ? [...l, ...r] : l.flatMap((a) => r.map((b) => [...a, ...b]));
}
function render(n: Node): string {
  if (n.op === '!') return `!(${render(n.e)})`;
  if ('v' in n) return `${{ host: 'Host', path: 'Path', regexp: 'HostRegexp' }[n.op]}(\`${n.v}\`)`;
  return `(${render(n.l)} ${n.op} ${render(n.r)})`;
}
const brute = suite('parseRule: agrees with the DNF definition on random rules');
brute('1,000 random rules over three hosts, a path, a pattern and !: same hosts, same reasons', () => {
  let seed = 11;
  const rnd = (k: number): number => {
    // xorshift32: every bit varies, unlike an LCG's low bits
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % k;
  };
  const gen = (depth: number): Node => {
    const c = depth === 0 ? 3 + rnd(5) : rnd(8);
    if (c < 2) return { op: c === 0 ? '&&' : '||', l: gen(depth - 1), r: gen(depth - 1) };
    if (c === 2) return { op: '!', e: gen(depth - 1) };
    return c < 6 ? { op: 'host', v: ['a.com', 'b.com', 'c.com'][rnd(3)]! } : c === 6 ? { op: 'path', v: '/p' } : { op: 'regexp', v: '^x' };
  };
  const counts: Record<string, number> = {};
  for (let i = 0; i < 1000; i++) {
    const node = gen(4);
    const want = new Set<string>();
    let free = false;
    let pattern = false;
    for (const conj of dnf(node, false)) {
      const pos = new Set(conj.filter((x) => x.kind === 'host' && !x.neg).map((x) => x.v));
      const negHosts = new Set(conj.filter((x) => x.kind === 'host' && x.neg).map((x) => x.v));
      if (pos.size === 1 && !negHosts.has([...pos][0]!)) want.add([...pos][0]!);
      const patterned = conj.some((x) => x.kind === 'regexp' && !x.neg);
      if (pos.size === 0 && !patterned) free = true;
      if (pos.size === 0 && patterned) pattern = true;
    }
    counts[`${want.size > 0} ${free} ${pattern}`] = (counts[`${want.size > 0} ${free} ${pattern}`] ?? 0) + 1;
    const got = parseRule(render(node), 'v3', 'http');
    assert.equal(got.hosts, [...want].sort(), render(node));
    assert.is(got.unmappable.includes(want.size ? ALT : EVERY), free, render(node));
    assert.is(got.unmappable.includes('HostRegexp(`^x`) is a pattern'), pattern, render(node));
  }
  assert.is(Object.keys(counts).length, 8, JSON.stringify(counts)); // every combination of hosts / every host / pattern occurs
});
brute.run();

// Rules from Traefik's own tests; the expected hosts follow from the requests those tests expect to be served.
table("parseRule: rules from Traefik's tests", [
  ['mux_test: Host OR Host', 'Host(`example.com`) || Host(`example.org`)', 'v3', 'http', hosts('example.com', 'example.org')],
  [
    'mux_test: host OR (host AND path)',
    'Host("example.com") || (Host("example.org") && Path("/css"))',
    'v3',
    'http',
    hosts('example.com', 'example.org'),
  ],
  [
    'mux_test: (host AND path) OR (host AND path)',
    '(Host("example.com") && Path("/js")) || ((Host("example.org")) && Path("/css"))',
    'v3',
    'http',
    hosts('example.com', 'example.org'),
  ],
  ['mux_test: not', '!Host("example.com")', 'v3', 'http', none(EVERY, 'negated Host(`example.com`)')],
  [
    'mux_test: not on and with another not',
    '!(Host("example.com") && !Path("/css"))',
    'v3',
    'http',
    none(EVERY, 'negated Host(`example.com`)'),
  ],
  ['mux_test: not on two rules', '!Host("example.com") || !Path("/css")', 'v3', 'http', none(EVERY, 'negated Host(`example.com`)')],
  ['mux_test: double not', '!(!(Host("example.com") && Pathprefix("/css")))', 'v3', 'http', hosts('example.com')],
  ['mux_test: not domain and path', '!Host("example.com") && Pathprefix("/css")', 'v3', 'http', none(EVERY, 'negated Host(`example.com`)')],
  [
    'matcher_test: non-ASCII Host (v3)',
    'Host(`🦭.com`)',
    'v3',
    'http',
    fails('non-ASCII value "\\ud83e\\uddad.com" for Host at 0 (use punycode)'),
  ],
  [
    'matcher_v2_test: non-ASCII Host (v2)',
    'Host(`🦭.com`)',
    'v2',
    'http',
    fails('non-ASCII value "\\ud83e\\uddad.com" for Host at 0 (use punycode)'),
  ],
  [
    'tcp matcher_test: non-ASCII HostSNI',
    'HostSNI(`🦭.com`)',
    'v3',
    'tcp',
    fails('non-ASCII value "\\ud83e\\uddad.com" for HostSNI at 0 (use punycode)'),
  ],
  ['tcp matcher_test: punycoded HostSNI', 'HostSNI(`xn--9t9h.com`)', 'v3', 'tcp', hosts('xn--9t9h.com')],
  [
    'tcp matcher_test: non-ASCII HostSNIRegexp',
    'HostSNIRegexp(`🦭.com`)',
    'v3',
    'tcp',
    fails('non-ASCII value "\\ud83e\\uddad.com" for HostSNIRegexp at 0 (use punycode)'),
  ],
]);

// Traefik checks each matcher's values when it builds the router, in rule order; one refused value disables the router,
// so the rule yields nothing, not its other alternatives.
table('parseRule: values Traefik refuses', [
  [
    'v2: one non-ASCII value among several',
    'Host(`a.com`, `bücher.de`)',
    'v2',
    'http',
    fails('non-ASCII value "b\\u00fccher.de" for Host at 0 (use punycode)'),
  ],
  [
    'v2: HostHeader',
    'HostHeader(`bücher.de`)',
    'v2',
    'http',
    fails('non-ASCII value "b\\u00fccher.de" for HostHeader at 0 (use punycode)'),
  ],
  [
    'v3: the ASCII alternative does not survive',
    'Host(`a.com`) || Host(`bücher.de`)',
    'v3',
    'http',
    fails('non-ASCII value "b\\u00fccher.de" for Host at 17 (use punycode)'),
  ],
  [
    'v3: negated, too',
    'Host(`a.com`) && !Host(`bücher.de`)',
    'v3',
    'http',
    fails('non-ASCII value "b\\u00fccher.de" for Host at 18 (use punycode)'),
  ],
  [
    'v2: HostRegexp',
    'HostRegexp(`{x:[a-z]+}.bücher.de`)',
    'v2',
    'http',
    fails('non-ASCII value "{x:[a-z]+}.b\\u00fccher.de" for HostRegexp at 0 (use punycode)'),
  ],
  [
    'v3: HostRegexp',
    'Host(`a.com`) || HostRegexp(`^bücher`)',
    'v3',
    'http',
    fails('non-ASCII value "^b\\u00fccher" for HostRegexp at 17 (use punycode)'),
  ],
  [
    'Cyrillic look-alike',
    'Host(`gr\u0430fana.a.com`)',
    'v3',
    'http',
    fails('non-ASCII value "gr\\u0430fana.a.com" for Host at 0 (use punycode)'),
  ],
  [
    'TCP v3: HostSNI',
    'HostSNI(`bücher.de`) || ALPN(`h2`)',
    'v3',
    'tcp',
    fails('non-ASCII value "b\\u00fccher.de" for HostSNI at 0 (use punycode)'),
  ],
  [
    'TCP v2: one value among several',
    'HostSNI(`a.com`, `bücher.de`)',
    'v2',
    'tcp',
    fails('non-ASCII value "b\\u00fccher.de" for HostSNI at 0 (use punycode)'),
  ],
  [
    'TCP: HostSNI with a space',
    'HostSNI(`a b.com`)',
    'v3',
    'tcp',
    fails('invalid value "a b.com" for HostSNI at 0 (not a host name or IP)'),
  ],
  [
    'TCP: HostSNI with an escaped newline',
    'HostSNI("a.com\\nb.com")',
    'v2',
    'tcp',
    fails('invalid value "a.com\\nb.com" for HostSNI at 0 (not a host name or IP)'),
  ],
  ['TCP: HostSNI with an underscore passes (v3.4+), for routes.ts to judge', 'HostSNI(`a_b.com`)', 'v3', 'tcp', hosts('a_b.com')],
  [
    'long values are cut in the message',
    `Host(\`${'ü'.repeat(50)}\`)`,
    'v3',
    'http',
    fails(`non-ASCII value "${'\\u00fc'.repeat(40)}"… for Host at 0 (use punycode)`),
  ],
  ["other matchers' values are not checked", 'Host(`a.com`) && Path(`/bücher`)', 'v3', 'http', hosts('a.com')],
  [
    'an arity error first in the rule wins',
    'Host(`a.com`, `b.com`) && Host(`bücher.de`)',
    'v3',
    'http',
    fails('Host at 0 takes exactly 1 value in v3, got 2'),
  ],
  [
    'a value error first in the rule wins',
    'Host(`bücher.de`) && Host(`a.com`, `b.com`)',
    'v3',
    'http',
    fails('non-ASCII value "b\\u00fccher.de" for Host at 0 (use punycode)'),
  ],
  ['an unknown matcher wins over values', 'Host(`bücher.de`) && Hots(`a.com`)', 'v3', 'http', fails('unknown matcher "Hots" at 21')],
]);

// Rules copied from /work/shared/fixtures/traefik (Traefik's own recordings); the syntax is the one that Traefik version uses.
table('parseRule: rules recorded from Traefik', [
  ['v2.10.7 rawdata-crd-label-selector', 'Host(`foo.com`) && PathPrefix(`/bar`)', 'v2', 'http', hosts('foo.com')],
  ['v2.10.7 rawdata-crd dashboard-like', 'PathPrefix(`/api`)', 'v2', 'http', none(EVERY)],
  ['v2.10.7 rawdata-crd TCP catch-all', 'HostSNI(`*`)', 'v2', 'tcp', none('HostSNI(`*`) is a wildcard (matches every host)')],
  [
    'v2.11.53 rawdata-ingress, double quotes',
    'Host("whoami.test.https") && PathPrefix("/whoami")',
    'v2',
    'http',
    hosts('whoami.test.https'),
  ],
  ['v3.0.0 rawdata-gateway', 'Host(`foo.com`) && Path(`/bar`)', 'v3', 'http', hosts('foo.com')],
  ['v3.7.9 rawdata-gateway, double quotes', 'Host("foo.com") && Path("/bar")', 'v3', 'http', hosts('foo.com')],
  ['v3.7.9 rawdata-gateway TCP, double quotes', 'HostSNI("foo.bar")', 'v3', 'tcp', hosts('foo.bar')],
  [
    'v3.7.9 rawdata-gateway deny-unknown-host, raw JSON text decoded',
    JSON.parse('"HostSNI(`*`) \\u0026\\u0026 !ALPN(`h2`) \\u0026\\u0026 !ALPN(`http/1.1`)"') as string,
    'v3',
    'tcp',
    none('HostSNI(`*`) is a wildcard (matches every host)'),
  ],
  ['v3.7.9 webui mock', 'Host(`jaeger-v2-example-beta1`)', 'v3', 'http', hosts('jaeger-v2-example-beta1')],
  [
    'v3.7.9 pkg/api tcprouters.json: a synthetic TCP router with Host',
    'Host(`foo.bar`)',
    'v3',
    'tcp',
    fails('Host at 0 is not a TCP matcher'),
  ],
  ['Traefik v2 docs catch-all', 'HostRegexp(`{host:.+}`)', 'v2', 'http', none('HostRegexp(`{host:.+}`) is a pattern')],
]);

table('parseRule: hostile ASCII values are passed on as-is (routes.ts rejects them)', [
  ['NUL from an escape is kept for routes.ts to reject', 'Host("a\\x00b.com")', 'v3', 'http', hosts('a\0b.com')],
  ['a raw NUL is illegal in Go source', 'Host(`a\0b.com`)', 'v3', 'http', fails('illegal character NUL at 7')],
  ['a newline inside backticks is kept', 'Host(`a\nb.com`)', 'v3', 'http', hosts('a\nb.com')],
  ['a trailing dot is kept as written (routes.ts drops one)', 'Host(`a.com.`) || Host(`A.com`)', 'v3', 'http', hosts('a.com.')],
  ['two trailing dots are kept (routes.ts rejects them)', 'Host(`x.com..`) && Path(`/`)', 'v3', 'http', hosts('x.com..')],
  ['spaces are not trimmed', 'Host(` a.com `)', 'v3', 'http', hosts(' a.com ')],
  [
    'the Kelvin sign is refused, not turned into k',
    'Host(`\u212Aeys.a.com`)',
    'v3',
    'http',
    fails('non-ASCII value "\\u212aeys.a.com" for Host at 0 (use punycode)'),
  ],
  ['reasons stay on one line', 'HostRegexp(`a\nb`)', 'v3', 'http', none('HostRegexp("a\\nb") is a pattern')],
  [
    'long values are cut in reasons',
    `HostRegexp(\`${'x'.repeat(150)}\`)`,
    'v3',
    'http',
    none(`HostRegexp(\`${'x'.repeat(100)}…\`) is a pattern`),
  ],
  ['a run of ! flips the polarity without recursion', `${'!'.repeat(100_000)}Host(\`a.com\`)`, 'v3', 'http', hosts('a.com')],
  ['1,000 nested parentheses are allowed', `${'('.repeat(1000)}Host(\`a.com\`)${')'.repeat(1000)}`, 'v3', 'http', hosts('a.com')],
  [
    '1,001 nested parentheses are not',
    `${'('.repeat(1001)}Host(\`a.com\`)${')'.repeat(1001)}`,
    'v3',
    'http',
    fails('parentheses nested deeper than 1000 at 1000'),
  ],
  ['100,000 unclosed parentheses', '('.repeat(100_000), 'v3', 'http', fails('parentheses nested deeper than 1000 at 1000')],
  [
    'unterminated quote at the end of a long rule',
    `${'Host(`a.com`) || '.repeat(1000)}Host("b.com`,
    'v2',
    'http',
    fails('unterminated string at 17005'),
  ],
]);

const scale = suite('parseRule: scale');

scale('a 10,000-term || gives every host', () => {
  const names = Array.from({ length: 10_000 }, (_, i) => `h${String(i).padStart(5, '0')}.example.com`);
  assert.equal(parseRule(names.map((h) => `Host(\`${h}\`)`).join(' || '), 'v3', 'http'), hosts(...names));
});

scale('a 10,000-term || of hosts and host-less alternatives keeps every host', () => {
  const names = Array.from({ length: 5000 }, (_, i) => `h${String(i).padStart(5, '0')}.example.com`);
  const rule = names.map((h, i) => `Host(\`${h}\`) || Path(\`/p${i}\`)`).join(' || ');
  assert.equal(parseRule(rule, 'v3', 'http'), partly(names, ALT));
});

scale('a 10,000-term && of negated hosts, then one that is not negated', () => {
  const negated = Array.from({ length: 10_000 }, (_, i) => `!Host(\`h${i}.com\`)`).join(' && ');
  assert.equal(parseRule(`${negated} && (Host(\`h1.com\`) || Host(\`ok.com\`))`, 'v3', 'http'), hosts('ok.com'));
});

scale('a 4 MB rule of patterns: every pattern reported, no stack overflow', () => {
  const rule = Array.from({ length: 200_000 }, (_, i) => `HostRegexp(\`^h${i}\`)`).join(' || ');
  assert.ok(rule.length > 4_000_000);
  const got = parseRule(rule, 'v3', 'http');
  assert.equal(got.unmappable.length, 200_000);
  assert.is(got.unmappable[199_999], 'HostRegexp(`^h199999`) is a pattern');
  assert.equal(got.hosts, []);
});

scale('a 4 MB rule of (host && path) alternatives: every host', () => {
  const names = Array.from({ length: 100_000 }, (_, i) => `h${String(i).padStart(6, '0')}.example.com`);
  const rule = names.map((h) => `(Host(\`${h}\`) && Path(\`/\`))`).join(' || ');
  assert.ok(rule.length > 4_000_000);
  assert.equal(parseRule(rule, 'v3', 'http'), hosts(...names));
});

scale('never throws, whatever it is given', () => {
  const junk = ['(', ')', '!', '&&', '||', '`', '"', "'", '\\', ',', 'Host', 'x', '\n', '\0', ' ', '/*', '//', '\uFEFF', 'é'];
  let seed = 7;
  for (let i = 0; i < 2000; i++) {
    let rule = '';
    for (let j = 0; j < 12; j++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      rule += junk[seed % junk.length];
    }
    const got = parseRule(rule, i % 2 ? 'v2' : 'v3', i % 3 ? 'http' : 'tcp');
    assert.ok(Array.isArray(got.hosts) && Array.isArray(got.unmappable), rule);
  }
  assert.equal(parseRule(undefined as unknown as string, 'v3', 'http'), fails('rule is not a string'));
});

scale.run();
