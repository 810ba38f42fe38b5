/**
 * Log lines out of the gateway's hot path: the lines of one event-loop turn leave in one write.
 */
import { redactSecrets } from '../redact';

/**
 * A line writer that joins the lines of one event-loop turn into one write: at hundreds of
 * requests a second, one `write` per access-log line is a syscall per request.
 */
export function batchedLines(stream: { write(text: string): unknown }): (line: string) => void {
  let pending = '';
  const flush = () => {
    const text = pending;
    pending = '';
    stream.write(text);
  };
  return (line) => {
    if (pending === '') setImmediate(flush);
    pending += line + '\n';
  };
}

/** @internal the error line for a startup failure, without secrets */
export function describeStartError(error: unknown): string {
  return redactSecrets(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
}
