#!/usr/bin/env bash
# CI's check that the harness still works: every scenario once, on tiny sizes, floor and rxllm (and the
# peers when bench/node_modules has them; otherwise their rows are skipped, saying so). Exits non-zero
# when any client fails or rebuilds a text different from what the server sent. Times are not checked.
# Builds rxllm first unless RXLLM_BENCH_NO_BUILD=1 (for a CI that has just built it).
set -euo pipefail
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"

if [ "${RXLLM_BENCH_NO_BUILD:-}" != "1" ] || [ ! -f "$ROOT/dist/src/index.js" ]; then
  (cd "$ROOT" && npm run build >/dev/null)
fi
cd "$ROOT"
node "$BENCH/harness.js" --smoke "$@"
# The gateway scenario (issue 12), tiny: every hop must relay every stream to its [DONE].
node "$BENCH/gateway.js" --reps 1 --duration 1 --concurrency 10 --thin --mini --fused --hold 20 >/dev/null
