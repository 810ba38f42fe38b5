/**
 * The gateway's chat page in real headless Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core): it renders the whole answer (Chinese included) and the usage, over SSE and over
 * WebSocket, Stop aborts the upstream request (seen on the upstream mock server), and a reload
 * mid-answer shows the conversation again and picks the answer up (the gateway kept generating it:
 * resumable answers). A screenshot is kept in artifacts/ (git-ignored) for CI. The conversation,
 * markdown, copy, picker and favicon are in chatPageConversation.spec.ts.
 */
import { type BrowserContext, type Page } from 'playwright-core';
import { startGateway, type Gateway } from '../../src';
import { type MockServer } from '../../src/testing';
import { describeChromium, gatewayOverMock, launchChromium, screenshot } from '../helpers/chromium';

describeChromium('chatPage.spec')('the chat page in Chromium', () => {
  let mockGateway: Gateway;
  let upstream: MockServer;
  let upstreamGateway: Gateway;
  let context: BrowserContext;
  let browser: Awaited<ReturnType<typeof launchChromium>>;

  beforeAll(async () => {
    mockGateway = await startGateway({ port: 0, log: () => {} });
    ({ upstream, gateway: upstreamGateway } = await gatewayOverMock());
    browser = await launchChromium();
    context = browser.context;
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await mockGateway?.close(0);
    await upstreamGateway?.close(0);
    await upstream?.close();
  });
  beforeEach(() => upstream.reset());

  /** Uncaught errors of the test's pages, loading or later (after Send, Stop, a reload): none allowed. */
  let pageErrors: string[] = [];
  beforeEach(() => {
    pageErrors = [];
  });
  afterEach(() => expect(pageErrors).toEqual([]));

  async function open(url: string): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(url);
    await page.waitForFunction("document.getElementById('model').options.length > 0");
    expect(pageErrors).toEqual([]);
    return page;
  }

  it.each(['sse', 'ws'])(
    'renders the whole mock answer, Chinese included, with usage (%s)',
    async (transport) => {
      const page = await open(`${mockGateway.url}/`);
      const prompt = '你好，世界！Explain 月光 in one line.';
      await page.selectOption('#transport', transport);
      await page.fill('#prompt', prompt);
      await page.click('#send');
      await page.waitForFunction("document.getElementById('status').textContent === 'done'");
      expect(await page.textContent('#answer')).toBe(`Mock reply to: ${prompt}`);
      expect(await page.textContent('#finish')).toBe('stop');
      expect(await page.textContent('#usage')).toMatch(/^\d+ prompt \+ \d+ completion = \d+ tokens$/);
      expect(await page.textContent('#ttft')).toMatch(/^\d+ ms$/);
      expect(await page.textContent('#error')).toBe('');
      if (transport === 'sse') await screenshot(page, 'chat-page.png');
      await page.close();
    },
  );

  it('shows reasoning apart from the answer, and an error as one readable line', async () => {
    upstream.enqueue({ reasoning: '先想一想。', text: '答案是 42。', chunkSize: 2 });
    const page = await open(`${upstreamGateway.url}/`);
    await page.click('#send');
    await page.waitForFunction("document.getElementById('status').textContent === 'done'");
    expect(await page.textContent('#reasoning')).toBe('先想一想。');
    expect(await page.textContent('#answer')).toBe('答案是 42。');
    upstream.enqueue({ status: 400, errorBody: { error: { message: 'Prompt too long.\nSecond line.' } } });
    await page.fill('#prompt', 'A second question');
    await page.click('#send');
    await page.waitForFunction("document.getElementById('status').textContent === 'failed'");
    const error = await page.textContent('#error');
    expect(error).toMatch(/^BadRequestError: .*Prompt too long\./);
    expect(error).not.toContain('\n');
    await page.close();
  });

  it('asks for the token when the gateway has one, then streams with it over SSE and WebSocket', async () => {
    const guarded = await startGateway({ port: 0, token: 'sk-test-page-token', log: () => {} });
    try {
      const page = await context.newPage();
      await page.goto(`${guarded.url}/`);
      await page.waitForFunction("document.getElementById('error').textContent !== ''");
      expect(await page.textContent('#error')).toMatch(/^HTTP 401: Missing or wrong bearer token/);
      await page.fill('#token', 'sk-test-page-token');
      await page.dispatchEvent('#token', 'change');
      await page.waitForFunction("document.getElementById('model').options.length > 0");
      for (const transport of ['sse', 'ws']) {
        await page.selectOption('#transport', transport);
        await page.fill('#prompt', `token ${transport}`);
        await page.click('#send');
        await page.waitForFunction(
          "['done', 'failed'].includes(document.getElementById('status').textContent)",
        );
        expect(await page.textContent('#error')).toBe('');
        expect(await page.textContent('#answer')).toBe(`Mock reply to: token ${transport}`);
      }
      await page.close();
    } finally {
      await guarded.close(0);
    }
  });

  it.each(['sse', 'ws'])('Stop aborts the upstream request (%s)', async (transport) => {
    upstream.enqueue({ text: 'x'.repeat(2000), chunkSize: 1, chunkDelayMs: 10 });
    const page = await open(`${upstreamGateway.url}/`);
    await page.selectOption('#transport', transport);
    await page.click('#send');
    await page.waitForFunction("document.getElementById('answer').textContent.length >= 5");
    await page.click('#stop');
    await upstream.waitForRequestClose(1);
    expect(upstream.stats.abortedRequests).toBe(1);
    expect(await page.textContent('#status')).toBe('stopped');
    const shown = (await page.textContent('#answer'))!.length;
    expect(shown).toBeLessThan(2000);
    await page.close();
  });

  it.each(['sse', 'ws'])(
    'a reload mid-answer (%s) shows the conversation again, picks the answer up and finishes it, with one upstream call',
    async (transport) => {
      const answer = '床前明月光，疑是地上霜。'.repeat(8);
      upstream.enqueue({ text: 'First answer.' });
      upstream.enqueue({ text: answer, chunkSize: 1, chunkDelayMs: 15 });
      const page = await open(`${upstreamGateway.url}/`);
      await page.selectOption('#transport', transport);
      await page.fill('#prompt', 'First question');
      await page.click('#send');
      await page.waitForFunction("document.getElementById('status').textContent === 'done'");
      await page.fill('#prompt', 'Recite, slowly.');
      await page.click('#send');
      await page.waitForFunction("document.getElementById('answer').textContent.length >= 10");
      await page.reload();
      // Shown again from the first character, then followed to the end.
      await page.waitForFunction("document.getElementById('status').textContent === 'done'");
      expect(await page.textContent('#answer')).toBe(answer);
      expect(await page.locator('.message.user').allTextContents()).toEqual([
        'First question',
        'Recite, slowly.',
      ]);
      expect(await page.locator('.message.assistant .content').first().textContent()).toBe('First answer.');
      expect(await page.textContent('#error')).toBe('');
      expect(upstream.stats.requests).toBe(2);
      expect(upstream.stats.abortedRequests).toBe(0);
      await screenshot(page, `chat-page-resumed-${transport}.png`);
      // Done: a second reload has nothing to resume.
      await page.reload();
      await page.waitForFunction("document.getElementById('model').options.length > 0");
      expect(await page.textContent('#status')).toBe('idle');
      expect(await page.locator('.message').count()).toBe(0);
      await page.close();
    },
  );
});
