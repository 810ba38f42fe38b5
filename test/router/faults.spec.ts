/**
 * The router against servers that fail the way real providers do: 404/413/HTML-200 deployments,
 * refusals inside a 200 stream in each wire format, slow-but-healthy deployments behind a caller's
 * short time limit, a rate-limit store that goes down, a group's only deployment, continuation flags
 * (Anthropic's trailing-whitespace 400, DeepSeek's prefix mode, vLLM's continue_final_message), tpm
 * limits by the request's estimate and lowest-latency re-measuring. Time is virtual where the router's
 * clock matters; real waits only order events with wide margins.
 */
import { lastValueFrom, toArray, VirtualTimeScheduler, asyncScheduler, type SchedulerLike } from 'rxjs';
import {
  ConfigurationError,
  createAgent,
  createMemoryCooldownStore,
  createMemoryRateLimitStore,
  createRouter,
  FinishReasonError,
  StoreError,
  StreamCutError,
  type CooldownStore,
  type RoutedChunk,
  type RouterAttempt,
  type RouterConfig,
} from 'rxllm';
import { accumulateChunks } from 'rxllm/operators';
import { createMockServer, type MockChatBody, type MockServer } from 'rxllm/testing';
import { mockServers } from '../helpers/mockServers';

const agent = createAgent();
const server = mockServers();
afterAll(() => agent.close());

