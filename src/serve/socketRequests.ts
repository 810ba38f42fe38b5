/**
 * One set of listeners per WebSocket, however many requests share it. A page (or a service) that
 * runs many requests over one socket gave it four listeners per request: past 10, Node's
 * `EventTarget` (and `ws`'s `EventEmitter`) prints a "possible memory leak" warning the app cannot
 * silence for a socket rxllm reads, and every request parsed every message of every other one
 * (N requests, N parses per chunk). So requests register here by id, and the socket gets one
 * listener of each kind that parses a message once and hands it to the request it names.
 */
/** What is used of the socket (the listener methods of `WebSocketLike`). */
interface ListenedSocket {
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: any) => void): void;
  removeEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: any) => void): void;
}

/** One request's view of the socket. */
export interface SocketRequest {
  /** Its request id (messages carry it). */
  readonly id: string;
  /** Set while it waits for the socket to open; `onOpen` runs once, then it is cleared. */
  waitingOpen: boolean;
  onOpen(): void;
  /** A message with this request's id, or one with `id: null` (every request is told). */
  onMessage(message: any): void;
  /** A message that is not JSON (every request is told: nobody can tell whose it was). */
  onUnreadable(): void;
  onClose(event: { code?: number }): void;
  onError(event: { message?: unknown; error?: unknown }): void;
}

class SocketRequests {
  /** By id; a set, should two running requests share an id (both get its messages, as before). */
  private readonly byId = new Map<string, Set<SocketRequest>>();
  private readonly all = new Set<SocketRequest>();

  constructor(private readonly socket: ListenedSocket) {
    socket.addEventListener('message', this.onMessage);
    socket.addEventListener('close', this.onClose);
    socket.addEventListener('error', this.onError);
    socket.addEventListener('open', this.onOpen);
  }

  add(request: SocketRequest): void {
    this.all.add(request);
    const same = this.byId.get(request.id);
    if (same) same.add(request);
    else this.byId.set(request.id, new Set([request]));
  }

  /** Removes `request`; the socket's listeners go with the last one. */
  remove(request: SocketRequest): void {
    if (!this.all.delete(request)) return;
    const same = this.byId.get(request.id);
    same?.delete(request);
    if (same?.size === 0) this.byId.delete(request.id);
    if (this.all.size > 0) return;
    registries.delete(this.socket);
    this.socket.removeEventListener('message', this.onMessage);
    this.socket.removeEventListener('close', this.onClose);
    this.socket.removeEventListener('error', this.onError);
    this.socket.removeEventListener('open', this.onOpen);
  }

  /** Calls `fn` on every request still registered when its turn comes (one may end another). */
  private each(fn: (request: SocketRequest) => void, among: Iterable<SocketRequest> = this.all): void {
    for (const request of [...among]) if (this.all.has(request)) fn(request);
  }

  private readonly onMessage = (event: { data: unknown }) => {
    let message: any;
    try {
      message = JSON.parse(typeof event.data === 'string' ? event.data : String(event.data));
    } catch {
      return this.each((r) => r.onUnreadable());
    }
    if (message?.type === 'error' && message.id === null) return this.each((r) => r.onMessage(message));
    const same = typeof message?.id === 'string' ? this.byId.get(message.id) : undefined;
    if (!same) return;
    if (same.size === 1) for (const r of same) r.onMessage(message);
    else this.each((r) => r.onMessage(message), same);
  };

  private readonly onClose = (event: { code?: number }) => this.each((r) => r.onClose(event));

  private readonly onError = (event: { message?: unknown; error?: unknown }) =>
    this.each((r) => r.onError(event));

  private readonly onOpen = () =>
    this.each((r) => {
      if (!r.waitingOpen) return;
      r.waitingOpen = false;
      r.onOpen();
    });
}

const registries = new WeakMap<ListenedSocket, SocketRequests>();

/** Registers `request` on `socket`; returns the function that removes it. */
export function onSocket(socket: ListenedSocket, request: SocketRequest): () => void {
  let registry = registries.get(socket);
  if (!registry) {
    registry = new SocketRequests(socket);
    registries.set(socket, registry);
  }
  const own = registry;
  own.add(request);
  return () => own.remove(request);
}
