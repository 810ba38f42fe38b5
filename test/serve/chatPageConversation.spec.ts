/**
 * The chat page as a chat, in real headless Chromium: two turns where the second request carries the
 * first turn (seen on the upstream mock server), bubbles, markdown rendered as elements while model
 * HTML stays text, a copy button per answer, the model picker from /v1/models, the WebSocket option
 * only when the gateway serves it, and no 404 (favicon included). Screenshot: artifacts/.
 */
import { type BrowserContext, type Page } from 'playwright-core';
import { startGateway, type Gateway } from '../../src';
import { type MockChatBody, type MockServer } from '../../src/testing';
import { describeChromium, gatewayOverMock, launchChromium, screenshot } from '../helpers/chromium';

const FIRST_ANSWER = [
  'Here is **the plan**:',
  '',
  '- read `input.txt`',
  '- see [the docs](https://example.com/docs) or [this](javascript:window.__pwned=2)',
  '',
  '```js',
  'const ok = a < b && "<b>";',
  '```',
  '',
  'Raw HTML stays text: <img src=x onerror="window.__pwned=1"> and <script>window.__pwned=3</script>',
].join('\n');

describeChromium('chatPageConversation.spec')('the chat page as a chat, in Chromium', () => {
  let upstream: MockServer;
  let gateway: Gateway;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let context: BrowserContext;
  /** Every response the pages got, with its status. */
  let responses: { url: string; status: number }[];

  beforeAll(async () => {
    ({ upstream, gateway } = await gatewayOverMock());
    browser = await launchChromium();
    context = browser.context;
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await gateway?.close(0);
    await upstream?.close();
  });
  beforeEach(() => {
    upstream.reset();
    responses = [];
  });

  /** Uncaught errors of the test's pages, loading or later (after Send, Stop, a reload): none allowed. */
  let pageErrors: string[] = [];
  beforeEach(() => {
    pageErrors = [];
  });
  afterEach(() => expect(pageErrors).toEqual([]));

  async function open(url: string): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('response', (r) => responses.push({ url: r.url(), status: r.status() }));
    await page.goto(url);
    await page.waitForFunction("document.getElementById('model').options.length > 0");
    expect(pageErrors).toEqual([]);
    return page;
  }

  async function ask(page: Page, prompt: string) {
    await page.fill('#prompt', prompt);
    await page.press('#prompt', 'Enter');
    await page.waitForFunction("['done', 'failed'].includes(document.getElementById('status').textContent)");
    expect(await page.textContent('#status')).toBe('done');
  }

  it('sends the whole conversation, shows bubbles, and renders markdown but never model HTML', async () => {
    upstream.enqueue({ text: FIRST_ANSWER, chunkSize: 7 });
    upstream.enqueue({ text: 'Second answer, *short*.', chunkSize: 5 });
    const page = await open(`${gateway.url}/`);
    await ask(page, 'First question <b>bold?</b>');
    await ask(page, 'And the second?');

    const bodies = upstream.requests.map((r) => r.body as MockChatBody);
    expect(bodies).toHaveLength(2);
    expect(bodies[0].messages).toEqual([{ role: 'user', content: 'First question <b>bold?</b>' }]);
    expect(bodies[1].messages).toEqual([
      { role: 'user', content: 'First question <b>bold?</b>' },
      { role: 'assistant', content: FIRST_ANSWER },
      { role: 'user', content: 'And the second?' },
    ]);

    const bubbles = await page.$$eval('#messages > .message', (els) =>
      els.map((e) => e.className.replace('message ', '')),
    );
    expect(bubbles).toEqual(['user', 'assistant', 'user', 'assistant']);
    const first = page.locator('.message.assistant').first();
    // Markdown became elements: a list, inline code, a code block, an http(s) link only.
    expect(await first.locator('.content ul > li').count()).toBe(2);
    expect(await first.locator('.content li code').textContent()).toBe('input.txt');
    expect(await first.locator('.content pre > code.language-js').textContent()).toBe(
      'const ok = a < b && "<b>";',
    );
    expect(
      await first.locator('.content a').evaluateAll((as) => as.map((a) => a.getAttribute('href'))),
    ).toEqual(['https://example.com/docs']);
    // Model HTML (and the user's) is text: no element made of it, nothing ran.
    expect(await page.locator('#messages img, #messages script, #messages b').count()).toBe(0);
    expect(await first.locator('.content').textContent()).toContain(
      '<img src=x onerror="window.__pwned=1"> and <script>window.__pwned=3</script>',
    );
    expect(await page.locator('.message.user').first().textContent()).toBe('First question <b>bold?</b>');
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    // `#answer` is the newest answer; emphasis there too.
    expect(await page.textContent('#answer')).toBe('Second answer, short.');
    expect(await page.locator('#answer em').textContent()).toBe('short');
    await screenshot(page, 'chat-page-conversation.png');

    // Copy puts the answer's markdown source on the clipboard.
    await first.locator('button.copy').click();
    await page.waitForFunction(
      "document.querySelector('.message.assistant button.copy').textContent === 'Copied'",
    );
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(FIRST_ANSWER);

    // New chat: the next request starts a fresh conversation.
    await page.click('#new');
    expect(await page.locator('#messages > .message').count()).toBe(0);
    await ask(page, 'Fresh start');
    expect((upstream.requests[2].body as MockChatBody).messages).toEqual([
      { role: 'user', content: 'Fresh start' },
    ]);
    await page.close();
  });

  it('a stopped answer stays in the conversation with what was shown', async () => {
    upstream.enqueue({ text: 'z'.repeat(2000), chunkSize: 1, chunkDelayMs: 10 });
    const page = await open(`${gateway.url}/`);
    await page.fill('#prompt', 'long one');
    await page.click('#send');
    await page.waitForFunction("document.getElementById('answer').textContent.length >= 5");
    await page.click('#stop');
    const shown = (await page.textContent('#answer'))!;
    await ask(page, 'next');
    expect((upstream.requests[1].body as MockChatBody).messages).toEqual([
      { role: 'user', content: 'long one' },
      { role: 'assistant', content: shown },
      { role: 'user', content: 'next' },
    ]);
    await page.close();
  });

  it('fills the model picker from /v1/models and sends the model picked', async () => {
    const page = await open(`${gateway.url}/`);
    const listed = (await page.evaluate("fetch('./v1/models').then((r) => r.json())")) as {
      data: { id: string }[];
    };
    const options = await page.$$eval('#model option', (os) => os.map((o) => o.getAttribute('value')));
    expect(options).toEqual(listed.data.map((m) => m.id));
    expect(options).toEqual(['compat/page-model']);
    await ask(page, 'which model?');
    // The gateway resolved the picked name; the upstream got its model part.
    expect((upstream.requests[0].body as MockChatBody).model).toBe('page-model');
    await page.close();
  });

  it('offers WebSocket only when the gateway serves it', async () => {
    const page = await open(`${gateway.url}/`);
    expect(gateway.webSocket).toBe(true);
    expect(await page.isVisible('#transport')).toBe(true);
    expect(await page.$$eval('#transport option', (os) => os.map((o) => o.getAttribute('value')))).toEqual([
      'sse',
      'ws',
    ]);
    await page.close();
    const sseOnly = await startGateway({ port: 0, webSocket: false, log: () => {} });
    try {
      const plain = await open(`${sseOnly.url}/`);
      expect(await plain.isVisible('#transport')).toBe(false);
      expect(await plain.$$eval('#transport option', (os) => os.map((o) => o.getAttribute('value')))).toEqual(
        ['sse'],
      );
      await ask(plain, 'over SSE');
      expect(await plain.textContent('#answer')).toBe('Mock reply to: over SSE');
      await plain.close();
    } finally {
      await sseOnly.close(0);
    }
  });

  it('gets no 404, favicon included', async () => {
    const page = await open(`${gateway.url}/`);
    await ask(page, 'hello');
    // Chromium may fetch the icon after load; a plain browser tab asks for /favicon.ico itself.
    const ico = await page.evaluate(
      "fetch('/favicon.ico').then((r) => [r.status, r.headers.get('content-type')])",
    );
    expect(ico).toEqual([200, 'image/svg+xml']);
    await page.waitForFunction("performance.getEntriesByType('resource').length > 0");
    expect(responses.filter((r) => r.status === 404)).toEqual([]);
    expect(responses.map((r) => new URL(r.url).pathname)).toEqual(
      expect.arrayContaining(['/', '/chat.js', '/markdown.js', '/chat.css', '/page.json', '/v1/models']),
    );
    await page.close();
  });
});
