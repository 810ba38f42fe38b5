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
 *
 * One dispatch path: a request that finds every client busy (at the `connections` cap) waits in one
 * FIFO queue per origin and goes to the first client that frees up — never to a socket chosen up
 * front, which could be held for minutes by a long stream while another is idle. A
 * queued request that is aborted leaves the queue; it never counts as in flight and never reaches,
 * or destroys, a socket.
 *
 * All its direct sockets share one connector (as a `Pool`'s do): a new socket to a provider resumes
 * the TLS session of an earlier one rather than making a full handshake.
 */
import { buildConnector, Client, Dispatcher } from 'undici';
import { PooledRequest } from './pooledRequest';

export interface ReusePoolOptions {
  /** Most sockets per origin; requests beyond it wait in a FIFO queue for the first free one. @defaultValue Infinity */
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

interface Origin {
  key: string;
  slots: Slot[];
  queue: PooledRequest[];
}

export class ReusePool extends Dispatcher {
  private readonly origins = new Map<string, Origin>();
  private readonly maxConnections: number;
  private readonly clientOptions: Client.Options;
  private readonly connectorFor: ReusePoolOptions['connectorFor'];
  private closed = false;
  private direct: buildConnector.connector | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(options: ReusePoolOptions = {}) {
    super();
    const { connections = Infinity } = options;
    if (!(connections >= 1)) {
      throw new TypeError(`ReusePool: connections must be a number >= 1, got ${String(connections)}.`);
    }
    this.maxConnections = connections;
    this.clientOptions = options.clientOptions ?? {};
    this.connectorFor = options.connectorFor;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.closed) throw new Error('ReusePool is closed');
    const origin = this.originOf(String(options.origin));
    const request = new PooledRequest(options, handler);
    const slot = this.freeSlot(origin);
    if (slot) {
      this.start(origin, slot, request, true);
      return true;
    }
    origin.queue.push(request);
    request.hold(() => this.dequeue(origin, request));
    return true;
  }

  /** Number of undici clients (each holds at most one socket) across origins. */
  get clientCount(): number {
    let n = 0;
    for (const o of this.origins.values()) n += o.slots.length;
    return n;
  }

  /** Requests waiting for a free client (not in flight), across origins. */
  get queuedCount(): number {
    let n = 0;
    for (const o of this.origins.values()) n += o.queue.length;
    return n;
  }

  /** Requests sent on a client and not ended yet, across origins. */
  get inFlightCount(): number {
    let n = 0;
    for (const o of this.origins.values()) for (const s of o.slots) n += s.inFlight;
    return n;
  }

  /** The one place a socket's client is made (a hook for other dispatch strategies, e.g. proxies). */
  protected createClient(origin: string): Client {
    const connect = this.connectorFor?.(origin) ?? this.directConnector();
    return new Client(origin, { ...this.clientOptions, connect });
  }

  /**
   * The connector every direct client of the pool shares, built once from `clientOptions` the way
   * undici's own `Pool` builds one for its clients. A `Client` given connect options instead builds a
   * connector of its own, with its own TLS session cache: every new socket to a provider then made
   * a full TLS handshake (no session resumed from the pool's other sockets), and each socket held a
   * connector and a session cache (with its finalization registry) besides.
   */
  private directConnector(): buildConnector.connector {
    if (this.direct) return this.direct;
    const options = this.clientOptions;
    const { connect } = options;
    if (typeof connect === 'function') return (this.direct = connect);
    // The fields undici's Client and Pool build their connector from (`tls` and `useH2c` are
    // accepted at runtime but not in undici's types).
    const { tls, useH2c } = options as { tls?: object; useH2c?: boolean };
    const { autoSelectFamily, autoSelectFamilyAttemptTimeout } = options;
    this.direct = buildConnector({
      ...tls,
      maxCachedSessions: options.maxCachedSessions,
      allowH2: options.allowH2,
      useH2c,
      socketPath: options.socketPath,
      timeout: options.connectTimeout,
      ...(typeof autoSelectFamily === 'boolean'
        ? { autoSelectFamily, autoSelectFamilyAttemptTimeout }
        : undefined),
      ...connect,
    } as unknown as buildConnector.BuildOptions);
    return this.direct;
  }

  private originOf(key: string): Origin {
    let origin = this.origins.get(key);
    if (!origin) {
      origin = { key, slots: [], queue: [] };
      this.origins.set(key, origin);
    }
    return origin;
  }

  /** A client with nothing in flight, a new one while under the cap, else `undefined`. */
  private freeSlot(origin: Origin): Slot | undefined {
    const { slots } = origin;
    for (let i = slots.length - 1; i >= 0; i--) {
      const slot = slots[i];
      if (slot.client.destroyed || slot.client.closed) {
        slots.splice(i, 1);
        continue;
      }
      if (slot.inFlight === 0) return slot;
    }
    if (slots.length >= this.maxConnections) return undefined;
    const slot: Slot = { client: this.createClient(origin.key), inFlight: 0 };
    slots.push(slot);
    return slot;
  }

  private start(origin: Origin, slot: Slot, request: PooledRequest, direct: boolean): void {
    slot.inFlight++;
    const release = () => {
      slot.inFlight--;
      this.drain(origin);
    };
    try {
      slot.client.dispatch(request.options, request.dispatchHandler(release));
    } catch (error) {
      slot.inFlight--;
      // The caller of `dispatch` gets a synchronous throw as from undici; a queued one its handler.
      if (direct) throw error;
      request.fail(error as Error);
      this.drain(origin);
    }
  }

  /** Hands queued requests, oldest first, to free clients. */
  private drain(origin: Origin): void {
    while (origin.queue.length > 0) {
      const slot = this.freeSlot(origin);
      if (!slot) return;
      const next = origin.queue.shift()!;
      this.start(origin, slot, next, false);
    }
    this.notifyIdle();
  }

  private dequeue(origin: Origin, request: PooledRequest): void {
    const i = origin.queue.indexOf(request);
    if (i >= 0) origin.queue.splice(i, 1);
    if (origin.queue.length === 0) this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.idleWaiters.length === 0 || this.queuedCount > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once no request waits in a queue (every queued one started or was aborted). */
  private queuesEmpty(): Promise<void> {
    if (this.queuedCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops accepting requests, lets queued and in-flight ones finish, then closes every socket. */
  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    this.closed = true;
    const done = this.queuesEmpty()
      .then(() => Promise.all(this.allClients().map((c) => c.close())))
      .then(() => undefined);
    if (callback) {
      done.then(callback, callback);
      return;
    }
    return done;
  }

  /** Fails queued requests with `err` (or a generic error), aborts in-flight ones, destroys sockets. */
  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(errOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    this.closed = true;
    const err = typeof errOrCallback === 'function' ? null : (errOrCallback ?? null);
    const cb = typeof errOrCallback === 'function' ? errOrCallback : callback;
    for (const origin of this.origins.values()) {
      const queued = origin.queue.splice(0);
      for (const request of queued) request.fail(err ?? new Error('The ReusePool was destroyed.'));
    }
    this.notifyIdle();
    const done = Promise.all(this.allClients().map((c) => c.destroy(err))).then(() => undefined);
    if (cb) {
      done.then(cb, cb);
      return;
    }
    return done;
  }

  private allClients(): Client[] {
    const all: Client[] = [];
    for (const o of this.origins.values()) for (const s of o.slots) all.push(s.client);
    this.origins.clear();
    return all;
  }
}
