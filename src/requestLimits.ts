/**
 * Most choices (`n`) one request may ask for, and so the bound on choice indexes in a stream
 * (`0 ... MAX_CHOICES - 1`): OpenAI's own limit for `n`. A larger `n` is a `RequestValidationError`
 * before anything is sent; a larger index in a stream ends `accumulateChunks` with a
 * `StreamParseError` instead of growing its state without bound. (Its own module: the operators and
 * the browser path import it without the request schemas.)
 */
export const MAX_CHOICES = 128;
