import {
  estimateImageTokens,
  estimateRequestTokens,
  estimateTextTokens,
  imageSize,
  type ChatRequest,
} from 'rxllm';

const png = (width: number, height: number, padding = 0) => {
  const b = Buffer.alloc(33 + padding);
  b.writeUInt32BE(0x89504e47, 0);
  b.writeUInt32BE(0x0d0a1a0a, 4);
  b.writeUInt32BE(13, 8);
  b.write('IHDR', 12, 'latin1');
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  return `data:image/png;base64,${b.toString('base64')}`;
};
const jpeg = (width: number, height: number) => {
  // SOI, an APP0 segment of 16 bytes, then SOF0 with the size.
  const b = Buffer.from([
    0xff,
    0xd8,
    0xff,
    0xe0,
    0x00,
    0x10,
    ...Buffer.alloc(14),
    0xff,
    0xc0,
    0x00,
    0x11,
    0x08,
    height >> 8,
    height & 0xff,
    width >> 8,
    width & 0xff,
    0x03,
    ...Buffer.alloc(9),
  ]);
  return `data:image/jpeg;base64,${b.toString('base64')}`;
};
const gif = (width: number, height: number) => {
  const b = Buffer.alloc(13);
  b.write('GIF89a', 0, 'latin1');
  b.writeUInt16LE(width, 6);
  b.writeUInt16LE(height, 8);
  return `data:image/gif;base64,${b.toString('base64')}`;
};
const webp = (width: number, height: number) => {
  const b = Buffer.alloc(30);
  b.write('RIFF', 0, 'latin1');
  b.write('WEBPVP8X', 8, 'latin1');
  b.writeUIntLE(width - 1, 24, 3);
  b.writeUIntLE(height - 1, 27, 3);
  return `data:image/webp;base64,${b.toString('base64')}`;
};

const withImage = (
  model: ChatRequest['model'],
  url: string,
  detail?: 'low' | 'high' | 'auto',
): ChatRequest => ({
  model,
  messages: [
    { role: 'user', content: [{ type: 'image_url', image_url: { url, ...(detail ? { detail } : {}) } }] },
  ],
});

describe('estimateRequestTokens (issue 10)', () => {
  it('counts the output cap once per choice (n)', () => {
    const request: ChatRequest = { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'abcd' }] };
    const prompt = estimateRequestTokens(request);
    expect(estimateRequestTokens({ ...request, max_tokens: 100 })).toBe(prompt + 100);
    expect(estimateRequestTokens({ ...request, max_tokens: 100, n: 8 })).toBe(prompt + 800);
    expect(estimateRequestTokens({ ...request, max_completion_tokens: 50, n: 3 })).toBe(prompt + 150);
  });

  it('reads the size of PNG, JPEG, GIF and WebP data URLs', () => {
    expect(imageSize(png(640, 480))).toEqual({ width: 640, height: 480 });
    expect(imageSize(jpeg(1000, 750))).toEqual({ width: 1000, height: 750 });
    expect(imageSize(gif(32, 16))).toEqual({ width: 32, height: 16 });
    expect(imageSize(webp(300, 200))).toEqual({ width: 300, height: 200 });
    expect(imageSize('https://example.com/cat.png')).toBeUndefined();
  });

  it("counts a low-detail image as OpenAI bills it (85), not as its data URL's characters", () => {
    // A 1 MB data URL: characters / 4 would say ~250 000 tokens.
    const request = withImage('openai/gpt-4o', png(4000, 3000, 750_000), 'low');
    expect(estimateRequestTokens(request)).toBe(4 + 85);
  });

  it("follows OpenAI's high-detail tiling (its documented examples: 765 and 1105)", () => {
    expect(estimateImageTokens({ width: 1024, height: 1024 }, 'high')).toBe(765);
    expect(estimateImageTokens({ width: 2048, height: 4096 }, 'high')).toBe(1105);
    expect(estimateImageTokens({ width: 1024, height: 1024 }, 'auto')).toBe(765);
    expect(estimateImageTokens(undefined, 'high')).toBe(765);
    expect(estimateRequestTokens(withImage('compat/llava', jpeg(1024, 1024)))).toBe(4 + 765);
  });

  it("uses Anthropic's (w x h / 750, long edge 1568) and Gemini's (258 per 768 px tile) rules", () => {
    expect(estimateRequestTokens(withImage('anthropic/claude-sonnet-4-5', png(1000, 1000)))).toBe(4 + 1334);
    expect(estimateImageTokens({ width: 4000, height: 4000 }, 'auto', 'anthropic')).toBe(1600);
    expect(estimateRequestTokens(withImage('gemini/gemini-2.5-flash', png(300, 300)))).toBe(4 + 258);
    expect(estimateImageTokens({ width: 1000, height: 800 }, 'auto', 'gemini')).toBe(4 * 258);
  });

  it('counts CJK at one token per character, other text at one per 4 characters', () => {
    expect(estimateTextTokens('写一首四句五言诗')).toBe(8);
    expect(estimateTextTokens('こんにちは')).toBe(5);
    expect(estimateTextTokens('안녕하세요')).toBe(5);
    expect(estimateTextTokens('hello world!')).toBe(3);
    expect(estimateTextTokens('hi 你好')).toBe(3);
  });

  it('adds per-message overhead, tools and the output cap', () => {
    const request: ChatRequest = {
      model: 'openai/gpt-4o-mini',
      messages: [
        { role: 'system', content: 'abcd' },
        { role: 'user', content: [{ type: 'text', text: 'efgh' }] },
      ],
      max_tokens: 100,
    };
    expect(estimateRequestTokens(request)).toBe(4 + 1 + 4 + 1 + 100);
  });
});
