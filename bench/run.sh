#!/usr/bin/env bash
# `npm run bench` at the repo root: installs the harness's own dependencies when they are missing,
# builds rxllm, runs every scenario interleaved (5 rounds unless --rounds N) and writes BENCHMARKS.md.
# Extra arguments go to bench/harness.js (--rounds N, --only B1,B3, --clients floor,rxllm, --out FILE).
set -euo pipefail
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"

if [ ! -d "$BENCH/node_modules" ]; then
  (cd "$BENCH" && npm ci --no-audit --no-fund)
fi
if [ ! -d "$ROOT/node_modules" ]; then
  (cd "$ROOT" && npm ci --no-audit --no-fund)
fi
(cd "$ROOT" && npm run build)
cd "$ROOT"
node "$BENCH/harness.js" "$@"
