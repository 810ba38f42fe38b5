/**
 * estimateRequestCost: what budget reserves when a call starts. The prompt by the 1-per-4-characters
 * rule, the output at the request's cap (else DEFAULT_OUTPUT_TOKENS), cache writes at their rate.
 */
import { DEFAULT_OUTPUT_TOKENS, estimateRequestCost, type ChatRequest } from 'rxllm';

// 3,996 characters + 4 per message = 1,003 prompt tokens.
const messages: ChatRequest['messages'] = [{ role: 'user', content: 'x'.repeat(3_996) }];

describe('estimateRequestCost', () => {
  it('prices the prompt estimate at input and the output cap at output, max_completion_tokens first', () => {
    expect(estimateRequestCost({ model: 'openai/gpt-4o', messages, max_tokens: 100 })).toBeCloseTo(
      (1003 * 2.5 + 100 * 10) / 1e6,
      12,
    );
    expect(
      estimateRequestCost({ model: 'openai/gpt-4o', messages, max_tokens: 100, max_completion_tokens: 300 }),
    ).toBeCloseTo((1003 * 2.5 + 300 * 10) / 1e6, 12);
  });

  it('counts the output cap once per choice (n): each of n choices may use it, and each is billed', () => {
    expect(estimateRequestCost({ model: 'openai/gpt-4o', messages, max_tokens: 100, n: 8 })).toBeCloseTo(
      (1003 * 2.5 + 8 * 100 * 10) / 1e6,
      12,
    );
    expect(estimateRequestCost({ model: 'openai/gpt-4o', messages, n: 2 })).toBeCloseTo(
      (1003 * 2.5 + 2 * 4096 * 10) / 1e6,
      12,
    );
    // n: 1 (or none) is one choice.
    expect(estimateRequestCost({ model: 'openai/gpt-4o', messages, max_tokens: 100, n: 1 })).toBe(
      estimateRequestCost({ model: 'openai/gpt-4o', messages, max_tokens: 100 }),
    );
  });

  it('assumes DEFAULT_OUTPUT_TOKENS (4096) without a cap, or the given number', () => {
    expect(DEFAULT_OUTPUT_TOKENS).toBe(4096);
    expect(estimateRequestCost({ model: 'openai/gpt-4o', messages })).toBeCloseTo(
      (1003 * 2.5 + 4096 * 10) / 1e6,
      12,
    );
    expect(estimateRequestCost({ model: 'openai/gpt-4o', messages }, 'openai/gpt-4o', 0)).toBeCloseTo(
      (1003 * 2.5) / 1e6,
      12,
    );
  });

  it('prices a prompt with Anthropic cache_control marks at the cache-write rate (5 minutes, 1 hour)', () => {
    const marked = (ttl?: string) =>
      ({
        model: 'anthropic/claude-sonnet-4-5',
        max_tokens: 0,
        messages: [
          {
            role: 'user',
            content: [
              {
                type: 'text',
                text: 'x'.repeat(3_996),
                cache_control: { type: 'ephemeral', ...(ttl && { ttl }) },
              },
            ],
          },
        ],
      }) as unknown as ChatRequest;
    expect(estimateRequestCost(marked())).toBeCloseTo((1003 * 3.75) / 1e6, 12);
    expect(estimateRequestCost(marked('1h'))).toBeCloseTo((1003 * 6) / 1e6, 12);
  });

  it('is null for a model without a price (a mock, a router group)', () => {
    expect(estimateRequestCost({ model: 'mock/gpt-4o', messages })).toBeNull();
    expect(estimateRequestCost({ model: 'fast', messages } as never)).toBeNull();
  });
});
