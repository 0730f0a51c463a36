// demo/preflight.sh, which `npm run demo` runs before building: silent and 0 when node >= 20, haproxy and openssl are there;
// otherwise one line per missing tool saying how to get it (the apt line, or $HAPROXY_BIN for another binary), and exit 1.
// It is POSIX sh (shellcheck -s sh), since it runs before anything is built.

import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skipUnless } from './harness/tools.js';

const repo = new URL('..', import.meta.url).pathname;
const script = join(repo, 'demo', 'preflight.sh');
const run = (env: Record<string, string | undefined>) => spawnSync('/bin/sh', [script], { env, encoding: 'utf8' });
const LAST = 'demo: nothing was built or started; run npm run demo again once these are installed\n';

const pre = suite('demo preflight');

pre('npm run demo runs the preflight before it builds anything', async () => {
  const pkg = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts['demo']!, /^sh demo\/preflight\.sh && \.\/build\.sh && /);
});

pre('a HAPROXY_BIN that cannot run: the apt line and $HAPROXY_BIN, exit 1', () => {
  const r = run({ ...process.env, HAPROXY_BIN: '/nonexistent/haproxy' });
  assert.is(r.status, 1);
  assert.is(r.stdout, '');
  assert.is(
    r.stderr,
    'demo: haproxy: cannot run "/nonexistent/haproxy": install it (Debian/Ubuntu: sudo apt-get install -y haproxy) or set HAPROXY_BIN to a haproxy >= 2.4 binary\n' +
      LAST,
  );
});

pre('a PATH with node only: haproxy and openssl are both named, exit 1', async () => {
  const bin = await mkdtemp(join(tmpdir(), 'routeagent-preflight-'));
  try {
    await symlink(process.execPath, join(bin, 'node'));
    const { HAPROXY_BIN: _h, ...env } = process.env;
    const r = run({ ...env, PATH: bin });
    assert.is(r.status, 1);
    assert.is(
      r.stderr,
      'demo: haproxy: cannot run "haproxy": install it (Debian/Ubuntu: sudo apt-get install -y haproxy) or set HAPROXY_BIN to a haproxy >= 2.4 binary\n' +
        'demo: openssl: not found: install it (Debian/Ubuntu: sudo apt-get install -y openssl)\n' +
        LAST,
    );
  } finally {
    await rm(bin, { recursive: true, force: true });
  }
});

if (!skipUnless('demo preflight: all tools present', 'haproxy', 'openssl')) {
  pre('all tools present: silent, exit 0', () => {
    const r = run(process.env);
    assert.is(r.stderr, '');
    assert.is(r.status, 0);
  });
}

if (!skipUnless('demo preflight: shellcheck', 'shellcheck')) {
  pre('passes shellcheck -s sh', () => {
    const r = spawnSync('shellcheck', ['-s', 'sh', script], { encoding: 'utf8' });
    assert.is(r.error, undefined, 'shellcheck not runnable');
    assert.is(r.stdout + r.stderr, '');
    assert.is(r.status, 0);
  });
}

pre.run();
