/**
 * Which provider produced a chunk or a completion whose `model` names only the model (the mock
 * answers `mock/gpt-4o-mini` with chunks saying `gpt-4o-mini`, like OpenAI does), so that pricing
 * by the chunks' `model` (`trackUsage` without `request`) does not bill a fake call at OpenAI's rate.
 *
 * Kept beside the values, not in them: a `WeakMap` adds no field to a chunk, so chunks stay equal
 * (`toEqual`, JSON) to what a provider sends, and entries go when the chunks do. A copy of a chunk
 * (`{ ...chunk }`) loses the mark; the router's `route` and `trackUsage`'s `request` say the same
 * thing in a way that survives copies.
 */
const servedBy = new WeakMap<object, string>();

/**
 * Records that `provider` produced `value`, and returns it.
 * @internal used by the mock provider
 */
export function markServedBy<T extends object>(value: T, provider: string): T {
  servedBy.set(value, provider);
  return value;
}

/**
 * The `provider/model` a value was served as: its `model` prefixed with the provider that marked it
 * (unless it already is), else its `model` as it is. `undefined` when it has no `model`.
 * @internal used by `trackUsage`
 */
export function servedModel(value: { model?: unknown }): string | undefined {
  const model = value.model;
  if (typeof model !== 'string' || model === '') return undefined;
  const provider = servedBy.get(value);
  return provider && !model.startsWith(`${provider}/`) ? `${provider}/${model}` : model;
}
