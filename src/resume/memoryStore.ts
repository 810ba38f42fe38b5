/**
 * The in-memory resume store: one process (a single gateway, tests). Each chunk is kept as its JSON
 * text, so a reader gets its own copy (parsed afresh) and the size limit counts the UTF-8 bytes of
 * what a reader will be sent. A stream's texts are held by `CompactTexts`: a chunk's text is stored
 * as what differs from a reference chunk of the same stream (usually a few characters of its delta)
 * plus four numbers, rather than as a string of its whole JSON; the arrays that hold them are trimmed
 * to their content when the stream ends.
 */
import { onAbort } from '../abortListeners';
import type { Chunk } from '../chunk';
import { ResumableStreamError } from '../errors';
import { chunkJson } from './chunkJson';
import { CompactTexts } from './compactTexts';
import {
  RESUME_DEFAULTS,
  utf8Length,
  type ResumeBatch,
  type ResumeEnd,
  type ResumeEvent,
  type ResumeReadOptions,
  type ResumeStore,
} from './store';

export interface MemoryResumeStoreOptions {
  /** Most chunks one stream holds; past it the generation stops with `too-large`. @defaultValue 50_000 */
  maxChunks?: number;
  /** Most bytes (UTF-8 JSON) one stream holds. @defaultValue 16_777_216 (16 MiB) */
  maxBytes?: number;
  /**
   * Most streams kept at once. Past it, `create` drops the oldest finished stream (the one least likely
   * to be resumed) to make room, and rejects with `full` only when every kept stream is still running.
   * @defaultValue 10_000
   */
  maxStreams?: number;
  /** The clock, in ms (tests). @defaultValue Date.now */
  now?: () => number;
}

/** Defaults of {@link createMemoryResumeStore}. */
export const MEMORY_RESUME_STORE_DEFAULTS = {
  maxChunks: RESUME_DEFAULTS.maxChunks,
  maxBytes: RESUME_DEFAULTS.maxBytes,
  maxStreams: 10_000,
} as const;

interface Entry {
  texts: CompactTexts;
  bytes: number;
  end?: ResumeEnd;
  ttlMs: number;
  expiresAt: number;
  stopped: boolean;
  /** Readers waiting for the next write. */
  /** Made on first use: most streams are never resumed, or stopped. */
  waiters?: Set<() => void>;
  stopListeners?: Set<() => void>;
}

function positive(name: string, value: number): number {
  if (!(typeof value === 'number' && value > 0))
    throw new TypeError(`createMemoryResumeStore: ${name} must be > 0`);
  return value;
}

/**
 * A {@link ResumeStore} in this process's memory, bounded in chunks, bytes and streams; a stream is
 * deleted `ttlMs` after its last write (checked on use, and swept at most once a second).
 *
 * @example
 * import { lastValueFrom, toArray } from 'rxjs';
 * import { createMemoryResumeStore, resume, stream } from 'rxllm';
 * import { resumable } from 'rxllm/operators';
 * const store = createMemoryResumeStore();
 * const answer = stream({ model: 'mock/echo', messages: [{ role: 'user', content: 'Hi' }] });
 * lastValueFrom(answer.pipe(resumable({ store, id: 'a1' }), toArray()))
 *   .then(() => lastValueFrom(resume(store, 'a1').pipe(toArray())))
 *   .then((chunks) => console.log(chunks.length > 0)); // true
 */
