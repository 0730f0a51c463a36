// The demo: a real haproxy on loopback, two fake Traefik "clusters" with sample apps, and the real routeagent daemon
// (the built bundle). It moves an app from one cluster to the other and shows, with real requests, that routing
// followed within one poll and that HAProxy was never reloaded. Everything runs on 127.0.0.1 and is removed at the end.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRuntime } from '../agent/io/runtime.js';
import { haproxyMissing } from '../test/harness/haproxy.js';
import { app, httpRouter, startWorld, tcpRouter, type World } from '../test/harness/world.js';

const BUNDLE = new URL('../dist/routeagent.js', import.meta.url).pathname;
// The demo's haproxy, maps and config live in a folder under dist/ (git ignores it; removed at the end), not under /tmp:
// routeagent rightly warns that maps under /tmp or /var may be lost at reboot, and a demo should not open with a warning
// that does not apply to it. os.tmpdir() follows TMPDIR, which is how the world's temp folders land there.
process.env['TMPDIR'] = new URL('../dist', import.meta.url).pathname;
const say = (s = '') => process.stdout.write(`${s}\n`);
const step = (s: string) => say(`\n== ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 15_000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await probe()) return Date.now() - started;
    await sleep(100);
  }
  throw new Error(`demo: ${what} did not happen within ${timeoutMs / 1000} s`);
}

async function show(w: World, hosts: { tls: string[]; http: string[] }): Promise<void> {
  for (const h of hosts.tls) say(`   TLS  ${h.padEnd(22)} -> ${(await w.viaSni(h)) ?? 'no route (connection closed)'}`);
  for (const h of hosts.http) say(`   HTTP ${h.padEnd(22)} -> ${await w.viaHttp(h)}`);
}

async function main(): Promise<number> {
  const missing = haproxyMissing();
  if (missing) {
    say(`demo: ${missing}. On Debian/Ubuntu: sudo apt-get install -y haproxy`);
    return 1;
  }
  let w: World | undefined;
  let agent: ChildProcess | undefined;
  const cleanup = async () => {
    if (agent && agent.exitCode === null) {
      agent.kill('SIGTERM');
      await new Promise((r) => agent!.once('exit', r));
    }
    await w?.close();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    step('Starting a real haproxy and two fake Traefik clusters on 127.0.0.1');
    w = await startWorld({ schedule: '*/1 * * * * *' });
    const { hades, illmatic } = w.clusters;
    hades.traefik.setRouters('http', [
      app('grafana.technis.io'),
      httpRouter('blog', 'Host(`blog.technis.io`)', { tls: undefined }),
      app('leak.example.com'),
    ]);
    illmatic.traefik.setRouters('http', [app('wiki.technis.io')]);
    illmatic.traefik.setRouters('tcp', [tcpRouter('mqtt', 'mqtt.technis.io')]);
    say(`   haproxy pid ${w.haproxy.pid()}, HTTP on :${w.haproxy.httpPort}, TLS passthrough on :${w.haproxy.sniPort}`);
    say(`   cluster hades    (Traefik 2.10): grafana.technis.io (TLS), blog.technis.io (plain HTTP), leak.example.com (not allowed)`);
    say(`   cluster illmatic (Traefik 3.7):  wiki.technis.io (TLS), mqtt.technis.io (TCP passthrough)`);
    say(`   expose allows *.technis.io only; the schedule polls every second`);

    step('Starting routeagent (node dist/routeagent.js run)');
    agent = spawn(process.execPath, [BUNDLE, 'run', '--config', w.configPath], { stdio: ['ignore', 'inherit', 'pipe'] });
    agent.stderr!.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n').filter(Boolean)) say(`   routeagent | ${line}`);
    });
    await waitFor('the first sync', async () => (await readFile(w!.statusFile, 'utf8').catch(() => '')) !== '');
    const pid = w.haproxy.pid();
    await show(w, { tls: ['grafana.technis.io', 'wiki.technis.io', 'mqtt.technis.io', 'leak.example.com'], http: ['blog.technis.io'] });

    step('Migration, step 1: grafana is deployed on illmatic too (both clusters claim it)');
    illmatic.traefik.setRouters('http', [app('wiki.technis.io'), app('grafana.technis.io')]);
    await sleep(2500);
    say('   sticky policy: the current owner keeps the host while it still serves it, so nothing moves yet');
    await show(w, { tls: ['grafana.technis.io'], http: [] });

    step('Migration, step 2: grafana is deleted from hades');
    hades.traefik.setRouters('http', [httpRouter('blog', 'Host(`blog.technis.io`)', { tls: undefined })]);
    const tookMs = await waitFor('grafana to move to illmatic', async () => (await w!.viaSni('grafana.technis.io')) === 'illmatic');
    say(`   routing followed in ${(tookMs / 1000).toFixed(1)} s (one poll), no command from anyone`);
    await show(w, { tls: ['grafana.technis.io', 'wiki.technis.io'], http: ['grafana.technis.io', 'blog.technis.io'] });

    step('Proof: no reload, and the live map equals the file on disk');
    const live = await createRuntime(w.haproxy.socket).showMap(w.haproxy.mapPaths.sni);
    const file = (await readFile(w.haproxy.mapPaths.sni, 'utf8')).trim().split('\n');
    say(`   haproxy pid before ${pid}, after ${w.haproxy.pid()}: ${pid === w.haproxy.pid() ? 'same process, never reloaded' : 'CHANGED'}`);
    say(`   show map ${w.haproxy.mapPaths.sni}:`);
    for (const e of live) say(`     ${e.key} ${e.backend}`);
    const same = JSON.stringify(live.map((e) => `${e.key} ${e.backend}`)) === JSON.stringify(file);
    say(`   file on disk ${same ? 'is identical' : 'DIFFERS'}`);

    step('Stopping routeagent and cleaning up');
    await cleanup();
    say('   done: every process stopped, temp files removed');
    return pid === w.haproxy.pid() && same ? 0 : 1;
  } catch (e) {
    say(`demo failed: ${(e as Error).message}`);
    await cleanup();
    return 1;
  }
}

main().then((code) => process.exit(code));
