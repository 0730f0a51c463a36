// Two routers of a CARP pair for end-to-end tests: node `a` is the world's HAProxy, node `b` a second real HAProxy with
// the same backends (the same upstreams); each node has its own map folder, status file, config (with `ha`), and a fake
// `ifconfig` that prints the CARP line the test writes with setCarp().
import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, type Haproxy, haproxyBin, startHaproxy } from './haproxy.js';
import { httpGet, tlsName } from './upstream.js';
import { CLUSTERS, type World } from './world.js';

export type NodeName = 'a' | 'b';
export type PairNode = {
  name: NodeName;
  dir: string;
  configPath: string;
  statusFile: string;
  haproxy: Haproxy;
  listen: number;
  setCarp(state: 'MASTER' | 'BACKUP' | 'INIT' | 'none'): Promise<void>;
  /** Both map files, as bytes on disk. */
  files(): Promise<{ hosts: string; sni: string }>;
  viaSni(host: string): Promise<string | null>;
  viaHttp(host: string): Promise<string>;
};

export const TOKEN = 'pair-secret-3f9a1c';

export async function startPair(w: World): Promise<Record<NodeName, PairNode> & { close(): Promise<void> }> {
  const dirB = join(w.dir, 'node-b');
  await mkdir(dirB, { recursive: true });
  const backends = CLUSTERS.flatMap((n) => [
    { name: w.clusters[n].https, mode: 'tcp' as const, port: w.clusters[n].tls.port },
    { name: w.clusters[n].hostsBackend, mode: 'http' as const, port: w.clusters[n].http.port },
  ]);
  const haproxyB = await startHaproxy({ dir: dirB, backends });
  const [portA, portB] = [await freePort(), await freePort()];
  const make = async (name: NodeName, dir: string, haproxy: Haproxy, listen: number, peerPort: number): Promise<PairNode> => {
    const carpFile = join(dir, 'carp');
    const ifconfig = join(dir, 'ifconfig');
    await writeFile(ifconfig, `#!/bin/sh\necho "em0: flags=8943<UP,BROADCAST,RUNNING> metric 0 mtu 1500"\ncat '${carpFile}'\n`);
    await chmod(ifconfig, 0o755);
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const statusFile = join(dir, 'run', `status-${name}.json`);
    const config = {
      ...w.config,
      haproxy: { ...(w.config['haproxy'] as object), config: haproxy.cfgPath, socket: haproxy.socket, maps: haproxy.mapPaths },
      statusFile,
      ha: { vhid: 10, peer: `http://127.0.0.1:${peerPort}`, listen: { address: '127.0.0.1', port: listen }, tokenFile, ifconfig },
    };
    const configPath = join(dir, `config-${name}.json`);
    await writeFile(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
    return {
      name,
      dir,
      configPath,
      statusFile,
      haproxy,
      listen,
      setCarp: (state) => writeFile(carpFile, state === 'none' ? '' : `\tcarp: ${state} vhid 10 advbase 1 advskew 0\n`),
      files: async () => ({ hosts: await readFile(haproxy.mapPaths.hosts, 'utf8'), sni: await readFile(haproxy.mapPaths.sni, 'utf8') }),
      viaSni: (host) => tlsName(haproxy.sniPort, host),
      viaHttp: (host) => httpGet(haproxy.httpPort, host),
    };
  };
  const a = await make('a', w.dir, w.haproxy, portA, portB);
  const b = await make('b', dirB, haproxyB, portB, portA);
  return { a, b, close: () => haproxyB.stop() };
}

/** Start HAProxy again on a node's own config, as pfSense's Carp monitor does on failover: it reads the map files. */
export async function coldStart(node: PairNode): Promise<{ stop(): Promise<void> }> {
  const child = spawn(haproxyBin(), ['-db', '-f', node.haproxy.cfgPath], { cwd: node.dir, stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
