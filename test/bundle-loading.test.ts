import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { assertBuilt, killAll, runBundle, startAgent } from './harness/agent.js';
import { loopbackPki } from './harness/pki.js';
import { skipUnless } from './harness/tools.js';

const noOpenssl = skipUnless('bundle: a dry-run sync over https', 'openssl');

/** Built-ins only got, chokidar and node-cron's scheduler need; none of them may load for `status`. */
const NOT_AT_START = ['http', 'https', 'http2', 'tls', 'zlib', 'dns', 'child_process', 'crypto'];

const test = suite('bundle: what loads when');
let dir = '';
let pki: string | undefined;
let server: Server | undefined;
let api = '';

function writeConfig(name: string, extra: Record<string, unknown> = {}): string {
  const path = join(dir, name);
  const config = {
    clusters: [{ name: 'hades', api: api || 'http://127.0.0.1:9/api', backends: { sni: 'hades_https_ipvANY' }, timeoutMs: 5000, ...extra }],
    expose: { domains: ['tls.io'] },
    haproxy: { maps: { hosts: join(dir, 'hosts.map'), sni: join(dir, 'sni.map') } },
    statusFile: join(dir, 'status.json'),
  };
  writeFileSync(path, JSON.stringify(config));
  chmodSync(path, 0o600);
  return path;
}

test.before(async () => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), 'routeagent-loading-'));
  // Prints the built-in modules the process loaded when it exits (the one line that starts with "loaded:").
  writeFileSync(
    join(dir, 'loaded.mjs'),
    "process.on('exit', () => process.stderr.write(`loaded: ${process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)).join(' ')}\\n`));\n",
  );
  // Logs every Intl formatter the process builds (one "intl: <kind>" line each), then builds it as asked.
  writeFileSync(
    join(dir, 'intl.mjs'),
    "for (const kind of ['DateTimeFormat', 'ListFormat', 'NumberFormat', 'Collator']) {\n" +
      '  const Real = Intl[kind];\n' +
      '  Intl[kind] = function (...a) { process.stderr.write(`intl: ${kind}\\n`); return new Real(...a); };\n' +
      '}\n',
  );
  if (noOpenssl) return; // skipUnless counted it (and fails it under CI)
  pki = join(dir, 'pki');
  mkdirSync(pki);
  const { key, cert } = loopbackPki(pki);
  server = createHttpsServer({ key, cert }, (req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/api/version') return void res.end('{"Version":"3.7.9"}\n');
    res.end('{"routers":{"tls@file":{"provider":"file","rule":"Host(`tls.io`)","tls":{},"using":["websecure"]}}}\n');
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  api = `https://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
});

test.after(async () => {
  killAll();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The built-ins `node dist/routeagent.js args…` loaded, and how it ended. */
async function loadedBy(args: readonly string[]): Promise<{ loaded: string[]; code: number | null; stderr: string }> {
  const ran = await runBundle(args, { env: { NODE_OPTIONS: `--import=${join(dir, 'loaded.mjs')}` } });
  const line = ran.stderr.split('\n').find((l) => l.startsWith('loaded: '));
  if (line === undefined) throw new Error(`no "loaded:" line from routeagent ${args.join(' ')}:\n${ran.stderr}`);
  return { loaded: line.slice(8).split(' '), code: ran.code, stderr: ran.stderr };
}

test('status and --help load none of the built-ins only syncs and the daemon need', async () => {
  const config = writeConfig('status-config.json');
  const status = await loadedBy(['status', '--config', config]);
  assert.is(status.code, 1);
  assert.ok(
    status.stderr.includes(
      `routeagent: no status at ${join(dir, 'status.json')} (no sync has run yet, or the daemon cannot write there)\n`,
    ),
    status.stderr,
  );
  assert.equal(
    status.loaded.filter((m) => NOT_AT_START.includes(m)),
    [],
  );
  const help = await loadedBy(['--help']);
  assert.is(help.code, 0);
  assert.equal(
    help.loaded.filter((m) => NOT_AT_START.includes(m)),
    [],
  );
});

test('a dry-run sync over https trusts tls.ca and refuses the same server without it', async () => {
  if (pki === undefined) return;
  const trusted = await runBundle([
    'sync',
    '--dry-run',
    '--json',
    '--config',
    writeConfig('trusted.json', { tls: { ca: join(pki, 'ca.pem') } }),
  ]);
  assert.is(trusted.code, 0, trusted.stderr);
  const report = JSON.parse(trusted.stdout) as { maps: { sni: Record<string, string> }; clusters: Record<string, unknown> };
  assert.equal(report.maps.sni, { 'tls.io': 'hades_https_ipvANY' });
  assert.equal(report.clusters, { hades: { ok: true, routers: 1 } });
  const refused = await runBundle(['sync', '--dry-run', '--json', '--config', writeConfig('refused.json')]);
  const failed = JSON.parse(refused.stdout) as { clusters: Record<string, { ok: boolean; error?: string }> };
  assert.equal(failed.clusters['hades'], {
    ok: false,
    routers: 0,
    error: `traefik[hades]: GET ${api}/version: TLS: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)`,
  });
});

test('the daemon syncs on its schedule without building an Intl formatter', async () => {
  const config = writeConfig('scheduled.json');
  const json = JSON.parse(readFileSync(config, 'utf8')) as Record<string, unknown>;
  writeFileSync(config, JSON.stringify({ ...json, schedule: '*/1 * * * * *' }));
  const agent = startAgent(['run', '--config', config], {
    env: { NODE_OPTIONS: `--import=${join(dir, 'intl.mjs')}`, ROUTEAGENT_DEBUG: '1' },
  });
  try {
    // Two ticks: node-cron reads the wall clock to match each one and to find the next.
    const first = await agent.waitFor('debug sync: starting (schedule)', { timeoutMs: 30_000 });
    await agent.waitFor('debug sync: starting (schedule)', { from: first + 1, timeoutMs: 30_000 });
  } finally {
    await agent.stop();
  }
  assert.equal(
    agent.lines.filter((l) => l.startsWith('intl: ')),
    [],
    agent.lines.join('\n'),
  );
});

test.run();
