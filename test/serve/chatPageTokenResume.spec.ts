/**
 * The chat page's resume after a reload when the gateway requires a token, in real headless Chromium.
 * The token is never stored by the page, so after a reload the token field is empty and the gateway
 * refuses the resume (401): the page keeps the answer pending and says the token is needed; once the
 * token is entered (its change event) the answer is shown from its start and followed to the end, the
 * generation having gone on on the gateway (one upstream call in all). A wrong token keeps it pending;
 * an answer the gateway no longer has (404) is forgotten; Stop works in that state. Screenshots: artifacts/.
 */
import { type Page } from 'playwright-core';
import { describeChromium, pageSuite, screenshot } from '../helpers/chromium';

const TOKEN = 'sk-test-page-resume-token';
const KEY = 'rxllm.pendingAnswer';
const NEEDS_TOKEN = 'The gateway token is needed to continue this answer: enter it above.';
const statusIs = (status: string) => `document.getElementById('status').textContent === '${status}'`;

describeChromium('chatPageTokenResume.spec')('the chat page resumes an answer behind a token', () => {
  const suite = pageSuite({ token: TOKEN });
  let pageErrors: string[];
  beforeEach(() => (pageErrors = []));
  afterEach(() => expect(pageErrors).toEqual([]));

  /** The page with the token entered as a user does (typed, then its change event). */
  async function open(): Promise<Page> {
    const page = await suite.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${suite.gateway.url}/`);
    await enterToken(page, TOKEN);
    await page.waitForFunction("document.getElementById('model').options.length > 0");
    return page;
  }

  async function enterToken(page: Page, token: string) {
    await page.fill('#token', token);
    await page.dispatchEvent('#token', 'change');
  }

  /** Sends `prompt` (its answer is slow), reloads mid-answer, and waits for the "token needed" state. */
  async function reloadMidAnswer(page: Page, prompt: string) {
    await page.fill('#prompt', prompt);
    await page.click('#send');
    await page.waitForFunction("document.getElementById('answer').textContent.length >= 10");
    await page.reload();
    await page.waitForFunction(statusIs('needs token'));
  }

  /** What this tab keeps: the pending answer's stream id and messages, never the token. */
  async function stored(page: Page) {
    // (A string: the tests compile without the DOM types.)
    return (await page.evaluate(`({
      pending: JSON.parse(sessionStorage.getItem('${KEY}') ?? 'null'),
      all: JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }),
    })`)) as { pending: { streamId: string } | null; all: string };
  }

  it.each(['sse', 'ws'])(
    'a reload mid-answer (%s) asks for the token, keeps the answer through a wrong one, then shows it all with one upstream call',
    async (transport) => {
      const answer = '床前明月光，疑是地上霜。'.repeat(12);
      suite.upstream.enqueue({ text: answer, chunkSize: 1, chunkDelayMs: 20 });
      const page = await open();
      await page.selectOption('#transport', transport);
      await reloadMidAnswer(page, 'Recite, slowly.');

      expect(await page.textContent('#notice')).toBe(NEEDS_TOKEN);
      expect(await page.locator('.message.user').allTextContents()).toEqual(['Recite, slowly.']);
      expect(await page.isDisabled('#send')).toBe(true);
      expect(await page.isEnabled('#stop')).toBe(true);
      let kept = await stored(page);
      expect(kept.pending?.streamId).toEqual(expect.any(String));
      expect(kept.all).not.toContain(TOKEN);
      expect(suite.upstream.stats.requests).toBe(1);
      await screenshot(page, `chat-page-token-needed-${transport}.png`);

      // A wrong token: refused again, still pending, the same words.
      const refused = page.waitForResponse((r) => r.url().endsWith('/stream'));
      await enterToken(page, 'sk-wrong');
      expect((await refused).status()).toBe(401);
      await page.waitForFunction(statusIs('needs token'));
      expect(await page.textContent('#notice')).toBe(NEEDS_TOKEN);
      expect((await stored(page)).pending?.streamId).toBe(kept.pending?.streamId);

      await enterToken(page, TOKEN);
      await page.waitForFunction(`${statusIs('done')} || ${statusIs('failed')}`);
      expect(await page.textContent('#status')).toBe('done');
      expect(await page.textContent('#answer')).toBe(answer);
      expect(await page.textContent('#notice')).toBe('');
      expect(await page.textContent('#error')).toBe('');
      expect(suite.upstream.stats.requests).toBe(1);
      expect(suite.upstream.stats.abortedRequests).toBe(0);
      kept = await stored(page);
      expect(kept.pending).toBeNull();
      expect(kept.all).not.toContain(TOKEN);
      await page.close();
    },
  );

  it('an answer the gateway no longer has (404) waits through reloads, then is forgotten once the token is given, saying so', async () => {
    const page = await open();
    const saved = { streamId: 'expired-stream', messages: [{ role: 'user', content: 'Old question' }] };
    await page.evaluate(`sessionStorage.setItem('${KEY}', ${JSON.stringify(JSON.stringify(saved))})`);
    await page.reload();
    await page.waitForFunction(statusIs('needs token'));
    expect(await page.locator('.message.user').allTextContents()).toEqual(['Old question']);
    // Reloading again while it waits keeps it waiting (leaving is not Stop).
    await page.reload();
    await page.waitForFunction(statusIs('needs token'));
    expect(await page.locator('.message.user').allTextContents()).toEqual(['Old question']);
    await enterToken(page, TOKEN);
    await page.waitForFunction(statusIs('failed'));
    expect(await page.textContent('#notice')).toBe('This answer is no longer available on the gateway.');
    expect(await page.textContent('#error')).toMatch(/^BadRequestError: HTTP 404: No resumable stream/);
    expect((await stored(page)).pending).toBeNull();
    expect(await page.isEnabled('#send')).toBe(true);
    expect(suite.upstream.stats.requests).toBe(0);
    await page.close();
  });

  it('a resume the gateway cannot serve just now (503) keeps the answer for the next reload, which shows it all', async () => {
    const answer = 'Slow and steady. '.repeat(15).trimEnd();
    suite.upstream.enqueue({ text: answer, chunkSize: 2, chunkDelayMs: 20 });
    const page = await open();
    await reloadMidAnswer(page, 'Take your time.');
    const kept = (await stored(page)).pending?.streamId;
    // The gateway's store out of reach for a moment: its resume route answers 503 once.
    await page.route('**/stream', (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({
          error: { message: 'Resume store unavailable; retry shortly.', type: 'server_error' },
        }),
      }),
    );
    await enterToken(page, TOKEN);
    await page.waitForFunction(statusIs('failed'));
    expect(await page.textContent('#notice')).toBe(
      'The gateway could not continue this answer just now: reload the page to try again.',
    );
    expect(await page.textContent('#error')).toMatch(/503/);
    expect((await stored(page)).pending?.streamId).toBe(kept);
    await page.unroute('**/stream');

    await page.reload();
    await page.waitForFunction(statusIs('needs token'));
    await enterToken(page, TOKEN);
    await page.waitForFunction(`${statusIs('done')} || ${statusIs('failed')}`);
    expect(await page.textContent('#status')).toBe('done');
    expect(await page.textContent('#answer')).toBe(answer);
    expect((await stored(page)).pending).toBeNull();
    expect(suite.upstream.stats.requests).toBe(1);
    await page.close();
  });

  it('Stop while the answer waits for the token: with the token typed, stops it on the gateway; without, gives it up here and says the gateway goes on', async () => {
    suite.upstream.enqueue({ text: 'x'.repeat(2000), chunkSize: 1, chunkDelayMs: 10 });
    const page = await open();
    await reloadMidAnswer(page, 'First, long.');
    const first = (await stored(page)).pending!.streamId;
    let stopAnswered = page.waitForResponse((r) => r.url().endsWith('/stop'));
    await page.click('#stop');
    expect((await stopAnswered).status()).toBe(401);
    await page.waitForFunction(statusIs('stopped'));
    await page.waitForFunction("document.getElementById('notice').textContent !== ''");
    expect(await page.textContent('#notice')).toBe(
      'Stopped on this page only: the gateway needs its token to stop the answer, which goes on there.',
    );
    expect((await stored(page)).pending).toBeNull();
    // It did go on: stopped here with the token (what the page could not do without it).
    const stop = await fetch(`${suite.gateway.url}/v1/chat/completions/${first}/stop`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(stop.status).toBe(202);
    await suite.upstream.waitForRequestClose(1);

    // "New chat" while an answer waits without the token: the bubble is gone, the words are not.
    suite.upstream.enqueue({ text: 'z'.repeat(2000), chunkSize: 1, chunkDelayMs: 10 });
    await page.click('#new');
    await enterToken(page, TOKEN);
    await reloadMidAnswer(page, 'Third, long.');
    const third = (await stored(page)).pending!.streamId;
    stopAnswered = page.waitForResponse((r) => r.url().endsWith('/stop'));
    await page.click('#new');
    expect((await stopAnswered).status()).toBe(401);
    await page.waitForFunction("document.getElementById('error').textContent !== ''");
    expect(await page.textContent('#error')).toBe(
      'Stopped on this page only: the gateway needs its token to stop the answer, which goes on there.',
    );
    expect(await page.locator('.message').count()).toBe(0);
    await fetch(`${suite.gateway.url}/v1/chat/completions/${third}/stop`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    await suite.upstream.waitForRequestClose(2);

    // The token typed, Stop clicked (leaving the field is its change event): stopped on the gateway.
    suite.upstream.enqueue({ text: 'y'.repeat(2000), chunkSize: 1, chunkDelayMs: 10 });
    await page.click('#new');
    await enterToken(page, TOKEN);
    await reloadMidAnswer(page, 'Second, long.');
    await page.fill('#token', TOKEN);
    stopAnswered = page.waitForResponse((r) => r.url().endsWith('/stop'));
    await page.click('#stop');
    expect((await stopAnswered).status()).toBe(202);
    await page.waitForFunction(statusIs('stopped'));
    await suite.upstream.waitForRequestClose(3);
    expect(suite.upstream.stats.abortedRequests).toBe(3);
    expect(await page.textContent('#notice')).toBe('');
    expect((await stored(page)).pending).toBeNull();
    expect(suite.upstream.stats.requests).toBe(3);
    await page.close();
  });
});
