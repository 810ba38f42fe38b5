/**
 * A real NestJS 11 app (platform-express, and platform-ws for the WebSocket gateway), read by
 * rxllm's fetchSse / fromWebSocket and by the official openai package. The upstream is a mock
 * server on 127.0.0.1, so disconnects are seen as aborted upstream requests.
 */
import 'reflect-metadata';
import {
  Body,
  Controller,
  Get,
  Inject,
  Injectable,
  Module,
  Post,
  Query,
  Req,
  Res,
  Sse,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { WsAdapter } from '@nestjs/platform-ws';
import { WebSocketGateway, type OnGatewayConnection } from '@nestjs/websockets';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Request, Response } from 'express';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { lastValueFrom, Observable, take, toArray } from 'rxjs';
import WebSocket from 'ws';
import {
  BadRequestError,
  chatCompletionsHandler,
  prepareChat,
  RateLimitError,
  sendSse,
  serveChatSocket,
  StreamCutError,
  toSseEvents,
  type ChatRequest,
  type Client,
  type SseMessageEvent,
} from 'rxllm';
import { fetchSse, fromWebSocket, type WebSocketLike } from 'rxllm/browser';
import { ChatRequestPipe, RXLLM_CLIENT, RxllmClient, RxllmModule } from 'rxllm/nestjs';
import { createMockServer, type MockChatBody, type MockServer } from 'rxllm/testing';
import { collect, summarize } from '../helpers/collect';

const MODEL = 'compat/nest-model';
let upstream: MockServer;

@Injectable()
class HeaderGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.switchToHttp().getRequest<Request>().headers['x-app-key'] === 'let-me-in';
  }
}

@Controller()
class ChatController {
  private readonly openAiRoute: ReturnType<typeof chatCompletionsHandler>;
  // Injected by its class token: no @Inject (emitDecoratorMetadata records RxllmClient).
  constructor(private readonly llm: RxllmClient) {
    this.openAiRoute = chatCompletionsHandler({
      client: llm,
      resolveModel: (m) => (m === MODEL ? m : undefined),
    });
  }

  /** The POST streaming recipe: guards and pipes run first, then sendSse. */
  @Post('chat')
  @UseGuards(HeaderGuard)
  chat(
    @Body(new ChatRequestPipe({ resolveModel: (m) => (m === MODEL ? m : undefined) })) body: ChatRequest,
    @Res() res: Response,
  ) {
    return sendSse(res, this.llm.stream(body), { heartbeatMs: 0 });
  }

  /** The @Sse recipe (GET). */
  @Sse('sse')
  sse(@Query('q') q: string): Observable<SseMessageEvent> {
    return this.llm.stream({ model: MODEL, messages: [{ role: 'user', content: q }] }).pipe(toSseEvents());
  }

  /** The framework-agnostic OpenAI-compatible handler mounted in Nest. */
  @Post('v1/chat/completions')
  openai(@Req() req: Request, @Res() res: Response) {
    return this.openAiRoute(req, res);
  }

  @Get('v1/models')
  models() {
    return { object: 'list', data: [{ id: MODEL, object: 'model', created: 0, owned_by: 'test' }] };
  }
}

@WebSocketGateway({ path: '/ws' })
class ChatSocketGateway implements OnGatewayConnection {
  // The string token still works: an alias of RxllmClient.
  constructor(@Inject(RXLLM_CLIENT) private readonly llm: Client) {}
  handleConnection(socket: WebSocket) {
    serveChatSocket(socket, {
      stream: (body) =>
        prepareChat(body, { client: this.llm, resolveModel: (m) => (m === MODEL ? m : undefined) }).chunks,
    });
  }
}

let app: NestExpressApplication;
let base: string;

