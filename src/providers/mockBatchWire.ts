/**
 * How the mock server speaks one provider's batch API (files, batches, status, results, cancel).
 * Each provider folder maps its own shapes (`src/providers/<name>/mockBatch.ts`); the life of a
 * batch (validating, running, ended, faults) is shared, in `src/testing/mockBatch.ts`. Sits below
 * both, like `mockWire.ts`.
 */

/** Faults the mock's batches play. Set them on `server.batches.faults`; they apply to batches polled after. */
export interface MockBatchFaults {
  /** Polls answered "validating" (OpenAI) / pending before the batch runs: a slow validation. @defaultValue 0 */
  validatingPolls?: number;
  /** Polls answered "in progress" before it ends. @defaultValue 1 */
  runningPolls?: number;
  /** Requests answered with a 500 error in the output: a partial failure. */
  failIds?: readonly string[];
  /** Requests the output leaves out (a provider output missing an id). */
  dropIds?: readonly string[];
  /** Requests the output answers twice. */
  duplicateIds?: readonly string[];
  /** The batch ends expired: the first `expireAfter` requests were answered, the rest expired. */
  expire?: boolean;
  /** @defaultValue 0 */
  expireAfter?: number;
  /** The next this-many status polls are answered 500 (then the count goes down). @defaultValue 0 */
  pollErrors?: number;
  /** Those 500s carry `retry-after-ms` with this value. @defaultValue none */
  pollRetryAfterMs?: number;
}

/** One request of a mock batch: its id and the chat request the provider would run. */
export interface MockBatchRequest {
  customId: string;
  /** The chat route that answers it (`/v1/chat/completions`, `/v1/messages`, `/v1/models/m:generateContent`). */
  path: string;
  body: unknown;
}

/** What the batch wrote for one request. */
export interface MockBatchAnswer {
  customId: string;
  kind: 'ok' | 'error' | 'expired' | 'cancelled';
  /** HTTP status of the answer (200 for `ok`). */
  status: number;
  /** The provider's chat answer (`ok`) or error body. */
  body: unknown;
}

export type MockBatchState =
  | 'validating'
  | 'running'
  | 'ended'
  | 'expired'
  | 'cancelling'
  | 'cancelled'
  /** Refused at validation (a malformed input file). */
  | 'failed';

/** A batch held by the mock server. */
export interface MockBatchEntry {
  readonly id: string;
  readonly format: string;
  readonly requests: readonly MockBatchRequest[];
  state: MockBatchState;
  /** Filled when the batch ends. */
  answers: MockBatchAnswer[];
  /** Unix seconds. */
  readonly createdAt: number;
  /** Provider fields kept for the status body (input file id, model, display name). */
  readonly extra: Record<string, unknown>;
}

/** One HTTP call to a batch route. */
export interface MockBatchCall {
  method: string;
  /** Path without the query. */
  path: string;
  raw: string;
  headers: Record<string, string>;
  /** `http://127.0.0.1:<port>`, for URLs the provider hands out (`results_url`). */
  origin: string;
}

/** What the shared part offers a provider's batch routes. */
export interface MockBatchHost {
  /** Uploaded files by id. */
  readonly files: Map<string, { purpose: string; filename: string; content: string }>;
  newId(prefix: string): string;
  /** Registers a new batch (counted in `server.batches.submissions`). */
  create(format: string, requests: MockBatchRequest[], extra?: Record<string, unknown>): MockBatchEntry;
  /** The batch `id` of `format`. */
  get(format: string, id: string): MockBatchEntry | undefined;
  /** A status poll: `false` when the `pollErrors` fault answers it with a 500; else the batch moves on. */
  poll(entry: MockBatchEntry): boolean;
  cancel(entry: MockBatchEntry): void;
}

/** A reply: JSON `body`, or `text` sent as is (JSONL). */
export interface MockBatchReply {
  status: number;
  body?: unknown;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** One provider's batch routes. */
export interface MockBatchWire {
  readonly name: string;
  /** The reply when `call` is one of this provider's batch routes, else `undefined`. */
  handle(call: MockBatchCall, host: MockBatchHost): MockBatchReply | undefined;
}
