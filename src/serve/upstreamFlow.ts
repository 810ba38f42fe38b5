/**
 * Backpressure to the upstream: a dispatcher for one upstream call whose body reads can
 * be paused. While a client's socket is full, `sendSse` pauses it, so undici stops reading the
 * provider's socket and TCP pushes back on the provider, instead of the server queueing the answer.
 * Built on the public `dispatcher` call option (an undici interceptor that keeps each attempt's
 * `DispatchController`), so the transport needs nothing special.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { Dispatcher } from 'undici';
import { getDefaultAgent } from '../transport/agent';
import { ForwardHandler } from '../transport/forwardHandler';

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

/** Passes every callback on, after noting the attempt's controller (paused at once if asked to be). */
class PausingHandler extends ForwardHandler {
  constructor(
    private readonly flow: PausableDispatcher,
    target: Dispatcher.DispatchHandler,
  ) {
    super(target);
  }

  override onRequestStart(ctrl: Dispatcher.DispatchController, context: unknown): void {
    this.flow.controller = ctrl;
    if (this.flow.paused) ctrl.pause();
    super.onRequestStart(ctrl, context);
  }

  onRequestUpgrade(
    ctrl: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
    socket: Duplex,
  ): void {
    this.target.onRequestUpgrade?.(ctrl, status, headers, socket);
  }
}

/**
 * One call's dispatcher: a subclass rather than `base.compose(...)`, which would make a bound
 * function, a `Proxy` and closures for every call (a gateway makes one per streamed request, and
 * holds it as long as the stream is open). Closing it leaves `base`, shared by every call, open.
 */
class PausableDispatcher extends Dispatcher implements FlowControl {
  controller: Dispatcher.DispatchController | undefined;
  paused = false;
  private converting: Dispatcher | undefined;

  constructor(private readonly base: Dispatcher) {
    super();
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (typeof handler.onRequestStart === 'function')
      return this.base.dispatch(options, new PausingHandler(this, handler));
    // A handler of undici's older callback API (its `request()` makes one): `compose` converts it.
    this.converting ??= this.base.compose(
      (dispatch) => (opts, converted) => dispatch(opts, new PausingHandler(this, converted)),
    );
    return this.converting.dispatch(options, handler);
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    if (callback) return void queueMicrotask(callback);
    return Promise.resolve();
  }

  override destroy(): Promise<void>;
  override destroy(error: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(error: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const callback = typeof a === 'function' ? a : b;
    if (callback) return void queueMicrotask(callback);
    return Promise.resolve();
  }

  pause(): void {
    this.paused = true;
    this.controller?.pause();
  }

  resume(): void {
    this.paused = false;
    this.controller?.resume();
  }
}

/**
 * Wraps `base` (default: rxllm's shared agent, so connection reuse is unchanged) for one call. A
 * retried call dispatches again: the newest attempt is the one paused.
 */
export function pausableUpstream(base: Dispatcher = getDefaultAgent()): PausableUpstream {
  const dispatcher = new PausableDispatcher(base);
  return { dispatcher, flow: dispatcher };
}
