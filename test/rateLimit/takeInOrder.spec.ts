/**
 * The limiter with a store that takes permits for a queue of waiters in one call
 * (`RateLimitStore.takeInOrder`, as the Redis store does): one call serves every waiter queued so far,
 * first come first served, a waiter that left while the store answered gives its permit back, and a
 * store error fails every waiter the call was for. A fake async store whose answers the test releases.
 */
import { VirtualTimeScheduler } from 'rxjs';
import { createRateLimiter, type RateLimitState, type RateLimitStore } from 'rxllm';

function fakeStore(tokens: number) {
  const state: RateLimitState = { requests: Infinity, tokens, updatedAt: 0, pausedUntil: 0 };
  const calls: number[][] = [];
  const pending: (() => void)[] = [];
  let fail: Error | undefined;
  const store: RateLimitStore = {
    get: () => ({ ...state }),
    compareAndSet: (_key, _expected, next) => (Object.assign(state, next), true),
    takeInOrder: (_key, costs) => {
      calls.push([...costs]);
      return new Promise((resolve, reject) => {
        pending.push(() => {
          if (fail) return reject(fail);
          let granted = 0;
          for (const cost of costs) {
            if (state.tokens < cost) break;
            state.tokens -= cost;
            granted++;
          }
          resolve({ granted, wait: granted < costs.length ? 1000 : 0 });
        });
      });
    },
  };
  const answer = async () => {
    pending.shift()!();
    await new Promise((r) => setImmediate(r));
  };
  return { store, state, calls, answer, failWith: (e: Error) => (fail = e) };
}

const limiterOn = (store: RateLimitStore) =>
  createRateLimiter({ tokensPerMinute: 100, store, scheduler: new VirtualTimeScheduler() });

describe('createRateLimiter with a store that takes permits in order', () => {
  it('asks once for every waiter queued meanwhile, and never lets a later one overtake', async () => {
    const f = fakeStore(100);
    const limiter = limiterOn(f.store);
    const got: string[] = [];
    limiter.acquire(60).subscribe(() => got.push('a'));
    limiter.acquire(50).subscribe(() => got.push('b'));
    limiter.acquire(10).subscribe(() => got.push('c'));
    await f.answer(); // a alone (it came first), then b and c together
    expect(got).toEqual(['a']);
    await f.answer(); // b does not fit (40 left): c, which would, waits behind it
    expect(got).toEqual(['a']);
    expect(f.calls).toEqual([[60], [50, 10]]);
    expect(f.state.tokens).toBe(40);
  });

  it('gives back a permit taken for a waiter that left while the store answered', async () => {
    const f = fakeStore(100);
    const limiter = limiterOn(f.store);
    const sub = limiter.acquire(30).subscribe();
    sub.unsubscribe();
    await f.answer();
    expect(f.state.tokens).toBe(100);
  });

  it('fails every waiter of the call with the store error, granting nothing', async () => {
    const f = fakeStore(100);
    const limiter = limiterOn(f.store);
    const errors: unknown[] = [];
    const subs = [1, 2, 3].map(() => limiter.acquire(10).subscribe({ error: (e) => errors.push(e) }));
    f.failWith(new Error('store down'));
    await f.answer(); // the first, alone
    await f.answer(); // the two queued behind it, in one call
    expect(f.calls).toEqual([[10], [10, 10]]);
    expect(errors.map((e) => (e as Error).message)).toEqual(['store down', 'store down', 'store down']);
    expect(f.state.tokens).toBe(100);
    subs.forEach((sub) => expect(sub.closed).toBe(true));
  });
});