beforeAll(async () => {
  upstream = await createMockServer();
  @Module({
    imports: [
      RxllmModule.forRootAsync({
        useFactory: async () => ({ baseURL: upstream.url, apiKey: 'sk-test-nest' }),
      }),
    ],
    controllers: [ChatController],
    providers: [ChatSocketGateway, HeaderGuard],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  app = moduleRef.createNestApplication<NestExpressApplication>({ logger: false });
  // The README's recipe: Express's JSON limit is 100 KB, less than a long chat history.
  app.useBodyParser('json', { limit: '1mb' });
  app.useWebSocketAdapter(new WsAdapter(app));
  await app.listen(0, '127.0.0.1');
  base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
});
afterAll(async () => {
  await app.close();
  await upstream.close();
});
beforeEach(() => upstream.reset());

const body: ChatRequest = { model: MODEL, messages: [{ role: 'user', content: 'Hi' }] };
const guard = { 'x-app-key': 'let-me-in' };

describe('RxllmModule', () => {
  it('provides one client under RxllmClient and its alias RXLLM_CLIENT (forRoot and forRootAsync)', async () => {
    @Module({ imports: [RxllmModule.forRoot({ providers: { compat: { baseURL: upstream.url } } })] })
    class SyncModule {}
    const ref = await Test.createTestingModule({ imports: [SyncModule] }).compile();
    const llm = ref.get(RxllmClient);
    expect(ref.get<Client>(RXLLM_CLIENT)).toBe(llm);
    upstream.enqueue({ text: 'from forRoot' });
    const merged = summarize(await lastValueFrom(llm.stream(body).pipe(toArray())));
    expect(merged.text).toBe('from forRoot');
    // forRootAsync (the app's module): the same instance under both tokens too.
    expect(app.get<Client>(RXLLM_CLIENT)).toBe(app.get(RxllmClient));
    expect(app.get(RxllmClient)).not.toBe(llm);
    await ref.close();
  });
});

describe('POST streaming recipe (guards, pipes, sendSse)', () => {
  it('streams to fetchSse and ends with [DONE]', async () => {
    upstream.enqueue({ text: '你好，Nest。', chunkSize: 2 });
    const { values, completed } = await collect(fetchSse(`${base}/chat`, { body, headers: guard }));
    expect(completed).toBe(true);
    expect(summarize(values).text).toBe('你好，Nest。');
  });

  it('a bad body is a 400 JSON error before any stream starts; the guard still runs', async () => {
    const bad = await fetch(`${base}/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...guard },
      body: JSON.stringify({ model: MODEL, messages: [] }),
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/json');
    const json = (await bad.json()) as { error: { type: string; message: string } };
    expect(json.error.type).toBe('invalid_request_error');
    expect(json.error.message).toContain('messages');
    const refused = await fetch(`${base}/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(refused.status).toBe(403);
    expect(upstream.stats.requests).toBe(0);
  });

  it('serves only the models resolveModel allows: another is a 404 and nothing is sent upstream', async () => {
    const res = await fetch(`${base}/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...guard },
      body: JSON.stringify({ ...body, model: 'openai/gpt-4o' }),
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
    expect(upstream.stats.requests).toBe(0);
  });

  it("takes a body over Express's 100 KB default once useBodyParser raised the limit", async () => {
    upstream.enqueue({ text: 'read it all' });
    const long = 'x'.repeat(300 * 1024);
    const { values, completed } = await collect(
      fetchSse(`${base}/chat`, {
        body: { ...body, messages: [{ role: 'user', content: long }] },
        headers: guard,
      }),
    );
    expect(completed).toBe(true);
    expect(summarize(values).text).toBe('read it all');
    const sent = upstream.requests[0].body as MockChatBody;
    expect(sent.messages[0].content).toHaveLength(long.length);
  });

  it('disconnecting aborts the upstream request', async () => {
    upstream.enqueue({ text: 'x'.repeat(3000), chunkSize: 1, chunkDelayMs: 10 }); // 30 s: outlasts the abort
    const got = await lastValueFrom(
      fetchSse(`${base}/chat`, { body, headers: guard }).pipe(take(4), toArray()),
    );
    expect(got).toHaveLength(4);
    await upstream.waitForRequestClose(1);
    expect(upstream.stats.abortedRequests).toBe(1);
  });
});

describe('@Sse recipe with toSseEvents', () => {
  it('ends with [DONE], so fetchSse completes instead of StreamCutError', async () => {
    upstream.enqueue({ text: 'sse ok' });
    const { values, completed, error } = await collect(fetchSse(`${base}/sse?q=hi`));
    expect(error).toBeUndefined();
    expect(error).not.toBeInstanceOf(StreamCutError);
    expect(completed).toBe(true);
    expect(summarize(values).text).toBe('sse ok');
  });

  it('an upstream error arrives as the same typed error, after every chunk sent before it', async () => {
    // 429 after the stream started: an in-band rate-limit error after 2 chunks.
    upstream.enqueue({
      text: 'abcdefgh',
      chunkSize: 2,
      inBandError: { afterChunks: 3, error: { type: 'rate_limit_error', message: 'Slow down' } },
    });
    const { values, error } = await collect(fetchSse(`${base}/sse?q=hi`));
    expect(summarize(values).text).toBe('abcd');
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).message).toContain('Slow down');
    expect((error as RateLimitError).retryable).toBe(true);
  });

  it('disconnecting aborts the upstream request', async () => {
    upstream.enqueue({ text: 'y'.repeat(3000), chunkSize: 1, chunkDelayMs: 10 }); // 30 s: outlasts the abort
    await lastValueFrom(fetchSse(`${base}/sse?q=hi`).pipe(take(3), toArray()));
    await upstream.waitForRequestClose(1);
    expect(upstream.stats.abortedRequests).toBe(1);
  });
});

describe('the OpenAI-compatible handler mounted in Nest, read by the official openai package', () => {
  const sdk = () => new OpenAI({ apiKey: 'sk-test-unused', baseURL: `${base}/v1`, maxRetries: 0 });

  it('streams and completes', async () => {
    upstream.enqueue({ text: 'streamed through Nest' }, { text: 'completed through Nest' });
    let text = '';
    for await (const chunk of await sdk().chat.completions.create({
      ...body,
      messages: body.messages as never,
      stream: true,
    })) {
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe('streamed through Nest');
    const completion = await sdk().chat.completions.create({ ...body, messages: body.messages as never });
    expect(completion.choices[0].message.content).toBe('completed through Nest');
    expect((await sdk().models.list()).data[0].id).toBe(MODEL);
  });

  it('a bad body is a 400 the SDK reports as BadRequestError', async () => {
    await expect(sdk().chat.completions.create({ model: MODEL, messages: [] })).rejects.toBeInstanceOf(
      OpenAI.BadRequestError,
    );
  });
});

describe('@WebSocketGateway recipe (platform-ws) with serveChatSocket', () => {
  it('streams two requests at once on one socket; closing the socket aborts upstream', async () => {
    upstream.setDefault((req) => ({
      text: `ws ${(req.body as MockChatBody).messages[0].content}`,
      chunkSize: 1,
      chunkDelayMs: 2,
    }));
    const socket = new WebSocket(`${base.replace('http', 'ws')}/ws`);
    const shared = socket as unknown as WebSocketLike;
    const ask = (q: string) =>
      lastValueFrom(
        fromWebSocket(shared, { model: MODEL, messages: [{ role: 'user', content: q }] }).pipe(toArray()),
      );
    const [a, b] = await Promise.all([ask('one'), ask('二')]);
    expect(summarize(a).text).toBe('ws one');
    expect(summarize(b).text).toBe('ws 二');
    // A model the server does not serve: refused as a 404 before anything is sent upstream.
    const sentBefore = upstream.stats.requests;
    const refused = await collect(fromWebSocket(shared, { ...body, model: 'openai/gpt-4o' }));
    expect(refused.error).toBeInstanceOf(BadRequestError);
    expect((refused.error as BadRequestError).status).toBe(404);
    expect(upstream.stats.requests).toBe(sentBefore);
    upstream.setDefault({ text: 'z'.repeat(3000), chunkSize: 1, chunkDelayMs: 10 }); // 30 s: outlasts the abort
    const n = upstream.stats.requests;
    let closedError: unknown;
    const sub = fromWebSocket(shared, body).subscribe({ error: (e) => (closedError = e) });
    while (upstream.stats.requests === n) await new Promise((r) => setTimeout(r, 5));
    socket.close();
    await upstream.waitForRequestClose(n + 1);
    sub.unsubscribe();
    expect(upstream.stats.abortedRequests).toBe(1);
    expect((closedError as Error).name).toBe('ConnectionError');
  });
});