export function createMemoryResumeStore(options: MemoryResumeStoreOptions = {}): ResumeStore {
  const maxChunks = positive('maxChunks', options.maxChunks ?? MEMORY_RESUME_STORE_DEFAULTS.maxChunks);
  const maxBytes = positive('maxBytes', options.maxBytes ?? MEMORY_RESUME_STORE_DEFAULTS.maxBytes);
  const maxStreams = positive('maxStreams', options.maxStreams ?? MEMORY_RESUME_STORE_DEFAULTS.maxStreams);
  const now = options.now ?? Date.now;
  const streams = new Map<string, Entry>();
  let sweptAt = -Infinity;

  const sweep = () => {
    const t = now();
    if (t - sweptAt < 1000) return;
    sweptAt = t;
    for (const [id, entry] of streams) if (entry.expiresAt <= t) drop(id, entry);
  };
  const drop = (id: string, entry: Entry) => {
    streams.delete(id);
    wake(entry);
  };
  /** Makes room for a new stream: the oldest finished one goes (streams are kept in creation order). */
  const dropOldestFinished = (): boolean => {
    for (const [id, entry] of streams) {
      if (entry.end) {
        drop(id, entry);
        return true;
      }
    }
    return false;
  };
  const wake = (entry: Entry) => {
    // Once per append: no copy of an empty set (a stream nobody is resuming).
    if (entry.waiters?.size) for (const w of [...entry.waiters]) w();
  };
  const live = (id: string): Entry | undefined => {
    const entry = streams.get(id);
    if (entry && entry.expiresAt <= now()) {
      drop(id, entry);
      return undefined;
    }
    return entry;
  };
  const writable = (id: string): Entry => {
    const entry = live(id);
    if (!entry) throw new ResumableStreamError('not-found', id);
    entry.expiresAt = now() + entry.ttlMs;
    return entry;
  };
  const batch = (entry: Entry, afterSeq: number): ResumeBatch => {
    const events: ResumeEvent[] = [];
    for (let seq = afterSeq + 1; seq <= entry.texts.length; seq++)
      events.push({ seq, chunk: JSON.parse(entry.texts.get(seq - 1)) as Chunk });
    return entry.end ? { events, end: entry.end } : { events };
  };

  function appendNow(id: string, events: readonly ResumeEvent[]): void {
    const entry = writable(id);
    if (entry.end) return;
    for (const { seq, chunk } of events) {
      if (seq <= entry.texts.length) continue;
      const text = chunkJson(chunk);
      const bytes = utf8Length(text);
      if (entry.texts.length + 1 > maxChunks || entry.bytes + bytes > maxBytes)
        throw new ResumableStreamError('too-large', id);
      entry.texts.push(text);
      entry.bytes += bytes;
    }
    wake(entry);
  }

  return {
    async create(id, ttlMs) {
      sweep();
      if (live(id)) throw new ResumableStreamError('exists', id);
      if (streams.size >= maxStreams && !dropOldestFinished()) throw new ResumableStreamError('full', id);
      streams.set(id, {
        texts: new CompactTexts(),
        bytes: 0,
        ttlMs,
        expiresAt: now() + ttlMs,
        stopped: false,
      });
    },
    async append(id, events) {
      appendNow(id, events);
    },
    appendNow,
    async end(id, end) {
      const entry = writable(id);
      // Nothing is appended after the end: the spare room of the stream's arrays is freed for its TTL.
      if (!entry.end) entry.texts.trim();
      entry.end ??= end;
      wake(entry);
    },
    async read(id, afterSeq, { waitMs, signal }: ResumeReadOptions) {
      sweep();
      const entry = live(id);
      if (!entry) return undefined;
      if (entry.texts.length > afterSeq || entry.end || signal?.aborted || waitMs <= 0)
        return batch(entry, afterSeq);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          entry.waiters?.delete(done);
          off?.();
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        (entry.waiters ??= new Set()).add(done);
        // One listener on a signal shared by many readers (`onAbort`).
        const off = signal && onAbort(signal, done);
      });
      return live(id) ? batch(entry, afterSeq) : undefined;
    },
    async stop(id) {
      const entry = live(id);
      if (!entry) return false;
      entry.stopped = true;
      const listeners = [...(entry.stopListeners ?? [])];
      entry.stopListeners = undefined;
      for (const listener of listeners) listener();
      return true;
    },
    onStop(id, listener) {
      const entry = streams.get(id);
      if (entry?.stopped) {
        listener();
        return () => undefined;
      }
      if (entry) (entry.stopListeners ??= new Set()).add(listener);
      return () => entry?.stopListeners?.delete(listener);
    },
  };
}
