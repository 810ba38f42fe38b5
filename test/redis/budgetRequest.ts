/**
 * The request of the 40-parallel-calls budget tests (the numbers): on gpt-4o prices it is
 * estimated at exactly $0.075 (10,000 prompt tokens by the 1-per-4-characters rule + a 5,000-token
 * output cap) and the mock provider reports exactly that usage, after 5 ms.
 */
import type { ChatRequest } from '../../src';

export const PARALLEL_REQUEST: ChatRequest = {
  model: 'mock/gpt-4o',
  messages: [{ role: 'user', content: 'x'.repeat(39_984) }],
  max_tokens: 5000,
  mock_response: {
    text: 'done',
    usage: { prompt_tokens: 10_000, completion_tokens: 5000, total_tokens: 15_000 },
  },
  mock_delay_ms: 5,
};

/** What one such call costs and is estimated at, in USD. */
export const CALL_COST = 0.075;
