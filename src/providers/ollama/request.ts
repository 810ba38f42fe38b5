/**
 * Neutral `ChatRequest` → Ollama `POST /api/chat` body.
 *
 * Wire format: https://github.com/ollama/ollama/blob/main/docs/api.md#generate-a-chat-completion.
 * Differences handled here: images are bare base64 strings in a message's `images`; tool-call
 * arguments are JSON objects, not strings; a tool result names its function (`tool_name`); sampling
 * options live in `options` (`num_predict` is max tokens); structured output is `format`; thinking
 * is `think`.
 */
import { RequestValidationError } from '../../errors';
import type { ChatMessage, ChatRequest } from '../../request';

/** Ollama-only top-level fields passed through unchanged (`keep_alive`, `think`, a caller's `options`). */
export const OLLAMA_PASSTHROUGH_FIELDS = ['keep_alive', 'think'] as const;

type Issue = { path: (string | number)[]; message: string };
const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

/** The JSON body for `POST /api/chat`. Throws `RequestValidationError` for what cannot be translated. */
export function toOllamaBody(
  request: ChatRequest,
  model: string,
  streaming: boolean,
): Record<string, unknown> {
  const issues: Issue[] = [];
  const toolNames = new Map<string, string>();
  const messages = request.messages.map((message: ChatMessage, i) => {
    switch (message.role) {
      case 'system':
      case 'developer':
        return { role: 'system', content: joinText(message.content) };
      case 'user': {
        if (typeof message.content === 'string') return { role: 'user', content: message.content };
        const images: string[] = [];
        let text = '';
        message.content.forEach((part, j) => {
          if (part.type === 'text') {
            text += part.text;
            return;
          }
          const data = DATA_URL.exec(part.image_url.url);
          if (data) images.push(data[2]);
          else {
            issues.push({
              path: ['messages', i, 'content', j, 'image_url', 'url'],
              message: 'Ollama takes images inline: pass a data URL (data:image/png;base64,...)',
            });
          }
        });
        return images.length ? { role: 'user', content: text, images } : { role: 'user', content: text };
      }
      case 'assistant': {
        const out: Record<string, unknown> = {
          role: 'assistant',
          content: message.content == null ? '' : joinText(message.content),
        };
        if (message.reasoning) out.thinking = message.reasoning;
        if (message.tool_calls?.length) {
          out.tool_calls = message.tool_calls.map((call, j) => {
            toolNames.set(call.id, call.function.name);
            let args: unknown = {};
            try {
              if (call.function.arguments.trim() !== '') args = JSON.parse(call.function.arguments);
            } catch {
              args = undefined;
            }
            if (args === null || typeof args !== 'object' || Array.isArray(args)) {
              issues.push({
                path: ['messages', i, 'tool_calls', j, 'function', 'arguments'],
                message: 'tool call arguments must be a JSON object (Ollama takes the parsed object)',
              });
            }
            return { id: call.id, function: { name: call.function.name, arguments: args } };
          });
        }
        return out;
      }
      case 'tool': {
        // Ollama's tool message has no error flag: an `is_error` result goes as its text alone.
        const out: Record<string, unknown> = { role: 'tool', content: joinText(message.content) };
        const name = toolNames.get(message.tool_call_id);
        if (name !== undefined) out.tool_name = name;
        return out;
      }
    }
  });
  if (request.n !== undefined && request.n > 1) {
    issues.push({ path: ['n'], message: 'Ollama returns one choice per request; n must be 1' });
  }
  if (issues.length > 0) {
    throw new RequestValidationError(
      `Invalid request for Ollama: ${issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`,
      issues,
    );
  }

  const body: Record<string, unknown> = { model, messages, stream: streaming };
  if (request.tools?.length) {
    body.tools = request.tools.map(({ function: f }) => ({
      type: 'function',
      function: {
        name: f.name,
        ...(f.description !== undefined && { description: f.description }),
        parameters: f.parameters ?? { type: 'object', properties: {} },
      },
    }));
  }
  const format = request.response_format;
  if (format?.type === 'json_object') body.format = 'json';
  else if (format?.type === 'json_schema') body.format = format.json_schema.schema ?? 'json';
  const extra = request as Record<string, unknown>;
  const options: Record<string, unknown> = {};
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens !== undefined) options.num_predict = maxTokens;
  if (request.temperature !== undefined) options.temperature = request.temperature;
  if (request.top_p !== undefined) options.top_p = request.top_p;
  if (request.seed !== undefined) options.seed = request.seed;
  if (request.stop !== undefined)
    options.stop = typeof request.stop === 'string' ? [request.stop] : request.stop;
  if (request.presence_penalty !== undefined) options.presence_penalty = request.presence_penalty;
  if (request.frequency_penalty !== undefined) options.frequency_penalty = request.frequency_penalty;
  if (isObject(extra.options)) Object.assign(options, extra.options);
  if (Object.keys(options).length > 0) body.options = options;
  // `reasoning_effort` is OpenAI's name for what Ollama's `think` levels say.
  if (typeof extra.reasoning_effort === 'string') body.think = extra.reasoning_effort;
  for (const field of OLLAMA_PASSTHROUGH_FIELDS) {
    if (extra[field] !== undefined) body[field] = extra[field];
  }
  return body;
}

function joinText(content: string | { type: 'text'; text: string }[]): string {
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
