// README.md stands alone and cannot drift from the repository: every relative link and every repository path it names in
// backticks is a file or folder here, and it sends no reader to documents outside the repository. Its plain-HAProxy config
// (the one ```haproxy block) is read out of README.md itself, given loopback ports and temp paths, and must pass
// `haproxy -c` without a warning, hold exactly the frontends `snippet --target haproxy` prints, and route real requests
// after a real `routeagent sync` against two fake clusters.

import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../agent/config.js';
import { renderSnippet } from '../agent/core/snippet.js';
import { assertBuilt, killAll, runBundle } from './harness/agent.js';
import { checkHaproxyConfig, freePort, haproxyBin, haproxyWarnings, type Running, runHaproxyConfig } from './harness/haproxy.js';
import { skipUnless } from './harness/tools.js';
import { type FakeTraefik, startTraefik } from './harness/traefik.js';
import { httpGet, startHttpUpstream, startTlsUpstream, tlsName, type Upstream } from './harness/upstream.js';
import { app, httpRouter, tcpRouter } from './harness/world.js';

const repo = new URL('..', import.meta.url).pathname;
const readme = readFileSync(join(repo, 'README.md'), 'utf8');

// The two documents a reader gets: the README (running it) and ARCHITECTURE.md (changing it).
for (const doc of ['README.md', 'ARCHITECTURE.md']) {
  const text = readFileSync(join(repo, doc), 'utf8');
  const links = suite(`${doc} links`);

  links('every relative link resolves to a file or folder in the repository', () => {
    const targets = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
    const broken = targets.filter((t) => !t.startsWith('#') && !existsSync(join(repo, decodeURI(t.split('#')[0]!))));
    assert.equal(broken, []);
  });

  links('every repository path in backticks exists (agent/, test/, rc.d/, demo/, bench/, schemas/, scripts/, .ci/)', () => {
    const paths = [...text.matchAll(/`((?:agent|test|rc\.d|demo|bench|schemas|scripts|\.ci)\/[^`\s]*)`/g)].map((m) => m[1]!);
    assert.ok(paths.length > 0, 'no repository paths found: the pattern is wrong');
    // globs (`test/**/*.test.ts`) and placeholders (`<name>`) name no single file
    const missing = paths.filter((p) => !/[*{<]/.test(p) && !existsSync(join(repo, p)));
    assert.equal(missing, []);
  });

  links('no reference to design notes outside the repository', () => {
    assert.not.match(text, /DESIGN\.md|shared\/|notes\//);
  });

  links.run();
}

const architecture = suite('README.md and ARCHITECTURE.md');
architecture('the README sends whoever changes routeagent to ARCHITECTURE.md', () => {
  assert.match(readme, /\]\(ARCHITECTURE\.md\)/);
});
architecture.run();

// --- the plain HAProxy config -------------------------------------------------------------------------------------------

/** The one ```haproxy block of README.md, without the list item's indentation. */
function readmeHaproxyConfig(): string {
  const blocks = [...readme.matchAll(/^( *)```haproxy\n([\s\S]*?)\n *```$/gm)];
  assert.is(blocks.length, 1, 'README.md must hold exactly one ```haproxy block');
  const [, indent, body] = blocks[0]!;
  return `${body!
    .split('\n')
    .map((l) => (l.startsWith(indent!) ? l.slice(indent!.length) : l))
    .join('\n')}\n`;
}

/** Replace `from` (a string or a global pattern) and fail when it is not there: a renamed line must fail here, not pass. */
function substitute(text: string, from: string | RegExp, to: string | ((...m: string[]) => string)): string {
  const hit = typeof from === 'string' ? text.includes(from) : new RegExp(from.source, from.flags.replace('g', '')).test(text);
  assert.ok(hit, `README's haproxy config no longer contains ${String(from)}`);
  return typeof from === 'string'
    ? text.split(from).join(typeof to === 'string' ? to : to(from))
    : text.replace(from, to as (...m: string[]) => string);
}

const defaultMaps = parseConfig({
  clusters: [{ name: 'a', api: 'http://127.0.0.1:1/api', backends: { sni: 'a_https' } }],
  expose: { domains: ['technis.io'] },
}).config!.haproxy.maps;

const plain = suite('README.md: the plain HAProxy config');

plain('its frontends are exactly what snippet --target haproxy prints for the default map paths', () => {
  assert.ok(
    readmeHaproxyConfig().includes(renderSnippet(defaultMaps, 'haproxy')),
    'README frontends differ from renderSnippet(…, "haproxy")',
  );
});

if (!skipUnless('README.md: the plain HAProxy config', 'haproxy', 'openssl')) {
  type Cluster = { traefik: FakeTraefik; tls: Upstream; http: Upstream };
  const ctx = {} as {
    dir: string;
    cfgPath: string;
    configPath: string;
    socket: string;
    ports: { https: number; http: number };
    clusters: Record<string, Cluster>;
    haproxy?: Running;
  };

  plain.before(async () => {
    assertBuilt();
    ctx.dir = await mkdtemp(join(tmpdir(), 'routeagent-readme-'));
    ctx.cfgPath = join(ctx.dir, 'haproxy.conf');
    ctx.configPath = join(ctx.dir, 'config.json');
    ctx.socket = join(ctx.dir, 'haproxy.sock');
    ctx.ports = { https: await freePort(), http: await freePort() };
    ctx.clusters = {
      hades: {
        traefik: await startTraefik({
          version: '2.10.7',
          http: [app('grafana.technis.io'), httpRouter('blog', 'Host(`blog.technis.io`)', { tls: undefined })],
        }),
        tls: await startTlsUpstream('hades'),
        http: await startHttpUpstream('hades'),
      },
      illmatic: {
        traefik: await startTraefik({ version: '3.7.9', http: [app('wiki.technis.io')], tcp: [tcpRouter('mqtt', 'mqtt.technis.io')] }),
        tls: await startTlsUpstream('illmatic'),
        http: await startHttpUpstream('illmatic'),
      },
    };
    await mkdir(join(ctx.dir, 'maps'));
    const maps = { hosts: join(ctx.dir, 'maps', 'hosts.map'), sni: join(ctx.dir, 'maps', 'sni.map') };
    for (const m of ['hosts', 'sni'] as const) await writeFile(maps[m], '');
    const config = {
      clusters: Object.entries(ctx.clusters).map(([name, c]) => ({
        name,
        api: c.traefik.url,
        backends: { sni: `${name}_https`, hosts: `${name}_http` },
      })),
      expose: { domains: ['technis.io'] },
      haproxy: { bin: haproxyBin(), config: ctx.cfgPath, socket: ctx.socket, maps, timeoutMs: 5000 },
      statusFile: join(ctx.dir, 'status.json'),
    };
    await writeFile(ctx.configPath, JSON.stringify(config), { mode: 0o600 });

    let text = readmeHaproxyConfig();
    text = substitute(text, 'bind :443\n', `bind 127.0.0.1:${ctx.ports.https}\n`);
    text = substitute(text, 'bind :80\n', `bind 127.0.0.1:${ctx.ports.http}\n`);
    text = substitute(text, ' /var/run/haproxy.sock ', ` ${ctx.socket} `);
    text = substitute(text, '/usr/local/etc/routeagent/maps/', `${ctx.dir}/maps/`);
    text = substitute(text, /server (\w+) [\d.]+:(443|80)$/gm, (_m, name, port) => {
      const c = ctx.clusters[name!];
      assert.ok(c, `README backend server "${name}" is not one of the test's clusters`);
      return `server ${name} 127.0.0.1:${(port === '443' ? c.tls : c.http).port}`;
    });
    await writeFile(ctx.cfgPath, text);
  });

  plain.after(async () => {
    await ctx.haproxy?.stop();
    await killAll();
    for (const c of Object.values(ctx.clusters ?? {})) await Promise.all([c.traefik.close(), c.tls.close(), c.http.close()]);
    await rm(ctx.dir, { recursive: true, force: true });
  });

  plain('haproxy -c accepts it without a warning', async () => {
    const c = await checkHaproxyConfig(ctx.cfgPath);
    assert.is(c.code, 0, c.out);
    assert.equal(haproxyWarnings(c.out), []);
    assert.not.match(c.out, /\[ALERT\]/);
  });

  plain('after a routeagent sync through its admin socket, real requests reach the right cluster', async () => {
    ctx.haproxy = await runHaproxyConfig(ctx.cfgPath, ctx.socket);
    try {
      const s = await runBundle(['sync', '--config', ctx.configPath]);
      assert.is(s.code, 0, `${s.stdout}\n${s.stderr}`);
      assert.is(await tlsName(ctx.ports.https, 'grafana.technis.io'), 'hades');
      assert.is(await tlsName(ctx.ports.https, 'wiki.technis.io'), 'illmatic');
      assert.is(await tlsName(ctx.ports.https, 'mqtt.technis.io'), 'illmatic');
      assert.is(await tlsName(ctx.ports.https, 'unknown.technis.io'), null);
      assert.is(await httpGet(ctx.ports.http, 'blog.technis.io'), 'hades');
      assert.is(await httpGet(ctx.ports.http, 'grafana.technis.io'), 'status 301');
      assert.is(await httpGet(ctx.ports.http, 'unknown.technis.io'), 'status 503');
      assert.is(await httpPath(ctx.ports.http, 'wiki.technis.io', '/.well-known/acme-challenge/token'), 'illmatic');
      assert.is(
        await readFile(join(ctx.dir, 'maps', 'sni.map'), 'utf8'),
        'grafana.technis.io hades_https\nmqtt.technis.io illmatic_https\nwiki.technis.io illmatic_https\n',
      );
    } catch (e) {
      console.error(`--- haproxy log ---\n${ctx.haproxy.log()}--- end of haproxy log ---`);
      throw e;
    }
  });
}

plain.run();

/** GET `path` through HAProxy with a Host header: the upstream that answered, or `status <code>`. */
function httpPath(port: number, host: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(typeof res.headers['x-upstream'] === 'string' ? res.headers['x-upstream'] : `status ${res.statusCode}`));
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`GET ${path} (Host ${host}): no answer in 20 s`)));
    req.on('error', reject);
    req.end();
  });
}
