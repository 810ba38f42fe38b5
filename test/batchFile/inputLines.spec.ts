/**
 * Batch-file input lines: OpenAI's own batch files run as they are (bare model names, method and
 * url), a byte-order mark and CRLF line ends are taken, and every bad line is named with its reason.
 */
import { parseBatchFile, parseBatchLine, withDefaultProvider } from '../../src/batchFile/inputLines';

// The line of OpenAI's API reference ("The request input object"), as it is.
const OPENAI_LINE =
  '{"custom_id": "request-1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "You are a helpful assistant."},{"role": "user", "content": "Hello world!"}],"max_tokens": 1000}}';
const line = (id: string, body: object, extra: object = {}) =>
  JSON.stringify({ custom_id: id, body: { messages: [{ role: 'user', content: 'hi' }], ...body }, ...extra });

describe('parseBatchLine', () => {
  it("takes OpenAI's documented line as it is, the bare model name as openai/", () => {
    const parsed = parseBatchLine(OPENAI_LINE);
    expect(parsed).toEqual({
      customId: 'request-1',
      request: expect.objectContaining({ model: 'openai/gpt-4o-mini', max_tokens: 1000 }),
    });
  });

  it('keeps a model that names its provider, and prefixes a bare --model too', () => {
    expect(parseBatchLine(line('a', { model: 'anthropic/claude-x' }))).toMatchObject({
      request: { model: 'anthropic/claude-x' },
    });
    expect(parseBatchLine(line('a', { model: 'anthropic/claude-x' }), { model: 'gpt-4o' })).toMatchObject({
      request: { model: 'openai/gpt-4o' },
    });
    expect(withDefaultProvider('')).toBe('');
    expect(withDefaultProvider(42)).toBe(42);
  });

  it('takes a router group as it is (no provider added) with routed', () => {
    expect(parseBatchLine(line('a', { model: 'classify' }), { routed: true })).toMatchObject({
      request: { model: 'classify' },
    });
    expect(parseBatchLine(line('a', {}), { routed: true })).toEqual({
      reason: 'body.model must name a router group',
    });
  });

  it("accepts Azure's url, refuses other methods and endpoints with a reason", () => {
    expect(parseBatchLine(line('a', { model: 'gpt-4o' }, { url: '/chat/completions' }))).toHaveProperty(
      'request',
    );
    expect(parseBatchLine(line('a', { model: 'gpt-4o' }, { method: 'GET' }))).toEqual({
      reason: 'method must be "POST", got "GET"',
    });
    expect(parseBatchLine(line('a', { model: 'gpt-4o' }, { url: '/v1/embeddings' }))).toEqual({
      reason:
        'url "/v1/embeddings" is not supported: rxllm batch sends chat completions (/v1/chat/completions)',
    });
  });

  it('drops stream: a batch keeps whole answers', () => {
    const parsed = parseBatchLine(line('a', { model: 'gpt-4o', stream: true }));
    expect(parsed).toHaveProperty('request');
    expect((parsed as { request: object }).request).not.toHaveProperty('stream');
  });

  it.each([
    ['{oops', 'not valid JSON'],
    ['[1]', 'not a JSON object'],
    ['null', 'not a JSON object'],
    ['{"body": {}}', 'custom_id must be a non-empty string'],
    ['{"custom_id": "a", "body": []}', 'body must be an object'],
  ])('%s is bad: %s', (raw, reason) => {
    expect(parseBatchLine(raw)).toEqual({ reason });
  });
});

describe('parseBatchFile', () => {
  it('skips a UTF-8 byte-order mark (also one of a file joined on with cat), blank lines and CR of CRLF; numbers bad lines from 1', () => {
    const text =
      '\uFEFF' +
      [OPENAI_LINE, '', '\uFEFF' + line('b', { model: 'gpt-4o' }), '{bad', OPENAI_LINE].join('\r\n');
    const { jobs, bad } = parseBatchFile(text);
    expect(jobs.map((j) => [j.line, j.customId])).toEqual([
      [1, 'request-1'],
      [3, 'b'],
    ]);
    expect(bad).toEqual([
      { line: 4, reason: 'not valid JSON' },
      { line: 5, reason: 'custom_id "request-1" is repeated' },
    ]);
  });

  it('shortens a long value in a reason', () => {
    const { bad } = parseBatchFile(line('a', { model: 'gpt-4o' }, { url: '/x'.repeat(100) }));
    expect(bad[0].reason).toMatch(/^url "\/x\/x.*\.\.\. is not supported/);
    expect(bad[0].reason.length).toBeLessThan(150); // the url alone is 202 characters
  });
});
