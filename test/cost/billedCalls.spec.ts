/**
 * Every billed call is costed: a call stopped (unsubscribed) or cut after Anthropic's
 * `message_start`, an OpenAI call without `include_usage`, a call erroring after some chunks, a
 * Gemini stream cut after its `usageMetadata`. Each is reported with an estimated usage (marked
 * `estimated`) and charged by `budget`, never `usage: null` / $0. Over real HTTP on 127.0.0.1.
 */
import { lastValueFrom, take, toArray, VirtualTimeScheduler } from 'rxjs';
import { createMemoryBudgetStore, createAgent, stream, type ChatRequest, type Chunk } from 'rxllm';
import { budget, trackUsage, type UsageReport } from 'rxllm/operators';
import { createMockServer } from 'rxllm/testing';
import { ReplayServer } from '../helpers/replayServer';

const KEY = 'sk-ant-test-secret-key-0123456789';

function ev(data: { type: string; [k: string]: unknown }): string {
  return `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
}
const start = (usage: object) =>
  ev({
    type: 'message_start',
    message: {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [],
      usage,
    },
  });
const textStart = ev({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
const text = (t: string) =>
  ev({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: t } });
const delta = (usage: object) =>
  ev({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage });
const end = ev({ type: 'message_stop' });

/** Reports of one call, collected until the call's report came. */
function reporter() {
  const reports: UsageReport[] = [];
  return { reports, onUsage: (r: UsageReport) => reports.push(r) };
}

describe('every billed call is costed', () => {
  const server = new ReplayServer();
  beforeAll(() => server.start());
  afterAll(() => server.close());
  beforeEach(() => server.reset());

  const SONNET: ChatRequest = {
    model: 'anthropic/claude-sonnet-4-5',
    messages: [{ role: 'user', content: 'Summarize the attached report.' }],
    max_tokens: 1000,
  };
  const opts = () => ({ baseURL: server.url, apiKey: KEY });

  it('a call stopped after message_start is charged the prompt Anthropic reported plus the output received', async () => {
    // 2000 input tokens reported at message_start; the user presses Stop after two text deltas.
    const body =
      start({ input_tokens: 2000, output_tokens: 1 }) +
      textStart +
      text('Hello there, ') +
      text('this is the answer');
    server.enqueueResponse({ pieces: [Buffer.from(body)], hang: true });
    const { reports, onUsage } = reporter();
    const store = createMemoryBudgetStore();
    const values = await lastValueFrom(
      stream(SONNET, opts()).pipe(
        trackUsage({ onUsage, request: SONNET }),
        budget({ maxCost: 1, store, request: SONNET, scheduler: new VirtualTimeScheduler() }),
        take(3),
        toArray(),
      ),
    );
    expect(values).toHaveLength(3);
    expect(reports).toHaveLength(1);
    const [r] = reports;
    expect(r).toMatchObject({
      ending: 'unsubscribed',
      estimated: true,
      model: 'anthropic/claude-sonnet-4-5',
    });
    // Prompt as reported; output: 'Hello there, this is the answer' = 31 characters -> 8 tokens.
    expect(r.usage).toMatchObject({ prompt_tokens: 2000, completion_tokens: 8, total_tokens: 2008 });
    expect(r.cost?.total).toBeCloseTo((2000 * 3 + 8 * 15) / 1e6, 12);
    // The budget charged the same estimate, not $0 (its reservation settled to it).
    expect(store.spent('default', 0)).toBeCloseTo((2000 * 3 + 8 * 15) / 1e6, 12);
  });

  it('a stream cut before message_stop is charged the same way, and its error still arrives', async () => {
    server.enqueue(
      start({ input_tokens: 500, cache_read_input_tokens: 1000, output_tokens: 1 }) +
        textStart +
        text('abcd'.repeat(10)),
    );
    const { reports, onUsage } = reporter();
    await expect(lastValueFrom(stream(SONNET, opts()).pipe(trackUsage({ onUsage })))).rejects.toThrow(
      /message_stop/,
    );
    // No request given: the prompt reported at message_start is enough.
    expect(reports[0]).toMatchObject({
      ending: 'failed',
      estimated: true,
      usage: { prompt_tokens: 1500, completion_tokens: 10, prompt_tokens_details: { cached_tokens: 1000 } },
    });
    expect(reports[0].cost?.total).toBeCloseTo((500 * 3 + 1000 * 0.3 + 10 * 15) / 1e6, 12);
  });

  it('carries the message_start usage as partial_usage on the first chunk only when usage is asked for', async () => {
    const body =
      start({ input_tokens: 2000, output_tokens: 1 }) +
      textStart +
      text('Hi') +
      delta({ output_tokens: 3 }) +
      end;
    server.enqueue(body);
    const on = await lastValueFrom(stream(SONNET, opts()).pipe(toArray()));
    expect(on[0].partial_usage).toEqual({ prompt_tokens: 2000, completion_tokens: 1, total_tokens: 2001 });
    expect(on.slice(1).some((c) => c.partial_usage)).toBe(false);
    server.enqueue(body);
    const off = await lastValueFrom(stream(SONNET, { ...opts(), includeUsage: false }).pipe(toArray()));
    expect(off.some((c) => c.partial_usage || c.usage)).toBe(false);
  });

  it('a completed Anthropic call is costed from its final usage, not estimated', async () => {
    server.enqueue(
      start({ input_tokens: 2000, output_tokens: 1 }) +
        textStart +
        text('Hi') +
        delta({ output_tokens: 300 }) +
        end,
    );
    const { reports, onUsage } = reporter();
    await lastValueFrom(stream(SONNET, opts()).pipe(trackUsage({ onUsage, request: SONNET }), toArray()));
    expect(reports[0]).toMatchObject({
      ending: 'completed',
      estimated: false,
      usage: { prompt_tokens: 2000, completion_tokens: 300 },
    });
  });

  it.each([
    // A realistic cached call: a 10k-token system prompt written to the cache, a 50-token question,
    // 500 tokens out. List price: 50 x $3 + 10,000 x $3.75 (5-minute write) + 500 x $15 per million.
    ['5-minute', { ephemeral_5m_input_tokens: 10_000, ephemeral_1h_input_tokens: 0 }, 0.04515],
    // 1-hour writes cost 2 x input: 50 x $3 + 10,000 x $6 + 500 x $15.
    ['1-hour', { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 10_000 }, 0.06765],
  ])('prices Anthropic %s cache writes at their list rate', async (_ttl, split, total) => {
    const usage = {
      input_tokens: 50,
      cache_creation_input_tokens: 10_000,
      cache_read_input_tokens: 0,
      cache_creation: split,
      output_tokens: 1,
    };
    server.enqueue(start(usage) + textStart + text('Hi') + delta({ output_tokens: 500 }) + end);
    const { reports, onUsage } = reporter();
    await lastValueFrom(stream(SONNET, opts()).pipe(trackUsage({ onUsage, request: SONNET }), toArray()));
    expect(reports[0].estimated).toBe(false);
    expect(reports[0].cost?.cacheWrite).toBeCloseTo(total - 0.00765, 12);
    expect(reports[0].cost?.total).toBeCloseTo(total, 12);
  });

  it('a Gemini stream cut after usageMetadata is charged the prompt Gemini reported and the output received', async () => {
    const gemini = new ReplayServer('/v1beta');
    await gemini.start();
    try {
      const request: ChatRequest = {
        model: 'gemini/gemini-2.5-flash',
        messages: [{ role: 'user', content: 'x'.repeat(400) }],
      };
      const part = {
        candidates: [{ content: { role: 'model', parts: [{ text: 'y'.repeat(40) }] } }],
        usageMetadata: { promptTokenCount: 100, candidatesTokenCount: 10, totalTokenCount: 110 },
      };
      gemini.enqueue(`data: ${JSON.stringify(part)}\r\n\r\n`);
      const { reports, onUsage } = reporter();
      await lastValueFrom(
        stream(request, { baseURL: gemini.url, apiKey: 'gem-test' }).pipe(trackUsage({ onUsage, request })),
      ).catch(() => undefined);
      expect(reports[0]).toMatchObject({ ending: 'failed', estimated: true });
      // The prompt as usageMetadata reported it mid-stream (the request's estimate would be 104);
      // 40 characters received = 10 output tokens.
      expect(reports[0].usage).toMatchObject({ prompt_tokens: 100, completion_tokens: 10 });
      expect(reports[0].cost?.total).toBeGreaterThan(0);
    } finally {
      await gemini.close();
    }
  });

  describe('OpenAI wire (mock server)', () => {
    it('a call without include_usage, and one erroring after some chunks, are estimated from the request', async () => {
      const server = await createMockServer();
      const agent = createAgent();
      try {
        const request: ChatRequest = {
          model: 'openai/gpt-4o-mini',
          messages: [{ role: 'user', content: 'z'.repeat(4000) }],
        };
        const options = { baseURL: server.url, apiKey: 'sk-test', dispatcher: agent };
        const { reports, onUsage } = reporter();
        server.enqueue({ text: 'a'.repeat(80) });
        await lastValueFrom(
          stream(request, { ...options, includeUsage: false }).pipe(
            trackUsage({ onUsage, request }),
            toArray(),
          ),
        );
        server.enqueue({ text: 'b'.repeat(80), chunkSize: 8, cutAfterChunks: 4 });
        await lastValueFrom(stream(request, options).pipe(trackUsage({ onUsage, request }), toArray())).catch(
          () => undefined,
        );
        expect(reports.map((r) => [r.ending, r.estimated])).toEqual([
          ['completed', true],
          ['failed', true],
        ]);
        // 4000 characters + 4 = 1004 prompt tokens; 80 characters = 20 output tokens.
        expect(reports[0].usage).toMatchObject({ prompt_tokens: 1004, completion_tokens: 20 });
        expect(reports[0].cost?.total).toBeCloseTo((1004 * 0.15 + 20 * 0.6) / 1e6, 12);
        expect(reports[1].usage?.prompt_tokens).toBe(1004);
        expect(reports[1].usage?.completion_tokens).toBeGreaterThan(0);
      } finally {
        await agent.close();
        await server.close();
      }
    });
  });

  it('a call that received nothing (an HTTP error) is not billed: usage null, nothing charged', async () => {
    server.enqueueResponse({
      status: 400,
      headers: { 'content-type': 'application/json' },
      pieces: [
        Buffer.from(
          JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'no' } }),
        ),
      ],
    });
    const { reports, onUsage } = reporter();
    const store = createMemoryBudgetStore();
    await lastValueFrom(
      stream(SONNET, opts()).pipe(
        trackUsage<Chunk>({ onUsage, request: SONNET }),
        budget({ maxCost: 1, store, request: SONNET, scheduler: new VirtualTimeScheduler() }),
      ),
    ).catch(() => undefined);
    expect(reports[0]).toMatchObject({ ending: 'failed', usage: null, estimated: false, cost: null });
    // The reservation made when it started was given back.
    expect(store.spent('default', 0)).toBeCloseTo(0, 12);
  });
});
