/**
 * Checks the requests of `submitBatch` and splits them into batches the provider accepts: one model
 * per batch where the provider wants it, and at most its request count and bytes per batch.
 */
import { RequestValidationError } from '../errors';
import type { BatchItem, ProviderBatchApi } from '../providers/batchTypes';
import type { ChatRequest } from '../request';

/** A neutral chat request with the id its answer is matched by. */
export type ProviderBatchRequest = ChatRequest & { custom_id: string };

/** The provider prefix of the requests: `options.provider`, else the one their models share. */
export function batchProvider(requests: readonly ProviderBatchRequest[], provider?: string): string {
  if (provider !== undefined) {
    if (typeof provider !== 'string' || provider === '')
      throw new TypeError('submitBatch: provider must be a non-empty string.');
    return provider.toLowerCase();
  }
  const prefixes = new Set(
    requests.map((r) =>
      String(r?.model ?? '')
        .split('/')[0]
        .toLowerCase(),
    ),
  );
  if (prefixes.size !== 1) {
    throw new TypeError(
      `submitBatch: a provider batch goes to one provider; the models name ${[...prefixes].join(', ')}. Split the requests or pass options.provider.`,
    );
  }
  return [...prefixes][0];
}

/** Checks ids and turns the requests into items (the model without its prefix). */
export function toItems(requests: readonly ProviderBatchRequest[], provider: string): BatchItem[] {
  if (!Array.isArray(requests) || requests.length === 0)
    throw new TypeError('submitBatch: requests must be a non-empty array.');
  const seen = new Set<string>();
  return requests.map((r, i) => {
    const id = r?.custom_id;
    if (typeof id !== 'string' || id === '')
      throw new TypeError(`submitBatch: requests[${i}].custom_id must be a non-empty string.`);
    if (seen.has(id)) throw new TypeError(`submitBatch: custom_id "${id}" is repeated (requests[${i}]).`);
    seen.add(id);
    if (typeof r.model !== 'string')
      throw new TypeError(`submitBatch: requests[${i}].model must be a string.`);
    const { custom_id: _id, ...request } = r;
    const slash = r.model.indexOf('/');
    const prefix = slash > 0 ? r.model.slice(0, slash).toLowerCase() : '';
    const model = prefix === provider ? r.model.slice(slash + 1) : r.model;
    return { customId: id, model, request: request as ChatRequest };
  });
}

/** Limits a caller may lower (never raise) below the provider's. */
export interface BatchSplitLimits {
  maxRequests?: number;
  maxBytes?: number;
}

/**
 * Splits items into batches in their order: a new batch starts at another model (when the provider
 * wants one model per batch) and before the request count or byte limit would be passed.
 */
export function splitBatches(
  items: readonly BatchItem[],
  api: ProviderBatchApi,
  own: BatchSplitLimits = {},
): BatchItem[][] {
  const maxRequests = Math.min(api.limits.maxRequests, own.maxRequests ?? Infinity);
  const maxBytes = Math.min(api.limits.maxBytes, own.maxBytes ?? Infinity);
  const groups = new Map<string, BatchItem[]>();
  for (const item of items) {
    const key = api.oneModelPerBatch ? item.model : '';
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  const batches: BatchItem[][] = [];
  for (const group of groups.values()) {
    let current: BatchItem[] = [];
    let bytes = 0;
    for (const item of group) {
      const size = api.size(item);
      if (size > maxBytes) {
        throw new RequestValidationError(
          `submitBatch: request "${item.customId}" takes ${size} bytes, more than one ${api.provider} batch holds (${maxBytes}).`,
        );
      }
      if (current.length > 0 && (current.length >= maxRequests || bytes + size > maxBytes)) {
        batches.push(current);
        current = [];
        bytes = 0;
      }
      current.push(item);
      bytes += size;
    }
    if (current.length > 0) batches.push(current);
  }
  return batches;
}
