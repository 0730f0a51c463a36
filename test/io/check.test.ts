// checkConfig runs the real `haproxy -c` on a copy of the running config that loads the staged maps instead of the
// live ones; parseAlerts and parseConfigBackends read recorded 2.6 output and config text.

import { mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkConfig, parseAlerts, parseConfigBackends } from '../../agent/io/check.js';
import { stageFile } from '../../agent/io/files.js';
import { type Haproxy, haproxyBin, printLogOnFailure, startHaproxy } from '../harness/haproxy.js';
import { skipUnless } from '../harness/tools.js';

const missing = skipUnless('checkConfig (real haproxy -c)', 'haproxy');

type Ctx = { h?: Haproxy };
const test = suite<Ctx>('checkConfig (real haproxy -c)', {});
const it = (name: string, fn: (ctx: Ctx) => Promise<void>) => test(name, (ctx) => printLogOnFailure(() => ctx.h?.log() ?? '', fn)(ctx));
test.after.each(async (ctx) => {
  await ctx.h?.stop();
  delete ctx.h;
});

it('passes with staged maps; says which maps the config loads; leaves no copy behind', async (ctx) => {
  const h = await startHaproxy({ backends: [{ name: 'be_app1', mode: 'http', port: 1 }] });
  ctx.h = h;
  const staged = { hosts: await stageFile(h.mapPaths.hosts, 'a.test be_app1\n'), sni: h.mapPaths.sni };
  const r = await checkConfig({ bin: haproxyBin(), config: h.cfgPath, mapPaths: h.mapPaths, staged });
  assert.equal(r, { ok: true, alerts: [], loaded: { hosts: true, sni: true } });
  assert.equal((await readdir(dirname(h.mapPaths.hosts))).sort(), [`.hosts.map.staged-${process.pid}`, 'hosts.map', 'sni.map']);
});

it('a staged map HAProxy cannot read fails, with the ALERT naming the original config and the staged path', async (ctx) => {
  const h = await startHaproxy({});
  ctx.h = h;
  const bad = join(dirname(h.mapPaths.hosts), 'staged-dir.map');
  await mkdir(bad); // a directory: "error encountered while reading … : Is a directory."
  const r = await checkConfig({ bin: haproxyBin(), config: h.cfgPath, mapPaths: h.mapPaths, staged: { hosts: bad, sni: h.mapPaths.sni } });
  assert.is(r.ok, false);
  const line = /:(\d+)\]/.exec(r.alerts[0]!)?.[1];
  assert.equal(r.alerts, [
    `config : parsing [${h.cfgPath}:${line}] : error detected while parsing switching rule : invalid args in converter 'map' : ` +
      `error encountered while reading  <${bad}> : Is a directory in ACL expression 'req.hdr(host),field(1,:),lower,map(${bad})'.`,
    `config : Error(s) found in configuration file : ${h.cfgPath}`,
    'config : Fatal errors found in configuration.',
  ]);
  assert.equal(await readdir(h.dir).then((f) => f.filter((n) => n.includes('.check-'))), []);
});

it('loaded is false for a map the config does not reference', async (ctx) => {
  const h = await startHaproxy({ loadMaps: false });
  ctx.h = h;
  const r = await checkConfig({ bin: haproxyBin(), config: h.cfgPath, mapPaths: h.mapPaths, staged: h.mapPaths });
  assert.equal(r, { ok: true, alerts: [], loaded: { hosts: false, sni: false } });
});

it('a missing binary or config is an ApplyError naming it', async (ctx) => {
  const h = await startHaproxy({});
  ctx.h = h;
  const noBin = await checkConfig({ bin: '/nonexistent/haproxy', config: h.cfgPath, mapPaths: h.mapPaths, staged: h.mapPaths }).catch(
    (e: Error) => e,
  );
  assert.is((noBin as Error).message, 'haproxy -c: cannot run /nonexistent/haproxy: not found');
  const cfg = join(h.dir, 'gone.cfg');
  const noCfg = await checkConfig({ bin: haproxyBin(), config: cfg, mapPaths: h.mapPaths, staged: h.mapPaths }).catch((e: Error) => e);
  assert.is((noCfg as Error).message, `haproxy config ${cfg}: cannot read (ENOENT)`);
});

if (!missing) test.run();

const parse = suite('parseAlerts, parseConfigBackends');

parse('keeps the text of each ALERT line of haproxy 2.6 -c output', () => {
  const output =
    '[NOTICE]   (4342) : haproxy version is 2.6.12-1+deb12u4\n' +
    '[NOTICE]   (4342) : path to executable is /usr/sbin/haproxy\n' +
    "[ALERT]    (4342) : config : Proxy 'fe_http': unable to find required default_backend: 'be_nope'.\n" +
    '[ALERT]    (4342) : config : Fatal errors found in configuration.\n' +
    '[WARNING]  (4342) : config : missing timeouts for frontend.\n';
  assert.equal(parseAlerts(output), [
    "config : Proxy 'fe_http': unable to find required default_backend: 'be_nope'.",
    'config : Fatal errors found in configuration.',
  ]);
  assert.equal(parseAlerts('Configuration file is valid\n'), []);
});

parse('backend and listen sections with their mode; defaults apply; the default is tcp', () => {
  const cfg = [
    'global',
    '    stats socket /tmp/haproxy.socket level admin',
    'defaults',
    '    mode http # most things are http',
    'frontend fe_http',
    '    mode http',
    'backend hades_http_ipvANY',
    '    server s1 10.0.10.10:80',
    'backend hades_https_ipvANY',
    '    mode tcp',
    'listen stats',
    '    bind :8404',
    'defaults tcpdefaults',
    '    mode tcp',
    'backend later_ipvANY',
    '# backend commented_out',
    '    #mode http',
  ].join('\n');
  assert.equal(
    [...parseConfigBackends(cfg)],
    [
      ['hades_http_ipvANY', 'http'],
      ['hades_https_ipvANY', 'tcp'],
      ['stats', 'http'],
      ['later_ipvANY', 'tcp'],
    ],
  );
  assert.equal([...parseConfigBackends('backend plain\n  server s 1.2.3.4:1\n')], [['plain', 'tcp']]);
});

parse.run();
