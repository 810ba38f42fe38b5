#!/usr/bin/env bash
# Packs rxllm, installs the tarball in a scratch project, and checks that it loads from ESM and
# CommonJS and that a small consumer type-checks against the packed types.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/.pack-check"
rm -rf "$work" && mkdir -p "$work"
cd "$root"
npm run build --silent >/dev/null
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
cd "$work"
cat > package.json <<'JSON'
{ "name": "rxllm-pack-check", "version": "0.0.0", "private": true }
JSON
# rxjs (peer) and typescript come from the project's own node_modules: no extra downloads.
npm install --silent --no-audit --no-fund --offline "./$tarball" "$root/node_modules/rxjs" "$root/node_modules/@types/node" "$root/node_modules/undici-types" >/dev/null 2>&1 \
  || npm install --silent --no-audit --no-fund "./$tarball" "rxjs@^7.8.0" "@types/node@^20" >/dev/null
cat > esm.mjs <<'JS'
import { stream, LlmError, ApiError } from 'rxllm';
import { accumulateChunks } from 'rxllm/operators';
import { createMockServer } from 'rxllm/testing';
import { lastValueFrom } from 'rxjs';
if (typeof stream !== 'function' || typeof accumulateChunks !== 'function') throw new Error('esm: missing exports');
if (!(new ApiError({ status: 500 }) instanceof LlmError)) throw new Error('esm: instanceof broken');
const server = await createMockServer();
server.setDefault({ text: 'pack check ok' });
const res = await lastValueFrom(
  stream({ model: 'compat/x', messages: [{ role: 'user', content: 'hi' }] }, { baseURL: server.url }).pipe(accumulateChunks()),
);
await server.close();
if (res.choices[0].message.content !== 'pack check ok') throw new Error('esm: wrong text ' + res.choices[0].message.content);
console.log('esm import ok');
JS
cat > cjs.cjs <<'JS'
const { stream, LlmError, RateLimitError } = require('rxllm');
const ops = require('rxllm/operators');
const testing = require('rxllm/testing');
const esmIndex = import('rxllm');
if (typeof stream !== 'function' || typeof ops.accumulateChunks !== 'function' || typeof testing.createMockServer !== 'function')
  throw new Error('cjs: missing exports');
esmIndex.then((m) => {
  // Same class object both ways: errors thrown by one are instanceof the other.
  if (m.LlmError !== LlmError) throw new Error('cjs/esm: two copies of LlmError');
  if (!(new RateLimitError({ status: 429 }) instanceof m.LlmError)) throw new Error('cjs: instanceof broken');
  console.log('cjs require ok');
});
JS
cat > consumer.ts <<'TS'
import { stream, createClient, type Chunk, type ChatCompletion, RateLimitError } from 'rxllm';
import { accumulateChunks } from 'rxllm/operators';
import { mockStream } from 'rxllm/testing';
import type { Observable } from 'rxjs';
const s: Observable<Chunk> = stream({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
const merged: Observable<ChatCompletion> = s.pipe(accumulateChunks());
const client = createClient({ apiKey: 'x' });
const e = new RateLimitError({ status: 429 });
const n: number | undefined = e.retryAfterMs;
void merged; void client; void n; void mockStream;
TS
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "strict": true, "module": "node16", "moduleResolution": "node16", "target": "ES2022", "noEmit": true, "skipLibCheck": false, "types": ["node"] }, "files": ["consumer.ts"] }
JSON
node esm.mjs
node cjs.cjs
"$root/node_modules/.bin/tsc" -p tsconfig.json
echo "pack check: ok ($tarball)"
