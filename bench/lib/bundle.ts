// Bundles bench/worker.ts the way build.sh bundles the agent (scripts/bundle.mjs's options: esbuild, node20, ESM,
// dependencies inlined, built-ins loaded on first use, got's unused packages left out, no keepNames),
// so every in-process measurement runs the code that ships. Under tsx, esbuild's keepNames wraps each closure in
// __name(), which made the rule parser look ~2× slower than it is in dist/routeagent.js.

import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { bundleOptions } from '../../scripts/bundle.mjs';

export const BUILD_DIR = fileURLToPath(new URL('../results/.build/', import.meta.url));

/** Bundle bench/worker.ts; `root` is another checkout holding its own agent/ (bench/compare.ts), default this one. */
export async function buildWorker(root?: string, name = 'worker'): Promise<string> {
  await mkdir(BUILD_DIR, { recursive: true });
  const outfile = `${BUILD_DIR}${name}.mjs`;
  await build({
    entryPoints: [root ? `${root}/bench/worker.ts` : fileURLToPath(new URL('../worker.ts', import.meta.url))],
    ...bundleOptions,
    outfile,
    banner: { js: "import { createRequire as __benchRequire } from 'node:module'; const require = __benchRequire(import.meta.url);" },
  });
  return outfile;
}
