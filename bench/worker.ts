// The bench's worker, run from an esbuild bundle (lib/bundle.ts) in its own process:
//   `fleet`: hosts fake Traefik clusters (test/harness/traefik.ts) with generated routers;
//   `agent`: runs routeagent's own code (syncOnce, replaceMap, applyMaps, parseRule) and measures it with
//            process.cpuUsage(), which then counts routeagent alone: haproxy and the fake Traefik are other processes.

import { applyMaps } from '../agent/apply.js';
import { type Config, parseConfig } from '../agent/config.js';
import { routesFromRouters } from '../agent/core/routes.js';
import { parseRule } from '../agent/core/rules.js';
import { routersFromRawdata } from '../agent/core/traefik-body.js';
import { createSyncDeps } from '../agent/deps.js';
import { createRuntime } from '../agent/io/runtime.js';
import { silentLog } from '../agent/log.js';
import { newSyncState, type SyncState, syncOnce } from '../agent/sync.js';
import { type FakeTraefik, rawdataFrom, startTraefik } from '../test/harness/traefik.js';
import { plainFetchAll } from './lib/plainfetch.js';
import { rawReplace } from './lib/rawclient.js';
import { hostOf, makeRouters, makeServices, type RouterSpec, ruleOf } from './lib/routers.js';
import { type Handlers, serve } from './lib/rpc.js';
import { type Cost, measure } from './lib/stats.js';
import type { ChainShape, ChainsResult } from './rulechains.js';

const fakes = new Map<string, FakeTraefik>();

const fleet: Handlers = {
  async start(a) {
    const urls: Record<string, string> = {};
    for (const name of a.names as string[]) {
      const fake = await startTraefik({ version: a.version as string });
      fakes.set(name, fake);
      urls[name] = fake.url;
    }
    return urls;
  },
  set(a) {
    const fake = fakes.get(a.name as string);
    if (!fake) throw new Error(`no fake cluster ${String(a.name)}`);
    const spec = a.spec as RouterSpec | null;
    fake.setRouters('http', (a.http as unknown[] | undefined) ?? (spec ? makeRouters(spec) : []));
    fake.setServices('http', a.http !== undefined || !spec ? [] : makeServices(spec));
    return null;
  },
  async close() {
    await Promise.all([...fakes.values()].map((f) => f.close()));
    fakes.clear();
    return null;
  },
};

let config: Config | undefined;
let state: SyncState = newSyncState();
const need = (): Config => {
  if (!config) throw new Error('configure first');
  return config;
};

export type SyncCost = Cost & {
  applied: boolean;
  method: string;
  error?: string;
  held?: string[];
  entries: { hosts: number; sni: number };
  changes: number;
};

