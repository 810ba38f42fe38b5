/**
 * Most choices (`n`) one request may ask for, and so the bound on choice indexes in a stream
 * (`0 ... MAX_CHOICES - 1`): OpenAI's own limit for `n`. A larger `n` is a `RequestValidationError`
 * before anything is sent; a larger index in a stream ends `accumulateChunks` with a
 * `StreamParseError` instead of growing its state without bound. (Its own module: the operators and
 * the browser path import it without the request schemas.)
 */
export const MAX_CHOICES = 128;

/**
 * Deepest nesting of objects and arrays a served request may have. Fields the server does not know
 * are passed upstream as they came, and a body nested 200,000 levels deep parses (JSON.parse does not
 * recurse) but overflows the stack where it is serialised again, as a retryable 500. Real requests nest
 * a few levels (a tool's JSON schema maybe a dozen); OpenAI's structured outputs allow 10 levels of
 * schema nesting.
 */
export const MAX_REQUEST_DEPTH = 64;

/** Whether `value` nests deeper than `limit` (iterative: it must not itself overflow the stack). */
/** @internal */
export function nestsDeeper(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}
