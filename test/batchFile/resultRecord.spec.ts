/**
 * A provider batch's answers become result lines of the synchronous mode's shape, plus `batch_id`:
 * an answer with its usage and batch-price cost, a failure with its class, reason and HTTP status.
 */
import { providerBatchRecord } from '../../src/batchFile/resultRecord';
import type { ChatCompletion } from '../../src/chunk';
import { ApiError, BatchResultError } from '../../src/errors';

const completion = {
  id: 'c1',
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'billing' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 10, completion_tokens: 1, total_tokens: 11 },
} as unknown as ChatCompletion;

describe('providerBatchRecord', () => {
  it('writes an answer as the synchronous mode does, with attempts 1 and its batch id', () => {
    const usage = { prompt_tokens: 10, completion_tokens: 1, total_tokens: 11 };
    expect(
      providerBatchRecord({
        type: 'result',
        custom_id: 't1',
        batchId: 'batch_1',
        completion,
        usage,
        cost: 0.5,
        syncCost: 1,
      }),
    ).toEqual({
      custom_id: 't1',
      response: { status_code: 200, body: completion },
      error: null,
      usage,
      cost: 0.5,
      attempts: 1,
      batch_id: 'batch_1',
    });
  });

  it("writes a failure with its class, reason and the HTTP status of the provider's error", () => {
    const cause = ApiError.fromResponse({ status: 429, message: 'slow down' });
    const error = new BatchResultError('t2', 'errored', 'the provider answered t2 with an error', { cause });
    expect(providerBatchRecord({ type: 'error', custom_id: 't2', batchId: 'b', error })).toEqual({
      custom_id: 't2',
      response: null,
      error: {
        type: 'BatchResultError',
        message: 'the provider answered t2 with an error',
        status: 429,
        reason: 'errored',
      },
      usage: null,
      cost: null,
      attempts: 1,
      batch_id: 'b',
    });
    const expired = new BatchResultError('t3', 'expired', 'expired');
    expect(
      providerBatchRecord({ type: 'error', custom_id: 't3', batchId: 'b', error: expired }).error,
    ).toEqual({ type: 'BatchResultError', message: 'expired', reason: 'expired' });
  });
});
