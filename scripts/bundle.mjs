// Build step (run by build.sh): bundle agent/main.ts and its dependencies into one file, dist/routeagent.js, that runs
// with plain node >= 20. Also imported by bench/lib/bundle.ts, so the bench measures the code exactly as it ships.
import { builtinModules, createRequire } from 'node:module';
import { readFile, writeFile } from 'node:fs/promises';
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
/**
 * Plain functions that are read long before they are called: got copies tls.checkServerIdentity into the options of
 * every request, http ones included, which alone loaded tls and crypto (~3 MiB) for clusters without TLS. These are
 * forwarders that load the module when called.
 */
const FORWARDED = { tls: ['checkServerIdentity'] };

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
      const forwarded = FORWARDED[args.path.replace(/^node:/, '')] ?? [];
      const keys = JSON.stringify(Object.getOwnPropertyNames(real).filter((k) => k !== '__esModule' && !forwarded.includes(k)));
      return {
        contents:
          `let m; const load = () => (m ??= require(${id})); const lazy = {};\n` +
          `for (const k of ${keys}) Object.defineProperty(lazy, k, { enumerable: true, get: () => load()[k], set: (v) => { load()[k] = v; } });\n` +
          `for (const k of ${JSON.stringify(forwarded)}) Object.defineProperty(lazy, k, { enumerable: true, value: (...a) => load()[k](...a) });\n` +
          `module.exports = lazy;`,
        loader: 'js',
      };
    });
  },
};

/**
 * Packages got imports for features routeagent never turns on, and their dependencies: HTTP/2 (http2-wrapper), the
 * response cache (cacheable-request, keyv, http-cache-semantics, normalize-url), the DNS cache (cacheable-lookup) and
 * form bodies (form-data-encoder): ~170 KiB, a fifth of the bundle, which every start, `status` included, would parse.
 * routeagent's one got call (io/traefik.ts) is a GET without a body, with got's defaults for http2, cache and dnsCache
 * (off), and got calls into these packages only when such an option is on. They are left out: each export got imports is a plain function that
 * throws, naming the package and the option, if it is ever called or constructed (`instanceof` against it is false, as
 * it is for every value routeagent's requests produce).
 */
const LEFT_OUT = {
  'http2-wrapper': 'http2 option',
  'cacheable-request': 'cache option',
  'cacheable-lookup': 'dnsCache option',
  'form-data-encoder': 'form bodies',
};
const LEFT_OUT_NAMES = new RegExp(`^(${Object.keys(LEFT_OUT).join('|')})$`);

export const leftOutPackages = {
  name: 'left-out-packages',
  setup(b) {
    b.onResolve({ filter: LEFT_OUT_NAMES }, (args) => {
      if (!/[/\\]node_modules[/\\]got[/\\]/.test(args.importer)) return undefined;
      return { path: args.path, namespace: 'left-out-package' };
    });
    b.onLoad({ filter: /.*/, namespace: 'left-out-package' }, async (args) => {
      const names = Object.keys(await import(args.path)).filter((k) => k !== 'module.exports');
      const why = JSON.stringify(`${args.path} is left out of routeagent's bundle: it serves got's ${LEFT_OUT[args.path]}, which routeagent never turns on`);
      const exports = names.map((n) => `export const ${n === 'default' ? '__default' : n} = leftOut(${JSON.stringify(n)});`);
      return {
        contents:
          `const leftOut = (name) => function () { throw new Error(${why} + ' (' + name + ' was used)'); };\n` +
          `${exports.join('\n')}\n` +
          (names.includes('default') ? 'export default __default;\n' : ''),
        loader: 'js',
      };
    });
  },
};

/**
 * Creating any Intl formatter maps ICU's locale data out of the node binary: ~8 MiB of RSS that stays for the life of
 * the daemon (more than a bare node's whole heap). Two dependencies create one that routeagent does not need:
 * - node-cron reads the wall-clock parts of every tick through `Intl.DateTimeFormat('en-US', …).formatToParts`, also
 *   when the task names no time zone. Then the parts are the process's local time, which Date's own getters give
 *   without ICU; with a time zone, node-cron's code runs unchanged.
 * - @sindresorhus/is (got's option checks) builds two `Intl.ListFormat`s at load, only to word an error message: they
 *   are built when first used instead.
 * The build fails if a dependency's text moved, rather than silently shipping without the stand-in.
 */
