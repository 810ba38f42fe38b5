/**
 * The gateway's short answers (refusals, `/v1/models`, extra routes) and their one access-log line.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatAccessLog, sendJsonError } from './chatCompletions';
import { closeAfter } from './httpLimits';
import type { GatewayKey } from './keys';

/** Logs a request answered without a model call: method, path, status, time, `complete` or `refused`. */
export function logAnswer(
  log: (line: string) => void,
  req: IncomingMessage,
  status: number,
  started: number,
): void {
  log(
    formatAccessLog({
      method: req.method ?? '-',
      path: (req.url ?? '/').split('?')[0],
      status,
      totalMs: performance.now() - started,
      outcome: status < 400 ? 'complete' : 'refused',
    }),
  );
}

/**
 * Refuses a request from its head with OpenAI's error JSON and closes the connection: a body
 * nobody will use is not read.
 */
export function refuse(
  res: ServerResponse,
  status: number,
  message: string,
  code: string | null = null,
): void {
  closeAfter(res);
  sendJsonError(res, status, 'invalid_request_error', message, code);
}

/** `GET /v1/models`: the names clients call; a virtual key sees the ones it may call (as LiteLLM lists a key's models). */
export function answerModels(
  res: ServerResponse,
  models: readonly string[],
  key: GatewayKey | undefined,
): void {
  const body = JSON.stringify({
    object: 'list',
    data: models
      .filter((id) => !key || key.allows(id))
      .map((id) => ({ id, object: 'model', created: 0, owned_by: 'rxllm' })),
  });
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/** Runs an extra route (health, metrics); a failure before its head is a 500. Resolves when it ended. */
export async function serveRoute(
  route: { handle(req: IncomingMessage, res: ServerResponse): void | Promise<void> },
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  req.resume();
  try {
    await route.handle(req, res);
  } catch (error) {
    if (!res.headersSent) sendJsonError(res, 500, 'server_error', (error as Error).message);
    else res.end();
  }
}
