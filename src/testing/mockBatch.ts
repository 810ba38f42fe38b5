/**
 * The batch APIs of the mock server: the life of a batch (validating, running, ended; expired or
 * cancelled), its answers (each request answered as the chat route would, scripts and strict rules
 * included) and the faults of `MockBatchFaults`. The provider shapes are in each provider's
 * `mockBatch.ts`.
 */
import type { ServerResponse } from 'node:http';
import { anthropicMockBatch } from '../providers/anthropic/mockBatch';
import { geminiMockBatch } from '../providers/gemini/mockBatch';
import type {
  MockBatchAnswer,
  MockBatchCall,
  MockBatchEntry,
  MockBatchFaults,
  MockBatchHost,
  MockBatchReply,
  MockBatchRequest,
  MockBatchWire,
} from '../providers/mockBatchWire';
import { openAIMockBatch } from '../providers/openai/mockBatch';

export type {
  MockBatchFaults,
  MockBatchEntry,
  MockBatchAnswer,
  MockBatchRequest,
  MockBatchState,
} from '../providers/mockBatchWire';

// Anthropic first: its `/messages/batches` also ends like OpenAI's `/batches`.
const WIRES: readonly MockBatchWire[] = [anthropicMockBatch, openAIMockBatch, geminiMockBatch];

/** `server.batches`: the mock's provider batches and their faults. */
export interface MockBatches {
  /** Faults for the batches polled from now on (mutable: set fields between polls). */
  faults: MockBatchFaults;
  /** Batches created (one per accepted `POST` of a batch), to check nothing was submitted twice. */
  readonly submissions: number;
  /** Ids of the batches a client cancelled, in order. */
  readonly cancelled: readonly string[];
  /** Every batch, oldest first. */
  list(): MockBatchEntry[];
}

/** Answers one chat request of a batch as the chat route would: status and the provider's body. */
export type MockBatchAnswerer = (path: string, body: unknown) => { status: number; body: unknown };

/** The mock's batch state; `handle` answers a call on a batch route, `undefined` for other routes. */
export function createMockBatches(answer: MockBatchAnswerer): MockBatches & {
  handle(call: MockBatchCall): MockBatchReply | undefined;
  reset(): void;
} {
  let batches = new Map<string, MockBatchEntry>();
  const files = new Map<string, { purpose: string; filename: string; content: string }>();
  const polls = new Map<string, number>();
  const cancelled: string[] = [];
  let submissions = 0;
  let counter = 0;
  const state = { faults: {} as MockBatchFaults };

  const finish = (entry: MockBatchEntry, cancelledNow: boolean) => {
    const f = state.faults;
    const answers: MockBatchAnswer[] = [];
    entry.requests.forEach((request: MockBatchRequest, i) => {
      const { customId } = request;
      let a: MockBatchAnswer;
      if (cancelledNow) a = { customId, kind: 'cancelled', status: 0, body: null };
      else if (f.expire && i >= (f.expireAfter ?? 0))
        a = { customId, kind: 'expired', status: 0, body: null };
      else if (f.failIds?.includes(customId)) a = { customId, kind: 'error', status: 500, body: null };
      else {
        const r = answer(request.path, request.body);
        a = { customId, kind: r.status < 400 ? 'ok' : 'error', status: r.status, body: r.body };
      }
      if (f.dropIds?.includes(customId)) return;
      answers.push(a);
      if (f.duplicateIds?.includes(customId)) answers.push(a);
    });
    entry.answers = answers;
    entry.state = cancelledNow ? 'cancelled' : f.expire ? 'expired' : 'ended';
  };

  const host: MockBatchHost = {
    files,
    newId: (prefix) => `${prefix}${(++counter).toString().padStart(6, '0')}`,
    create(format, requests, extra = {}) {
      submissions++;
      const id =
        format === 'gemini'
          ? `batches/${++counter}`
          : host.newId(format === 'anthropic' ? 'msgbatch_mock' : 'batch_mock');
      const entry: MockBatchEntry = {
        id,
        format,
        requests,
        state: 'validating',
        answers: [],
        createdAt: Math.floor(Date.now() / 1000),
        extra,
      };
      batches.set(id, entry);
      polls.set(id, 0);
      return entry;
    },
    get: (format, id) => {
      const entry = batches.get(id);
      return entry?.format === format ? entry : undefined;
    },
    poll(entry) {
      const f = state.faults;
      if ((f.pollErrors ?? 0) > 0) {
        f.pollErrors = (f.pollErrors ?? 0) - 1;
        return false;
      }
      if (entry.state === 'cancelling') finish(entry, true);
      if (entry.state !== 'validating' && entry.state !== 'running') return true;
      const n = (polls.get(entry.id) ?? 0) + 1;
      polls.set(entry.id, n);
      const validating = f.validatingPolls ?? 0;
      if (n <= validating) entry.state = 'validating';
      else if (n <= validating + (f.runningPolls ?? 1)) entry.state = 'running';
      else finish(entry, false);
      return true;
    },
    cancel(entry) {
      cancelled.push(entry.id);
      if (entry.state === 'validating' || entry.state === 'running') entry.state = 'cancelling';
    },
  };

  return {
    get faults() {
      return state.faults;
    },
    set faults(value: MockBatchFaults) {
      state.faults = { ...value };
    },
    get submissions() {
      return submissions;
    },
    cancelled,
    list: () => [...batches.values()],
    handle(call) {
      for (const wire of WIRES) {
        const reply = wire.handle(call, host);
        const after = state.faults.pollRetryAfterMs;
        if (reply && reply.status >= 500 && after !== undefined)
          return { ...reply, headers: { ...reply.headers, 'retry-after-ms': String(after) } };
        if (reply) return reply;
      }
      return undefined;
    },
    reset() {
      batches = new Map();
      files.clear();
      polls.clear();
      cancelled.length = 0;
      submissions = 0;
      state.faults = {};
    },
  };
}

/** Sends a batch route's reply: JSON, or its text as is (JSONL results). */
export function writeBatchReply(
  res: ServerResponse,
  reply: MockBatchReply,
  baseHeaders: Record<string, string>,
): void {
  const text = reply.text ?? JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'content-type':
      reply.text === undefined ? 'application/json' : (reply.contentType ?? 'application/jsonl'),
    'content-length': Buffer.byteLength(text),
    ...baseHeaders,
    ...reply.headers,
  });
  res.end(text);
}
