// The HAProxy lines an operator adds for routeagent's maps, per target: pfSense ("Advanced pass thru" of two frontends),
// OPNsense's os-haproxy plugin ("Option pass-through" of two Public Services) or a plain HAProxy (both frontends whole).
// Pure. Every dynamic use_backend is guarded with `-m found`: an unguarded one ends rule evaluation for every request, so
// the use_backend lines after it (pfSense's own ACLs, a second map) never run (opnsense/core#8121).
import { MAP_KINDS } from './maps.js';
import type { MapName } from './types.js';

export type SnippetTarget = 'pfsense' | 'opnsense' | 'haproxy';
export const SNIPPET_TARGETS: readonly SnippetTarget[] = ['pfsense', 'opnsense', 'haproxy'];
export const DEFAULT_SNIPPET_TARGET: SnippetTarget = 'pfsense';

/** The routing lines of each frontend, the same for every target; only the framing around them differs. */
type FrontendLines = { readonly tls: readonly string[]; readonly http: readonly string[] };

/** Render the :443 (SNI passthrough) and :80 (Host) parts for one target; pfSense's when no target is given. */
export function renderSnippet(maps: Readonly<Record<MapName, string>>, target: SnippetTarget = DEFAULT_SNIPPET_TARGET): string {
  return TARGETS[target](frontendLines(maps)).join('\n');
}

/** True when `name` is a target `renderSnippet` knows. */
export function isSnippetTarget(name: string): name is SnippetTarget {
  return (SNIPPET_TARGETS as readonly string[]).includes(name);
}

function frontendLines(maps: Readonly<Record<MapName, string>>): FrontendLines {
  const sni = `${MAP_KINDS.sni.sample},map(${maps.sni})`;
  const host = `${MAP_KINDS.hosts.sample},map(${maps.hosts})`;
  // On :80 a host that is in the sni map serves TLS: looked up by its Host header, it is redirected to https.
  const hostTls = `${MAP_KINDS.hosts.sample},map(${maps.sni})`;
  return {
    tls: [
      'tcp-request inspect-delay 5s',
      'tcp-request content accept if { req.ssl_hello_type 1 }',
      `use_backend %[${sni}] if { ${sni} -m found }`,
    ],
    http: [
      'acl routeagent_acme path_beg /.well-known/acme-challenge/',
      `http-request redirect scheme https code 301 if !routeagent_acme { ${hostTls} -m found }`,
      `use_backend %[${host}] if { ${host} -m found }`,
    ],
  };
}

const ACME_NOTE =
  '# ACME HTTP-01 goes to the cluster that serves the host; TLS hosts are redirected to https; plain-HTTP hosts go to their cluster.';
const indent = (lines: readonly string[]) => lines.map((l) => `    ${l}`);

// One renderer per target, each a list of output lines (joined with '\n', ending with an empty line).
const TARGETS: Record<SnippetTarget, (f: FrontendLines) => string[]> = {
  // pfSense writes "Advanced pass thru" before its own ACL rules, so routeagent's guarded lines are tried first.
  pfsense: (f) => [
    '# --- :443 frontend (type: SSL/HTTPS (TCP mode), SSL passthrough) -> Advanced pass thru ---',
    ...f.tls,
    '',
    '# --- :80 frontend (type: HTTP / HTTPS (offloading)) -> Advanced pass thru ---',
    ACME_NOTE,
    ...f.http,
    '',
  ],
  // os-haproxy writes "Option pass-through" after the GUI rules and default_backend, so a GUI rule for a host wins. HAProxy
  // still runs every tcp-request/http-request rule before any use_backend, whatever their order (it warns about the order).
  opnsense: (f) => [
    '# --- :443 Public Service (type: SSL / HTTPS (TCP mode)) -> Advanced settings: Option pass-through ---',
    '# After the GUI rules: a GUI rule for the same host wins. HAProxy warns that these tcp-request rules come after a',
    '# use_backend rule and runs them first anyway, as SNI routing needs.',
    ...f.tls,
    '',
    '# --- :80 Public Service (type: HTTP / HTTPS (SSL offloading)) -> Advanced settings: Option pass-through ---',
    ACME_NOTE,
    '# The redirect is an http-request rule: it runs before every use_backend, GUI rules included.',
    ...f.http,
    '',
  ],
  // A plain HAProxy: both frontends whole, to put between `defaults` and the backends.
  haproxy: (f) => [
    '# :443, TLS passed through to the cluster chosen by SNI. Hosts routeagent does not know: the connection is closed',
    '# (or add a default_backend).',
    'frontend https_in',
    ...indent(['bind :443', 'mode tcp', ...f.tls]),
    '',
    `# :80. ${ACME_NOTE.slice(2)}`,
    '# Hosts routeagent does not know get a 503 (or add a default_backend).',
    'frontend http_in',
    ...indent(['bind :80', 'mode http', ...f.http]),
    '',
  ],
};
