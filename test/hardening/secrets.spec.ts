/**
 * One property-style proof that no fragment of the API key leaks: a server on 127.0.0.1 echoes the
 * key everywhere it can (error bodies, every header, in-band errors, malformed events, unexpected
 * bodies and content types), with the key placed around every truncation length rxllm uses; no
 * 8-character substring of the key may appear in `message`, `String()`, `JSON.stringify`,
 * `util.inspect`, the `cause` chain, response metadata, logger output or CLI stderr.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { gzipSync } from 'node:zlib';
import { complete, EXCERPT_LIMIT, LlmError, stream, type Logger, type ResponseMeta } from '../../src';
import { runCli } from '../../src/cli/run';
import { accumulateChunks, finishReasonWarn } from '../../operators';
import { seededRandom } from '../../src/testing';
import { collect, REQUEST } from '../helpers/collect';

const random = seededRandom(9);
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const KEY = 'sk-test-' + Array.from({ length: 40 }, () => ALPHABET[Math.floor(random() * 62)]).join('');

/** Every length at which rxllm cuts text, plus the windows it redacts before cutting. */
const TRUNCATIONS = [EXCERPT_LIMIT, 100, 300, 2000, 2048, EXCERPT_LIMIT + 1024, 300 + 1024, 64 * 1024];
/** Where the key starts relative to a cut: straddling it by every amount, just before, just after. */
const OFFSETS = [-KEY.length - 21, -KEY.length + 1, -KEY.length / 2, -21, -9, -8, -7, -1, 0, 1];

function fragments(text: string): string[] {
  const found: string[] = [];
  for (let i = 0; i + 8 <= KEY.length; i++)
    if (text.includes(KEY.slice(i, i + 8))) found.push(KEY.slice(i, i + 8));
  return found;
}

/** Everything a user can see of an error. */
function surfaces(error: unknown): string[] {
  const out = [String(error), JSON.stringify(error), inspect(error, { depth: 20, showHidden: true })];
  let e: unknown = error;
  for (let depth = 0; e !== undefined && depth < 10; depth++) {
    if (e instanceof Error) out.push(e.message, e.stack ?? '', inspect(e, { depth: 20 }));
    else out.push(String(e));
    e = (e as { cause?: unknown })?.cause;
  }
  return out;
}

type Handler = (res: ServerResponse) => void;
let handler: Handler;
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  req.resume();
  req.on('end', () => handler(res));
});
let url = '';
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
});

const ECHO_HEADERS = {
  'x-echo-key': KEY,
  'x-request-id': KEY,
  'x-debug': `Bearer ${KEY}`,
  'retry-after': KEY,
  'set-cookie': `session=${KEY}`,
  'www-authenticate': `Bearer realm="${KEY}"`,
};

/** A response that echoes `text` (holding the key) in one place, and the key in every header. */
interface Scenario {
  name: string;
  call: 'stream' | 'complete';
  respond(res: ServerResponse, text: string): void;
}

const send = (res: ServerResponse, status: number, type: string, body: string | Buffer, extra = {}) => {
  res.writeHead(status, { ...ECHO_HEADERS, 'content-type': type, ...extra });
  res.end(body);
};
const event = (data: string) => `data: ${data}\n\n`;
const ok = JSON.stringify({
  id: 'c',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: null }],
});

const SCENARIOS: Scenario[] = [
  { name: 'plain-text 401 body', call: 'stream', respond: (res, t) => send(res, 401, 'text/plain', t) },
  {
    name: 'JSON 500 body (message, type, code)',
    call: 'stream',
    respond: (res, t) =>
      send(res, 500, 'application/json', JSON.stringify({ error: { message: t, type: KEY, code: t } })),
  },
  {
    name: 'gzip 429 body',
    call: 'complete',
    respond: (res, t) =>
      send(res, 429, 'application/json', gzipSync(JSON.stringify({ error: { message: t } })), {
        'content-encoding': 'gzip',
      }),
  },
  {
    name: 'in-band error event',
    call: 'stream',
    respond: (res, t) =>
      send(
        res,
        200,
        'text/event-stream',
        event(ok) + event(JSON.stringify({ error: { message: t, type: t } })),
      ),
  },
  {
    name: 'malformed event',
    call: 'stream',
    respond: (res, t) => send(res, 200, 'text/event-stream', event(ok) + event(`{not json ${t}`)),
  },
  {
    name: 'event without choices',
    call: 'stream',
    respond: (res, t) => send(res, 200, 'text/event-stream', event(JSON.stringify({ choices: t }))),
  },
  { name: 'HTML 200', call: 'stream', respond: (res, t) => send(res, 200, 'text/html', t) },
  {
    name: 'JSON error 200',
    call: 'stream',
    respond: (res, t) => send(res, 200, 'application/json', JSON.stringify({ error: t })),
  },
  {
    name: 'JSON completion 200',
    call: 'stream',
    respond: (res, t) => send(res, 200, 'application/json', JSON.stringify({ choices: [], t })),
  },
  {
    name: 'complete() body not JSON',
    call: 'complete',
    respond: (res, t) => send(res, 200, 'application/json', t),
  },
  {
    name: 'key in content-type',
    call: 'stream',
    respond: (res, t) => send(res, 200, `text/html; x=${t}`, 'page'),
  },
  {
    name: 'key in content-encoding',
    call: 'stream',
    respond: (res, t) => send(res, 200, 'text/event-stream', 'x', { 'content-encoding': t.slice(-200) }),
  },
];

