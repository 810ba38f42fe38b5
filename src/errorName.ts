/**
 * How rxllm names its error classes, in a module of its own so that `retryBackoff`'s policy and the
 * reports that name a class read the same name `errorFrame` sends. Internal: not re-exported.
 *
 * Minifiers rename classes (esbuild `--minify`, the Angular production build: `class RateLimitError`
 * becomes `class u`), so `constructor.name` and `new.target.name` would be "u". Each rxllm class
 * therefore writes its name out as a string under this key. A registry symbol, like the brand in
 * `errors.ts`, so every copy of rxllm (ESM and CommonJS builds, two installs) reads it.
 */
export const ERROR_NAME: unique symbol = Symbol.for('rxllm.errorName');

/**
 * The name of an error class: its own written-out name (an rxllm class), else its class name (a
 * user's subclass, `TypeError`, ...). Own only: a subclass must not inherit its parent's name.
 */
export function errorClassName(ctor: { readonly name: string }): string {
  const own = Object.hasOwn(ctor, ERROR_NAME) ? (ctor as { [ERROR_NAME]?: unknown })[ERROR_NAME] : undefined;
  return typeof own === 'string' ? own : ctor.name;
}
