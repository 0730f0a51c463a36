// Writes the haproxy.cfg text the harness runs: two frontends (HTTP by Host, TLS passthrough by SNI) that route through
// the agent's two map files, a default backend each, and one backend per cluster. Writing only: starting and stopping
// haproxy on it is ./haproxy.ts. Shaped on the pfSense config the agent serves (no fronted TLS, guarded map lookups).
import type { MapName } from '../../agent/core/types.js';

/**
 * One backend. `port`: a server line to 127.0.0.1:port (`server` appended to it, e.g. `check inter 200ms`).
 * `reply`: HAProxy itself answers 200 with this text (no upstream process competing for the CPU in benchmarks).
 */
export type BackendSpec = {
  readonly name: string;
  readonly mode: 'http' | 'tcp';
  readonly port?: number;
  readonly server?: string;
  readonly reply?: string;
};

export type HaproxyConfigOptions = {
  readonly socket: string;
  readonly httpPort: number;
  readonly sniPort: number;
  readonly mapPaths: Record<MapName, string>;
  readonly backends?: readonly BackendSpec[];
  /** Lines added to `global`, e.g. `maxconn 4096`. */
  readonly extraGlobal?: string;
  /** false: the frontends do not reference the maps (HAProxy never loads them). Default true. */
  readonly loadMaps?: boolean;
  /** false: no traffic log (a benchmark under load); default true, logged to stdout for printLogOnFailure. */
  readonly log?: boolean;
  /** The text the HTTP default backend answers with (404); default none, so it answers 503. */
  readonly noRouteReply?: string;
  /** Names the writer in the file's first line. */
  readonly writtenBy?: string;
};

/** The whole haproxy.cfg text. The admin socket has `expose-fd listeners`, so `haproxy -x socket` reloads work on it. */
export function haproxyConfig(o: HaproxyConfigOptions): string {
  const log = o.log ?? true;
  const loadMaps = o.loadMaps ?? true;
  const hostsExpr = `req.hdr(host),field(1,:),lower,map(${o.mapPaths.hosts})`;
  const sniExpr = `req.ssl_sni,lower,map(${o.mapPaths.sni})`;
  // Guarded as the agent's snippet prints them: an unguarded dynamic use_backend disables every later one.
  const useHosts = loadMaps ? `    use_backend %[${hostsExpr}] if { ${hostsExpr} -m found }\n` : '';
  const useSni = loadMaps ? `    use_backend %[${sniExpr}] if { ${sniExpr} -m found }\n` : '';
  const noRoute =
    o.noRouteReply === undefined ? '' : `    http-request return status 404 content-type text/plain string "${o.noRouteReply}"\n`;
  return `# written by ${o.writtenBy ?? 'test/harness/haproxy-config.ts'}
global
${log ? '    log stdout format raw local0\n' : ''}    stats socket ${o.socket} mode 600 level admin expose-fd listeners
    stats timeout 30s
${o.extraGlobal ?? ''}
defaults
${log ? '    log global\n' : ''}    timeout connect 2s
    timeout client 10s
    timeout server 10s

frontend fe_http
    mode http
    bind 127.0.0.1:${o.httpPort}
${log ? '    option httplog\n' : ''}${useHosts}    default_backend be_default

frontend fe_sni
    mode tcp
    bind 127.0.0.1:${o.sniPort}
${log ? '    option tcplog\n' : ''}    tcp-request inspect-delay 5s
    tcp-request content accept if { req.ssl_hello_type 1 }
${useSni}    default_backend be_tls_default

# no servers: the default backends answer 503 (http) or close (tcp), unless noRouteReply is set
backend be_default
    mode http
${noRoute}
backend be_tls_default
    mode tcp

${(o.backends ?? []).map(backendText).join('\n')}`;
}

function backendText(b: BackendSpec): string {
  const server = b.port === undefined ? '' : `    server s1 127.0.0.1:${b.port}${b.server ? ` ${b.server}` : ''}\n`;
  const reply = b.reply === undefined ? '' : `    http-request return status 200 content-type text/plain string "${b.reply}"\n`;
  return `backend ${b.name}\n    mode ${b.mode}\n${reply}${server}`;
}
