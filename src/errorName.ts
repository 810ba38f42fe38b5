/**
 * How rxllm reads the name of an error class, in a module of its own (not re-exported) so that
 * `LlmError`, `retryBackoff`'s `retryPolicy` and the reports that name a class agree with what
 * `errorFrame` sends.
 *
 * Minifiers rename classes (esbuild `--minify`, the Angular production build: `class RateLimitError`
 * becomes `class u`), so `constructor.name` and `new.target.name` would be "u". Each rxllm class
 * therefore writes its name out as a string in a static `errorName`. A plain string-keyed static
 * field, not a symbol-keyed one: bundlers then still drop the error classes an app does not use
 * (esbuild keeps a class whose static key is computed).
 */

/**
 * The name of an error class: its own `errorName` (an rxllm class, or a subclass of yours that sets
 * one), else its class name (`TypeError`, a subclass without one). Own only: a subclass must not
 * inherit its parent's name.
 */
export function errorClassName(ctor: { readonly name: string }): string {
  const own = Object.hasOwn(ctor, 'errorName') ? (ctor as { errorName?: unknown }).errorName : undefined;
  return typeof own === 'string' ? own : ctor.name;
}