/** Text with the key starting at `at` (filler before, a short tail after). */
const placed = (at: number) => 'x'.repeat(Math.max(0, Math.floor(at))) + KEY + ' end of text';

describe('no fragment of the key leaks', () => {
  const cases = SCENARIOS.flatMap((s) =>
    TRUNCATIONS.flatMap((cut) => OFFSETS.map((d) => [s.name, cut, d] as const)),
  );

  it(`holds for ${SCENARIOS.length} echo scenarios x ${TRUNCATIONS.length} cut lengths x ${OFFSETS.length} offsets`, async () => {
    const failures: string[] = [];
    const logged: string[] = [];
    const logger: Logger = { warn: (m) => logged.push(m), error: (m) => logged.push(m) };
    let classes = 0;
    for (const [name, cut, d] of cases) {
      const scenario = SCENARIOS.find((s) => s.name === name)!;
      const text = placed(cut + d);
      handler = (res) => scenario.respond(res, text);
      const metas: ResponseMeta[] = [];
      const options = { baseURL: url, apiKey: KEY, onResponse: (m: ResponseMeta) => void metas.push(m) };
      const result =
        scenario.call === 'stream'
          ? await collect(stream(REQUEST, options).pipe(finishReasonWarn({ logger }), accumulateChunks()))
          : await collect(complete(REQUEST, options));
      if (!(result.error instanceof LlmError)) {
        failures.push(`${name} @${cut}${d >= 0 ? '+' : ''}${d}: no typed error (${String(result.error)})`);
        continue;
      }
      classes++;
      for (const surface of [...surfaces(result.error), JSON.stringify(metas)]) {
        const leaked = fragments(surface);
        if (leaked.length)
          failures.push(
            `${name} @${cut}${d >= 0 ? '+' : ''}${d}: leaked ${leaked[0]} in ${surface.slice(0, 80)}`,
          );
      }
    }
    for (const line of logged) if (fragments(line).length) failures.push(`logger: ${line.slice(0, 80)}`);
    expect(failures.slice(0, 10)).toEqual([]);
    expect(classes).toBe(cases.length);
  }, 120_000);

  it('CLI stderr carries no fragment either', async () => {
    const saved = process.env.OPENAI_COMPAT_API_KEY;
    process.env.OPENAI_COMPAT_API_KEY = KEY;
    const failures: string[] = [];
    let lines = 0;
    try {
      for (const scenario of SCENARIOS.filter((s) => s.call === 'stream')) {
        for (const cut of [100, 120, 300]) {
          for (const d of OFFSETS) {
            handler = (res) => scenario.respond(res, placed(cut + d));
            let stderr = '';
            const code = await runCli(['chat', '-m', 'compat/echo', '-u', url, 'hello'], {
              stdout: { write: () => true },
              stderr: { write: (t: string) => (stderr += t) },
            });
            expect(code).toBe(1);
            lines++;
            if (fragments(stderr).length)
              failures.push(`${scenario.name} @${cut}${d}: ${stderr.slice(0, 120)}`);
          }
        }
      }
    } finally {
      if (saved === undefined) delete process.env.OPENAI_COMPAT_API_KEY;
      else process.env.OPENAI_COMPAT_API_KEY = saved;
    }
    expect(failures.slice(0, 10)).toEqual([]);
    expect(lines).toBeGreaterThan(100);
  }, 120_000);
});

describe('credentials passed in options.headers', () => {
  // An Azure Entra ID token (no apiKey at all): nothing in it matches a key pattern, so only
  // registering what the request sends keeps an echo of it out of the error.
  const TOKEN = 'eyJ0eXAiOiJKV1Qi.' + Array.from({ length: 40 }, (_, i) => ALPHABET[(i * 7) % 62]).join('');

  it.each([
    [
      'an error body and a header',
      'stream',
      (res: ServerResponse) =>
        send(res, 401, 'application/json', JSON.stringify({ error: { message: `token ${TOKEN} expired` } }), {
          'x-echo': TOKEN,
        }),
    ],
    [
      'an in-band error event',
      'stream',
      (res: ServerResponse) =>
        send(
          res,
          200,
          'text/event-stream',
          event(ok) + event(JSON.stringify({ error: { message: TOKEN, type: 'server_error' } })),
        ),
    ],
    [
      'a non-JSON completion body',
      'complete',
      (res: ServerResponse) => send(res, 200, 'application/json', `not json ${TOKEN}`),
    ],
  ] as const)('keeps a bearer token echoed in %s out of the error', async (_name, call, respond) => {
    handler = respond;
    const options = { baseURL: url, headers: { authorization: `Bearer ${TOKEN}` } };
    const request = { ...REQUEST, model: 'azure/my-deployment' as const };
    const saved = process.env.AZURE_OPENAI_API_KEY;
    delete process.env.AZURE_OPENAI_API_KEY;
    try {
      const { error } =
        call === 'stream'
          ? await collect(stream(request, options))
          : await collect(complete(request, options));
      expect(error).toBeInstanceOf(LlmError);
      const leaked = surfaces(error).filter((s) => s.includes(TOKEN.slice(-24)));
      expect(leaked).toEqual([]);
    } finally {
      if (saved !== undefined) process.env.AZURE_OPENAI_API_KEY = saved;
    }
  });
});
