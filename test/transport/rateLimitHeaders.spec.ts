import { parseDurationMs, parseRateLimit } from '../../src/transport/rateLimitHeaders';

describe('rate-limit headers', () => {
  it.each([
    ['1s', 1000],
    ['6m0s', 360_000],
    ['20ms', 20],
    ['1h2m3s', 3_723_000],
    ['1.5', 1500],
    ['0.5s', 500],
  ])('parses duration %s', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it('rejects unreadable durations', () => {
    expect(parseDurationMs('soon')).toBeUndefined();
    expect(parseDurationMs('5x')).toBeUndefined();
    expect(parseDurationMs('')).toBeUndefined();
  });

  it('reads the OpenAI header set and leaves out what is absent', () => {
    expect(
      parseRateLimit({
        'x-ratelimit-limit-requests': '500',
        'x-ratelimit-remaining-requests': '499',
        'x-ratelimit-reset-requests': '120ms',
        'x-ratelimit-remaining-tokens': '29000',
      }),
    ).toEqual({ limitRequests: 500, remainingRequests: 499, resetRequestsMs: 120, remainingTokens: 29000 });
  });
});
