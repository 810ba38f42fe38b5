/**
 * Stopping a run of calls (`rxllm batch` on Ctrl-C or SIGTERM, its synchronous and its
 * `--provider-batch --retry-failed` phases) without losing an answer that is already paid for.
 */
import { Observable } from 'rxjs';
import type { ChatCompletion } from '../chunk';
import type { CallOptions, ResponseMeta } from '../options';
import type { ChatRequest } from '../request';

/**
 * The calls of a run, stopped (Ctrl-C, SIGTERM) without losing what was paid for. A call whose answer
 * has begun to arrive (a 2xx status: the provider generated it and bills it) is let finish, so its
 * line is written; a call still waiting for its answer is aborted, and a call made after the stop is
 * not sent. Those two never end (no result, so no line, and their slots stay taken, so nothing else
 * starts) until the run is unsubscribed, once the arriving answers are in; the re-run sends them.
 * Aborting an arriving answer instead would lose one the provider has billed: the re-run would pay
 * for it again.
 */
export function stoppable(call: (request: ChatRequest, options: CallOptions) => Observable<ChatCompletion>) {
  const waiting = new Set<() => void>();
  /** Calls whose answer is arriving: the stop waits until they ended (their results written). */
  let arriving = 0;
  let stopping = false;
  let done: (() => void) | undefined;
  const settle = () => {
    if (!done || arriving > 0) return;
    const then = done;
    done = undefined;
    then();
  };
  return {
    call: (request: ChatRequest, _index: number, options: CallOptions): Observable<ChatCompletion> =>
      new Observable<ChatCompletion>((subscriber) => {
        if (stopping) return; // not sent: ends with the run
        let answered = false;
        const abort = () => inner.unsubscribe(); // the request is aborted; the call never ends
        const ended = () => {
          if (!answered) return;
          answered = false;
          arriving--;
          // The result reaches the results file synchronously on the way out; settle after it.
          setImmediate(settle);
        };
        waiting.add(abort);
        const onResponse = (meta: ResponseMeta) => {
          if (meta.status < 400 && waiting.delete(abort)) {
            answered = true;
            arriving++;
          }
          options.onResponse?.(meta);
        };
        const inner = call(request, { ...options, onResponse }).subscribe({
          next: (value) => subscriber.next(value),
          error: (error: unknown) => {
            subscriber.error(error);
            ended();
          },
          complete: () => {
            subscriber.complete();
            ended();
          },
        });
        return () => {
          waiting.delete(abort);
          inner.unsubscribe();
          ended();
        };
      }),
    /** Stops: aborts the calls not answered yet, then runs `then` once the arriving ones ended. */
    stop(then: () => void): void {
      stopping = true;
      // After the poll phase that ran the signal's handler: answers that arrived with the signal
      // have been read (their status seen) before the others are aborted.
      setImmediate(() => {
        for (const abort of [...waiting]) abort();
        waiting.clear();
        done = then;
        settle();
      });
    },
  };
}
