#!/bin/sh
# Type-check, then bundle agent/ and its dependencies into one file, dist/routeagent.js, that runs with plain node >= 20
# (scripts/bundle.mjs).
set -eu
cd "$(dirname "$0")"
# The JSON schemas become plain validator functions (agent/generated/), so no ajv compiler runs or ships.
node scripts/validators.mjs
npx tsc --noEmit -p tsconfig.json
node scripts/bundle.mjs
chmod 0755 dist/routeagent.js
