/**
 * Nest conventions of rxllm/nestjs in real Nest 11 apps built by @nestjs/testing: the class token
 * (no @Inject), `isGlobal` off by default, and swapping the client in a TestingModule, either with
 * RxllmTestingModule or by overriding the provider of an app that imports RxllmModule.
 */
import 'reflect-metadata';
import { Body, Controller, Inject, Injectable, Module, Post, Res } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import type { Response } from 'express';
import type { AddressInfo } from 'node:net';
import { lastValueFrom, toArray } from 'rxjs';
import { sendSse, type ChatRequest, type Client } from 'rxllm';
import { fetchSse } from 'rxllm/browser';
import { collectText, textDeltas } from 'rxllm/operators';
import { TestScheduler } from 'rxjs/testing';
import { ChatRequestPipe, RXLLM_CLIENT, RxllmClient, RxllmModule, RxllmTestingModule } from 'rxllm/nestjs';
import { createMockServer, type MockServer } from 'rxllm/testing';
import { collect, summarize } from '../helpers/collect';

const request: ChatRequest = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] };

@Controller('chat')
class ChatController {
  constructor(private readonly llm: RxllmClient) {}
  @Post()
  chat(@Body(new ChatRequestPipe()) body: ChatRequest, @Res() res: Response) {
    return sendSse(res, this.llm.stream(body), { heartbeatMs: 0 });
  }
}

/** A service of a feature module that does not import RxllmModule itself. */
@Injectable()
class Summarizer {
  constructor(private readonly llm: RxllmClient) {}
  summarize(text: string) {
    return this.llm.stream({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: text }] });
  }
}
@Module({ providers: [Summarizer], exports: [Summarizer] })
class FeatureModule {}

/** A provider on the old string token. */
@Injectable()
class Legacy {
  constructor(@Inject(RXLLM_CLIENT) readonly llm: Client) {}
}

async function listen(app: NestExpressApplication): Promise<string> {
  await app.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
}

let upstream: MockServer;
beforeAll(async () => {
  upstream = await createMockServer();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

describe('RxllmTestingModule', () => {
  it('answers a controller injected by class with the script, over HTTP, with no upstream call', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [RxllmTestingModule.forRoot({ script: { text: '你好，测试。', chunkSize: 2 } })],
      controllers: [ChatController],
    }).compile();
    const app = moduleRef.createNestApplication<NestExpressApplication>({ logger: false });
    const base = await listen(app);
    try {
      const { values, completed } = await collect(fetchSse(`${base}/chat`, { body: request }));
      expect(completed).toBe(true);
      expect(summarize(values).text).toBe('你好，测试。');
      // Several content chunks: it streams like a provider, it does not return one blob.
      expect(values.filter((c) => c.choices[0]?.delta.content).length).toBe(3);
      expect(values[0].model).toBe('gpt-4o-mini');
    } finally {
      await app.close();
    }
  });

  it('a sequence gives one script per request, in order; no script echoes the prompt', async () => {
    const sequenced = await Test.createTestingModule({
      imports: [RxllmTestingModule.forRoot({ script: ['first', 'second'] })],
    }).compile();
    const llm = sequenced.get(RxllmClient);
    const texts = [];
    for (let i = 0; i < 3; i++) texts.push(await lastValueFrom(llm.stream(request).pipe(collectText())));
    expect(texts).toEqual(['first', 'second', 'second']);
    const completion = await lastValueFrom(llm.complete(request));
    expect(completion.choices[0].message.content).toBe('second');

    const echo = await Test.createTestingModule({ imports: [RxllmTestingModule.forRoot()] }).compile();
    expect(await lastValueFrom(echo.get(RxllmClient).stream(request).pipe(collectText()))).toBe(
      'Mock reply to: Hi',
    );
    expect(echo.get<Client>(RXLLM_CLIENT)).toBe(echo.get(RxllmClient));
  });

  it('delayMs spaces the chunks on the call scheduler', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [RxllmTestingModule.forRoot({ script: { text: 'abcdef', chunkSize: 2 }, delayMs: 10 })],
    }).compile();
    const scheduler = new TestScheduler((a, e) => expect(a).toEqual(e));
    scheduler.run(({ expectObservable }) => {
      const text = moduleRef.get(RxllmClient).stream(request, { scheduler }).pipe(textDeltas());
      // The role chunk at 10 ms, then one text chunk every 10 ms; the finish and usage chunks after.
      expectObservable(text).toBe('20ms a 9ms b 9ms c 19ms |', { a: 'ab', b: 'cd', c: 'ef' });
    });
  });

  it('overrides the client of an app that imports RxllmModule: both tokens get the mock', async () => {
    @Module({
      imports: [
        RxllmModule.forRoot({ baseURL: upstream.url, apiKey: 'sk-test-real', isGlobal: true }),
        FeatureModule,
      ],
      controllers: [ChatController],
      providers: [Legacy],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .overrideProvider(RxllmClient)
      .useValue(RxllmTestingModule.createClient({ script: 'overridden' }))
      .compile();
    const app = moduleRef.createNestApplication<NestExpressApplication>({ logger: false });
    const base = await listen(app);
    try {
      const { values } = await collect(fetchSse(`${base}/chat`, { body: request }));
      expect(summarize(values).text).toBe('overridden');
      expect(await lastValueFrom(moduleRef.get(Legacy).llm.stream(request).pipe(collectText()))).toBe(
        'overridden',
      );
      expect(await lastValueFrom(moduleRef.get(Summarizer).summarize('x').pipe(collectText()))).toBe(
        'overridden',
      );
      expect(upstream.stats.requests).toBe(0);
    } finally {
      await app.close();
    }
  });
});

describe('RxllmModule isGlobal', () => {
  it('is not global by default: a module that does not import it cannot inject the client', async () => {
    @Module({ imports: [RxllmModule.forRoot(), FeatureModule] })
    class AppModule {}
    await expect(Test.createTestingModule({ imports: [AppModule] }).compile()).rejects.toThrow(
      /Summarizer.*RxllmClient/s,
    );
  });

  it('isGlobal: true (forRoot and forRootAsync) gives it to every module', async () => {
    for (const rxllm of [
      RxllmModule.forRoot({ isGlobal: true, baseURL: upstream.url, apiKey: 'sk-test' }),
      RxllmModule.forRootAsync({
        isGlobal: true,
        useFactory: () => ({ baseURL: upstream.url, apiKey: 'sk-test' }),
      }),
    ]) {
      @Module({ imports: [rxllm, FeatureModule] })
      class AppModule {}
      const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
      upstream.enqueue({ text: 'global' });
      const chunks = await lastValueFrom(moduleRef.get(Summarizer).summarize('x').pipe(toArray()));
      expect(summarize(chunks).text).toBe('global');
      await moduleRef.close();
    }
    expect(upstream.stats.requests).toBe(2);
  });
});

describe("Express's body limit in Nest", () => {
  it('is 100 KB unless raised: a 300 KB chat is a 413 before the pipe runs', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [RxllmTestingModule.forRoot()],
      controllers: [ChatController],
    }).compile();
    const app = moduleRef.createNestApplication<NestExpressApplication>({ logger: false });
    const base = await listen(app);
    try {
      const res = await fetch(`${base}/chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...request, messages: [{ role: 'user', content: 'x'.repeat(300 * 1024) }] }),
      });
      expect(res.status).toBe(413);
    } finally {
      await app.close();
    }
  });
});
