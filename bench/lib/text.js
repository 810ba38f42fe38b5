'use strict';
// The text the load server streams, chunk by chunk. Deterministic, so every client process can rebuild
// the expected text without receiving it. It mixes what real model output has and what breaks naive
// clients: multi-byte characters (split across the server's write boundaries), a 4-byte emoji
// (a surrogate pair in JS), JSON escapes (quotes, backslash, newline) and plain ASCII words.

const WORDS = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'stream', 'token'];

/** Content of chunk `i` (0-based). */
function piece(i) {
  if (i % 1009 === 7) return ' 🚀';
  if (i % 97 === 3) return ' café';
  if (i % 50 === 11) return ' "quoted" \\ path\n';
  return ' ' + WORDS[i % WORDS.length] + (i % 13);
}

/** The whole text of a stream of `n` chunks. */
function expectedText(n) {
  const parts = new Array(n);
  for (let i = 0; i < n; i++) parts[i] = piece(i);
  return parts.join('');
}

/** Throws a loud error when `actual` is not the text of `n` chunks. */
function verify(actual, n, what) {
  const expected = expectedText(n);
  if (actual === expected) return;
  let at = 0;
  while (at < expected.length && actual[at] === expected[at]) at++;
  throw new Error(
    `${what}: rebuilt text differs from what the server sent (expected ${expected.length} chars, got ` +
      `${typeof actual === 'string' ? actual.length : typeof actual}; first difference at ${at}: ` +
      `${JSON.stringify(String(expected).slice(at, at + 20))} vs ${JSON.stringify(String(actual).slice(at, at + 20))})`,
  );
}

module.exports = { piece, expectedText, verify };
