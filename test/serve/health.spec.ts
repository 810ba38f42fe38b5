/**
 * `checkReadiness` (behind `/readyz`, which orchestrators poll every few seconds) leaves no timer behind
 * once Redis answered: its time limit is cleared, not left to run out.
 */
import { checkReadiness } from '../../src';

describe('checkReadiness', () => {
  afterEach(() => jest.useRealTimers());

  it('clears the Redis time limit once Redis answered, and says ready', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const readiness = await checkReadiness([], async () => 'PONG', 60_000);
    expect(readiness.ready).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('reports a Redis that does not answer within the limit, by name', async () => {
    const readiness = await checkReadiness([], () => new Promise(() => undefined), 20);
    expect(readiness.ready).toBe(false);
    expect(JSON.stringify(readiness)).toContain('no answer within 20 ms');
  });
});
