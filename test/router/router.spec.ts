/**
 * The router over real HTTP: two mock servers, one failing (500, 429 + Retry-After, a cut after k
 * chunks), one healthy. Fallback before the first chunk is invisible; after it each mode does what it
 * says and the merged text is never duplicated; cooldowns skip then readmit; strategies spread load.
 */
import { lastValueFrom, take, toArray } from 'rxjs';
import {
  ConfigurationError,
  createAgent,
  createRouter,
  NoDeploymentAvailableError,
  ROUTER_DEFAULTS,
  ServerError,
  type RoutedChunk,
  type RouterAttempt,
  type RouterConfig,
  type ModelName,
} from 'rxllm';
import { accumulateChunks } from 'rxllm/operators';
import { createMockServer, type MockChatBody, type MockServer } from 'rxllm/testing';
import { VirtualTimeScheduler } from 'rxjs';

let failing: MockServer;
let healthy: MockServer;
const agent = createAgent();

beforeAll(async () => {
  failing = await createMockServer();
  healthy = await createMockServer();
});
afterEach(() => {
  failing.reset();
  healthy.reset();
});
afterAll(async () => {
  await agent.close();
  await failing.close();
  await healthy.close();
});

const ANSWER = 'The quick brown fox jumps over the lazy dog.';
const on = (server: MockServer) => ({ baseURL: server.url, apiKey: 'sk-test-router', dispatcher: agent });
const ask = { model: 'main', messages: [{ role: 'user' as const, content: 'tell me' }] };

function twoServers(extra: Partial<RouterConfig> = {}, attempts: RouterAttempt[] = []) {
  return createRouter({
    groups: {
      main: [{ model: 'compat/primary', options: on(failing) }],
      backup: [{ model: 'compat/fallback', options: on(healthy) }],
    },
    fallbacks: { main: ['backup'] },
    onAttempt: (a) => attempts.push(a),
    ...extra,
  });
}

