import {
  delayWhen,
  firstValueFrom,
  lastValueFrom,
  NEVER,
  Observable,
  of,
  Subject,
  take,
  throwError,
  timer,
  toArray,
} from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { resumable, RESUMABLE_DEFAULTS } from 'rxllm/operators';
import {
  createMemoryResumeStore,
  RequestAbortedError,
  resume,
  resumeEvents,
  ResumableStreamError,
  ServerError,
  stop,
  StoreError,
  type Chunk,
  type ResumeStore,
} from 'rxllm';
import { finish, text } from '../quirks/toolCallQuirks';

const settle = () => new Promise((r) => setImmediate(r));
const contentOf = (chunks: Chunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
const all = (store: ResumeStore, id: string, fromEventId?: string | number) =>
  lastValueFrom(resume(store, id, { fromEventId }).pipe(toArray()));

describe('resumable', () => {
  it('documents its defaults: kept 10 minutes, the generation outlives its subscriber', () => {
    expect(RESUMABLE_DEFAULTS).toEqual({ ttlMs: 600_000, keepAlive: true });
  });

  it('passes every chunk on live, unchanged and at once (marbles)', () => {
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(
      ({ cold, expectObservable, expectSubscriptions }) => {
        const values = { a: text('a'), b: text('b'), f: finish('stop') };
        const source = cold('-a-b--f|', values);
        const store = createMemoryResumeStore();
        expectObservable(source.pipe(resumable({ store, id: 'm1' }))).toBe('-a-b--f|', values);
        expectSubscriptions(source.subscriptions).toBe('^------!');
      },
    );
  });

  it('stores the chunks numbered from 1 and the end; a finished stream replays and completes', async () => {
    const store = createMemoryResumeStore();
    const chunks = [text('one '), text('two '), text('three'), finish('stop')];
    const live = await lastValueFrom(
      new Observable<Chunk>((s) => {
        chunks.forEach((c) => s.next(c));
        s.complete();
      }).pipe(resumable({ store, id: 's1' }), toArray()),
    );
    await settle();
    expect(live).toEqual(chunks);
    const events = await lastValueFrom(resumeEvents(store, 's1').pipe(toArray()));
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(events.map((e) => e.chunk)).toEqual(chunks);
    expect(contentOf(await all(store, 's1', 's1:2'))).toBe('three');
    expect(await all(store, 's1', 4)).toEqual([]);
  });

  it('replays after the given event, then follows live: each chunk once, in order', async () => {
    const store = createMemoryResumeStore();
    const source = new Subject<Chunk>();
    const first: Chunk[] = [];
    const sub = source.pipe(resumable({ store, id: 'f1' })).subscribe((c) => first.push(c));
    source.next(text('a'));
    source.next(text('b'));
    source.next(text('c'));
    sub.unsubscribe(); // the client drops after c; it had a and b rendered (event 2)
    expect(source.observed).toBe(true); // the generation goes on
    await settle();
    const rest: Chunk[] = [];
    let done = false;
    resume(store, 'f1', { fromEventId: 'f1:2' }).subscribe({
      next: (c) => rest.push(c),
      complete: () => (done = true),
    });
    await settle();
    source.next(text('d'));
    await settle();
    source.next(text('e'));
    source.complete();
    await settle();
    await settle();
    expect(contentOf(first)).toBe('abc');
    expect(contentOf(rest)).toBe('cde');
    expect(done).toBe(true);
  });

  it('stores an upstream error with its class; replaying it raises the same class and message', async () => {
    const store = createMemoryResumeStore();
    const boom = new ServerError({ status: 503, message: 'overloaded' });
    const source = new Subject<Chunk>();
    const seen: unknown[] = [];
    source.pipe(resumable({ store, id: 'e1' })).subscribe({ error: (e) => seen.push(e) });
    source.next(text('x'));
    source.error(boom);
    await settle();
    expect(seen).toEqual([boom]);
    const replayed: Chunk[] = [];
    const error = await new Promise<unknown>((resolve) =>
      resume(store, 'e1').subscribe({ next: (c) => replayed.push(c), error: resolve }),
    );
    expect(contentOf(replayed)).toBe('x');
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).message).toBe('overloaded');
    expect((error as ServerError).status).toBe(503);
  });

  it('an unknown id is a not-found ResumableStreamError (resume and stop)', async () => {
    const store = createMemoryResumeStore();
    await expect(all(store, 'nope')).rejects.toMatchObject({
      name: 'ResumableStreamError',
      reason: 'not-found',
    });
    await expect(stop(store, 'nope')).rejects.toBeInstanceOf(ResumableStreamError);
  });

  it('an id used before its store write landed: resume and stop ask again and find it (newStreamWaitMs)', async () => {
    // The store learns of the stream 100 ms after the generation began (a shared store under load).
    const memory = createMemoryResumeStore();
    const slow: ResumeStore = {
      ...memory,
      create: (id, ttlMs) =>
        new Promise<void>((r) => setTimeout(r, 100)).then(() => memory.create(id, ttlMs)),
    };
    const source = new Subject<Chunk>();
    let liveError: unknown;
    source.pipe(resumable({ store: slow, id: 'late1' })).subscribe({ error: (e) => (liveError = e) });
    source.next(text('a'));
    const reader = all(slow, 'late1');
    await stop(slow, 'late1');
    expect(source.observed).toBe(false);
    expect(liveError).toBeInstanceOf(RequestAbortedError);
    await expect(reader).rejects.toBeInstanceOf(RequestAbortedError);
    // With no wait, the same moment is a not-found.
    const other = new Subject<Chunk>();
    other.pipe(resumable({ store: slow, id: 'late2' })).subscribe({ error: () => undefined });
    await expect(stop(slow, 'late2', { newStreamWaitMs: 0 })).rejects.toMatchObject({ reason: 'not-found' });
    await expect(lastValueFrom(resume(slow, 'late2', { newStreamWaitMs: 0 }))).rejects.toMatchObject({
      reason: 'not-found',
    });
    other.complete();
  });

  it('stop aborts the upstream of a generation, with or without its subscriber; readers see it stopped', async () => {
    const store = createMemoryResumeStore();
    const source = new Subject<Chunk>();
    let liveError: unknown;
    source.pipe(resumable({ store, id: 'st1' })).subscribe({ error: (e) => (liveError = e) });
    source.next(text('a'));
    await settle();
    const reader = all(store, 'st1');
    await stop(store, 'st1');
    expect(source.observed).toBe(false);
    expect(liveError).toBeInstanceOf(RequestAbortedError);
    await expect(reader).rejects.toBeInstanceOf(RequestAbortedError);

    // Left by its client first: stop still reaches the upstream.
    const other = new Subject<Chunk>();
    other.pipe(resumable({ store, id: 'st2' }), take(1)).subscribe();
    other.next(text('a'));
    await settle();
    expect(other.observed).toBe(true);
    await stop(store, 'st2');
    expect(other.observed).toBe(false);
  });

  it('stops a generation nobody came back to after ttlMs (virtual time), and stores it as stopped', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toEqual(e));
    scheduler.run(({ cold, expectSubscriptions, flush }) => {
      const source = cold('a-b-c-d-e-f-g-h-i-j-k-l-m-n-|', { a: text('a') } as Record<string, Chunk>);
      const store = createMemoryResumeStore();
      const sub = source.pipe(resumable({ store, id: 't1', ttlMs: 5, scheduler })).subscribe();
      scheduler.schedule(() => sub.unsubscribe(), 2);
      flush();
      expectSubscriptions(source.subscriptions).toBe('^------!');
    });
  });

  it('keepAliveMs bounds a left generation apart from how long the stream is kept (virtual time)', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toEqual(e));
    scheduler.run(({ cold, expectSubscriptions, flush }) => {
      const source = cold<Chunk>('a-b-c-d-e-f-g-h-i-j-|', { a: text('a') } as Record<string, Chunk>);
      const store = createMemoryResumeStore();
      const sub = source
        .pipe(resumable({ store, id: 'ka', ttlMs: 100, keepAliveMs: 3, scheduler }))
        .subscribe();
      scheduler.schedule(() => sub.unsubscribe(), 1);
      flush();
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('with keepAlive: false an unsubscribe aborts the upstream and the stream ends stopped', async () => {
    const store = createMemoryResumeStore();
    const source = new Subject<Chunk>();
    const sub = source.pipe(resumable({ store, id: 'k1', keepAlive: false })).subscribe();
    source.next(text('a'));
    sub.unsubscribe();
    expect(source.observed).toBe(false);
    await settle();
    const replayed: Chunk[] = [];
    const error = await new Promise((resolve) =>
      resume(store, 'k1').subscribe({ next: (c) => replayed.push(c), error: resolve }),
    );
    expect(error).toBeInstanceOf(RequestAbortedError);
    expect(contentOf(replayed)).toBe('a');
  });

  it('aborting its signal stops the generation, left by its subscriber or not', async () => {
    const store = createMemoryResumeStore();
    const shutdown = new AbortController();
    const left = new Subject<Chunk>();
    const running = new Subject<Chunk>();
    left
      .pipe(resumable({ store, id: 'sig1', signal: shutdown.signal }))
      .subscribe()
      .unsubscribe();
    let liveError: unknown;
    running
      .pipe(resumable({ store, id: 'sig2', signal: shutdown.signal }))
      .subscribe({ error: (e) => (liveError = e) });
    expect([left.observed, running.observed]).toEqual([true, true]);
    shutdown.abort();
    expect([left.observed, running.observed]).toEqual([false, false]);
    expect(liveError).toBeInstanceOf(RequestAbortedError);
    await settle();
    await expect(all(store, 'sig1')).rejects.toBeInstanceOf(RequestAbortedError);
    // Already aborted: the upstream is not even subscribed.
    const late = new Subject<Chunk>();
    late
      .pipe(resumable({ store, id: 'sig3', signal: shutdown.signal }))
      .subscribe({ error: () => undefined });
    expect(late.observed).toBe(false);
  });

  it('past maxChunks the upstream is stopped with a too-large error, and readers get it after what was kept', async () => {
    const store = createMemoryResumeStore({ maxChunks: 2 });
    const source = new Subject<Chunk>();
    let liveError: unknown;
    source.pipe(resumable({ store, id: 'L1' })).subscribe({ error: (e) => (liveError = e) });
    source.next(text('a'));
    await settle();
    source.next(text('b'));
    await settle();
    source.next(text('c'));
    await settle();
    expect(liveError).toMatchObject({ name: 'ResumableStreamError', reason: 'too-large' });
    expect(source.observed).toBe(false);
    const replayed: Chunk[] = [];
    const error = await new Promise((resolve) =>
      resume(store, 'L1').subscribe({ next: (c) => replayed.push(c), error: resolve }),
    );
    expect(contentOf(replayed)).toBe('ab');
    expect(error).toMatchObject({ reason: 'too-large', streamId: 'L1' });
  });

  it('refuses a second generation under an id in use (exists) and keeps the first intact', async () => {
    const store = createMemoryResumeStore();
    await lastValueFrom(
      throwError(() => new ServerError({ status: 500 })).pipe(resumable({ store, id: 'd1' })),
    ).catch(() => undefined);
    await settle();
    const source = new Subject<Chunk>();
    const error = await new Promise((resolve) =>
      source.pipe(resumable({ store, id: 'd1' })).subscribe({ error: resolve }),
    );
    expect(error).toMatchObject({ reason: 'exists' });
    expect(source.observed).toBe(false);
    await expect(all(store, 'd1')).rejects.toBeInstanceOf(ServerError);
  });

  it('keeps its state per subscription: an id function gives each subscription its own stream', async () => {
    const store = createMemoryResumeStore();
    let n = 0;
    const piped = new Observable<Chunk>((s) => {
      s.next(text('x'));
      s.complete();
    }).pipe(resumable({ store, id: () => `p${++n}` }));
    await lastValueFrom(piped);
    await lastValueFrom(piped);
    await settle();
    expect(contentOf(await all(store, 'p1'))).toBe('x');
    expect(contentOf(await all(store, 'p2'))).toBe('x');
  });

  it('rejects a bad config when created', () => {
    expect(() => resumable({ id: '' })).toThrow(TypeError);
    expect(() => resumable({ id: 'a', ttlMs: 0 })).toThrow(TypeError);
    expect(() => resumable({ id: 'a', keepAliveMs: -1 })).toThrow(TypeError);
    expect(() => resumable({ id: 'a', store: {} as ResumeStore })).toThrow(TypeError);
    expect(() => resume(createMemoryResumeStore(), 'a', { fromEventId: 'b:3' })).toThrow(TypeError);
  });

  it('writes each chunk into an in-process store at once (appendNow), and a write in flight keeps the order', async () => {
    const inner = createMemoryResumeStore();
    const calls: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const store: ResumeStore = {
      ...inner,
      // create waits: the chunks sent meanwhile queue, and go in one async append after it.
      create: async (id, ttl) => {
        await gate;
        return inner.create(id, ttl);
      },
      append: async (id, events) => {
        calls.push(`append:${events.map((e) => e.seq).join(',')}`);
        return inner.append(id, events);
      },
      appendNow: (id, events) => {
        calls.push(`now:${events.map((e) => e.seq).join(',')}`);
        inner.appendNow!(id, events);
      },
    };
    const source = new Subject<Chunk>();
    const live: Chunk[] = [];
    source.pipe(resumable({ store, id: 'n1' })).subscribe((c) => live.push(c));
    source.next(text('a'));
    source.next(text('b'));
    release();
    await settle();
    source.next(text('c'));
    // Written in the same turn: no promise between the chunk and the store.
    expect(calls).toEqual(['append:1,2', 'now:3']);
    source.next(finish('stop'));
    source.complete();
    await settle();
    expect(calls).toEqual(['append:1,2', 'now:3', 'now:4']);
    expect(contentOf(await all(store, 'n1'))).toBe('abc');
    expect(live).toHaveLength(4);
  });

  it('a store whose appendNow throws ends the stream with that error after the chunk went out', async () => {
    const inner = createMemoryResumeStore();
    const store: ResumeStore = {
      ...inner,
      appendNow: (id, events) => {
        if (events.some((e) => e.seq === 2)) throw new ResumableStreamError('too-large', id);
        inner.appendNow!(id, events);
      },
    };
    const source = new Subject<Chunk>();
    const live: Chunk[] = [];
    let error: unknown;
    source
      .pipe(resumable({ store, id: 'n2' }))
      .subscribe({ next: (c) => live.push(c), error: (e) => (error = e) });
    await settle();
    source.next(text('a'));
    source.next(text('b'));
    expect(contentOf(live)).toBe('ab');
    expect(error).toMatchObject({ name: 'ResumableStreamError', reason: 'too-large' });
    expect(source.observed).toBe(false);
  });

  it('a store out of reach (StoreError) costs resumability, not the answer: the live subscriber gets it all', async () => {
    const inner = createMemoryResumeStore();
    const writes: number[] = [];
    const down = () => new StoreError('resume', 'Redis resume store: append failed: connection lost');
    const store: ResumeStore = {
      ...inner,
      appendNow: undefined, // the Redis store's path: async appends
      append: async (id, events) => {
        writes.push(...events.map((e) => e.seq));
        if (events.some((e) => e.seq >= 2)) throw down();
        return inner.append(id, events);
      },
      end: async () => {
        throw down();
      },
    };
    const source = new Subject<Chunk>();
    const live: Chunk[] = [];
    let ended: unknown = 'running';
    const reported: [string, string][] = [];
    const onUnstored = (e: Error, id: string) => reported.push([e.name, id]);
    source.pipe(resumable({ store, id: 'o1', onUnstored })).subscribe({
      next: (c) => live.push(c),
      error: (e) => (ended = e),
      complete: () => (ended = 'complete'),
    });
    await settle();
    for (const t of ['a', 'b', 'c', 'd']) {
      source.next(text(t));
      await settle();
    }
    source.next(finish('stop'));
    source.complete();
    await settle();
    expect(contentOf(live)).toBe('abcd');
    expect(ended).toBe('complete');
    expect(writes).toEqual([1, 2]); // nothing more is written once the store failed
    expect(reported).toEqual([['StoreError', 'o1']]); // once
  });

  it('a store full (maxStreams) costs the new answer its resumability, not the answer', async () => {
    const store = createMemoryResumeStore({ maxStreams: 1 });
    const running = NEVER.pipe(resumable({ store, id: 'f1', keepAlive: false })).subscribe(); // holds the one place
    await settle();
    const reported: [string, string][] = [];
    const onUnstored = (e: Error, id: string) =>
      reported.push([`${e.name}:${(e as ResumableStreamError).reason}`, id]);
    const live = await lastValueFrom(
      of(text('a'), text('b'), finish('stop')).pipe(
        delayWhen(() => timer(1)), // after the create was refused
        resumable({ store, id: 'f2', onUnstored }),
        toArray(),
      ),
    );
    expect(contentOf(live)).toBe('ab');
    expect(reported).toEqual([['ResumableStreamError:full', 'f2']]);
    await expect(lastValueFrom(resume(store, 'f2'))).rejects.toMatchObject({ reason: 'not-found' });
    expect(await store.read('f1', 0, { waitMs: 0 })).toBeDefined();
    running.unsubscribe();
  });

  it('a store out of reach while nobody reads live stops the generation (nobody could resume it)', async () => {
    const inner = createMemoryResumeStore();
    let fail = false;
    const store: ResumeStore = {
      ...inner,
      appendNow: undefined,
      append: async (id, events) => {
        if (fail) throw new StoreError('resume', 'Redis resume store: append failed: timed out');
        return inner.append(id, events);
      },
    };
    const source = new Subject<Chunk>();
    const sub = source.pipe(resumable({ store, id: 'o2' })).subscribe();
    await settle();
    source.next(text('a'));
    await settle();
    sub.unsubscribe(); // the client left: the generation goes on for it to come back
    expect(source.observed).toBe(true);
    fail = true;
    source.next(text('b'));
    await settle();
    expect(source.observed).toBe(false);

    // Read live when the store failed, then left: stopped then.
    const again = new Subject<Chunk>();
    fail = false;
    const live = again.pipe(resumable({ store, id: 'o3' })).subscribe();
    await settle();
    fail = true;
    again.next(text('a'));
    await settle();
    expect(again.observed).toBe(true);
    live.unsubscribe();
    expect(again.observed).toBe(false);
  });

  it('a never-ending source is still stored as it goes', async () => {
    const store = createMemoryResumeStore();
    const sub = NEVER.pipe(resumable({ store, id: 'n1' })).subscribe();
    await settle();
    const reader = firstValueFrom(resumeEvents(store, 'n1', { waitMs: 10 }).pipe(take(1))).catch((e) => e);
    sub.unsubscribe();
    await stop(store, 'n1');
    expect(await reader).toBeInstanceOf(RequestAbortedError);
  });
});

