'use strict';
// rxllm as its README shows it: `stream()` piped through `accumulateChunks()`, batches through
// `mapConcurrent`. `create({ full: true })` adds what production chains carry: `retryBackoff()` and
// `partialToolCallGuard()` (defaults), so their cost on the happy path shows.
const { rxllm } = require('../lib/paths');
const { MESSAGES } = require('./common');

function create({ baseURL, apiKey, full = false, build = rxllm }) {
  const { stream, complete } = build.core();
  const ops = build.operators();
  const { lastValueFrom, range, merge } = build.rxjs();
  const { map, toArray } = build.rxjsOperators();
  const request = { model: 'compat/bench', messages: MESSAGES };
  const options = { baseURL, apiKey };
  const textOf = (completion) => completion.choices[0].message.content;

  const streamed = full
    ? () =>
        stream(request, options).pipe(ops.retryBackoff(), ops.partialToolCallGuard(), ops.accumulateChunks())
    : () => stream(request, options).pipe(ops.accumulateChunks());
  const completed = full
    ? () => complete(request, options).pipe(ops.retryBackoff())
    : () => complete(request, options);

  return {
    streamText: () => lastValueFrom(streamed().pipe(map(textOf))),
    completeText: () => lastValueFrom(completed().pipe(map(textOf))),
    /** `n` calls, at most `cap` at once, through the library's own concurrency operator. */
    batch(n, cap, streaming) {
      const call = streaming ? streamed : completed;
      return lastValueFrom(
        range(0, n).pipe(
          ops.mapConcurrent((i) => call().pipe(map((c) => [i, textOf(c)])), cap),
          toArray(),
          map((pairs) => pairs.sort((a, b) => a[0] - b[0]).map((p) => p[1])),
        ),
      );
    },
    /** `n` streams at once: a plain merge, as an app fanning out would write it. */
    concurrent(n) {
      return lastValueFrom(merge(...Array.from({ length: n }, streamed)).pipe(map(textOf), toArray()));
    },
  };
}

module.exports = { create };
