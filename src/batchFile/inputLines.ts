/**
 * The input side of a batch file: OpenAI batch-file lines (`custom_id`, `method`, `url`, `body`) read
 * into chat requests, each bad line named by its number and reason. Shared by `rxllm batch` and
 * anything else that takes the same files (a queue that enqueues them), so they all read a file alike.
 */
import { validateRequest, type ChatRequest } from '../request';

/** One request of a batch file. */
export interface BatchFileJob {
  /** 1-based line number in the file. */
  line: number;
  /** The line's `custom_id`, unique in the file. */
  customId: string;
  /** Its `body`, checked (`validateRequest`), the model with its provider, without `stream`. */
  request: ChatRequest;
}

/** A line that was skipped, and why (a sentence without the line's contents). */
export interface BadBatchLine {
  /** 1-based line number in the file. */
  line: number;
  reason: string;
}

/** How {@link parseBatchLine} and {@link parseBatchFile} read a line. */
export interface BatchLineOptions {
  /** Send every line to this model instead of its `body.model`. @defaultValue undefined */
  model?: string;
  /** `body.model` names a router group, taken as it is (no provider prefix added). @defaultValue false */
  routed?: boolean;
}

/**
 * The provider of a model named without one. OpenAI's own batch files say `"model": "gpt-4o-mini"`
 * (https://platform.openai.com/docs/api-reference/batch/request-input), so they run as they are.
 */
export const BATCH_FILE_DEFAULT_PROVIDER = 'openai';

/**
 * The `url`s of a chat-completions line: OpenAI's (`/v1/chat/completions`) and Azure OpenAI's
 * (`/chat/completions`, https://learn.microsoft.com/azure/ai-foundry/openai/how-to/batch). Other
 * endpoints of the format (embeddings, responses) have other bodies and results.
 */
const CHAT_URLS = new Set(['/v1/chat/completions', '/chat/completions']);

/** `gpt-4o-mini` -> `openai/gpt-4o-mini`; a name with a provider (or not a string) is kept. */
export function withDefaultProvider(model: unknown): unknown {
  return typeof model === 'string' && model !== '' && !model.includes('/')
    ? `${BATCH_FILE_DEFAULT_PROVIDER}/${model}`
    : model;
}

/**
 * Reads one line (without its line break) into a request, or says why it cannot. `stream` is
 * dropped: a batch keeps whole answers. Repeated `custom_id`s are the file's business
 * ({@link parseBatchFile}).
 */
export function parseBatchLine(
  raw: string,
  options: BatchLineOptions = {},
): { customId: string; request: ChatRequest } | { reason: string } {
  let parsed: { custom_id?: unknown; method?: unknown; url?: unknown; body?: unknown };
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { reason: 'not valid JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    return { reason: 'not a JSON object' };
  const { custom_id: customId, method, url, body } = parsed;
  if (typeof customId !== 'string' || customId === '')
    return { reason: 'custom_id must be a non-empty string' };
  // OpenAI: "Currently only POST is supported" for `method`.
  if (method !== undefined && method !== 'POST')
    return { reason: `method must be "POST", got ${show(method)}` };
  if (url !== undefined && !CHAT_URLS.has(url as string))
    return {
      reason: `url ${show(url)} is not supported: rxllm batch sends chat completions (/v1/chat/completions)`,
    };
  if (!body || typeof body !== 'object' || Array.isArray(body)) return { reason: 'body must be an object' };
  const model = options.model ?? (body as { model?: unknown }).model;
  const request: Record<string, unknown> = {
    ...body,
    model: options.routed && !options.model ? model : withDefaultProvider(model),
  };
  delete request.stream;
  if (options.routed && !options.model && typeof request.model !== 'string')
    return { reason: 'body.model must name a router group' };
  try {
    // A group name is not "provider/model": check the rest of the request with a stand-in model.
    validateRequest(options.routed && !options.model ? { ...request, model: 'router/group' } : request);
  } catch (error) {
    return { reason: (error as Error).message };
  }
  return { customId, request: request as ChatRequest };
}

/**
 * Reads a whole batch file: skips a UTF-8 byte-order mark (editors on Windows write one; also one
 * inside, where files were joined with `cat`) and blank lines, takes `\n` or `\r\n` line ends, and
 * reports every bad line (a repeated `custom_id` too: its result could not be told apart) instead of
 * stopping at the first.
 */
export function parseBatchFile(
  text: string,
  options: BatchLineOptions = {},
): { jobs: BatchFileJob[]; bad: BadBatchLine[] } {
  const jobs: BatchFileJob[] = [];
  const bad: BadBatchLine[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((withBom, i) => {
    const line = i + 1;
    // At the start of any line, not only the file's: `cat a.jsonl b.jsonl` keeps b's mark.
    const raw = withBom.charCodeAt(0) === 0xfeff ? withBom.slice(1) : withBom;
    if (raw.trim() === '') return;
    const parsed = parseBatchLine(raw, options);
    if ('reason' in parsed) return bad.push({ line, reason: parsed.reason });
    if (seen.has(parsed.customId))
      return bad.push({ line, reason: `custom_id ${show(parsed.customId)} is repeated` });
    seen.add(parsed.customId);
    jobs.push({ line, ...parsed });
  });
  return { jobs, bad };
}

/** How a bad line is reported on stderr by every mode of `rxllm batch`, so one grep finds them all. */
export function badLineNotice(bad: BadBatchLine): string {
  return `line ${bad.line}: ${bad.reason}; skipped.`;
}

/** A value in a reason, short: a line may be long, and the reason goes to a terminal. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
