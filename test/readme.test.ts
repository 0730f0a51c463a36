// README.md stands alone and cannot drift from the repository: every relative link and every repository path it names in
// backticks is a file or folder here, and it sends no reader to documents outside the repository.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const repo = new URL('..', import.meta.url).pathname;
const readme = readFileSync(join(repo, 'README.md'), 'utf8');

const links = suite('README.md links');

links('every relative link resolves to a file or folder in the repository', () => {
  const targets = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
  assert.ok(targets.length > 0, 'no relative links found: the pattern is wrong');
  const broken = targets.filter((t) => !t.startsWith('#') && !existsSync(join(repo, decodeURI(t.split('#')[0]!))));
  assert.equal(broken, []);
});

links('every repository path in backticks exists (agent/, test/, rc.d/, demo/, bench/, schemas/, .ci/)', () => {
  const paths = [...readme.matchAll(/`((?:agent|test|rc\.d|demo|bench|schemas|\.ci)\/[^`\s]*)`/g)].map((m) => m[1]!);
  assert.ok(paths.length > 0, 'no repository paths found: the pattern is wrong');
  // globs (`test/**/*.test.ts`) and placeholders (`<name>`) name no single file
  const missing = paths.filter((p) => !/[*{<]/.test(p) && !existsSync(join(repo, p)));
  assert.equal(missing, []);
});

links('no reference to design notes outside the repository', () => {
  assert.not.match(readme, /DESIGN\.md|shared\/|notes\//);
});

links.run();