describe('createMemoryResumeStore', () => {
  it('forgets a stream ttlMs after its last write (not-found), and counts maxStreams and maxBytes', async () => {
    let t = 0;
    const store = createMemoryResumeStore({ now: () => t, maxStreams: 1, maxBytes: 300 });
    await store.create('a', 100);
    await expect(store.create('b', 100)).rejects.toMatchObject({ reason: 'full' }); // 'a' still runs
    t = 50;
    await store.append('a', [{ seq: 1, chunk: text('x') }]); // a write keeps it 100 ms more
    t = 120;
    expect(await store.read('a', 0, { waitMs: 1 })).toBeDefined();
    t = 1_000;
    expect(await store.read('a', 0, { waitMs: 1 })).toBeUndefined();
    await store.create('b', 100);
    await expect(store.append('b', [{ seq: 1, chunk: text('y'.repeat(400)) }])).rejects.toMatchObject({
      reason: 'too-large',
    });
  });

  it('full: makes room by dropping the oldest finished stream; refuses only when every stream still runs', async () => {
    const store = createMemoryResumeStore({ maxStreams: 3 });
    for (const id of ['s1', 's2', 's3']) await store.create(id, 60_000);
    await store.end('s2', { state: 'complete' });
    await store.end('s3', { state: 'complete' });
    await store.create('s4', 60_000); // s2 goes: the oldest finished (s1 still runs)
    expect(await store.read('s2', 0, { waitMs: 0 })).toBeUndefined();
    expect(await store.read('s1', 0, { waitMs: 0 })).toBeDefined();
    expect(await store.read('s3', 0, { waitMs: 0 })).toBeDefined();
    await store.create('s5', 60_000); // then s3
    expect(await store.read('s3', 0, { waitMs: 0 })).toBeUndefined();
    await expect(store.create('s6', 60_000)).rejects.toMatchObject({ reason: 'full' }); // s1, s4, s5 run
  });

  it('applies a retried write once (same seq)', async () => {
    const store = createMemoryResumeStore();
    await store.create('r', 1000);
    await store.append('r', [{ seq: 1, chunk: text('a') }]);
    await store.append('r', [
      { seq: 1, chunk: text('a') },
      { seq: 2, chunk: text('b') },
    ]);
    const batch = await store.read('r', 0, { waitMs: 1 });
    expect(batch?.events.map((e) => e.seq)).toEqual([1, 2]);
  });
});
