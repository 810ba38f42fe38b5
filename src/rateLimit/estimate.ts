/**
 * The default token estimate of a request, for rate limiting before the provider reports usage.
 * No tokenizer is bundled (runtime dependencies stay undici and eventsource-parser), so it is
 * a rule, chosen to err on the high side:
 *
 * - Text: 1 token per CJK character (Han, kana, Hangul — BPE vocabularies such as cl100k spend about
 *   one token per character on them, so characters / 4 undercounts Chinese about 4x), and 1 token
 *   per 4 other characters (OpenAI's rule of thumb for English).
 * - Images, by the provider's documented rule (the model's provider prefix picks it; every other
 *   provider gets OpenAI's, which the OpenAI-compatible servers copy):
 *   - OpenAI: `detail: 'low'` = 85 tokens; `high`/`auto` = 85 + 170 per 512 px tile after fitting
 *     the image into 2048 x 2048 and scaling its short side down to 768.
 *   - Anthropic: width x height / 750 after scaling the long edge down to 1568 px, at most 1600.
 *   - Gemini: 258 when both sides are <= 384 px, else 258 per 768 x 768 tile.
 *   The size is read from the header of a `data:` URL (PNG, JPEG, GIF, WebP); a remote URL or an
 *   unreadable image counts as 2048 x 2048 (the most OpenAI bills at `high`).
 * - Plus 4 tokens per message (role and separators), the tools' JSON / 4, and the output cap
 *   (`max_completion_tokens` or `max_tokens`).
 */
import { choicesOf } from './choices';
import type { ChatRequest } from '../request';
import { addTextChars } from './textChars';

/** Which provider's image rule to apply. */
export type ImageTokenRule = 'openai' | 'anthropic' | 'gemini';

/** Width and height of an unknown image: the largest OpenAI bills at `high`. */
const UNKNOWN_SIZE = { width: 2048, height: 2048 };
const PER_MESSAGE = 4;

// What counts as CJK: see `./textChars`.

/** Tokens of a text: 1 per CJK character, 1 per 4 other characters (rounded up). */
export function estimateTextTokens(text: string): number {
  const { cjk, others } = countTextChars(text);
  return cjk + Math.ceil(others / 4);
}

/**
 * The two counts {@link estimateTextTokens} is made of, so a text that arrives in pieces (a stream)
 * can be counted piece by piece and rounded once at the end.
 */
export function countTextChars(text: string): { cjk: number; others: number } {
  const counts = { cjk: 0, others: 0 };
  addTextChars(text, counts);
  return counts;
}

/** Tokens of one image of `width` x `height` pixels under a provider's documented rule. */
export function estimateImageTokens(
  size: { width: number; height: number } | undefined,
  detail: 'auto' | 'low' | 'high' = 'auto',
  rule: ImageTokenRule = 'openai',
): number {
  let { width, height } = size && size.width > 0 && size.height > 0 ? size : UNKNOWN_SIZE;
  if (rule === 'anthropic') {
    const scale = Math.min(1, 1568 / Math.max(width, height));
    return Math.min(1600, Math.ceil((width * scale * (height * scale)) / 750));
  }
  if (rule === 'gemini') {
    if (width <= 384 && height <= 384) return 258;
    return Math.ceil(width / 768) * Math.ceil(height / 768) * 258;
  }
  if (detail === 'low') return 85;
  const fit = Math.min(1, 2048 / Math.max(width, height));
  width *= fit;
  height *= fit;
  const short = Math.min(1, 768 / Math.min(width, height));
  width *= short;
  height *= short;
  return 85 + 170 * Math.ceil(width / 512) * Math.ceil(height / 512);
}

/** The request's tokens (prompt + output cap, once per choice) by the rules above. */
export function estimateRequestTokens(request: ChatRequest): number {
  const rule = imageRule(request.model);
  let tokens = 0;
  for (const message of request.messages ?? []) {
    tokens += PER_MESSAGE;
    const content = (message as { content?: unknown }).content;
    if (typeof content === 'string') tokens += estimateTextTokens(content);
    else if (Array.isArray(content)) {
      for (const part of content as {
        type?: string;
        text?: string;
        image_url?: { url?: string; detail?: 'auto' | 'low' | 'high' };
      }[]) {
        if (part?.type === 'text') tokens += estimateTextTokens(String(part.text ?? ''));
        else if (part?.type === 'image_url')
          tokens += estimateImageTokens(imageSize(part.image_url?.url ?? ''), part.image_url?.detail, rule);
      }
    }
    const calls = (message as { tool_calls?: unknown }).tool_calls;
    if (calls) tokens += estimateTextTokens(JSON.stringify(calls));
  }
  if (request.tools) tokens += estimateTextTokens(JSON.stringify(request.tools));
  // The output cap is per choice: `n` choices may each use it.
  return tokens + (request.max_completion_tokens ?? request.max_tokens ?? 0) * choicesOf(request);
}

function imageRule(model: string | undefined): ImageTokenRule {
  const provider = String(model ?? '')
    .split('/', 1)[0]
    .toLowerCase();
  return provider === 'anthropic' || provider === 'gemini' ? provider : 'openai';
}

/** Pixel size from the header bytes of a base64 `data:` URL; `undefined` if unknown. */
export function imageSize(url: string): { width: number; height: number } | undefined {
  const m = /^data:[^;,]*;base64,/i.exec(url);
  if (!m) return undefined;
  // 64 KiB of image is enough to reach a JPEG's frame header past its EXIF block.
  const bytes = Buffer.from(url.slice(m[0].length, m[0].length + 87_384), 'base64');
  return pngSize(bytes) ?? gifSize(bytes) ?? webpSize(bytes) ?? jpegSize(bytes);
}

function pngSize(b: Buffer) {
  if (b.length < 24 || b.readUInt32BE(0) !== 0x89504e47) return undefined;
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

function gifSize(b: Buffer) {
  if (b.length < 10 || b.toString('latin1', 0, 4) !== 'GIF8') return undefined;
  return { width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
}

function webpSize(b: Buffer) {
  if (b.length < 30 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WEBP')
    return undefined;
  const kind = b.toString('latin1', 12, 16);
  if (kind === 'VP8 ') return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
  if (kind === 'VP8L') {
    const bits = b.readUInt32LE(21);
    return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
  }
  if (kind === 'VP8X') return { width: b.readUIntLE(24, 3) + 1, height: b.readUIntLE(27, 3) + 1 };
  return undefined;
}

function jpegSize(b: Buffer) {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1];
    const length = b.readUInt16BE(i + 2);
    // SOF0-SOF15 carry the size, except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { width: b.readUInt16BE(i + 7), height: b.readUInt16BE(i + 5) };
    }
    i += 2 + length;
  }
  return undefined;
}
