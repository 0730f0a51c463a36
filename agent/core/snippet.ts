// The HAProxy frontend lines an operator pastes into pfSense ("Advanced pass thru"), with the configured map paths.
// Every dynamic use_backend is guarded with `-m found`: an unguarded one disables every later use_backend that pfSense writes
// (shared/notes/haproxy-runtime.md §4).
import type { MapName } from './types.js';

/** Render the :443 (SNI passthrough) and :80 (Host) frontend snippets. */
export function renderSnippet(maps: Readonly<Record<MapName, string>>): string {
  const sni = `req.ssl_sni,lower,map(${maps.sni})`;
  const host = `req.hdr(host),field(1,:),lower,map(${maps.hosts})`;
  const hostTls = `req.hdr(host),field(1,:),lower,map(${maps.sni})`;
  return [
    '# --- :443 frontend (type: SSL/HTTPS (TCP mode), SSL passthrough) -> Advanced pass thru ---',
    'tcp-request inspect-delay 5s',
    'tcp-request content accept if { req.ssl_hello_type 1 }',
    `use_backend %[${sni}] if { ${sni} -m found }`,
    '',
    '# --- :80 frontend (type: HTTP / HTTPS (offloading)) -> Advanced pass thru ---',
    '# ACME HTTP-01 goes to the cluster that serves the host; TLS hosts are redirected to https; plain-HTTP hosts go to their cluster.',
    'acl routeagent_acme path_beg /.well-known/acme-challenge/',
    `http-request redirect scheme https code 301 if !routeagent_acme { ${hostTls} -m found }`,
    `use_backend %[${host}] if { ${host} -m found }`,
    '',
  ].join('\n');
}
