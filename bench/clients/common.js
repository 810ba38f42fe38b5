'use strict';
// What every client sends: the same one-message request, to the same server.
const MESSAGES = [{ role: 'user', content: 'x' }];
const MODEL = 'bench';

/** Runs `fn(i)` for i in [0, n) with at most `cap` in flight; resolves to the results in order. */
async function pool(n, cap, fn) {
  const out = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(cap, n) }, worker));
  return out;
}

module.exports = { MESSAGES, MODEL, pool };
