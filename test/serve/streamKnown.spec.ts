/**
 * `streamKnown`: the resume routes' wait for an id the store does not have yet (its answer started
 * at another instance a moment ago). Virtual time: the store is a stub counting what it is asked.
 */
import type { ResumeStore } from '../../src/resume/store';
import { RESUME_DEFAULTS } from '../../src/resume/store';
import { streamKnown } from '../../src/serve/resumeRoutes';

const NEW_STREAM_WAIT_MS = RESUME_DEFAULTS.newStreamWaitMs;

/** A store that has the stream from its `foundAt`-th read on (never when `Infinity`). */
function storeFoundAt(foundAt: number) {
  const asked = { reads: 0 };
  const store = {
    read: async () => (++asked.reads >= foundAt ? { events: [] } : undefined),
  } as unknown as ResumeStore;
  return { store, asked };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('streamKnown', () => {
  it('a stream the store has: true at the first read, no wait', async () => {
    const { store, asked } = storeFoundAt(1);
    await expect(streamKnown(store, 's1', 0)).resolves.toBe(true);
    expect(asked.reads).toBe(1);
  });

  it('a stream that lands a moment later: found on a later read, within the wait', async () => {
    const { store, asked } = storeFoundAt(3);
    const known = streamKnown(store, 's1', 0);
    await jest.advanceTimersByTimeAsync(30);
    await expect(known).resolves.toBe(true);
    expect(asked.reads).toBe(3);
  });

  it('an unknown id: false once the wait is over, after a handful of reads (not one per tick)', async () => {
    const { store, asked } = storeFoundAt(Infinity);
    let settled: boolean | undefined;
    void streamKnown(store, 'nope', 0).then((v) => (settled = v));
    await jest.advanceTimersByTimeAsync(NEW_STREAM_WAIT_MS - 1);
    expect(settled).toBeUndefined();
    await jest.advanceTimersByTimeAsync(1);
    expect(settled).toBe(false);
    expect(asked.reads).toBeGreaterThan(2);
    expect(asked.reads).toBeLessThanOrEqual(10);
  });

  it('gone() (the client left) ends the wait at once', async () => {
    const { store, asked } = storeFoundAt(Infinity);
    await expect(streamKnown(store, 'nope', 0, () => true)).resolves.toBe(false);
    expect(asked.reads).toBe(1);
  });
});
