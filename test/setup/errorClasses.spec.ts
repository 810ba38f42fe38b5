/**
 * test/setup/errorClasses.ts: errors compare by class in every spec (Jest alone compares messages).
 */
import { throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { ConnectionError, TimeoutError } from '../../src';

describe('errors compare by class in toEqual', () => {
  const timeout = new TimeoutError('idle', 5_000);
  const sameMessage = new ConnectionError(timeout.message);

  it('an error of another class with the same message is not equal, at the top or nested', () => {
    expect(sameMessage.message).toBe(timeout.message);
    expect(timeout).not.toEqual(sameMessage);
    expect({ error: timeout }).not.toEqual({ error: sameMessage });
    expect(timeout).toEqual(new TimeoutError('idle', 5_000));
  });

  it('a marble expectation with the wrong error class fails', () => {
    const failures: unknown[] = [];
    const scheduler = new TestScheduler((actual, expected) => {
      try {
        expect(actual).toEqual(expected);
      } catch (failure) {
        failures.push(failure);
      }
    });
    scheduler.run(({ expectObservable }) => {
      expectObservable(throwError(() => timeout)).toBe('#', undefined, sameMessage);
      expectObservable(throwError(() => timeout)).toBe('#', undefined, new TimeoutError('idle', 5_000));
    });
    expect(failures).toHaveLength(1);
  });
});
