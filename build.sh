#!/bin/sh
# Type-check, then bundle agent/ and its dependencies into one file, dist/routeagent.js, that runs with plain node >= 20.
set -eu
cd "$(dirname "$0")"
# The JSON schemas become plain validator functions (agent/generated/), so no ajv compiler runs or ships.
node scripts/validators.mjs
npx tsc --noEmit -p tsconfig.json
npx esbuild agent/main.ts --bundle --platform=node --target=node20 --format=esm \
  --outfile=dist/routeagent.js --legal-comments=none --log-level=warning \
  --banner:js="#!/usr/bin/env node
import { createRequire as __routeagentRequire } from 'node:module'; const require = __routeagentRequire(import.meta.url);"
chmod 0755 dist/routeagent.js
