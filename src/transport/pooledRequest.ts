/**
 * One request as the `ReusePool` sees it: it may wait in the pool's queue before it gets a client,
 * and the caller may abort it during that wait. While it waits the caller already holds a controller
 * (or, in undici's legacy handler style, an abort function), so an abort removes it from the queue
 * without ever touching a socket; once it starts, the same controller forwards to undici's.
 */
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { ForwardHandler } from './forwardHandler';

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;

/** Stands in for undici's controller while the request waits; forwards to it once started. */
class QueueController implements Controller {
  private real: Controller | undefined;
  private abortedWith: Error | null = null;
  private pauseRequested = false;

  constructor(private readonly cancel: (reason: Error) => void) {}

  get aborted(): boolean {
    return this.real ? this.real.aborted : this.abortedWith !== null;
  }
  get paused(): boolean {
    return this.real ? this.real.paused : this.pauseRequested;
  }
  get reason(): Error | null {
    return this.real ? this.real.reason : this.abortedWith;
  }
  get rawHeaders(): Controller['rawHeaders'] {
    return this.real?.rawHeaders;
  }
  get rawTrailers(): Controller['rawTrailers'] {
    return this.real?.rawTrailers;
  }

  abort(reason: Error): void {
    if (this.real) return this.real.abort(reason);
    if (this.abortedWith) return;
    this.abortedWith = reason ?? new Error('aborted');
    this.cancel(this.abortedWith);
  }
  pause(): void {
    if (this.real) this.real.pause();
    else this.pauseRequested = true;
  }
  resume(): void {
    if (this.real) this.real.resume();
    else this.pauseRequested = false;
  }

  attach(real: Controller): void {
    this.real = real;
    if (this.pauseRequested) real.pause();
  }
}

export class PooledRequest {
  private queueController: QueueController | undefined;
  private legacyAbort: ((err?: Error) => void) | undefined;
  private held = false;
  private cancelled = false;

  constructor(
    readonly options: Dispatcher.DispatchOptions,
    private readonly handler: Handler,
  ) {}

  /** undici tells the handler styles apart by `onRequestStart`. */
  private get modern(): boolean {
    return typeof this.handler.onRequestStart === 'function';
  }

  /**
   * The request must wait: hands the caller its controller now. `onCancel` runs once if the caller
   * aborts before `start`; the handler then gets its error callback, as undici would call it.
   */
  hold(onCancel: () => void): void {
    this.held = true;
    const cancel = (reason: Error) => {
      if (this.cancelled) return;
      this.cancelled = true;
      onCancel();
      this.fail(reason);
    };
    if (this.modern) {
      this.queueController = new QueueController(cancel);
      this.handler.onRequestStart!(this.queueController, {});
    } else {
      const h = this.handler as { onConnect?: (abort: (err?: Error) => void, ctx?: unknown) => void };
      h.onConnect?.((err?: Error) => {
        if (this.legacyAbort) this.legacyAbort(err);
        else cancel(err ?? new Error('aborted'));
      });
    }
  }

  /** Ends the request with `error` without it reaching a socket (a queued abort, a destroyed pool). */
  fail(error: Error): void {
    const h = this.handler as Required<Handler>;
    if (this.modern) h.onResponseError?.(this.queueController ?? inertController(error), error);
    else h.onError(error);
  }

  /**
   * The handler to give undici when the request starts on a client: forwards every callback in the
   * style the caller wrote it, and calls `release` once when the request ends, whichever way.
   */
  dispatchHandler(release: () => void): Handler {
    if (this.modern) {
      const forward = this.handler.onRequestUpgrade ? UpgradeForward : ModernForward;
      return new forward(this.handler, this.queueController, release);
    }
    const h = this.handler as Required<Handler>;
    let released = false;
    const done = () => {
      if (released) return;
      released = true;
      release();
    };
    const held = this.held;
    return {
      onConnect: (abort: (err?: Error) => void, ctx?: unknown) => {
        if (held) this.legacyAbort = abort;
        else (h.onConnect as (a: typeof abort, c?: unknown) => void)(abort, ctx);
      },
      onResponseStarted: this.handler.onResponseStarted && (() => h.onResponseStarted()),
      onUpgrade:
        this.handler.onUpgrade &&
        ((s, hd, sock) => {
          done();
          h.onUpgrade(s, hd, sock);
        }),
      onHeaders: (s, hd, resume, text) => h.onHeaders(s, hd, resume, text),
      onData: (chunk) => h.onData(chunk),
      onBodySent: this.handler.onBodySent && ((size, total) => h.onBodySent(size, total)),
      onComplete: (t) => {
        done();
        h.onComplete(t);
      },
      onError: (e) => {
        done();
        h.onError(e);
      },
    } as Handler;
  }
}

/**
 * The handler undici gets for a request in the modern callback style: a held request's own
 * controller is passed on instead of undici's, and the pool's slot is released when it ends.
 */
class ModernForward extends ForwardHandler {
  private released = false;

  constructor(
    target: Handler,
    /** The controller a held request was given already, passed on instead of undici's. */
    protected readonly qc: QueueController | undefined,
    private readonly release: () => void,
  ) {
    super(target);
  }

  protected done(): void {
    if (this.released) return;
    this.released = true;
    this.release();
  }

  protected override controllerFor(c: Controller): Controller {
    return this.qc ?? c;
  }

  override onRequestStart(c: Controller, ctx: unknown): void {
    // A held request already got its controller; later calls only connect it to undici's.
    if (this.qc) this.qc.attach(c);
    else this.target.onRequestStart?.(c, ctx);
  }

  override onResponseEnd(c: Controller, trailers: Record<string, string | string[] | undefined>): void {
    this.done();
    super.onResponseEnd(c, trailers);
  }

  override onResponseError(c: Controller, error: Error): void {
    this.done();
    super.onResponseError(c, error);
  }
}

/** {@link ModernForward} for a caller that handles upgrades (undici looks for the method). */
class UpgradeForward extends ModernForward {
  onRequestUpgrade(
    c: Controller,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    socket: Duplex,
  ): void {
    this.done();
    this.target.onRequestUpgrade?.(this.controllerFor(c), status, headers, socket);
  }
}

function inertController(reason: Error): Controller {
  return {
    aborted: true,
    paused: false,
    reason,
    abort: () => undefined,
    pause: () => undefined,
    resume: () => undefined,
  };
}
