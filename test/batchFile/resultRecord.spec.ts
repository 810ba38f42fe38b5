/**
 * A provider batch's answers become result lines of the synchronous mode's shape, plus `batch_id`:
 * an answer with its usage and batch-price cost, a failure with its class, reason and HTTP status.
 */
import { providerBatchRecord, resultRecord } from '../../src/batchFile/resultRecord';
import type { ChatCompletion } from '../../src/chunk';
import { ApiError, BatchResultError, ServerError, StreamCutError } from '../../src/errors';
import { estimatePromptTokens } from '../../src/cost/estimate';
import type { ChatRequest } from '../../src/request';

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

describe('resultRecord: a failed request costs what it was billed for', () => {
  const request: ChatRequest = {
    model: 'openai/gpt-4o-mini',
    messages: [{ role: 'user', content: 'Tell me' }],
  };
  const failed = (error: unknown) => ({ ok: false as const, index: 0, request, error, attempts: 1 });

  it('nothing received (an HTTP error): cost null, not estimated', () => {
    const record = resultRecord('a', failed(ApiError.fromResponse({ status: 500, message: 'down' })));
    expect(record.cost).toBeNull();
    expect(record.cost_estimated).toBeUndefined();
  });

  it("a router's billed attempts (error.billed): their cost, each at its model", () => {
    const error = new ServerError({ status: 500, message: 'down' });
    error.billed = [
      {
        deployment: 'a',
        model: 'openai/gpt-4o',
        usage: { prompt_tokens: 1_000_000, completion_tokens: 0, total_tokens: 1_000_000 },
        estimated: true,
      },
      {
        deployment: 'b',
        model: 'openai/gpt-4o-mini',
        usage: { prompt_tokens: 1_000_000, completion_tokens: 1_000_000, total_tokens: 2_000_000 },
        estimated: false,
      },
    ];
    const record = resultRecord('b', failed(error));
    expect(record.cost).toBeCloseTo(2.5 + 0.15 + 0.6, 12);
    expect(record.cost_estimated).toBe(true);
  });

  it('an answer billed but never read (error.billedAnswer, a complete() body cut): its prompt estimate', () => {
    const error = new StreamCutError('cut after the 200', { billedAnswer: true });
    const record = resultRecord('d', failed(error));
    expect(record.cost).toBeCloseTo((estimatePromptTokens(request) * 0.15) / 1e6, 15);
    expect(record.cost).toBeGreaterThan(0);
    expect(record.cost_estimated).toBe(true);
  });

  it('a streamed answer cut part-way (error.partial): its prompt estimate and output received', () => {
    const error = new StreamCutError('cut');
    error.partial = {
      id: 'c',
      object: 'chat.completion',
      created: 0,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, message: { role: 'assistant', content: 'x'.repeat(400) }, finish_reason: null }],
    } as unknown as ChatCompletion;
    const record = resultRecord('c', failed(error));
    // 400 characters are 100 output tokens at $0.60 per million; the prompt, estimated, at $0.15.
    const prompt = estimatePromptTokens(request);
    expect(prompt).toBeGreaterThan(0);
    expect(record.cost).toBeCloseTo((prompt * 0.15 + 100 * 0.6) / 1e6, 12);
    expect(record.cost_estimated).toBe(true);
  });
});

describe('resultRecord: an answer costs the attempts billed before it', () => {
  const request: ChatRequest = {
    model: 'openai/gpt-4o-mini',
    messages: [{ role: 'user', content: 'Tell me' }],
  };
  const answered = (value: unknown) => ({
    ok: true as const,
    index: 0,
    request,
    value: value as ChatCompletion,
    attempts: 1,
  });

  it("a router's attempt refused before the fallback answered (route.billed): both, each at its model", () => {
    const billed = {
      deployment: 'strict',
      model: 'openai/gpt-4o',
      usage: { prompt_tokens: 1_000_000, completion_tokens: 0, total_tokens: 1_000_000 },
      estimated: true,
    };
    const route = {
      group: 'main',
      deployment: 'mini',
      model: 'openai/gpt-4o-mini',
      attempt: 2,
      billed: [billed],
    };
    const record = resultRecord('r', answered({ ...completion, route }));
    // gpt-4o's prompt at $2.50 per million, the answer at gpt-4o-mini's prices.
    expect(record.cost).toBeCloseTo(2.5 + (10 * 0.15 + 1 * 0.6) / 1e6, 12);
    expect(record.cost_estimated).toBe(true);
    expect(record.deployment).toBe('mini');
    expect(record.usage).toEqual(completion.usage);
    expect(record.response!.body).not.toHaveProperty('route');
  });

  it('an answer alone: its reported cost, not estimated', () => {
    const record = resultRecord('s', answered(completion));
    expect(record.cost).toBeCloseTo((10 * 0.15 + 1 * 0.6) / 1e6, 15);
    expect(record.cost_estimated).toBeUndefined();
  });
});
