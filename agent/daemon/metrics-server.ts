// The daemon's /metrics endpoint (Prometheus text): an HTTP server that starts, restarts on a config change and stops
// with the daemon. What the metrics say is core/metrics.ts; this file only serves the text.
import { createServer, type Server } from 'node:http';
import type { Config } from '../config.js';
import type { Log } from '../log.js';

export type MetricsServer = {
  /** Stop the server if one runs, then listen as `settings` say (nothing when disabled); a failed listen is logged. */
  restart(settings: Config['metrics']): Promise<void>;
  stop(): Promise<void>;
  /** `host:port` while listening. */
  address(): string | undefined;
};

/** A server answering GET /metrics with `render()`. */
export function createMetricsServer(log: Log, render: () => string): MetricsServer {
  let server: Server | undefined;

  // closeAllConnections: a scraper's keep-alive connection must not hold a stop or a reload up.
  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    const closed = new Promise<void>((r) => s.close(() => r()));
    s.closeAllConnections();
    await closed;
  };
  const restart = async (settings: Config['metrics']) => {
    await stop();
    if (!settings.enabled) return;
    server = await listen(createServer(serveMetrics(render)), settings, log);
  };
  return { restart, stop, address: () => (server ? hostPort(server) : undefined) };
}

function serveMetrics(render: () => string): Parameters<typeof createServer>[1] {
  return (req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(render());
  };
}

/** The listening server, or undefined when it could not listen (metrics stay off; the daemon runs on). */
function listen(server: Server, settings: Config['metrics'], log: Log): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const failedToListen = (e: Error) => {
      log.warn(`metrics: cannot listen on ${settings.address}:${settings.port} (${e.message}); metrics off`);
      resolve(undefined);
    };
    server.once('error', failedToListen);
    server.listen(settings.port, settings.address, () => {
      // Listening: a later server error (EMFILE on accept, …) is logged, never left unhandled to kill the daemon.
      server.off('error', failedToListen);
      server.on('error', (e) => log.warn(`metrics: ${e.message}; still serving`));
      log.info(`metrics: serving http://${hostPort(server)}/metrics`);
      resolve(server);
    });
  });
}

function hostPort(server: Server): string {
  const a = server.address();
  if (!a || typeof a !== 'object') return String(a);
  return `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}