const agent: Handlers = {
  configure(a) {
    const parsed = parseConfig(a.config);
    if (!parsed.config) throw new Error(parsed.errors.join('; '));
    config = parsed.config;
    if (a.fresh !== false) state = newSyncState();
    return null;
  },
  async sync(a): Promise<SyncCost> {
    const c = need();
    let report: Awaited<ReturnType<typeof syncOnce>> | undefined;
    const cost = await measure(async () => {
      report = await syncOnce(createSyncDeps(c, silentLog), state, { force: a.force === true });
    });
    const r = report!;
    const changes = Object.values(r.plan).reduce((n, p) => n + p.add.length + p.change.length + p.remove.length, 0);
    return {
      ...cost,
      applied: r.applied,
      method: r.method,
      ...(r.error !== undefined ? { error: r.error } : {}),
      ...(r.held ? { held: r.held } : {}),
      entries: { hosts: r.maps.hosts.length, sni: r.maps.sni.length },
      changes,
    };
  },
  /** The floor of a sync: fetch /api/rawdata of every cluster with node:http and JSON.parse it, nothing else. */
  async fetchBaseline(): Promise<Cost & { routers: number }> {
    const c = need();
    let routers = 0;
    const cost = await measure(async () => {
      routers = await plainFetchAll(c.clusters.map((x) => x.api));
    });
    return { ...cost, routers };
  },
  /** replaceMap vs the raw client vs the whole applyMaps, interleaved (the order rotates every repetition). */
  async applyCost(a) {
    const c = need();
    const size = a.size as number;
    const reps = a.reps as number;
    const path = c.haproxy.maps.hosts;
    const backends = c.clusters.map((x) => x.backends.hosts!);
    const entriesFor = (backend: string) => Array.from({ length: size }, (_, i) => ({ key: hostOf('app-', i), backend }));
    const fixed = entriesFor(backends[0]!);
    const alternate = [entriesFor(backends[0]!), entriesFor(backends[1]!)];
    const runtime = createRuntime(c.haproxy.socket, { timeoutMs: c.haproxy.timeoutMs });
    let k = 0;
    const arms: [string, () => Promise<unknown>][] = [
      ['replaceMap', () => runtime.replaceMap(path, fixed)],
      ['raw', () => rawReplace(c.haproxy.socket, path, fixed)],
      ['raw+counts', () => rawReplace(c.haproxy.socket, path, fixed, true)],
      ['applyMaps', () => applyMaps(c.haproxy, { hosts: alternate[k++ % 2]!, sni: [] }, silentLog, { runtime })],
    ];
    const only = a.arms as string[] | undefined;
    if (only) arms.splice(0, arms.length, ...arms.filter(([n]) => only.includes(n)));
    const out: Record<string, Cost[]> = Object.fromEntries(arms.map(([n]) => [n, []]));
    if (a.warm !== false) for (const [, fn] of arms) await fn(); // warm-up: JIT, socket paths, page cache
    for (let rep = 0; rep < reps; rep++) {
      for (let j = 0; j < arms.length; j++) {
        const [name, fn] = arms[(rep + j) % arms.length]!;
        out[name]!.push(await measure(fn));
      }
    }
    return out;
  },
  /** Rule parsing throughput vs two baselines over the same strings, interleaved. */
  rules(a) {
    const count = a.count as number;
    const reps = a.reps as number;
    const rules = Array.from({ length: count }, (_, i) => ruleOf(hostOf('app-', i), i));
    const literals = rules.map((r) => JSON.stringify(r));
    const routers = routersFromRawdata(rawdataFrom({ http: makeRouters({ count, prefix: 'app-' }) }));
    const cluster = { name: 'c0', backends: { sni: 'c0_https_ipvANY', hosts: 'c0_http_ipvANY' } };
    const expose = { domains: ['technis.io'], hosts: [], exclude: [] };
    const HOST = /Host\(`([^`]*)`\)/g;
    let sink = 0;
    const arms: [string, () => void][] = [
      [
        'parseRule',
        () => {
          for (const r of rules) sink += parseRule(r, 'v3', 'http').hosts.length;
        },
      ],
      [
        'JSON.parse',
        () => {
          for (const l of literals) sink += (JSON.parse(l) as string).length;
        },
      ],
      [
        'regex scan',
        () => {
          for (const r of rules) for (const m of r.matchAll(HOST)) sink += m[1]!.length;
        },
      ],
      [
        'routesFromRouters',
        () => {
          sink += routesFromRouters(cluster, routers, 'v3', expose).routes.length;
        },
      ],
    ];
    const out: Record<string, number[]> = Object.fromEntries(arms.map(([n]) => [n, []]));
    for (const [, fn] of arms) fn();
    for (let rep = 0; rep < reps; rep++) {
      for (let j = 0; j < arms.length; j++) {
        const [name, fn] = arms[(rep + j) % arms.length]!;
        const t0 = performance.now();
        fn();
        out[name]!.push(performance.now() - t0);
      }
    }
    return { ms: out, sink };
  },
  /** parseRule on chains of n and 10n terms of each shape (rulechains.ts), interleaved; CPU ms per parse. */
  ruleChains(a): Omit<ChainsResult, 'n'> & { sink: number } {
    const n = a.n as number;
    const reps = a.reps as number;
    const chain = (shape: ChainShape, terms: number): string => {
      const h = (i: number) => `Host(\`${hostOf('app-', i)}\`)`;
      const idx = Array.from({ length: terms }, (_, i) => i);
      if (shape === 'host') return idx.map(h).join(' || ');
      if (shape === 'hostOrPath') return idx.map((i) => `${h(i)} || Path(\`/p${i}\`)`).join(' || ');
      if (shape === 'andOfAlternatives') return idx.map((i) => `(${h(i)} || Path(\`/p${i}\`))`).join(' && ');
      return `${idx.map((i) => `!${h(i)}`).join(' && ')} && ${h(terms)}`;
    };
    const shapes: ChainShape[] = ['host', 'hostOrPath', 'andOfAlternatives', 'negatedAnd'];
    const out = {} as ChainsResult['ms'];
    let sink = 0;
    for (const shape of shapes) {
      const rules = { small: chain(shape, n), large: chain(shape, 10 * n) };
      const times = { small: [] as number[], large: [] as number[] };
      const parse = (size: 'small' | 'large') => {
        const t0 = process.cpuUsage(); // CPU, not wall: other engineers' processes share the 2 cores
        sink += parseRule(rules[size], 'v3', 'http').hosts.length;
        const t = process.cpuUsage(t0);
        times[size].push((t.user + t.system) / 1000);
      };
      for (let i = 0; i < 3; i++) {
        // warm-up (JIT, heap growth), not recorded: else the small rule pays for it
        parse('small');
        parse('large');
      }
      times.small.length = 0;
      times.large.length = 0;
      for (let rep = 0; rep < reps; rep++) {
        const [first, second] = rep % 2 === 0 ? (['small', 'large'] as const) : (['large', 'small'] as const);
        parse(first);
        parse(second);
      }
      out[shape] = times;
    }
    return { ms: out, sink };
  },
  memory() {
    return process.memoryUsage();
  },
};

const mode = process.argv[2];
if (mode === 'fleet') serve(fleet);
else if (mode === 'agent') serve(agent);
else {
  process.stderr.write(`usage: worker.mjs fleet|agent\n`);
  process.exit(2);
}
