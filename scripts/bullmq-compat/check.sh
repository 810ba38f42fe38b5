#!/usr/bin/env bash
# The bullmq peer range (package.json peerDependencies: ^5.0.0 || ^6.0.0) against the packed rxllm.
# The jest tests (test/bullmq/) run the sources with the devDependency, a bullmq 6; this checks what
# an app on bullmq 5 meets: a scratch app per version with the tarball, that bullmq, ioredis and rxjs,
# where scripts/bullmq-compat/types.ts is type-checked (strict, every declaration included) and
# run.mjs runs docs/fleet.md's usage from code and the CLI fleet (a worker SIGKILLed mid-run) against
# a redis-server it starts on a free port. bullmq 5 and 6 differ where rxllm reaches the queue's
# Redis client (`queue.client` in 5, `queue.getBackend().client` in 6: src/bullmq/store.ts, redisOf).
#
#   bash scripts/bullmq-compat/check.sh [rxllm-x.y.z.tgz [work dir]]
#
# Without a tarball it packs one (npm pack: the build). Run by scripts/pack-check.sh with its tarball.
# Versions: BULLMQ_VERSIONS (space-separated), by default the lowest version of each major the range
# allows, 5.0.0 and 6.0.0 (the jest tests run a newer 6; 5.81.5, the newest 5 when 6 came out, passes
# too: BULLMQ_VERSIONS=5.81.5). Under
# CI=true a missing redis-server fails the check (.ci/run installs it); elsewhere the run is skipped
# with a note and the types are still checked.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/scripts/bullmq-compat"
work=${2:-"$root/.scratch/bullmq-compat"}
mkdir -p "$work"
tarball=${1:-}
if [ -z "$tarball" ]; then
  (cd "$root" && npm pack --silent --pack-destination "$work" >/dev/null 2>&1)
  tarball=$(ls -t "$work"/rxllm-*.tgz | head -1)
fi
tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")
tsc="$root/node_modules/.bin/tsc"
start=$SECONDS
for version in ${BULLMQ_VERSIONS:-5.0.0 6.0.0}; do
  dir="$work/bullmq-$version"
  rm -rf "$dir" && mkdir -p "$dir"
  echo '{ "name": "rxllm-bullmq-check", "version": "0.0.0", "private": true }' > "$dir/package.json"
  # ioredis and rxjs as the app brings them (peers of rxllm); the types of Node from the project.
  (cd "$dir" && npm install --silent --no-audit --no-fund --ignore-scripts --prefer-offline \
    "$tarball" "bullmq@$version" ioredis@5 rxjs@7 \
    "$root/node_modules/@types/node" "$root/node_modules/undici-types" >/dev/null) \
    || { echo "bullmq check: npm install bullmq@$version failed"; exit 1; }
  cp "$here/types.ts" "$here/run.mjs" "$here/redis.mjs" "$dir/"
  cat > "$dir/tsconfig.json" <<'JSON'
{ "compilerOptions": { "strict": true, "module": "esnext", "moduleResolution": "bundler", "target": "ES2022",
  "lib": ["ES2022", "DOM"], "noEmit": true, "skipLibCheck": false, "esModuleInterop": true, "types": ["node"] },
  "files": ["types.ts"] }
JSON
  (cd "$dir" && "$tsc" -p tsconfig.json) || { echo "bullmq check: types fail with bullmq $version"; exit 1; }
  echo "bullmq $version: types ok"
  (cd "$dir" && node run.mjs) || { echo "bullmq check: runtime fails with bullmq $version"; exit 1; }
done
echo "bullmq check: ok (${BULLMQ_VERSIONS:-5.0.0 6.0.0}; $((SECONDS - start)) s)"
