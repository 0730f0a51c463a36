// Build step (run by build.sh): bundle agent/main.ts and its dependencies into one file, dist/routeagent.js, that runs
// with plain node >= 20. Also imported by bench/lib/bundle.ts, so the bench measures the code exactly as it ships.
import { builtinModules, createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const BUILTINS = new Set(builtinModules);
const require = createRequire(import.meta.url);

/**
 * A Node built-in loads when a property of it is first read, not at start. esbuild hoists every bundled ES module's
 * `import … from 'node:https'` to the top of the bundle, so every verb paid for tls, http, zlib, crypto and
 * child_process (~60% of a cold `routeagent status`) although main.ts imports got and the daemon lazily, and config.ts
 * only needs node-cron's validate(), not the crypto and child_process its scheduler uses. Each built-in is served as a
 * CommonJS module whose properties are getters that require() the real one on first use (esbuild reads imported
 * bindings at use, through those getters). A built-in that is itself a function (events, stream) cannot be stood in
 * for, so it is require()d as the importing module initialises; Node loads those two before any code runs anyway.
 */
export const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => {
      if (args.kind !== 'import-statement' || !BUILTINS.has(args.path.replace(/^node:/, ''))) return undefined;
      return { path: args.path, namespace: 'lazy-builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => {
      const id = JSON.stringify(args.path);
      const real = require(args.path);
      if (typeof real === 'function') return { contents: `module.exports = require(${id});`, loader: 'js' };
      const keys = JSON.stringify(Object.getOwnPropertyNames(real).filter((k) => k !== '__esModule'));
      return {
        contents:
          `let m; const load = () => (m ??= require(${id})); const lazy = {};\n` +
          `for (const k of ${keys}) Object.defineProperty(lazy, k, { enumerable: true, get: () => load()[k], set: (v) => { load()[k] = v; } });\n` +
          `module.exports = lazy;`,
        loader: 'js',
      };
    });
  },
};

/** esbuild options shared by the agent bundle and the bench worker; `require` comes from the banner's createRequire. */
export const bundleOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [lazyBuiltins],
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await build({
    ...bundleOptions,
    entryPoints: [fileURLToPath(new URL('../agent/main.ts', import.meta.url))],
    outfile: fileURLToPath(new URL('../dist/routeagent.js', import.meta.url)),
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __routeagentRequire } from 'node:module'; const require = __routeagentRequire(import.meta.url);",
    },
  });
}
