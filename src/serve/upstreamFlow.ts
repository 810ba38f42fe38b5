/**
 * Backpressure to the upstream: a dispatcher for one upstream call whose body reads can
 * be paused. While a client's socket is full, `sendSse` pauses it, so undici stops reading the
 * provider's socket and TCP pushes back on the provider, instead of the server queueing the answer.
 * Built on the public `dispatcher` call option (an undici interceptor that keeps each attempt's
 * `DispatchController`), so the transport needs nothing special.
 */
import type { Dispatcher } from 'undici';
import { getDefaultAgent } from '../transport/agent';

/** Pauses and resumes reading the upstream body. */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

/** A pausable upstream: pass `dispatcher` as the call's option and `flow` to `sendSse`. */
export interface PausableUpstream {
  dispatcher: Dispatcher;
  flow: FlowControl;
}

/**
 * Wraps `base` (default: rxllm's shared agent, so connection reuse is unchanged) for one call. A
 * retried call dispatches again: the newest attempt is the one paused.
 */
export function pausableUpstream(base: Dispatcher = getDefaultAgent()): PausableUpstream {
  let controller: Dispatcher.DispatchController | undefined;
  let paused = false;
  const dispatcher = base.compose(
    (dispatch) => (options, handler) =>
      dispatch(options, {
        onRequestStart(ctrl, context) {
          controller = ctrl;
          if (paused) ctrl.pause();
          handler.onRequestStart?.(ctrl, context);
        },
        onRequestUpgrade: (ctrl, status, headers, socket) =>
          handler.onRequestUpgrade?.(ctrl, status, headers, socket),
        onResponseStart: (ctrl, status, headers, message) =>
          handler.onResponseStart?.(ctrl, status, headers, message),
        onResponseData: (ctrl, chunk) => handler.onResponseData?.(ctrl, chunk),
        onResponseEnd: (ctrl, trailers) => handler.onResponseEnd?.(ctrl, trailers),
        onResponseError: (ctrl, error) => handler.onResponseError?.(ctrl, error),
      }),
  );
  return {
    dispatcher,
    flow: {
      pause() {
        paused = true;
        controller?.pause();
      },
      resume() {
        paused = false;
        controller?.resume();
      },
    },
  };
}
