import {
  ApiError,
  AuthenticationError,
  BadRequestError,
  ConnectionError,
  LlmError,
  parseRetryAfter,
  RateLimitError,
  ServerError,
  StreamCutError,
  StreamParseError,
  TimeoutError,
  redactSecrets,
  redactHeaders,
} from '../src';
import { registerSecret } from '../src/redact';

describe('ApiError.fromResponse', () => {
  it.each([
    [429, RateLimitError],
    [401, AuthenticationError],
    [403, AuthenticationError],
    [400, BadRequestError],
    [404, BadRequestError],
    [409, BadRequestError],
    [413, BadRequestError],
    [422, BadRequestError],
    [500, ServerError],
    [529, ServerError],
  ])('maps %i to %p', (status, type) => {
    const e = ApiError.fromResponse({ status });
    expect(e).toBeInstanceOf(type);
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toBeInstanceOf(LlmError);
    expect(e.name).toBe(type.name);
  });

  it('keeps an unmapped status as a plain ApiError', () => {
    const e = ApiError.fromResponse({ status: 418 });
    expect(e.constructor).toBe(ApiError);
    expect(e.retryable).toBe(false);
  });

  it.each([
    [408, true],
    [409, true],
    [429, true],
    [500, true],
    [400, false],
    [401, false],
    [404, false],
    [422, false],
  ])('status %i is retryable=%p', (status, retryable) => {
    expect(ApiError.fromResponse({ status }).retryable).toBe(retryable);
  });

  it('lets x-should-retry: false override a retryable status', () => {
    expect(ApiError.fromResponse({ status: 503, headers: { 'x-should-retry': 'false' } }).retryable).toBe(
      false,
    );
  });

  it('truncates a long body and says how much was cut', () => {
    const e = ApiError.fromResponse({ status: 500, body: 'x'.repeat(10_000) });
    expect(typeof e.body).toBe('string');
    expect((e.body as string).length).toBeLessThan(2100);
    expect(e.body as string).toMatch(/8000 more characters/);
  });

  it('redacts authorization headers', () => {
    const e = ApiError.fromResponse({
      status: 401,
      headers: { Authorization: 'Bearer sk-abcdefghijklmnop' },
    });
    expect(e.headers.authorization).toBe('[REDACTED]');
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-24T00:00:00Z');
  it('prefers retry-after-ms', () => {
    expect(parseRetryAfter({ 'retry-after-ms': '250', 'retry-after': '3' }, now)).toBe(250);
  });
  it('reads seconds', () => {
    expect(parseRetryAfter({ 'retry-after': '3' }, now)).toBe(3000);
    expect(parseRetryAfter({ 'retry-after': '0.5' }, now)).toBe(500);
  });
  it('reads an HTTP date', () => {
    expect(parseRetryAfter({ 'retry-after': 'Tue, 24 Nov 2026 00:00:07 GMT' }, now)).toBe(7000);
  });
  it('clamps a past date to 0 and ignores garbage and negatives', () => {
    expect(parseRetryAfter({ 'retry-after': 'Mon, 23 Nov 2026 00:00:00 GMT' }, now)).toBe(0);
    expect(parseRetryAfter({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(parseRetryAfter({ 'retry-after': '-4' }, now)).toBeUndefined();
    expect(parseRetryAfter({}, now)).toBeUndefined();
  });
});

describe('error classes', () => {
  it('marks transport failures retryable and says which timeout fired', () => {
    expect(new ConnectionError('reset').retryable).toBe(true);
    expect(new StreamCutError().retryable).toBe(true);
    const t = new TimeoutError('firstChunk', 1000);
    expect(t.retryable).toBe(true);
    expect(t.timeout).toBe('firstChunk');
    expect(t.message).toContain('firstChunk');
  });

  it('keeps the cause', () => {
    const cause = new Error('socket hang up');
    expect(new ConnectionError('x', { cause }).cause).toBe(cause);
  });

  it('StreamParseError keeps only a short, scrubbed excerpt', () => {
    const e = new StreamParseError(
      'invalid-json',
      'bad',
      'sk-proj-abcdefghijklmnopqrstuv ' + 'y'.repeat(500),
    );
    expect(e.excerpt.length).toBeLessThanOrEqual(130);
    expect(e.excerpt).not.toContain('sk-proj-abcdefghijklmnopqrstuv');
  });
});

describe('redaction', () => {
  it('scrubs key patterns, bearer tokens and key query parameters', () => {
    const text =
      'key sk-abc123def456ghi and Bearer abc.def-ghi_jkl and ?key=AIzaSyA-1234567890abcdefghij&x=1';
    const out = redactSecrets(text);
    expect(out).not.toMatch(/sk-abc123def456ghi|abc\.def-ghi_jkl|AIzaSyA-1234567890abcdefghij/);
    expect(out).toContain('&x=1');
  });

  it('scrubs a registered secret wherever it appears', () => {
    registerSecret('plain-looking-secret-value');
    expect(redactSecrets('echo: plain-looking-secret-value!')).toBe('echo: [REDACTED]!');
  });

  it('redacts secret headers and lower-cases names', () => {
    expect(redactHeaders({ 'X-Api-Key': 'k', 'Content-Type': 'a/b', 'api-key': 'z' })).toEqual({
      'x-api-key': '[REDACTED]',
      'content-type': 'a/b',
      'api-key': '[REDACTED]',
    });
  });

  it('never shows a key in toString of an error built from a message containing it', () => {
    const e = new LlmError('failed with sk-live-0123456789abcdef');
    expect(String(e)).not.toContain('sk-live-0123456789abcdef');
  });
});