const text = (chunks: RoutedChunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
const collect = <T>(o: import('rxjs').Observable<T>) => lastValueFrom(o.pipe(toArray()));

describe('createRouter', () => {
  it('documents its defaults', () => {
    expect(ROUTER_DEFAULTS).toEqual({
      strategy: 'shuffle',
      afterFirstChunk: 'error',
      cooldown: { allowedFails: 3, windowMs: 60_000, cooldownMs: 5_000 },
      maxRetryAfterMs: 600_000,
      latencyAlpha: 0.3,
      latencyTtlMs: 60_000,
    });
  });

  it('rejects bad config at creation with a TypeError', () => {
    expect(() => createRouter({ groups: {} as never, strategy: 'round-robin' as never })).toThrow(TypeError);
    expect(() => createRouter({ groups: { a: [] } })).toThrow(/at least one deployment/);
    expect(() => createRouter({ groups: { a: [{ model: 'nope' as ModelName }] } })).toThrow(
      /provider\/model/,
    );
    expect(() => createRouter({ groups: { a: [{ model: 'mock/x' }] }, fallbacks: { a: ['b'] } })).toThrow(
      /unknown group "b"/,
    );
    expect(() =>
      createRouter({ groups: { a: [{ model: 'mock/x' }] }, afterFirstChunk: 'resume' as never }),
    ).toThrow(TypeError);
  });

  it('stops a synchronous deployment as soon as the subscriber takes what it needs', async () => {
    const attempts: RouterAttempt[] = [];
    const router = createRouter({
      groups: { sync: [{ model: 'mock/sync' }] },
      onAttempt: (a) => attempts.push(a),
    });
    // The mock provider with no delay emits every chunk synchronously, inside subscribe().
    const first = await lastValueFrom(
      router
        .stream({
          model: 'sync',
          messages: [{ role: 'user', content: 'hi' }],
          mock_response: 'one two three four five',
        })
        .pipe(take(1), toArray()),
    );
    expect(first).toHaveLength(1);
    expect(attempts).toHaveLength(1);
    expect(attempts[0].chunks).toBe(1);
    expect(attempts[0].outcome).toBe('cancelled');
  });

  it('switches before the first chunk invisibly: a 500 then the healthy fallback', async () => {
    failing.enqueue({ status: 500 });
    healthy.enqueue(ANSWER);
    const attempts: RouterAttempt[] = [];
    const chunks = await collect(twoServers({}, attempts).stream(ask));
    expect(text(chunks)).toBe(ANSWER);
    expect(chunks.every((c) => c.reset === undefined)).toBe(true);
    expect(chunks.every((c) => c.route.deployment === 'compat/fallback' && c.route.attempt === 2)).toBe(true);
    expect(attempts.map((a) => [a.deployment, a.outcome, a.errorClass])).toEqual([
      ['compat/primary', 'error', 'ServerError'],
      ['compat/fallback', 'success', undefined],
    ]);
    expect(attempts[0].kind).toBe('retryable');
    expect(failing.stats.requests).toBe(1);
  });

  it('falls back on a 429 and cools the deployment for its Retry-After', async () => {
    failing.enqueue({ status: 429, headers: { 'retry-after': '30' } });
    healthy.setDefault(ANSWER);
    const router = twoServers();
    expect(text(await collect(router.stream(ask)))).toBe(ANSWER);
    // The primary is now cooling: the next call goes straight to the fallback.
    const second = await collect(router.stream(ask));
    expect(second[0].route).toEqual({
      group: 'backup',
      deployment: 'compat/fallback',
      model: 'compat/fallback',
      attempt: 1,
    });
    expect(failing.stats.requests).toBe(1);
  });

  it('after the first chunk, by default fails with the error and the partial answer, never switching', async () => {
    failing.enqueue({ text: ANSWER, chunkSize: 4, cutAfterChunks: 4 });
    healthy.setDefault(ANSWER);
    const seen: RoutedChunk[] = [];
    const error = await new Promise<any>((resolve) =>
      twoServers()
        .stream(ask)
        .subscribe({ next: (c) => seen.push(c), error: resolve }),
    );
    expect(error.retryable).toBe(true);
    expect(error.partial.choices[0].message.content).toBe(text(seen));
    expect(text(seen)).toBe(ANSWER.slice(0, text(seen).length));
    expect(text(seen).length).toBeGreaterThan(0);
    expect(healthy.stats.requests).toBe(0);
  });

  it("'restart' emits a reset chunk then the whole answer from the fallback: merged text is not duplicated", async () => {
    failing.enqueue({ text: ANSWER, chunkSize: 4, cutAfterChunks: 4 });
    healthy.setDefault(ANSWER);
    const chunks = await collect(twoServers({ afterFirstChunk: 'restart' }).stream(ask));
    const resetAt = chunks.findIndex((c) => c.reset !== undefined);
    expect(resetAt).toBeGreaterThan(0);
    expect(chunks[resetAt].reset).toEqual({ attempt: 1, reason: expect.any(String) });
    expect(text(chunks.slice(resetAt + 1))).toBe(ANSWER);
    failing.enqueue({ text: ANSWER, chunkSize: 4, cutAfterChunks: 4 });
    const merged = await lastValueFrom(
      twoServers({ afterFirstChunk: 'restart' }).stream(ask).pipe(accumulateChunks()),
    );
    expect(merged.choices[0].message.content).toBe(ANSWER);
  });

  it("'continue' sends the partial answer as an assistant prefix and streams only the rest", async () => {
    failing.enqueue({ text: ANSWER, chunkSize: 4, cutAfterChunks: 4 });
    // A strict vLLM imitation: without continue_final_message it would restate the prefix.
    const vllm = await createMockServer({ openaiCompat: 'vllm' });
    try {
      vllm.setDefault((req) => {
        const last = (req.body as MockChatBody).messages[(req.body as MockChatBody).messages.length - 1];
        return last.role === 'assistant' ? ANSWER.slice(String(last.content).length) : ANSWER;
      });
      const router = createRouter({
        groups: {
          main: [{ model: 'compat/primary', options: on(failing), continuation: 'vllm' }],
          backup: [{ model: 'compat/fallback', options: on(vllm), continuation: 'vllm' }],
        },
        fallbacks: { main: ['backup'] },
        afterFirstChunk: 'continue',
      });
      const chunks = await collect(router.stream(ask));
      expect(text(chunks)).toBe(ANSWER);
      expect(chunks.some((c) => c.reset !== undefined)).toBe(false);
      const body = vllm.requests[0].body as MockChatBody & Record<string, unknown>;
      expect(body).toMatchObject({ continue_final_message: true, add_generation_prompt: false });
      const sent = body.messages;
      expect(sent[sent.length - 1]).toEqual({ role: 'assistant', content: expect.any(String) });
      const prefix = sent[sent.length - 1].content as string;
      expect(prefix.length).toBeGreaterThan(0);
      expect(ANSWER.startsWith(prefix)).toBe(true);
      const byDeployment = new Set(chunks.map((c) => c.route.deployment));
      expect(byDeployment).toEqual(new Set(['compat/primary', 'compat/fallback']));
    } finally {
      await vllm.close();
    }
  });

  it('routes context-window errors to contextWindowFallbacks only, not to the general list', async () => {
    failing.enqueue({
      status: 400,
      errorBody: {
        error: {
          message: "This model's maximum context length is 8192 tokens.",
          code: 'context_length_exceeded',
        },
      },
    });
    const big = await createMockServer({ defaultScript: 'from the big one' });
    try {
      const router = createRouter({
        groups: {
          main: [{ model: 'compat/primary', options: on(failing) }],
          backup: [{ model: 'compat/fallback', options: on(healthy) }],
          long: [{ model: 'compat/long', options: on(big) }],
        },
        fallbacks: { main: ['backup'] },
        contextWindowFallbacks: { main: ['long'] },
      });
      expect(text(await collect(router.stream(ask)))).toBe('from the big one');
      expect(healthy.stats.requests).toBe(0);
      // A plain bad request has no fallback: it surfaces.
      failing.enqueue({ status: 400, errorBody: { error: { message: 'temperature must be <= 2' } } });
      await expect(collect(router.stream(ask))).rejects.toThrow(/temperature/);
      expect(healthy.stats.requests + big.stats.requests).toBe(1);
    } finally {
      await big.close();
    }
  });

  it('routes content-policy refusals to contentPolicyFallbacks', async () => {
    failing.enqueue({
      status: 400,
      errorBody: {
        error: { message: 'Request rejected by the content filter', code: 'content_policy_violation' },
      },
    });
    healthy.setDefault('allowed answer');
    const router = createRouter({
      groups: {
        main: [{ model: 'compat/primary', options: on(failing) }],
        lenient: [{ model: 'compat/lenient', options: on(healthy) }],
      },
      contentPolicyFallbacks: { main: ['lenient'] },
    });
    const chunks = await collect(router.stream(ask));
    expect(text(chunks)).toBe('allowed answer');
    expect(chunks[0].route.group).toBe('lenient');
  });

  it('cools a deployment after allowedFails failures, skips it, then readmits it', async () => {
    const scheduler = new VirtualTimeScheduler();
    const router = createRouter({
      groups: {
        main: [{ model: 'compat/primary', options: on(failing) }],
        backup: [{ model: 'compat/fallback', options: on(healthy) }],
      },
      fallbacks: { main: ['backup'] },
      cooldown: { allowedFails: 2, windowMs: 60_000, cooldownMs: 10_000 },
      scheduler,
    });
    failing.setDefault({ status: 503 });
    healthy.setDefault(ANSWER);
    await collect(router.stream(ask));
    await collect(router.stream(ask));
    expect(failing.stats.requests).toBe(2);
    // Cooling now: skipped.
    await collect(router.stream(ask));
    expect(failing.stats.requests).toBe(2);
    // After cooldownMs it is tried again.
    scheduler.schedule(() => undefined, 10_001);
    scheduler.flush();
    failing.setDefault(ANSWER);
    const chunks = await collect(router.stream(ask));
    expect(failing.stats.requests).toBe(3);
    expect(chunks[0].route.deployment).toBe('compat/primary');
  });

  it('fails with NoDeploymentAvailableError saying when the first deployment is back', async () => {
    const scheduler = new VirtualTimeScheduler();
    failing.setDefault({ status: 429, headers: { 'retry-after': '20' } });
    const router = createRouter({
      groups: { main: [{ model: 'compat/primary', options: on(failing) }] },
      scheduler,
    });
    await expect(collect(router.stream(ask))).rejects.toThrow(/HTTP 429/);
    const error = await collect(router.stream(ask)).catch((e) => e);
    expect(error).toBeInstanceOf(NoDeploymentAvailableError);
    expect(error.retryable).toBe(true);
    expect(error.retryAfterMs).toBe(20_000);
    expect(error.availableAt).toBe(20_000);
    expect(error.message).toMatch(/back in 20000 ms/);
    expect(failing.stats.requests).toBe(1);
  });

  it('surfaces the last error when every deployment failed', async () => {
    failing.enqueue({ status: 500 });
    healthy.enqueue({ status: 502 });
    const error = await collect(twoServers().stream(ask)).catch((e) => e);
    expect(error).toBeInstanceOf(ServerError);
    expect(error.status).toBe(502);
  });

  it('complete() falls back too and its result says which deployment served it', async () => {
    failing.enqueue({ status: 500 });
    healthy.enqueue(ANSWER);
    const [result] = await collect(twoServers().complete(ask));
    expect(result.choices[0].message.content).toBe(ANSWER);
    expect(result.route).toEqual({
      group: 'backup',
      deployment: 'compat/fallback',
      model: 'compat/fallback',
      attempt: 2,
    });
  });

  it('sends a provider/model that is not a group as is, and names unknown groups', async () => {
    const router = twoServers();
    const [result] = await collect(router.complete({ ...ask, model: 'compat/direct' }, on(healthy)));
    expect(result.route.deployment).toBe('compat/direct');
    await expect(collect(router.stream({ ...ask, model: 'nosuch' }))).rejects.toThrow(ConfigurationError);
  });

  it('logs a throwing onAttempt and a failing cooldown store, and still answers', async () => {
    const warnings: string[] = [];
    failing.enqueue({ status: 500 });
    healthy.enqueue(ANSWER);
    const router = createRouter({
      groups: {
        main: [{ model: 'compat/primary', options: on(failing) }],
        backup: [{ model: 'compat/fallback', options: on(healthy) }],
      },
      fallbacks: { main: ['backup'] },
      cooldownStore: {
        recordFailure: () => Promise.reject(new Error('store down')),
        coolUntil: () => undefined,
        coolingUntil: () => Promise.reject(new Error('store down')),
      },
      onAttempt: () => {
        throw new Error('metrics sink down');
      },
      logger: { warn: (m) => warnings.push(m), error: (m) => warnings.push(m) },
    });
    expect(text(await collect(router.stream(ask)))).toBe(ANSWER);
    await new Promise((r) => setImmediate(r));
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/reading cooldowns failed, ignoring them: Error: store down/),
        expect.stringMatching(/onAttempt failed: Error: metrics sink down/),
        expect.stringMatching(/cooldown failed: Error: store down/),
      ]),
    );
  });

  it('attemptTimeouts gives each attempt its own limits, so a stalled deployment falls back', async () => {
    failing.enqueue({ stall: 'before-headers' });
    healthy.enqueue(ANSWER);
    const attempts: RouterAttempt[] = [];
    // The healthy attempt must beat the limit too: 1 s leaves room for a busy machine.
    const chunks = await collect(twoServers({ attemptTimeouts: { firstChunk: 1000 } }, attempts).stream(ask));
    expect(text(chunks)).toBe(ANSWER);
    expect(attempts.map((a) => [a.deployment, a.errorClass ?? null])).toEqual([
      ['compat/primary', 'TimeoutError'],
      ['compat/fallback', null],
    ]);
    await failing.waitForRequestClose(1); // the stalled request was aborted
  });

  it('aborts the request in flight and reports a cancelled attempt when unsubscribed', async () => {
    // 200 ms between chunks (9 s in all): the abort reaches the server long before the answer ends.
    failing.enqueue({ text: ANSWER, chunkSize: 1, chunkDelayMs: 200 });
    const attempts: RouterAttempt[] = [];
    const router = twoServers({}, attempts);
    await new Promise<void>((resolve) => {
      const sub = router.stream(ask).subscribe(() => {
        sub.unsubscribe();
        resolve();
      });
    });
    await failing.waitForRequestClose(1);
    expect(failing.stats.abortedRequests).toBe(1);
    expect(attempts.map((a) => a.outcome)).toEqual(['cancelled']);
    expect(router.deployments().every((d) => d.inFlight === 0)).toBe(true);
  });
});
