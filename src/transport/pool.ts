/**
 * A keep-alive dispatcher that reuses a socket as soon as its last request ended.
 *
 * Why not undici's `Agent`/`Pool` as they are: a pool marks a client "needs drain" when a dispatch
 * fills it, and clears the mark only on the client's `drain` event — which, for a request that
 * completes quickly, can come after the caller has already sent its next request, or not at all.
 * The pool then opens a new socket: sequential calls alternate between two sockets, and N
 * concurrent slots end up on ~2N sockets (measured: 39 sockets for 20 slots). Here each origin keeps
 * plain undici `Client`s and counts its own in-flight requests, decremented when a request ends; a
 * new request goes to a client with none in flight, and that client's own queue sends it on the
 * socket the moment undici frees it.
 */
import { Client, Dispatcher } from 'undici';

export interface ReusePoolOptions {
  /** Most sockets per origin; requests beyond it wait in the least busy client's queue. @defaultValue Infinity */
  connections?: number;
  /** Options of each undici `Client` (keep-alive and connect timeouts, ...). */
  clientOptions?: Client.Options;
  /**
   * The connector for a new client of `origin` (a proxy tunnel, see `proxy.ts`), or `undefined` to
   * connect directly. Each client still holds one socket (here, one tunnel).
   */
  connectorFor?: (origin: string) => Client.Options['connect'] | undefined;
}

interface Slot {
  client: Client;
  inFlight: number;
}

export class ReusePool extends Dispatcher {
  private readonly origins = new Map<string, Slot[]>();
  private readonly maxConnections: number;
  private readonly clientOptions: Client.Options;
  private readonly connectorFor: ReusePoolOptions['connectorFor'];
  private closed = false;

  constructor(options: ReusePoolOptions = {}) {
    super();
    this.maxConnections = options.connections ?? Infinity;
    this.clientOptions = options.clientOptions ?? {};
    this.connectorFor = options.connectorFor;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.closed) throw new Error('ReusePool is closed');
    const origin = String(options.origin);
    const slot = this.pick(origin);
    slot.inFlight++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      slot.inFlight--;
    };
    return slot.client.dispatch(options, countingHandler(handler, release));
  }

  private pick(origin: string): Slot {
    let slots = this.origins.get(origin);
    if (!slots) {
      slots = [];
      this.origins.set(origin, slots);
    }
    let least: Slot | undefined;
    for (let i = slots.length - 1; i >= 0; i--) {
      const slot = slots[i];
      if (slot.client.destroyed || slot.client.closed) {
        slots.splice(i, 1);
        continue;
      }
      if (slot.inFlight === 0) return slot;
      if (!least || slot.inFlight < least.inFlight) least = slot;
    }
    if (least && slots.length >= this.maxConnections) return least;
    const connect = this.connectorFor?.(origin);
    const options = connect ? { ...this.clientOptions, connect } : this.clientOptions;
    const slot: Slot = { client: new Client(origin, options), inFlight: 0 };
    slots.push(slot);
    return slot;
  }

  /** Number of undici clients (each holds at most one socket) per origin. */
  get clientCount(): number {
    let n = 0;
    for (const slots of this.origins.values()) n += slots.length;
    return n;
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    this.closed = true;
    const done = Promise.all(this.allClients().map((c) => c.close())).then(() => undefined);
    if (callback) {
      done.then(callback, callback);
      return;
    }
    return done;
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(errOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    this.closed = true;
    const err = typeof errOrCallback === 'function' ? null : (errOrCallback ?? null);
    const cb = typeof errOrCallback === 'function' ? errOrCallback : callback;
    const done = Promise.all(this.allClients().map((c) => c.destroy(err))).then(() => undefined);
    if (cb) {
      done.then(cb, cb);
      return;
    }
    return done;
  }

  private allClients(): Client[] {
    const all: Client[] = [];
    for (const slots of this.origins.values()) for (const s of slots) all.push(s.client);
    this.origins.clear();
    return all;
  }
}

/**
 * Forwards every callback of `handler` in the style it was written in (undici tells the styles
 * apart by `onRequestStart`), calling `release` once when the request ends either way.
 */
function countingHandler(
  handler: Dispatcher.DispatchHandler,
  release: () => void,
): Dispatcher.DispatchHandler {
  const h = handler as Required<Dispatcher.DispatchHandler>;
  if (typeof handler.onRequestStart === 'function') {
    return {
      onRequestStart: (c, ctx) => h.onRequestStart(c, ctx),
      onRequestUpgrade: handler.onRequestUpgrade && ((c, s, hd, sock) => h.onRequestUpgrade(c, s, hd, sock)),
      onResponseStart: (c, s, hd, m) => h.onResponseStart?.(c, s, hd, m),
      onResponseData: (c, chunk) => h.onResponseData?.(c, chunk),
      onResponseEnd: (c, t) => {
        release();
        h.onResponseEnd?.(c, t);
      },
      onResponseError: (c, e) => {
        release();
        h.onResponseError?.(c, e);
      },
    };
  }
  return {
    onConnect: (abort: (err?: Error) => void, ctx?: unknown) => (h.onConnect as any)(abort, ctx),
    onResponseStarted: handler.onResponseStarted && (() => h.onResponseStarted()),
    onUpgrade: handler.onUpgrade && ((s, hd, sock) => h.onUpgrade(s, hd, sock)),
    onHeaders: (s, hd, resume, text) => h.onHeaders(s, hd, resume, text),
    onData: (chunk) => h.onData(chunk),
    onBodySent: handler.onBodySent && ((size, total) => h.onBodySent(size, total)),
    onComplete: (t) => {
      release();
      h.onComplete(t);
    },
    onError: (e) => {
      release();
      h.onError(e);
    },
  };
}
