/**
 * The providers whose own batch API `submitBatch` can drive, by prefix. Each API lives in its
 * provider's folder; this table is the one line per provider outside it.
 */
import { anthropicBatchApi } from '../providers/anthropic/batch';
import type { ProviderBatchApi } from '../providers/batchTypes';
import { geminiBatchApi } from '../providers/gemini/batch';
import { openAIBatchApi } from '../providers/openai/batch';

const apis = new Map<string, ProviderBatchApi>([
  ['openai', openAIBatchApi],
  ['anthropic', anthropicBatchApi],
  ['gemini', geminiBatchApi],
]);

/** The batch API of `provider`; a `TypeError` naming the known ones when there is none. */
export function getBatchApi(provider: string): ProviderBatchApi {
  const api = apis.get(provider.toLowerCase());
  if (!api) {
    throw new TypeError(
      `No batch API for provider "${provider}". Providers with one: ${[...apis.keys()].join(', ')}.`,
    );
  }
  return api;
}
