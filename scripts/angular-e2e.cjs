// The built Angular example (examples/angular/dist) in real Chromium against a real rxllm SSE endpoint:
// a Node server on 127.0.0.1 serves the app and POST /api/chat with rxllm's sendSse over the mock
// provider (slow chunks). Checks that text appears while it streams, that the whole answer lands,
// and that Stop aborts the request on the server and keeps the text received so far.
//   node scripts/angular-e2e.cjs   (after scripts/angular-check.sh built the app and `npm run build`)
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const { sendSse } = require(path.join(root, 'dist/src/index.js'));
const { mockStream } = require(path.join(root, 'dist/src/testing/index.js'));
const { chromium } = require('playwright-core');
const { tap } = require('rxjs');

const APP = path.join(root, 'examples/angular/dist/rxllm-angular-example/browser');
const ANSWER = 'Streams arrive piece by piece, and the page shows each piece as soon as it comes. ';
/** In the page: the answer being streamed (the paragraph with the cursor) is longer than n characters. */
const liveLongerThan = (n) =>
  // eslint-disable-next-line no-undef -- runs in the page
  (document.querySelector('.cursor')?.parentElement?.textContent ?? '').length > n;
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

async function main() {
  if (!fs.existsSync(path.join(APP, 'index.html'))) throw new Error(`angular e2e: ${APP} is not built`);
  const requests = [];
  const server = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/api/chat') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const entry = { messages: JSON.parse(body).messages, closedEarly: false, completed: false };
        requests.push(entry);
        res.on('close', () => (entry.closedEarly = !res.writableFinished));
        // The mock model: 3 characters every 40 ms (about 2 s for the answer below, repeated 2x).
        const chunks = mockStream({ text: ANSWER.repeat(2), chunkSize: 3 }, { delayMs: 40 });
        void sendSse(res, chunks.pipe(tap({ complete: () => (entry.completed = true) })));
      });
      return;
    }
    const file = path.join(APP, req.url === '/' ? 'index.html' : path.normalize(req.url).replace(/^\/+/, ''));
    const target = file.startsWith(APP) && fs.existsSync(file) ? file : path.join(APP, 'index.html');
    res.writeHead(200, { 'content-type': TYPES[path.extname(target)] ?? 'application/octet-stream' });
    fs.createReadStream(target).pipe(res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/`;
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxllm-angular-'));
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const fail = (m) => {
    throw new Error(`angular e2e: ${m}`);
  };
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(url);
    const live = page.locator('p.assistant').filter({ has: page.locator('.cursor') });

    // 1. Text renders as it streams, then the whole answer is kept as a turn.
    await page.fill('input', 'hello');
    await page.click('button[type=submit]');
    await live.waitFor();
    await page.waitForFunction(liveLongerThan, 30);
    const partial = await live.textContent();
    if (!partial || partial.length >= ANSWER.length * 2) fail(`no partial text while streaming: ${partial}`);
    await live.waitFor({ state: 'detached', timeout: 15000 });
    const done = await page.locator('p.assistant').last().textContent();
    if (!done.includes(ANSWER.repeat(2).trim())) fail(`the whole answer did not land: ${done}`);
    if (requests[0]?.messages?.[0]?.content !== 'hello') fail('the server did not get the prompt');

    // 2. Stop aborts the request on the server and keeps what arrived.
    await page.fill('input', 'again');
    await page.click('button[type=submit]');
    await page.waitForFunction(liveLongerThan, 30);
    await page.click('button[type=button]');
    await live.waitFor({ state: 'detached', timeout: 5000 });
    const deadline = Date.now() + 5000;
    while (!requests[1]?.closedEarly && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (!requests[1]?.closedEarly || requests[1].completed)
      fail(
        `Stop did not abort the request on the server: ${JSON.stringify(requests.map((r) => ({ ...r, messages: r.messages.length })))}`,
      );
    const kept = await page.locator('p.assistant').last().textContent();
    if (!kept || kept.length < 20 || kept.includes(ANSWER.repeat(2).trim())) fail(`Stop kept ${kept}`);
    if (await page.locator('button[type=submit]').isDisabled()) fail('Send is still disabled after Stop');
    if (requests[1].messages.length !== 3) fail('the second request did not carry the history');
    if (errors.length) fail(`page errors: ${errors.join('; ')}`);
    await page.screenshot({ path: path.join(root, '.scratch', 'angular-e2e.png') }).catch(() => {});
    console.log(
      `angular e2e: ok (text streamed in: "${partial.slice(0, 40)}..."; Stop aborted request 2 after ${kept.length} characters)`,
    );
  } finally {
    await browser.close();
    server.closeAllConnections();
    server.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e.message ?? e);
  process.exit(1);
});
