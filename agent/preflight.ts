// `routeagent check`: the config is already valid; reach each cluster, run `haproxy -c` on the running config, ask the socket
// for the version and the loaded maps, and check that every backend the config names exists with the right mode.
// Reads only: it stages nothing and applies nothing.
import type { Config } from './config.js';
import { backendFault, CLUSTER_MAPS, MAP_NAMES } from './core/maps.js';
import { type BackendMode, MIN_RUNTIME_VERSION, versionAtLeast } from './core/reply.js';
import type { MapName } from './core/types.js';
import { AgentError } from './errors.js';
import { readCarpState } from './io/carp.js';
import { checkConfig, readConfigBackends } from './io/check.js';
import { fetchPeerState, readToken } from './io/peer.js';
import { createRuntime } from './io/runtime.js';
import { fetchCluster } from './io/traefik.js';
import { count } from './log.js';
import { checkLine } from './output.js';

/** Run every check; `ok:` and `warning:` lines go to `out` as they are found, the problems are returned. */
export async function preflight(
  config: Config,
  out: (line: string) => void,
  source: { path: string; warnings: readonly string[] },
): Promise<string[]> {
  const problems: string[] = [];
  const ok = (s: string) => out(checkLine('ok', s));
  // The config is valid by the time check runs (main.ts exits 2 otherwise); say so, with its warnings right below.
  ok(
    `config ${source.path}: valid, ${count(config.clusters.length, 'cluster', 'clusters')}, ${count(config.static.length, 'static route', 'static routes')}`,
  );
  for (const w of source.warnings) out(checkLine('warning', w));
  // Reached in parallel, reported in config order: the output of two runs on the same world is the same.
  const reached = await Promise.all(
    config.clusters.map(async (c) => {
      try {
        const r = await fetchCluster(c);
        const http = r.routers.filter((x) => x.kind === 'http').length;
        return {
          ok: `cluster ${c.name}: ${c.api} answered${r.version ? ` (Traefik ${r.version})` : ''}, ${count(http, 'HTTP router', 'HTTP routers')} and ${count(r.routers.length - http, 'TCP router', 'TCP routers')}, rules read as ${r.syntax}`,
        };
      } catch (e) {
        if (!(e instanceof AgentError)) throw e;
        return { problem: e.message };
      }
    }),
  );
  for (const r of reached) {
    if (r.ok !== undefined) ok(r.ok);
    else problems.push(r.problem);
  }
  const h = config.haproxy;
  try {
    const res = await checkConfig({ bin: h.bin, config: h.config, mapPaths: h.maps, staged: h.maps, timeoutMs: 30_000 });
    if (res.ok) ok(`haproxy -c ${h.config}: valid`);
    else problems.push(...res.alerts.map((a) => `haproxy -c ${h.config}: ${a}`));
    for (const m of MAP_NAMES) {
      if (!res.loaded[m])
        problems.push(
          `haproxy config ${h.config} does not load the ${m} map ${h.maps[m]}: paste the output of "routeagent snippet" into the frontend and Apply`,
        );
    }
  } catch (e) {
    if (!(e instanceof AgentError)) throw e;
    problems.push(e.message);
  }
  let modes: Map<string, BackendMode> | undefined;
  const runtime = createRuntime(h.socket, { timeoutMs: h.timeoutMs });
  try {
    const info = await runtime.info();
    const live = versionAtLeast(info.version, MIN_RUNTIME_VERSION);
    ok(`haproxy socket ${h.socket}: HAProxy ${info.version} (pid ${info.pid})${live ? ', live map updates supported' : ''}`);
    if (!live) {
      const msg = `HAProxy ${info.version} has no prepare/commit map (needs ${MIN_RUNTIME_VERSION})`;
      if (h.reload) out(checkLine('warning', `${msg}; changes will be applied with "${h.reload}"`));
      else problems.push(`${msg} and haproxy.reload is not set: changes cannot be applied`);
    }
    modes = await runtime.backends();
    const loaded = new Set((await runtime.listMaps()).map((m) => m.path));
    for (const m of MAP_NAMES)
      if (!loaded.has(h.maps[m]))
        problems.push(`running HAProxy has not loaded ${h.maps[m]}: Apply the pfSense config (or reload HAProxy) after adding the snippet`);
  } catch (e) {
    if (!(e instanceof AgentError)) throw e;
    problems.push(`${e.message}${h.reload ? '' : '; without the socket and without haproxy.reload, changes cannot be applied'}`);
    modes = await readConfigBackends(h.config).catch(() => undefined);
  }
  if (modes) problems.push(...backendProblems(config, modes, ok));
  if (config.ha) problems.push(...(await checkPair(config.ha, ok)));
  return problems;
}

/** Every backend the config names (clusters', then static routes') exists with the mode its map needs. */
function backendProblems(config: Config, modes: ReadonlyMap<string, BackendMode>, ok: (s: string) => void): string[] {
  const want: [string, string, MapName][] = [
    ...config.clusters.flatMap((c) =>
      CLUSTER_MAPS.flatMap((m): [string, string, MapName][] => (c.backends[m] ? [[`cluster ${c.name} ${m}`, c.backends[m], m]] : [])),
    ),
    ...config.static.flatMap((s) =>
      MAP_NAMES.flatMap((m): [string, string, MapName][] => (s.backends[m] ? [[`static ${s.host} ${m}`, s.backends[m], m]] : [])),
    ),
  ];
  const problems = want.flatMap(([what, backend, map]) => {
    const fault = backendFault(map, backend, modes);
    if (fault?.kind === 'missing')
      return [
        `${what}: backend "${backend}" does not exist in HAProxy (pfSense names it <name>_ipvANY, and writes it only when a frontend uses it)`,
      ];
    if (fault?.kind === 'mode') return [`${what}: backend "${backend}" is mode ${fault.actual}, needs mode ${fault.need}`];
    return [];
  });
  if (problems.length === 0) ok(`${count(want.length, 'backend exists', 'backends exist')} with the right mode`);

  return problems;
}

// A CARP pair: the vhid must show in ifconfig (else this node only ever follows), the token must be readable, the peer
// reachable. Each is checked on its own: an ifconfig that fails says nothing about the token or the peer.
async function checkPair(ha: NonNullable<Config['ha']>, ok: (s: string) => void): Promise<string[]> {
  const problems: string[] = [];
  const attempt = async (step: () => Promise<void>) => {
    try {
      await step();
    } catch (e) {
      if (!(e instanceof AgentError)) throw e;
      problems.push(e.message);
    }
  };
  await attempt(async () => {
    const carp = await readCarpState(ha.ifconfig, ha.vhid);
    if (carp === 'missing') problems.push(`ha: CARP vhid ${ha.vhid} is not in the "${ha.ifconfig}" output; this node would only follow`);
    else ok(`ha: CARP vhid ${ha.vhid} is ${carp}: this node ${carp === 'MASTER' ? 'leads' : 'follows'}`);
  });
  await attempt(async () => {
    const peer = await fetchPeerState(ha.peer, await readToken(ha.tokenFile));
    ok(`ha: peer ${ha.peer} answered: ${peer.role} (CARP ${peer.carp})`);
  });
  return problems;
}
