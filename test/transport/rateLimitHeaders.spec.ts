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

  it("reads Anthropic's anthropic-ratelimit-* set (resets are RFC 3339 times)", () => {
    const now = Date.parse('2026-11-29T12:00:00Z');
    expect(
      parseRateLimit(
        {
          'anthropic-ratelimit-requests-limit': '50',
          'anthropic-ratelimit-requests-remaining': '0',
          'anthropic-ratelimit-requests-reset': '2026-11-29T12:00:20Z',
          'anthropic-ratelimit-tokens-remaining': '1200',
          'anthropic-ratelimit-tokens-reset': '2026-11-29T12:00:01.5Z',
        },
        now,
      ),
    ).toEqual({
      limitRequests: 50,
      remainingRequests: 0,
      resetRequestsMs: 20_000,
      remainingTokens: 1200,
      resetTokensMs: 1500,
    });
  });
});
