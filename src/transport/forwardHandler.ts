/**
 * A handler in undici's modern callback style that passes every callback on to another one: the
 * base of the wrappers rxllm puts around a request (the pool's, the gateway's pausable upstream).
 * A class, not an object of closures, since one is made per request and lives as long as its
 * response is read; subclasses change the step they need.
 */
import type { Dispatcher } from 'undici';

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;
type Headers = Record<string, string | string[] | undefined>;

export class ForwardHandler implements Handler {
  constructor(protected readonly target: Handler) {}

  /** The controller the target is handed for undici's `c`. */
  protected controllerFor(c: Controller): Controller {
    return c;
  }

  onRequestStart(c: Controller, context: unknown): void {
    this.target.onRequestStart?.(c, context);
  }

  onResponseStart(c: Controller, status: number, headers: Headers, message: string): void {
    this.target.onResponseStart?.(this.controllerFor(c), status, headers, message);
  }

  onResponseData(c: Controller, chunk: Buffer): void {
    this.target.onResponseData?.(this.controllerFor(c), chunk);
  }

  onResponseEnd(c: Controller, trailers: Headers): void {
    this.target.onResponseEnd?.(this.controllerFor(c), trailers);
  }

  onResponseError(c: Controller, error: Error): void {
    this.target.onResponseError?.(this.controllerFor(c), error);
  }
}
