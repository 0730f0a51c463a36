// The one way a suite says which external tools it needs (haproxy, openssl, dash, shellcheck) and is skipped without them.
// Outside CI a skipped suite shows in uvu's own "Skipped:" count and in one closing line per missing tool, printed after
// uvu's totals; under CI (`CI` set) a missing tool is a failing test instead, because .ci/run installs every one of them.
import { spawnSync } from 'node:child_process';
import { writeSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

export type Tool = 'haproxy' | 'openssl' | 'dash' | 'shellcheck';

type Probe = { readonly bin: () => string; readonly args: readonly string[]; readonly install: string };

// Each probe runs the tool the way the tests will, so a binary that is present but broken also counts as missing.
const PROBES: Record<Tool, Probe> = {
  haproxy: { bin: () => process.env['HAPROXY_BIN'] || 'haproxy', args: ['-v'], install: 'apt-get install -y haproxy' },
  openssl: { bin: () => 'openssl', args: ['version'], install: 'apt-get install -y openssl' },
  dash: { bin: () => 'dash', args: ['-c', 'exit 0'], install: 'apt-get install -y dash' },
  shellcheck: { bin: () => 'shellcheck', args: ['--version'], install: 'apt-get install -y shellcheck' },
};

const runnable = new Map<Tool, boolean>();
/** Suites skipped so far, per missing tool (a suite missing two tools is counted under both). */
const skipped = new Map<Tool, string[]>();

/** True when `tool` runs here (probed once per process). */
export function hasTool(tool: Tool): boolean {
  let ok = runnable.get(tool);
  if (ok === undefined) {
    const probe = PROBES[tool];
    ok = spawnSync(probe.bin(), probe.args, { stdio: 'ignore', timeout: 60_000 }).status === 0;
    runnable.set(tool, ok);
  }
  return ok;
}

/** `haproxy not runnable — apt-get install -y haproxy`, naming $HAPROXY_BIN when it points elsewhere. */
export function whyMissing(tool: Tool): string {
  const bin = PROBES[tool].bin();
  const named = bin === tool ? tool : `${tool} (${bin})`;
  return `${named} not runnable — ${PROBES[tool].install}`;
}

/**
 * Why the suite `name` cannot run here, or undefined when every tool it needs runs. Call it at the top level of a test
 * file (uvu collects suites while the file loads). When a tool is missing it registers a stand-in suite: outside CI one
 * skipped entry, under CI one failing test naming the tool; the caller then defines and runs none of its own tests.
 * @example const skip = skipUnless('syncOnce end to end', 'haproxy', 'openssl'); if (!skip) { … e2e.run(); }
 */
export function skipUnless(name: string, ...tools: Tool[]): string | undefined {
  const missing = tools.filter((t) => !hasTool(t));
  if (missing.length === 0) return undefined;
  const why = missing.map(whyMissing).join('; ');
  if (process.env['CI']) {
    const failing = suite(name);
    failing(`needs ${missing.join(', ')}`, () => assert.unreachable(`${why}; .ci/run must install it`));
    failing.run();
    return why;
  }
  const stand = suite(`${name} [skipped: ${missing.join(', ')} not runnable]`); // the install commands close the run
  stand.skip(name);
  stand.run();
  for (const tool of missing) skipped.set(tool, [...(skipped.get(tool) ?? []), name]);
  return why;
}

/** The closing lines: `12 suites skipped: haproxy not runnable — apt-get install -y haproxy`, one per missing tool. */
export function skipSummary(): string[] {
  return [...skipped].map(([tool, names]) => `${names.length} ${names.length === 1 ? 'suite' : 'suites'} skipped: ${whyMissing(tool)}`);
}

// After uvu's totals: uvu prints them from its exec(), then the process ends. writeSync, because 'exit' runs no more I/O.
process.once('exit', () => {
  const lines = skipSummary();
  if (lines.length > 0) writeSync(1, `${lines.join('\n')}\n`);
});
