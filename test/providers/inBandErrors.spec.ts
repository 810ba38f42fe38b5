/**
 * Error objects of every wire format, in both their shapes (fields at the top, or nested one level
 * down in `error`), and quota exhaustion wherever it can arrive: an HTTP 429 body, an in-band event.
 * Each reply comes from a raw server on 127.0.0.1; the message and code the provider sent must
 * survive, and a quota error must never be retried.
 */
import {
  ApiError,
  BadRequestError,
  QuotaExceededError,
  RateLimitError,
  ServerError,
  errorFrame,
  errorFromFrame,
  stream,
  type ChatRequest,
} from '../../src';
import { retryBackoff } from '../../operators/retryBackoff';
import { collect } from '../helpers/collect';
import { ReplayServer } from '../helpers/replayServer';

const server = new ReplayServer();
beforeAll(() => server.start());
afterAll(() => server.close());
beforeEach(() => server.reset());

const KEY = 'sk-test-inband-0123456789abcdef';
const opts = () => ({ baseURL: server.url, apiKey: KEY });
const messages: ChatRequest['messages'] = [{ role: 'user', content: 'hi' }];
const QUOTA = 'You exceeded your current quota, please check your plan and billing details.';
const json = (status: number, body: unknown) =>
  server.enqueueResponse({
    status,
    headers: { 'content-type': 'application/json' },
    pieces: [Buffer.from(JSON.stringify(body))],
  });
const sse = (...events: unknown[]) =>
  server.enqueue(events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join(''));

describe('HTTP 429 bodies', () => {
  it.each([
    ['insufficient_quota', 'insufficient_quota', 'insufficient_quota'],
    ['insufficient_quota', 'project_spend_limit_exceeded', 'project_spend_limit_exceeded'],
    ['insufficient_quota', null, 'insufficient_quota'],
  ])(
    'type %s with code %s is a QuotaExceededError that retryBackoff does not retry',
    async (type, code, expectedCode) => {
      json(429, { error: { message: QUOTA, type, param: null, code } });
      json(200, {});
      const { error } = await collect(
        stream({ model: 'openai/gpt-test', messages }, opts()).pipe(
          retryBackoff({ maxRetries: 3, initialDelayMs: 1 }),
        ),
      );
      expect(server.requests).toHaveLength(1);
      expect(error).toBeInstanceOf(QuotaExceededError);
      expect(error).toBeInstanceOf(RateLimitError);
      expect(error).toMatchObject({ status: 429, retryable: false, code: expectedCode });
      expect((error as Error).message).toBe(
        `HTTP 429: ${QUOTA} The quota or spend limit is used up: retrying will not help; check the plan and billing.`,
      );
    },
  );

  it('keeps a quota error non-retryable even when the server sends x-should-retry: true', async () => {
    server.enqueueResponse({
      status: 429,
      headers: { 'content-type': 'application/json', 'x-should-retry': 'true' },
      pieces: [Buffer.from(JSON.stringify({ error: { message: QUOTA, type: 'insufficient_quota' } }))],
    });
    const { error } = await collect(stream({ model: 'openai/gpt-test', messages }, opts()));
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect((error as ApiError).retryable).toBe(false);
  });

  it("reads Anthropic's spend-limit code in error.details.error_code", async () => {
    json(429, {
      type: 'error',
      error: {
        type: 'rate_limit_error',
        message: 'Spend limit reached',
        details: { error_code: 'enforced_spend_limit_reached' },
      },
    });
    const { error } = await collect(stream({ model: 'anthropic/claude-test', messages }, opts()));
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect(error).toMatchObject({ status: 429, retryable: false, code: 'rate_limit_error' });
  });

  it('leaves a plain rate limit a retryable RateLimitError (and retryBackoff retries it)', async () => {
    json(429, { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } });
    json(429, { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } });
    const { error } = await collect(
      stream({ model: 'openai/gpt-test', messages }, opts()).pipe(
        retryBackoff({ maxRetries: 1, initialDelayMs: 1 }),
      ),
    );
    expect(server.requests).toHaveLength(2);
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).not.toBeInstanceOf(QuotaExceededError);
    expect((error as ApiError).retryable).toBe(true);
  });
});

describe('in-band error objects', () => {
  it('OpenAI chat: {"error": {...}} with a quota type and a spend-limit code', async () => {
    sse({ error: { message: QUOTA, type: 'insufficient_quota', code: 'organization_spend_limit_exceeded' } });
    const { error } = await collect(stream({ model: 'openai/gpt-test', messages }, opts()));
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect(error).toMatchObject({ status: 429, retryable: false, code: 'insufficient_quota' });
    expect((error as Error).message).toContain(QUOTA);
  });

  it('OpenAI chat: an error object nested twice ({"error": {"type": "error", "error": {...}}}) is read', async () => {
    sse({ error: { type: 'error', error: { type: 'server_error', message: 'Upstream broke' } } });
    const { error } = await collect(stream({ model: 'openai/gpt-test', messages }, opts()));
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 500, code: 'server_error' });
    expect((error as Error).message).toContain('Upstream broke');
  });

  const anthropicError = (error: object) =>
    server.enqueue(`event: error\ndata: ${JSON.stringify({ type: 'error', error })}\n\n`);

  it.each([
    ['billing_error', 402, ApiError, false],
    ['timeout_error', 504, ServerError, true],
    ['request_too_large', 413, BadRequestError, false],
    ['rate_limit_error', 429, RateLimitError, true],
  ] as const)('Anthropic: an in-band %s is a %i with its message', async (type, status, Class, retryable) => {
    anthropicError({ type, message: `said ${type}` });
    const { error } = await collect(stream({ model: 'anthropic/claude-test', messages }, opts()));
    expect(error).toBeInstanceOf(Class);
    expect((error as Error).constructor).toBe(Class);
    expect(error).toMatchObject({ status, retryable, code: type });
    expect((error as Error).message).toContain(`said ${type}`);
  });

  it('Ollama: {"error": "..."} keeps the text', async () => {
    server.enqueueResponse({
      headers: { 'content-type': 'application/x-ndjson' },
      pieces: [Buffer.from(JSON.stringify({ error: 'model runner has unexpectedly stopped' }) + '\n')],
    });
    const { error } = await collect(
      stream({ model: 'ollama/llama-test', messages }, { baseURL: server.url }),
    );
    expect(error).toBeInstanceOf(ServerError);
    expect((error as Error).message).toContain('model runner has unexpectedly stopped');
  });

  it('Gemini: RESOURCE_EXHAUSTED stays a retryable RateLimitError (it also means per-minute quotas)', async () => {
    sse({
      error: {
        code: 429,
        message: 'Resource has been exhausted (e.g. check quota).',
        status: 'RESOURCE_EXHAUSTED',
      },
    });
    const { error } = await collect(stream({ model: 'gemini/gemini-test', messages }, opts()));
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).not.toBeInstanceOf(QuotaExceededError);
    expect(error).toMatchObject({ status: 429, retryable: true, code: 'RESOURCE_EXHAUSTED' });
  });
});

describe('QuotaExceededError through an rxllm server', () => {
  it('keeps its class and retryable: false across an error frame', () => {
    const original = ApiError.fromResponse({
      status: 429,
      body: { error: { message: QUOTA, type: 'insufficient_quota' } },
      code: 'insufficient_quota',
    });
    const rebuilt = errorFromFrame(errorFrame(original));
    expect(rebuilt).toBeInstanceOf(QuotaExceededError);
    expect(rebuilt).toMatchObject({ status: 429, retryable: false, code: 'insufficient_quota' });
    expect(rebuilt.message).toBe(original.message);
  });
});
