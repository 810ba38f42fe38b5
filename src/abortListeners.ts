/**
 * One `abort` listener per signal, however many calls wait on it. An app often hands one signal
 * (its shutdown signal, a request's) to many concurrent calls; a listener per call on it makes Node
 * print `MaxListenersExceededWarning` past 10, and rxllm cannot raise the limit of a signal it does
 * not own. So calls register here, and the signal gets a single listener that calls them all.
 */
interface Waiting {
  listeners: Set<() => void>;
  fire: () => void;
}

const waiting = new WeakMap<AbortSignal, Waiting>();

/**
 * Calls `listener` once when `signal` aborts (not if it has already: check `signal.aborted` first),
 * in the order listeners were added; a listener removed while others run is not called. Returns the
 * function that removes it; the signal's own listener goes with the last one.
 */
export function onAbort(signal: AbortSignal, listener: () => void): () => void {
  let entry = waiting.get(signal);
  if (!entry) {
    const listeners = new Set<() => void>();
    const fire = () => {
      waiting.delete(signal);
      for (const l of [...listeners]) if (listeners.has(l)) l();
      listeners.clear();
    };
    entry = { listeners, fire };
    waiting.set(signal, entry);
    signal.addEventListener('abort', fire, { once: true });
  }
  const { listeners, fire } = entry;
  listeners.add(listener);
  return () => {
    if (!listeners.delete(listener) || listeners.size > 0) return;
    if (waiting.get(signal)?.listeners === listeners) {
      waiting.delete(signal);
      signal.removeEventListener('abort', fire);
    }
  };
}