const ICU_STAND_INS = [
  {
    file: /[/\\]node_modules[/\\]node-cron[/\\]dist[/\\]_shared\.js$/,
    replace: [
      ["formatter = new Intl.DateTimeFormat('en-US', dftOptions);", "formatter = timezone ? new Intl.DateTimeFormat('en-US', dftOptions) : __localPartsFormatter;"],
      ["formatter = new Intl.DateTimeFormat('en-US', {\n            timeZone: timezone,", "formatter = !timezone ? __localOffsetFormatter : new Intl.DateTimeFormat('en-US', {\n            timeZone: timezone,"],
    ],
    // What node-cron's two en-US formatters answer for the local zone: 2-digit fields, hour 0–23, short weekday; the
    // offset as GMT, GMT+2 or GMT-3:30.
    prelude: `
const __pad2 = (n) => String(n).padStart(2, '0');
const __weekdays = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const __localPartsFormatter = { formatToParts: (d) => [
  { type: 'weekday', value: __weekdays[d.getDay()] }, { type: 'month', value: __pad2(d.getMonth() + 1) },
  { type: 'day', value: __pad2(d.getDate()) }, { type: 'year', value: String(d.getFullYear()) },
  { type: 'hour', value: __pad2(d.getHours()) }, { type: 'minute', value: __pad2(d.getMinutes()) },
  { type: 'second', value: __pad2(d.getSeconds()) },
] };
const __localOffsetFormatter = { formatToParts: (d) => {
  const east = -d.getTimezoneOffset();
  const abs = Math.abs(east);
  const name = east === 0 ? 'GMT' : 'GMT' + (east < 0 ? '-' : '+') + Math.floor(abs / 60) + (abs % 60 ? ':' + __pad2(abs % 60) : '');
  return [{ type: 'timeZoneName', value: name }];
} };
`,
  },
  {
    file: /[/\\]node_modules[/\\]@sindresorhus[/\\]is[/\\]distribution[/\\]index\.js$/,
    replace: [
      ["const andFormatter = new Intl.ListFormat('en', { style: 'long', type: 'conjunction' });", "let __and; const andFormatter = { format: (v) => (__and ??= new Intl.ListFormat('en', { style: 'long', type: 'conjunction' })).format(v) };"],
      ["const orFormatter = new Intl.ListFormat('en', { style: 'long', type: 'disjunction' });", "let __or; const orFormatter = { format: (v) => (__or ??= new Intl.ListFormat('en', { style: 'long', type: 'disjunction' })).format(v) };"],
    ],
    prelude: '',
  },
];

export const icuOnDemand = {
  name: 'icu-on-demand',
  setup(b) {
    for (const { file, replace, prelude } of ICU_STAND_INS) {
      b.onLoad({ filter: file }, async (args) => {
        let text = await readFile(args.path, 'utf8');
        for (const [from, to] of replace) {
          if (!text.includes(from)) throw new Error(`${args.path} changed: no \`${from.split('\n')[0]}\` to stand in for (scripts/bundle.mjs ICU_STAND_INS)`);
          text = text.replace(from, to);
        }
        return { contents: prelude + text, loader: 'js' };
      });
    }
  },
};

/** esbuild options shared by the agent bundle and the bench worker (an ES module: its banner makes `require`). */
export const bundleOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [icuOnDemand, leftOutPackages, lazyBuiltins],
};

/**
 * The agent bundle is CommonJS: node loads a CommonJS main file without its ES module loader, a few ms of every start
 * (a one-shot `routeagent status` included), and any node 20 runs it from a .js file with no package.json beside it.
 * The sources are ES modules; the one `import.meta.url` among the dependencies (node-cron's) becomes the bundle's URL.
 */
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dist = new URL('../dist/', import.meta.url);
  await build({
    ...bundleOptions,
    format: 'cjs',
    define: { 'import.meta.url': '__routeagentUrl' },
    entryPoints: [fileURLToPath(new URL('../agent/main.ts', import.meta.url))],
    outfile: fileURLToPath(new URL('routeagent.js', dist)),
    // "use strict" first, where a directive counts (esbuild's own comes after the banner): the sources are strict code.
    banner: { js: "#!/usr/bin/env node\n'use strict';\nconst __routeagentUrl = require('node:url').pathToFileURL(__filename).href;" },
  });
  // V8 holds a script's source for the life of the process: one byte per character while every character is Latin-1,
  // two bytes otherwise. esbuild escapes non-ASCII in strings but keeps a comment inside a type-stripped class as written:
  // one arrow there cost every routeagent process 0.6 MiB of heap.
  const bundle = await readFile(new URL('routeagent.js', dist), 'utf8');
  const wide = /[^\x00-\x7f]/.exec(bundle);
  if (wide) {
    const line = bundle.slice(0, wide.index).split('\n').length;
    throw new Error(`dist/routeagent.js:${line}: non-ASCII character ${JSON.stringify(wide[0])} (from a comment?): write it in ASCII in the source`);
  }
  // This repository's package.json says "type": "module" (for the sources): dist/ says otherwise for the bundle.
  await writeFile(new URL('package.json', dist), '{ "type": "commonjs" }\n');
}
