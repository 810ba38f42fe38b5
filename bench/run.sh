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

# The soak (issue 4): 2,000 requests at concurrency 50 with ~5 % injected faults of every kind; its
# counts and heap samples are appended to BENCHMARKS.md with the command that produced them.
# Skipped when the run wrote elsewhere (--out) or measured a subset (--only, --clients).
case " $* " in
  *" --out "* | *" --only "* | *" --clients "*) exit 0 ;;
esac
soak=$(cd "$ROOT" && npx tsx --expose-gc bench/soak.ts 2000 50)
{
  echo
  echo '## Soak: 2,000 requests, concurrency 50, ~5 % injected faults'
  echo
  echo 'Command: `npx tsx --expose-gc bench/soak.ts 2000 50` (run by `npm run bench`). Every kind of fault the'
  echo 'mock server can inject (429, 500/502/503, resets before headers and mid-stream, stalls, malformed and'
  echo "in-band error events), through \`mapConcurrent\` + \`timeouts\` + \`retryBackoff({ resume: 'restart' })\` +"
  echo '`accumulateChunks` (a restart emits a reset chunk, so no text is duplicated). Malformed events are not retryable, so those'
  echo 'requests end as typed `StreamParseError`s. Heap is sampled after a forced GC.'
  echo
  echo '```'
  echo "$soak"
  echo '```'
} >> "$ROOT/BENCHMARKS.md"
echo "$soak"

# mapConcurrent({ ordered: true }) memory on a long-lived source (issue 10): appended like the soak.
mcm=$(cd "$ROOT" && npx tsx --expose-gc bench/mapconcurrent-memory.ts)
{
  echo
  echo '## mapConcurrent ordered: memory on a long-lived source'
  echo
  echo 'Command: `npx tsx --expose-gc bench/mapconcurrent-memory.ts` (run by `npm run bench`). Heap growth after a'
  echo 'forced GC while pairs of items run at once, the second finishing its value before the first ends (the'
  echo 'pattern that left one buffer entry per item before issue 10). Flat: the buffer holds only items in flight.'
  echo
  echo '```'
  echo "$mcm"
  echo '```'
} >> "$ROOT/BENCHMARKS.md"
echo "$mcm"
# Issue 11: the browser bundle and the import time of the packed tarball (bench/results/packed-app).
rm -rf "$ROOT/bench/results/packed-app"
bundle=$(node "$BENCH/bundle-size.js")
imports=$(node "$BENCH/import-time.js" --rounds 15)
{
  echo
  echo '## Package: browser bundle and import time'
  echo
  echo 'Commands: `node bench/bundle-size.js` and `node bench/import-time.js --rounds 15` (run by `npm run bench`), on'
  echo 'the packed tarball installed in a scratch app.'
  echo
  echo '```'
  echo "$bundle"
  echo
  echo "$imports"
  echo '```'
} >> "$ROOT/BENCHMARKS.md"
echo "$bundle"
echo "$imports"
# The gateway: rxllm serve against a raw pass-through proxy, 200 streams at a model's pace, on the
# machine as it is and beside stress-ng --cpu 1; then memory with 2,000 streams open at once.
gateway=$(cd "$ROOT" && node bench/gateway.js --reps 3 --duration 8 --thin --stress --hold 2000)
{
  echo
  echo "$gateway"
} >> "$ROOT/BENCHMARKS.md"
echo "$gateway"
