#!/usr/bin/env bash
# Builds examples/angular with the Angular CLI in production mode against the packed rxllm
# (.pack-check/rxllm.tgz, written by scripts/pack-check.sh, which must run first). Fails on a build
# error, on any budget warning or error (Angular's default budgets), and when zod, undici or a second
# rxjs went into the browser bundle (from the build's esbuild stats).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
app="$root/examples/angular"
[ -f "$root/.pack-check/rxllm.tgz" ] || { echo "angular check: run scripts/pack-check.sh first"; exit 1; }
cd "$app"
export NG_CLI_ANALYTICS=false
# The example depends on the repository root (`file:../..`, packed on install: .npmrc install-links);
# CI builds it against the tarball pack-check made instead, the bytes npm would publish. Everything
# else is pinned by the lock.
npm ci --no-audit --no-fund --loglevel=error
npm install --no-save --no-audit --no-fund --loglevel=error "$root/.pack-check/rxllm.tgz"
node -e '
  const lock = require(process.argv[1]).packages["node_modules/rxllm"];
  if (!lock || !String(lock.resolved).endsWith(".pack-check/rxllm.tgz")) {
    console.error("angular check: rxllm is not the packed tarball: " + JSON.stringify(lock && lock.resolved)); process.exit(1);
  }
' "$app/node_modules/.package-lock.json"
rm -rf dist
npx ng build --configuration production --stats-json 2>&1 | tee build.log
if grep -qi 'budget' build.log; then
  echo "angular check: a budget warning or error (see above)"; exit 1
fi
node -e '
  const stats = require(process.argv[1]);
  const inputs = Object.keys(stats.inputs);
  const bad = inputs.filter((f) => /node_modules\/(zod|undici)\//.test(f));
  const rxjs = new Set(inputs.map((f) => /^(.*node_modules\/rxjs\/dist\/[^/]+)\//.exec(f)?.[1]).filter(Boolean));
  const rxllm = inputs.filter((f) => f.includes("node_modules/rxllm/"));
  if (!rxllm.length) { console.error("angular check: rxllm is not in the bundle"); process.exit(1); }
  if (bad.length) { console.error("angular check: bundled " + bad.slice(0, 5).join(", ")); process.exit(1); }
  if (rxjs.size !== 1) { console.error("angular check: rxjs builds bundled: " + [...rxjs].join(", ")); process.exit(1); }
  if (rxllm.some((f) => !f.includes("/dist/esm/"))) { console.error("angular check: the CommonJS build of rxllm was bundled"); process.exit(1); }
  console.log(`angular check: ok (rxllm ESM, one rxjs: ${[...rxjs][0].replace(/.*node_modules\//, "")}, no zod or undici)`);
' "$app/dist/rxllm-angular-example/stats.json"
rm -f build.log

# The built app in real Chromium against `rxllm serve` through the example's proxy hook (the model
# picker, text streaming in, Stop aborting at the gateway).
if [ ! -x /usr/bin/chromium ] && [ "${CI:-}" = "true" ]; then
  apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null
fi
if [ -x /usr/bin/chromium ]; then
  node "$root/scripts/angular-e2e.cjs"
else
  echo "angular check: the Chromium run was skipped: /usr/bin/chromium is missing (apt-get install chromium)"
fi
