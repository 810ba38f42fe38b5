import path from 'node:path';
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
import { inspect } from 'node:util';
import { registerHeaderSecrets, registerSecret } from '../src/redact';
import { batchCall } from '../src/transport/batchHttp';
import { fetchSse } from '../src/serve/fetchSse';
import { collect } from './helpers/collect';
import { entries } from '../scripts/entries.json';

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

  it('an answer billed already (billedAnswer) is never retryable, whatever the class would say', () => {
    const cut = new StreamCutError('cut after the 200', { billedAnswer: true });
    expect([cut.retryable, cut.billedAnswer]).toEqual([false, true]);
    const timedOut = new TimeoutError('body', 1000, { billedAnswer: true, retryable: true });
    expect([timedOut.retryable, timedOut.billedAnswer]).toEqual([false, true]);
    expect(new StreamCutError('cut', { billedAnswer: false }).billedAnswer).toBeUndefined();
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

  it("scrubs a URL's userinfo, a password with / or a scheme typo included, and keeps other URLs", () => {
    for (const [text, out] of [
      ['got "redis://:pa55w0rd/XYZ-123456@127.0.0.1:6379".', 'got "redis://[REDACTED]@127.0.0.1:6379".'],
      ['http://user:pa55w0rd/XYZ-123456@127.0.0.1:8080/v1', 'http://[REDACTED]@127.0.0.1:8080/v1'],
      ['redis:/:pa55w0rd-XYZ-123456@127.0.0.1:6379', 'redis:/[REDACTED]@127.0.0.1:6379'],
      ['https://ghp_token0123456789@github.com/x', 'https://[REDACTED]@github.com/x'],
      ['https://registry.npmjs.org/@scope/pkg', 'https://registry.npmjs.org/@scope/pkg'],
      ['https://api.openai.com/v1/chat/completions', 'https://api.openai.com/v1/chat/completions'],
    ])
      expect(redactSecrets(text)).toBe(out);
    expect(redactSecrets('Bearer abc#def!ghi$jkl')).toBe('Bearer [REDACTED]');
  });

  it('treats any header named as a credential as one, but not the rate-limit headers that count tokens', () => {
    registerHeaderSecrets({
      'X-Custom-Auth': 'gw-master-tok-987654321',
      'Ocp-Apim-Subscription-Key': 'apim-0123456789',
    });
    expect(redactSecrets('echo gw-master-tok-987654321 apim-0123456789')).toBe('echo [REDACTED] [REDACTED]');
    expect(
      redactHeaders({
        'helicone-auth': 'Bearer x',
        'x-service-token': 't',
        'x-ratelimit-remaining-tokens': '59000',
        'anthropic-ratelimit-tokens-limit': '80000',
      }),
    ).toEqual({
      'helicone-auth': '[REDACTED]',
      'x-service-token': '[REDACTED]',
      'x-ratelimit-remaining-tokens': '59000',
      'anthropic-ratelimit-tokens-limit': '80000',
    });
  });

  it('fetchSse: a URL with credentials that fetch refuses leaves them out of the error and its cause', async () => {
    const { error } = await collect(
      fetchSse('http://user:pa55w0rd-XYZ-123456@127.0.0.1:1/v1/chat/completions', {
        method: 'POST',
        body: '{}',
      }),
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect(inspect(error, { depth: 10 })).not.toContain('pa55w0rd');
  });

  it('keeps the cause of a refused batch URL without its credentials', async () => {
    const error = await batchCall(
      { baseURL: 'https://user:pa55w0rd-XYZ-123456@127.0.0.1:1/v1', headers: {} },
      { method: 'GET', path: '/batches' },
    ).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect(inspect(error, { depth: 10 })).not.toContain('pa55w0rd');
  });

  it('never shows a key in toString of an error built from a message containing it', () => {
    const e = new LlmError('failed with sk-live-0123456789abcdef');
    expect(String(e)).not.toContain('sk-live-0123456789abcdef');
  });
});

describe('error class names', () => {
  /** Every value exported by a public entry point (scripts/entries.json), with its export name. */
  function exportedValues(): [string, string, unknown][] {
    const root = path.resolve(__dirname, '..');
    return Object.entries(entries).flatMap(([subpath, src]) =>
      Object.entries(jest.requireActual<Record<string, unknown>>(path.join(root, src))).map(
        ([name, value]): [string, string, unknown] => [subpath, name, value],
      ),
    );
  }
  const errorClasses = exportedValues().filter(
    ([, , v]) => typeof v === 'function' && (v === Error || v.prototype instanceof Error),
  ) as [string, string, new (...args: never[]) => Error][];

  it('finds the error classes of every entry point', () => {
    const names = new Set(errorClasses.map(([, name]) => name));
    for (const name of ['LlmError', 'RateLimitError', 'TimeoutError', 'StructuredOutputError'])
      expect(names).toContain(name);
  });

  // Minifiers rename classes (`RateLimitError` -> `u`): the name errorFrame sends must be written out.
  it('every exported error class is an LlmError with its export name written out (not its class name)', () => {
    const missing = errorClasses
      .filter(([, name, Class]) => {
        const own = Object.getOwnPropertyDescriptor(Class, 'errorName')?.value;
        return !(Class === LlmError || Class.prototype instanceof LlmError) || own !== name;
      })
      .map(([subpath, name]) => `${subpath} ${name}`);
    expect(missing).toEqual([]);
  });

  it('the written-out name wins over the class name, and a subclass does not inherit it', () => {
    const Renamed = class u extends RateLimitError {};
    Object.defineProperty(RateLimitError, 'name', { value: 'u' });
    try {
      expect(new RateLimitError({ status: 429 }).name).toBe('RateLimitError');
    } finally {
      Object.defineProperty(RateLimitError, 'name', { value: 'RateLimitError' });
    }
    // A user's subclass without a name of its own is named after its class, as before.
    expect(new Renamed({ status: 429 }).name).toBe('u');
    class MyError extends LlmError {}
    expect(new MyError('x').name).toBe('MyError');
  });
});
