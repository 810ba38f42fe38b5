/**
 * The small logging seam operators write through, so warnings go where the application logs
 * (NestJS `Logger`, pino, winston and `console` all fit) instead of `console.log` calls scattered around.
 */

/** What rxllm needs from a logger. NestJS `Logger`, pino, winston and `console` satisfy it as they are. */
export interface Logger {
  warn(message: string): void;
  error(message: string): void;
}

/** The default logger: one line on stderr per message, prefixed with `[rxllm]`. */
export const consoleLogger: Logger = {
  warn: (message) => console.warn(`[rxllm] ${message}`),
  error: (message) => console.error(`[rxllm] ${message}`),
};

/** A logger that drops everything (tests, or callers that handle warnings themselves). */
export const silentLogger: Logger = {
  warn: () => undefined,
  error: () => undefined,
};
