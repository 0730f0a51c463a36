// What a host map can take from a Traefik rule: the hosts it serves as exact map keys, and why the rest of it can't be
// keys. Pure. rules.ts parses the rule and builds these values bottom-up, one per matcher, joined by and/or.
import type { RouterKind } from './types.js';

export type RuleSummary = { readonly hosts: readonly string[]; readonly unmappable: readonly string[] };

// Traefik pushes `!` down to the matchers with De Morgan (pkg/rules/parser.go `invert`), so a rule is an and/or tree over
// literals: Host(H), !Host(H), a pattern (HostRegexp, HostSNIRegexp, a wildcard, `*`), and host-less matchers (Path, ALPN…).
// Read it as its disjunctive normal form: alternatives (|| of them), each a conjunct (&& of literals).
//
//   H is a map key  ⟺  some alternative has a positive Host(H) and nothing in that alternative contradicts it:
//                      no positive exact Host(H′) with H′ ≠ H, no negated Host(H). Patterns and host-less matchers only
//                      narrow it (the router serves H for some requests: the map must send H to this cluster).
//
//   rule                                   alternatives                    map keys   unmappable
//   Host(a) || Method(GET)                 a | GET                         a          an alternative matches every host
//   Host(a) && Host(b)                     a∧b (a request has one host)    —          —
//   !!Host(a)                              a                               a          —
//   Host(a) && !Host(b)                    a∧¬b                            a          —
//   Host(a) && !Host(a)                    a∧¬a                            —          —
//   !(Host(a) && Path(/p))                 ¬a | ¬/p                        —          every host; negated a
//   (Host(a) || Path(/x)) && Host(b)       a∧b | /x∧b                      b          —
//   (Host(a) || !Host(b)) && Host(b)       a∧b | ¬b∧b                      —          —
//   (Host(a) || HostRegexp(x)) && Path(/)  a∧/ | x∧/                       a          x is a pattern
//   Host(a) && HostRegexp(x)               a∧x                             a          —
//
// Expanding the DNF is exponential ((A || B) && (C || D) && …), so each sub-rule is summarised by what its alternatives
// can still become under a further &&, which stays linear in size:
//   named    hosts H with an alternative that requires exactly H (its negations of other hosts no longer matter: they can
//            only exclude hosts that would contradict H anyway)
//   rest     null if every alternative names an exact host; else the hosts that every alternative naming none excludes
//            (such an alternative && Host(H) keeps H unless it negates H: H survives iff some one of them does not negate H)
//   free     some alternative constrains the host by nothing positive (not even a pattern): it matches every host
//   patterns patterns in alternatives that name no exact host; negated: negations in the free alternatives
//
//   l || r:  named = l ∪ r;  rest = l.rest ∩ r.rest (a null side adds none);  free = l ∨ r;  patterns, negated: both
//   l && r:  named = (l ∩ r) ∪ (l.named ∖ r.rest if r.rest) ∪ (r.named ∖ l.rest if l.rest)
//            rest  = l.rest ∪ r.rest if both, else null;  free = l ∧ r
//            patterns = l's if r.rest, and r's if l.rest;  negated = both if free
// Each value is used once, so sets are updated in place, the smaller into the larger, and reasons concatenated as a rope.
type Rope = readonly string[] | { readonly l: Rope; readonly r: Rope } | null;
export type Hosts = {
  readonly named: Set<string>;
  readonly rest: Set<string> | null;
  readonly free: boolean;
  readonly patterns: Rope;
  readonly negated: Rope;
};

export function or(l: Hosts, r: Hosts): Hosts {
  return {
    named: union(l.named, r.named),
    rest: l.rest === null ? r.rest : r.rest === null ? l.rest : new Set(common(l.rest, r.rest)),
    free: l.free || r.free,
    patterns: cat(l.patterns, r.patterns),
    negated: cat(l.negated, r.negated),
  };
}

export function and(l: Hosts, r: Hosts): Hosts {
  const free = l.free && r.free;
  return {
    named: andNamed(l, r),
    rest: l.rest !== null && r.rest !== null ? union(l.rest, r.rest) : null,
    free,
    patterns: cat(r.rest !== null ? l.patterns : null, l.rest !== null ? r.patterns : null),
    negated: free ? cat(l.negated, r.negated) : null,
  };
}

// A host named on one side survives beside the other side's alternatives that name it too, or that name no host and do
// not all negate it: so it is dropped only when the other side names it nowhere and every host-free alternative there negates it.
function andNamed(l: Hosts, r: Hosts): Set<string> {
  if (l.rest === null && r.rest === null) return new Set(common(l.named, r.named));
  const dropL = r.rest === null ? null : common(l.named, r.rest).filter((h) => !r.named.has(h));
  const dropR = l.rest === null ? null : common(r.named, l.rest).filter((h) => !l.named.has(h));
  if (dropL === null) return without(r.named, dropR!); // l's hosts survive only where r names them: those are in r.named
  if (dropR === null) return without(l.named, dropL);
  return union(without(l.named, dropL), without(r.named, dropR));
}

function without(set: Set<string>, drop: readonly string[]): Set<string> {
  for (const h of drop) set.delete(h);
  return set;
}

/** The elements of both sets, found by walking the smaller one. */
function common(a: Set<string>, b: Set<string>): string[] {
  const [small, big] = a.size <= b.size ? [a, b] : [b, a];
  const out: string[] = [];
  for (const h of small) if (big.has(h)) out.push(h);
  return out;
}

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

/** A matcher that says nothing about the host (Path, Method, ALPN…, either way round): one alternative, every host. */
export function hostless(): Hosts {
  return { named: new Set(), rest: new Set(), free: true, patterns: null, negated: null };
}

/** Host(a, b, …): one alternative per exact host, and one per pattern or wildcard (with the reason it can't be a key). */
export function positive(exact: Set<string>, patterns: readonly string[]): Hosts {
  const some = patterns.length > 0;
  return { named: exact, rest: some ? new Set() : null, free: false, patterns: some ? patterns : null, negated: null };
}

/** !Host(a, b, …) (or a negated pattern, with no exact hosts): one alternative, every host but these. */
export function negative(exact: Set<string>, reason: string): Hosts {
  return { named: new Set(), rest: exact, free: true, patterns: null, negated: [reason] };
}

/** The map keys of a whole rule (in no order), and its unmappable parts, one line each, deduplicated, in rule order. */
export function hostsAndReasons(root: Hosts, kind: RouterKind): RuleSummary {
  const unmappable: string[] = [];
  if (root.free) {
    const matcher = kind === 'tcp' ? 'HostSNI' : 'Host';
    unmappable.push(
      root.named.size === 0
        ? `rule matches every host (no ${matcher} matcher required)`
        : `an alternative without a ${matcher} matcher matches every host`,
    );
    flatten(root.negated, unmappable); // what the every-host alternatives leave out: context, not map keys
  }
  flatten(root.patterns, unmappable);
  return { hosts: [...root.named], unmappable: [...new Set(unmappable)] };
}
