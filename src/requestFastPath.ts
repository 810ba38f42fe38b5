/**
 * The common request (plain-text messages, a few numeric settings) checked without zod, so the first
 * `stream()` of a process does not pay zod's start-up (about 50–100 ms, bench B3) and `import('rxllm')`
 * stays light too. It only ever *accepts*: anything it is not sure of (tools, content parts, tool
 * calls, a field it does not know how zod checks) goes to the zod schema, which also writes every
 * rejection's message. A test (test/requestFastPath.spec.ts) runs both on the same requests: what this
 * accepts, zod accepts, and zod's output equals the input.
 */
import { MAX_CHOICES } from './requestLimits';

const MODEL = /^[a-z0-9][a-z0-9_.-]*\/.+$/i;

/** Message keys per role that the fast path knows (zod strips any other key, so those go to zod). */
const MESSAGE_KEYS: Record<string, readonly string[]> = {
  system: ['role', 'content', 'name'],
  developer: ['role', 'content', 'name'],
  user: ['role', 'content', 'name'],
  assistant: ['role', 'content', 'name'],
  tool: ['role', 'content', 'tool_call_id'],
};

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const int = (v: unknown): v is number => Number.isSafeInteger(v);

/** Top-level fields the schema constrains, with the same rule; any other schema field sends the request to zod. */
const CHECKED: Record<string, (v: unknown) => boolean> = {
  max_tokens: (v) => int(v) && v > 0,
  max_completion_tokens: (v) => int(v) && v > 0,
  temperature: (v) => finite(v) && v >= 0 && v <= 2,
  top_p: (v) => finite(v) && v >= 0 && v <= 1,
  n: (v) => int(v) && v >= 1 && v <= MAX_CHOICES,
  seed: (v) => int(v),
  presence_penalty: (v) => finite(v) && v >= -2 && v <= 2,
  frequency_penalty: (v) => finite(v) && v >= -2 && v <= 2,
  user: (v) => typeof v === 'string',
  parallel_tool_calls: (v) => typeof v === 'boolean',
};
const TO_ZOD = new Set(['tools', 'tool_choice', 'stop', 'response_format']);

function plainMessage(m: unknown): boolean {
  if (m === null || typeof m !== 'object' || Array.isArray(m)) return false;
  const msg = m as Record<string, unknown>;
  const keys = MESSAGE_KEYS[msg.role as string];
  if (!keys || typeof msg.content !== 'string') return false;
  for (const key in msg) if (!keys.includes(key)) return false;
  if (msg.name !== undefined && typeof msg.name !== 'string') return false;
  if (msg.role === 'tool' && typeof msg.tool_call_id !== 'string') return false;
  return true;
}

/** True when `request` is certainly valid (zod would accept it unchanged); false means "ask zod". */
export function isPlainValidRequest(request: unknown): boolean {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) return false;
  const r = request as Record<string, unknown>;
  if (typeof r.model !== 'string' || !MODEL.test(r.model)) return false;
  const { messages } = r;
  if (!Array.isArray(messages) || messages.length === 0) return false;
  for (const m of messages) if (!plainMessage(m)) return false;
  for (const key in r) {
    const value = r[key];
    if (value === undefined) continue;
    if (TO_ZOD.has(key)) return false;
    const check = CHECKED[key];
    if (check && !check(value)) return false;
  }
  return true;
}