const on = (s: MockServer, path = '') => ({
  baseURL: s.url + path,
  apiKey: 'sk-test-faults',
  dispatcher: agent,
});
const ask = (content = 'tell me') => ({ model: 'main', messages: [{ role: 'user' as const, content }] });
const text = (chunks: RoutedChunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
const collect = <T>(o: import('rxjs').Observable<T>) => lastValueFrom(o.pipe(toArray()));

/** A memory cooldown store that also records which deployments failures were counted against. */
function spyStore(): CooldownStore & { counted: string[] } {
  const inner = createMemoryCooldownStore();
  const counted: string[] = [];
  return {
    counted,
    recordFailure: (id, now, policy) => {
      counted.push(id);
      return inner.recordFailure(id, now, policy);
    },
    coolUntil: (id, until) => inner.coolUntil(id, until),
    coolingUntil: (ids, now) => inner.coolingUntil(ids, now),
  };
}

/** `main`: a bad deployment then a healthy one, tried in that order (least-busy ties: config order). */
function badThenGood(bad: MockServer, good: MockServer, extra: Partial<RouterConfig> = {}) {
  return createRouter({
    groups: {
      main: {
        strategy: 'least-busy',
        deployments: [
          { model: 'compat/bad', id: 'bad', options: on(bad) },
          { model: 'compat/good', id: 'good', options: on(good) },
        ],
      },
    },
    ...extra,
  });
}

describe('router faults: failures that are the deployment’s, worth the next one', () => {
  const CASES: [string, object][] = [
    [
      'OpenAI 404 model_not_found',
      {
        status: 404,
        errorBody: {
          error: {
            message: 'The model `gpt-9` does not exist or you do not have access to it.',
            type: 'invalid_request_error',
            param: null,
            code: 'model_not_found',
          },
        },
      },
    ],
    [
      'Azure 404 DeploymentNotFound',
      {
        status: 404,
        errorBody: {
          error: {
            code: 'DeploymentNotFound',
            message:
              'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.',
          },
        },
      },
    ],
    [
      'Groq 413 request too large for tpm',
      {
        status: 413,
        errorBody: {
          error: {
            message:
              'Request too large for model `llama-3.3-70b-versatile` in organization `org_01` service tier `on_demand` on tokens per minute (TPM): Limit 6000, Requested 8033, please reduce your message size and try again.',
            type: 'tokens',
            code: 'rate_limit_exceeded',
          },
        },
      },
    ],
    [
      'an HTML page with status 200 from a proxy',
      {
        headers: { 'content-type': 'text/html; charset=utf-8' },
        rawSse: '<!DOCTYPE html><html><body><h1>Sign in to continue</h1></body></html>',
      },
    ],
  ];

  it.each(CASES)('%s: cools that deployment and the next one answers', async (_name, script) => {
    const [bad, good] = [await server(), await server({ defaultScript: 'from the good one' })];
    bad.enqueue(script as never);
    const cooldownStore = spyStore();
    const attempts: RouterAttempt[] = [];
    const router = badThenGood(bad, good, { cooldownStore, onAttempt: (a) => attempts.push(a) });
    const chunks = await collect(router.stream(ask()));
    expect(text(chunks)).toBe('from the good one');
    expect(chunks.every((c) => c.route.deployment === 'good')).toBe(true);
    expect(attempts.map((a) => [a.deployment, a.outcome, a.kind])).toEqual([
      ['bad', 'error', 'retryable'],
      ['good', 'success', undefined],
    ]);
    expect(cooldownStore.counted).toEqual(['bad']);
  });

  it('a plain 400 is still the request’s fault: it surfaces, nothing is cooled', async () => {
    const [bad, good] = [await server(), await server({ defaultScript: 'x' })];
    bad.enqueue({ status: 400, errorBody: { error: { message: 'temperature must be <= 2' } } });
    const cooldownStore = spyStore();
    await expect(collect(badThenGood(bad, good, { cooldownStore }).stream(ask()))).rejects.toThrow(
      /temperature/,
    );
    expect(good.stats.requests).toBe(0);
    expect(cooldownStore.counted).toEqual([]);
  });
});

describe('router faults: what is not the deployment’s failure', () => {
  it('a caller’s own short time limit does not cool a slow-but-healthy deployment', async () => {
    // Answers after 3 s; the impatient caller gives up at 100 ms (undici checks the headers limit
    // on a coarse ~1 s clock, so it fires within ~1 s: well before the answer).
    const slow = await server({ defaultScript: { text: 'worth the wait', latencyMs: 3000 } });
    const cooldownStore = spyStore();
    const router = createRouter({
      groups: {
        main: {
          strategy: 'least-busy',
          deployments: [
            { model: 'compat/a', id: 'a', options: on(slow) },
            { model: 'compat/b', id: 'b', options: on(slow) },
          ],
        },
      },
      cooldown: { allowedFails: 1 },
      cooldownStore,
    });
    const error = await collect(router.stream(ask(), { timeouts: { headers: 100 } })).catch((e) => e);
    expect(error).toMatchObject({ name: 'TimeoutError', timeout: 'headers', ms: 100 });
    expect(cooldownStore.counted).toEqual([]);
    // A patient caller is served, not refused with NoDeploymentAvailableError.
    expect(text(await collect(router.stream(ask())))).toBe('worth the wait');
  });

  it('the router’s own attemptTimeouts and a deployment’s own timeouts still count against it', async () => {
    const slow = await server({ defaultScript: { text: 'late', latencyMs: 3000 } });
    const group = (a: object = {}) => ({
      main: {
        strategy: 'least-busy' as const,
        deployments: [
          { model: 'compat/a' as const, id: 'a', options: { ...on(slow), ...a } },
          { model: 'compat/b' as const, id: 'b', options: on(slow) },
        ],
      },
    });
    const byRouter = spyStore();
    const router = createRouter({
      groups: group(),
      attemptTimeouts: { firstChunk: 100 },
      cooldownStore: byRouter,
    });
    await expect(collect(router.stream(ask()))).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(byRouter.counted).toEqual(['a', 'b']);
    const byDeployment = spyStore();
    const own = createRouter({ groups: group({ timeouts: { headers: 100 } }), cooldownStore: byDeployment });
    // The caller's headers limit is overridden by the deployment's own: the failure is the deployment's.
    await expect(collect(own.stream(ask(), { timeouts: { headers: 50 } }))).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    expect(byDeployment.counted).toEqual(['a']);
  });

  it('a complete() answer cut after its 200 was billed already: it surfaces, the next deployment is not called', async () => {
    const [bad, good] = [await server(), await server()];
    bad.enqueue({ text: 'a whole answer', cutAfterChunks: 1 });
    const outcome = await collect(badThenGood(bad, good).complete(ask())).then(
      () => 'answered',
      (error: Error) => error,
    );
    expect(outcome).toBeInstanceOf(StreamCutError);
    expect((outcome as StreamCutError).retryable).toBe(false);
    expect([bad.stats.requests, good.stats.requests]).toEqual([1, 0]);
  });

  it('a rate-limit store outage (StoreError) cools nothing: the deployment is back with the store', async () => {
    let down = true;
    const memory = createMemoryRateLimitStore();
    const outage = () => Promise.reject(new StoreError('rate-limit', 'Redis rate-limit store: unreachable'));
    const flaky = {
      get: (key: string) => (down ? outage() : memory.get(key)),
      compareAndSet: (key: string, expected: any, next: any) =>
        down ? outage() : memory.compareAndSet(key, expected, next),
    };
    const cooldownStore = spyStore();
    const attempts: RouterAttempt[] = [];
    const router = createRouter({
      groups: {
        main: {
          strategy: 'least-busy',
          deployments: [
            { model: 'mock/limited', id: 'limited', rpm: 100 },
            { model: 'mock/open', id: 'open' },
          ],
        },
      },
      rateLimitStore: flaky,
      cooldownStore,
      onAttempt: (a) => attempts.push(a),
      logger: { warn: () => undefined, error: () => undefined },
    });
    const req = { ...ask(), mock_response: 'answer' };
    for (let i = 0; i < 3; i++) {
      const [r] = await collect(router.complete(req));
      expect(r.route.deployment).toBe('open');
    }
    expect(attempts.filter((a) => a.deployment === 'limited').map((a) => a.errorClass)).toEqual([
      'StoreError',
      'StoreError',
      'StoreError',
    ]);
    expect(cooldownStore.counted).toEqual([]);
    down = false;
    const [back] = await collect(router.complete(req));
    expect(back.route.deployment).toBe('limited');
  });
});

describe('router faults: a group’s only deployment', () => {
  it('is not cooled by transient 500s: the call after it recovered is served', async () => {
    const scheduler = new VirtualTimeScheduler();
    const only = await server();
    only.enqueue({ status: 500 }, { status: 500 }, { status: 500 });
    only.setDefault('recovered');
    const router = createRouter({
      groups: { main: [{ model: 'compat/only', options: on(only) }] },
      scheduler,
    });
    for (let i = 0; i < 3; i++) await expect(collect(router.stream(ask()))).rejects.toThrow(/HTTP 500/);
    // Virtual time stands still: a cooldown would still be running.
    expect(text(await collect(router.stream(ask())))).toBe('recovered');
  });

  it('still honours a 429’s Retry-After', async () => {
    const scheduler = new VirtualTimeScheduler();
    const only = await server();
    only.enqueue({ status: 429, headers: { 'retry-after': '7' } });
    only.setDefault('later');
    const router = createRouter({
      groups: { main: [{ model: 'compat/only', options: on(only) }] },
      scheduler,
    });
    await expect(collect(router.stream(ask()))).rejects.toThrow(/HTTP 429/);
    await expect(collect(router.stream(ask()))).rejects.toMatchObject({
      name: 'NoDeploymentAvailableError',
      retryAfterMs: 7000,
    });
    expect(only.stats.requests).toBe(1);
  });
});

describe('router faults: refusals inside a 200 answer', () => {
  const WIRES: [string, string, string][] = [
    ['OpenAI finish_reason content_filter', 'compat/m', ''],
    ['Anthropic stop_reason refusal', 'anthropic/claude-test', ''],
    ['Gemini finishReason SAFETY', 'gemini/gemini-test', ''],
  ];

  function refusing(model: string, s: MockServer, lenient: MockServer, extra: Partial<RouterConfig> = {}) {
    return createRouter({
      groups: {
        main: [{ model: model as never, id: 'strict', options: on(s) }],
        lenient: [{ model: 'compat/lenient', id: 'lenient', options: on(lenient) }],
      },
      contentPolicyFallbacks: { main: ['lenient'] },
      ...extra,
    });
  }

  it.each(WIRES)(
    '%s before any content: the content-policy fallback answers, invisibly',
    async (_n, model) => {
      const [s, lenient] = [await server(), await server({ defaultScript: 'allowed answer' })];
      s.enqueue({ text: '', finishReason: 'content_filter' });
      const attempts: RouterAttempt[] = [];
      const chunks = await collect(
        refusing(model, s, lenient, { onAttempt: (a) => attempts.push(a) }).stream(ask()),
      );
      expect(text(chunks)).toBe('allowed answer');
      expect(chunks.every((c) => c.route.deployment === 'lenient')).toBe(true);
      expect(attempts.map((a) => [a.deployment, a.kind, a.errorClass])).toEqual([
        ['strict', 'contentPolicy', 'FinishReasonError'],
        ['lenient', undefined, undefined],
      ]);
    },
  );

  it.each(WIRES)('%s in complete(): the content-policy fallback answers', async (_n, model) => {
    const [s, lenient] = [await server(), await server({ defaultScript: 'allowed answer' })];
    s.enqueue({ text: '', finishReason: 'content_filter' });
    const [result] = await collect(refusing(model, s, lenient).complete(ask()));
    expect(result.choices[0].message.content).toBe('allowed answer');
    expect(result.route.deployment).toBe('lenient');
  });

  it('after the first content chunk: afterFirstChunk applies (error with partial; restart)', async () => {
    const [s, lenient] = [await server(), await server({ defaultScript: 'allowed answer' })];
    s.enqueue({ text: 'I will start and then', chunkSize: 6, finishReason: 'content_filter' });
    const error = await collect(refusing('compat/m', s, lenient).stream(ask())).catch((e) => e);
    expect(error).toBeInstanceOf(FinishReasonError);
    expect(error.finishReason).toBe('content_filter');
    expect(error.partial.choices[0].message.content).toBe('I will start and then');
    expect(lenient.stats.requests).toBe(0);

    s.enqueue({ text: 'I will start and then', chunkSize: 6, finishReason: 'content_filter' });
    const merged = await lastValueFrom(
      refusing('compat/m', s, lenient, { afterFirstChunk: 'restart' }).stream(ask()).pipe(accumulateChunks()),
    );
    expect(merged.choices[0].message.content).toBe('allowed answer');
  });

  it('without a content-policy fallback the refusal reaches the caller as before', async () => {
    const s = await server();
    s.enqueue({ text: '', finishReason: 'content_filter' });
    const router = createRouter({ groups: { main: [{ model: 'compat/m', options: on(s) }] } });
    const merged = await lastValueFrom(router.stream(ask()).pipe(accumulateChunks()));
    expect(merged.choices[0].finish_reason).toBe('content_filter');
  });
});

describe("router faults: afterFirstChunk 'continue' on each provider", () => {
  const PARTIAL = 'One two ';
  const ANSWER = 'One two three four.';
  /** A server that continues a final assistant message with the rest of ANSWER (when it may). */
  async function continuing(options: Parameters<typeof createMockServer>[0]) {
    const s = await server(options);
    s.setDefault((req) => {
      // Chat-completions and Anthropic bodies: a string, or text blocks.
      const messages: any[] = (req.body as MockChatBody).messages ?? [];
      const last = messages[messages.length - 1];
      const content = last?.role === 'assistant' ? last.content : '';
      const said: string =
        typeof content === 'string' ? content : content.map((b: { text: string }) => b.text).join('');
      return said ? ANSWER.slice(said.length) : ANSWER;
    });
    return s;
  }
  async function cut() {
    const s = await server();
    s.enqueue({ text: ANSWER, chunkSize: 4, cutAfterChunks: 3 }); // role, 'One ', 'two ' then cut
    return s;
  }
  const router = (first: MockServer, model: string, next: MockServer, extra: object = {}, path = '') =>
    createRouter({
      groups: {
        main: [{ model: 'compat/first', options: on(first), continuation: 'vllm' }],
        next: [{ model: model as never, id: 'next', options: on(next, path), ...extra }],
      },
      fallbacks: { main: ['next'] },
      afterFirstChunk: 'continue',
    });

  it('Anthropic: the prefix is sent without its trailing whitespace, the consumer’s text stays exact', async () => {
    const [first, claude] = [await cut(), await continuing({})];
    const chunks = await collect(router(first, 'anthropic/claude-test', claude).stream(ask()));
    expect(text(chunks)).toBe(ANSWER);
    const sent = (claude.requests[0].body as any).messages;
    expect(sent[sent.length - 1]).toEqual({
      role: 'assistant',
      content: [{ type: 'text', text: 'One two' }],
    });
    expect(claude.requests[0].rejected).toBeUndefined();
  });

  it('DeepSeek: prefix: true on the last message, on the beta endpoint', async () => {
    const [first, deepseek] = [await cut(), await continuing({ openaiCompat: 'deepseek' })];
    // The deployment's base URL is DeepSeek's usual `.../v1`; prefix mode needs `.../beta`.
    const chunks = await collect(router(first, 'deepseek/deepseek-chat', deepseek).stream(ask()));
    expect(text(chunks)).toBe(ANSWER);
    expect(deepseek.url).toMatch(/\/v1$/);
    expect(deepseek.requests[0].path).toBe('/beta/chat/completions');
    const sent = (deepseek.requests[0].body as MockChatBody).messages;
    expect(sent[sent.length - 1]).toEqual({ role: 'assistant', content: PARTIAL, prefix: true });
  });

  it('vLLM: continue_final_message and add_generation_prompt: false', async () => {
    const [first, vllm] = [await cut(), await continuing({ openaiCompat: 'vllm' })];
    const chunks = await collect(
      router(first, 'compat/served', vllm, { continuation: 'vllm' }).stream(ask()),
    );
    expect(text(chunks)).toBe(ANSWER);
    expect(vllm.requests[0].body).toMatchObject({
      continue_final_message: true,
      add_generation_prompt: false,
    });
  });

  it('refuses a deployment that cannot continue with a ConfigurationError at creation', () => {
    const make =
      (model: string, extra: object = {}) =>
      () =>
        createRouter({
          groups: { main: [{ model: model as never, ...extra }] },
          afterFirstChunk: 'continue',
        });
    for (const model of ['openai/gpt-4o-mini', 'gemini/gemini-2.5-flash', 'compat/llama'])
      expect(make(model)).toThrow(ConfigurationError);
    expect(make('compat/llama', { continuation: 'prefill' })).not.toThrow();
    expect(make('anthropic/claude-sonnet-4-5')).not.toThrow();
    expect(make('deepseek/deepseek-chat')).not.toThrow();
    expect(make('openai/gpt-4o-mini')).toThrow(/does not: without a continuation flag/);
  });
});

describe('router faults: limits and latency', () => {
  it('tpm: a deployment without tokens left for this request goes after one that has them', () => {
    const scheduler = new VirtualTimeScheduler();
    const store = createMemoryRateLimitStore();
    // 246 of 1000 tokens left (virtual time stands still, so nothing refills).
    store.compareAndSet('deployment:limited', undefined, {
      requests: 100,
      tokens: 246,
      updatedAt: 0,
      pausedUntil: 0,
    });
    const router = createRouter({
      groups: {
        main: {
          strategy: 'least-busy',
          deployments: [
            { model: 'mock/limited', id: 'limited', tpm: 1000, rpm: 100 },
            { model: 'mock/open', id: 'open' },
          ],
        },
      },
      rateLimitStore: store,
      scheduler,
    });
    const served = (content: string) => {
      let deployment: string | undefined;
      // The mock provider answers synchronously; a call that waits for tokens gives nothing.
      router
        .complete({ ...ask(content), mock_response: 'ok' })
        .subscribe((r) => (deployment = r.route.deployment))
        .unsubscribe();
      return deployment;
    };
    expect(served('x'.repeat(3200))).toBe('open'); // ~804 tokens estimated: more than 246
    expect(served('short')).toBe('limited'); // fits: the limited one keeps its place
  });

  it('lowest-latency: a deployment measured slow once is measured again after latencyTtlMs', async () => {
    const a = await server({ defaultScript: { text: 'a', latencyMs: 400 } });
    const b = await server({ defaultScript: { text: 'b', latencyMs: 5 } });
    // Real time plus a jump the test controls: latencies are measured, the ttl is passed at once.
    let jump = 0;
    const scheduler: SchedulerLike = {
      now: () => asyncScheduler.now() + jump,
      schedule: (work: any, delay?: number, state?: any) => asyncScheduler.schedule(work, delay, state),
    };
    const router = createRouter({
      groups: {
        main: {
          strategy: 'lowest-latency',
          deployments: [
            { model: 'compat/a', id: 'a', options: on(a) },
            { model: 'compat/b', id: 'b', options: on(b) },
          ],
        },
      },
      latencyTtlMs: 60_000,
      scheduler,
    });
    const next = async () => (await collect(router.stream(ask())))[0].route.deployment;
    expect([await next(), await next(), await next(), await next()]).toEqual(['a', 'b', 'b', 'b']);
    // a recovers, b degrades; a minute later a is measured again and takes the traffic back.
    a.setDefault({ text: 'a', latencyMs: 5 });
    b.setDefault({ text: 'b', latencyMs: 400 });
    jump += 61_000;
    // Both measurements are stale: each is taken again (b, the faster before, first), then a wins.
    const after = [await next(), await next(), await next(), await next()];
    expect(after).toEqual(['b', 'a', 'a', 'a']);
  });
});
