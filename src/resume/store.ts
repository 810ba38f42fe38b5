/**
 * Resumable streams: what a store keeps for each generation, and the small interface a store
 * implements. Two ship: `createMemoryResumeStore` (one process, the default) and
 * `createRedisResumeStore` from `rxllm/redis` (Redis Streams, shared by many gateway instances).
 *
 * A stream is a list of events numbered from 1 (`seq`), written by one producer (`resumable`) in
 * order, then one end entry (its final state, numbered after the last event). Readers (`resume`)
 * ask for what follows a `seq` and wait for more; so every reader sees each event once, in order.
 */
import type { Chunk } from '../chunk';
import type { ErrorFrame } from '../serve/errorFrame';

/** How a stored generation ended. */
export type ResumeEnd =
  /** The upstream completed. */
  | { state: 'complete' }
  /** The upstream failed: the error as `errorFrame` writes it (class, message, retryable). */
  | { state: 'error'; error: ErrorFrame }
  /** `stop(store, id)` was called, or nobody read it for `ttlMs` after its client left. */
  | { state: 'stopped' };

/** One stored chunk and its number (from 1). */
export interface ResumeEvent {
  seq: number;
  chunk: Chunk;
}

/** What a read returns: the events after the asked `seq`, in order, and the end once all are out. */
export interface ResumeBatch {
  events: ResumeEvent[];
  /** Set only when the stream ended and `events` holds everything up to its end. */
  end?: ResumeEnd;
}

/** Options of one {@link ResumeStore.read}. */
export interface ResumeReadOptions {
  /** How long to wait for a new event when there is none yet, in ms (then an empty batch). */
  waitMs: number;
  /** Aborting it ends the wait early (an empty batch). */
  signal?: AbortSignal;
}

/**
 * Where resumable streams are kept. Every method may reject with `ResumableStreamError` (unknown
 * id, limits) or, for a remote store, `StoreError`.
 */
export interface ResumeStore {
  /** Starts stream `id`, kept `ttlMs` after its last write. Rejects `exists` when it is taken. */
  create(id: string, ttlMs: number): Promise<void>;
  /**
   * Adds events (numbered on from the last one). An event whose `seq` is stored already is skipped,
   * so a retried write is applied once. Rejects `not-found` (expired) and `too-large`.
   */
  append(id: string, events: readonly ResumeEvent[]): Promise<void>;
  /**
   * Optional, for a store that writes in this process: `append` done at once, throwing what `append`
   * would reject with. It reads `events` during the call only (the caller reuses the array). `resumable` calls it instead of `append` when no other write of the stream is
   * in flight, which spares a promise chain per chunk on a gateway's hot path.
   */
  appendNow?(id: string, events: readonly ResumeEvent[]): void;
  /** Writes the final state; later appends are refused. */
  end(id: string, end: ResumeEnd): Promise<void>;
  /**
   * The events after `afterSeq` (waiting up to `waitMs` for one), with the end once everything
   * before it was returned; `undefined` when no stream has this id.
   */
  read(id: string, afterSeq: number, options: ResumeReadOptions): Promise<ResumeBatch | undefined>;
  /**
   * Asks the producer of `id` to abort its upstream, wherever it runs. Resolves `false` when no
   * stream has this id.
   */
  stop(id: string): Promise<boolean>;
  /**
   * Calls `listener` once when `stop(id)` is called (or at once, when it was called already).
   * Returns the function that removes it.
   */
  onStop(id: string, listener: () => void): () => void;
}

/** Defaults of resumable streams and their stores. */
export const RESUME_DEFAULTS = {
  /** How long a stream is kept after its last write; a generation left by its client runs this long at most. */
  ttlMs: 600_000,
  /** Most chunks one stream may hold. */
  maxChunks: 50_000,
  /** Most bytes (UTF-8 JSON of its chunks) one stream may hold. */
  maxBytes: 16 * 1024 * 1024,
  /** How long one read waits for a new event before it asks again. */
  waitMs: 15_000,
  /**
   * How long `resume`, `stop` and the resume routes ask the store again for an id it does not have
   * yet (its answer began a moment ago, its store write has not landed) before it counts as unknown.
   */
  newStreamWaitMs: 1000,
} as const;

/** UTF-8 length of a string, without `Buffer` (this module is not Node-only). */
export function utf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c < 0xdc00) {
      // A surrogate pair: two code units counted already, four bytes in UTF-8.
      n += 2;
      i++;
    } else n += 2;
  }
  return n;
}

/** `<streamId>:<seq>`: the SSE event id of one event. */
export function eventId(streamId: string, seq: number): string {
  return `${streamId}:${seq}`;
}

/**
 * The `seq` an event id names: `"<streamId>:<seq>"` (the SSE `id:` line), or a bare number. `0`
 * (from the start) for none; a `TypeError` for an id of another stream or one that is not a number.
 */
export function seqOf(streamId: string, id: string | number | undefined | null): number {
  if (id === undefined || id === null || id === '') return 0;
  const text = String(id);
  const colon = text.lastIndexOf(':');
  if (colon >= 0 && text.slice(0, colon) !== streamId)
    throw new TypeError(`The event id "${text.slice(0, 120)}" belongs to another stream.`);
  const seq = Number(colon >= 0 ? text.slice(colon + 1) : text);
  if (!Number.isSafeInteger(seq) || seq < 0)
    throw new TypeError(`The event id "${text.slice(0, 120)}" does not end with a sequence number.`);
  return seq;
}
