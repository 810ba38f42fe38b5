import { getEventListeners } from 'node:events';
import { onAbort } from '../../src/abortListeners';
import { runTsHelper } from '../helpers/runTs';

describe('onAbort: one abort listener per signal, however many calls wait on it', () => {
  it('many calls on one shared signal print no MaxListenersExceededWarning (stream + retryBackoff)', () => {
    const run = runTsHelper('sharedSignalCalls.ts', ['12']);
    expect(run.stdout.trim().split('\n')).toEqual(['done 12']);
    expect(run.stderr).not.toContain('MaxListenersExceededWarning');
  });

  it('adds one listener to the signal, calls every waiting call once in order, and removes itself with the last', () => {
    const controller = new AbortController();
    const calls: string[] = [];
    const offs = ['a', 'b', 'c'].map((name) => onAbort(controller.signal, () => calls.push(name)));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    offs[1]();
    controller.abort();
    controller.abort();
    expect(calls).toEqual(['a', 'c']);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);

    const other = new AbortController();
    const offOther = [
      onAbort(other.signal, () => calls.push('x')),
      onAbort(other.signal, () => calls.push('y')),
    ];
    offOther.forEach((off) => off());
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
    other.abort();
    expect(calls).toEqual(['a', 'c']);
  });

  it('a listener removed by another while the signal fires is not called; one added after the abort never is', () => {
    const controller = new AbortController();
    const calls: string[] = [];
    let offSecond = () => {};
    onAbort(controller.signal, () => {
      calls.push('first');
      offSecond();
    });
    offSecond = onAbort(controller.signal, () => calls.push('second'));
    controller.abort();
    expect(calls).toEqual(['first']);
    // An aborted signal fires no more: a caller checks `aborted` first, as the transport does.
    onAbort(controller.signal, () => calls.push('late'));
    expect(calls).toEqual(['first']);
  });
});
