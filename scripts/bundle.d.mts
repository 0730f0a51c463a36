// Types for scripts/bundle.mjs, which bench/lib/bundle.ts imports.
import type { BuildOptions, Plugin } from 'esbuild';
export declare const lazyBuiltins: Plugin;
export declare const lazyPackages: Plugin;
export declare const icuOnDemand: Plugin;
export declare const bundleOptions: BuildOptions;
