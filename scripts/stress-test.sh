#!/usr/bin/env bash
# Runs the tests while every core is kept busy by a CPU burner, as on a loaded CI runner or laptop.
# A test that waits for events, keeps wide margins or uses virtual time passes here; one that
# relies on wall-clock closeness (a sleep standing in for an event, a tight timeout) fails here first.
#
#   bash scripts/stress-test.sh                                   # the whole suite
#   bash scripts/stress-test.sh test/transport test/redis         # jest arguments: files, -t, ...
#   STRESS_REPEAT=5 bash scripts/stress-test.sh test/transport/pool.spec.ts --runInBand
#
# STRESS_WORKERS: burner threads (default: one per core). STRESS_REPEAT: runs (default 1; every run
# is made, the pass/fail count printed). STRESS_BURNER: stress-ng (the default when installed:
# apt-get install stress-ng) or node (one busy-loop thread per worker). Exits with jest's status
# (non-zero if any run failed).
set -uo pipefail
cd "$(dirname "$0")/.."

workers="${STRESS_WORKERS:-$(nproc 2>/dev/null || node -p 'require("os").availableParallelism()')}"
repeat="${STRESS_REPEAT:-1}"
burner=""

stop_burner() {
  if [ -n "$burner" ]; then
    kill "$burner" 2>/dev/null
    wait "$burner" 2>/dev/null
    burner=""
  fi
}
trap stop_burner EXIT
trap 'exit 130' INT TERM

kind="${STRESS_BURNER:-$(command -v stress-ng >/dev/null 2>&1 && echo stress-ng || echo node)}"
if [ "$kind" = stress-ng ]; then
  # --timeout: a burner orphaned by a killed script still stops within the hour.
  stress-ng --cpu "$workers" --timeout 3600s --quiet &
  burner=$!
  echo "::: stress-test: burner stress-ng --cpu $workers"
else
  node -e '
    const { Worker } = require("node:worker_threads");
    const n = Number(process.argv[1]);
    for (let i = 0; i < n; i++) new Worker("for (;;) {}", { eval: true });
    // The main thread stays free: it stops the burner when the script that started it is gone.
    const parent = process.ppid;
    const started = Date.now();
    setInterval(() => {
      try {
        process.kill(parent, 0);
      } catch {
        process.exit(0);
      }
      if (Date.now() - started > 3_600_000) process.exit(0);
    }, 1000);
  ' "$workers" &
  burner=$!
  echo "::: stress-test: burner node, $workers busy-loop threads"
fi

passed=0
failed=0
status=0
for ((run = 1; run <= repeat; run++)); do
  [ "$repeat" -gt 1 ] && echo "::: stress-test: run $run of $repeat"
  CI="${CI:-true}" npx jest "$@"
  code=$?
  if [ $code -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); status=$code; fi
done
stop_burner
echo "::: stress-test: $passed passed, $failed failed (of $repeat run(s) under $workers burner thread(s))"
exit $status
