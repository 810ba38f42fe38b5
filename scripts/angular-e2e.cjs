// The built Angular example (examples/angular/dist) in real Chromium against the real rxllm gateway,
// the way `npm start` runs it: `rxllm serve` with no flags (the bin of the rxllm installed in the
// example: what `npx rxllm serve` runs there), and a server on 127.0.0.1 that serves the app and
// proxies /v1 to the gateway with the example's own proxy hook (proxy.conf.mjs `onProxyReq`, which
// `ng serve` runs on every proxied request). Checks:
//   - the model picker lists GET /v1/models (answered by the gateway, plus one model it does not
//     serve, added in the browser) and the request carries the picked model; the unserved one shows
//     the gateway's 404 (an LlmError's message);
//   - text appears while it streams (the default mock is paced), then the whole answer lands;
//   - Stop aborts the request (the gateway logs it `closed`) and keeps the text received so far.
//   node scripts/angular-e2e.cjs        (after scripts/angular-check.sh built the app)
// Against a running `ng serve` instead (the real dev-server proxy), with the gateway's stderr in a file:
//   ANGULAR_E2E_URL=http://localhost:4200/ ANGULAR_E2E_GATEWAY_LOG=gateway.log node scripts/angular-e2e.cjs
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { chromium } = require('playwright-core');

const root = path.resolve(__dirname, '..');
const example = path.join(root, 'examples/angular');
const APP = path.join(example, 'dist/rxllm-angular-example/browser');
const CLI = path.join(example, 'node_modules/rxllm/dist/src/cli/main.js');
const PROMPT = 'Streams arrive piece by piece, and the page shows each piece as soon as it comes. '
  .repeat(3)
  .trim();
const ANSWER = `Mock reply to: ${PROMPT}`; // the default mock echoes the last user message
const UNSERVED = 'mock/not-served-here';
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

const fail = (m) => {
  throw new Error(`angular e2e: ${m}`);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** In the page: the answer being streamed (the paragraph with the cursor) is longer than n characters. */
const liveLongerThan = (n) =>
  // eslint-disable-next-line no-undef -- runs in the page
  (document.querySelector('.cursor')?.parentElement?.textContent ?? '').length > n;

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = http.createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** `rxllm serve --port N` (no other flag: the paced mock), its stderr kept for the access log. */
async function startGateway() {
  if (!fs.existsSync(CLI)) fail(`${CLI} is missing: install the example first (npm ci in examples/angular)`);
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'serve', '--port', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, RXLLM_TOKEN: '' },
  });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) fail(`rxllm serve exited: ${log}`);
    const up = await fetch(`${url}/v1/models`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (i > 200) fail(`rxllm serve did not start: ${log}`);
    await sleep(50);
  }
  return { url, log: () => log, stop: () => child.kill('SIGINT') };
}

/** The built app, and /v1 proxied to `target` as `ng serve` does with proxy.conf.mjs. */
async function startAppServer(target) {
  process.env.RXLLM_URL = target;
  const { onProxyReq } = await import(pathToFileURL(path.join(example, 'proxy.conf.mjs')).href);
  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/v1/')) {
      const url = new URL(req.url, target);
      // changeOrigin: the upstream sees its own host; then the example's hook, before any byte is sent.
      const upstream = http.request(url, { method: req.method, headers: { ...req.headers, host: url.host } });
      onProxyReq(upstream, req);
      upstream.on('response', (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      // The browser left (Stop): drop the upstream request, as http-proxy does.
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      req.pipe(upstream);
      return;
    }
    const file = path.join(APP, req.url === '/' ? 'index.html' : path.normalize(req.url).replace(/^\/+/, ''));
    const found = file.startsWith(APP) && fs.existsSync(file) ? file : path.join(APP, 'index.html');
    res.writeHead(200, { 'content-type': TYPES[path.extname(found)] ?? 'application/octet-stream' });
    fs.createReadStream(found).pipe(res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    stop: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** The gateway's access-log lines for chat requests. */
const chatLines = (log) =>
  log()
    .split('\n')
    .filter((l) => l.startsWith('POST /v1/chat/completions'));

async function waitFor(what, check, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function main() {
  const external = process.env.ANGULAR_E2E_URL;
  const cleanup = [];
  let url;
  let log;
  if (external) {
    url = external;
    const file = process.env.ANGULAR_E2E_GATEWAY_LOG;
    log = () => (file && fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
  } else {
    if (!fs.existsSync(path.join(APP, 'index.html'))) fail(`${APP} is not built`);
    const gateway = await startGateway();
    cleanup.push(gateway.stop);
    const app = await startAppServer(gateway.url);
    cleanup.push(app.stop);
    url = app.url;
    log = gateway.log;
  }
  const before = chatLines(log).length;
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxllm-angular-'));
  cleanup.push(() => fs.rmSync(userDataDir, { recursive: true, force: true }));
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
  cleanup.unshift(() => browser.close());
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const sent = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith('/v1/chat/completions')) sent.push(r.postDataJSON());
    });
    // The gateway's list as the page gets it, plus a model it does not serve.
    let served;
    await page.route('**/v1/models', async (route) => {
      const response = await route.fetch();
      const list = await response.json();
      served = list.data.map((m) => m.id);
      await route.fulfill({
        response,
        json: { ...list, data: [...list.data, { id: UNSERVED, object: 'model' }] },
      });
    });
    await page.goto(url);
    const live = page.locator('p.assistant').filter({ has: page.locator('.cursor') });
    const send = async (text) => {
      await page.fill('input', text);
      await page.click('button[type=submit]');
    };

    // 1. The picker: every model of GET /v1/models, the first one picked.
    await page.locator('select option').nth(1).waitFor({ state: 'attached' });
    const options = await page.locator('select option').allTextContents();
    if (JSON.stringify(options.map((o) => o.trim())) !== JSON.stringify([...served, UNSERVED]))
      fail(`the picker shows ${options} for ${served}`);
    if ((await page.locator('select').inputValue()) !== served[0]) fail('the first model is not picked');

    // 2. A model the gateway does not serve: its 404, shown as the typed error, sent with that model.
    await page.selectOption('select', UNSERVED);
    await send('hi');
    await page.locator('p.error').waitFor();
    const refused = await page.locator('p.error').textContent();
    // The component shows an LlmError's message (anything else as "The request failed.").
    if (!/The model "mock\/not-served-here" does not exist/.test(refused))
      fail(`the 404 showed as: ${refused}`);
    if (sent[0]?.model !== UNSERVED || sent[0]?.stream !== true)
      fail(`request 1 was ${JSON.stringify(sent[0])}`);

    // 3. The served model: text renders as it streams through the proxy, then the whole answer stays.
    await page.selectOption('select', served[0]);
    await send(PROMPT);
    await live.waitFor();
    await page.waitForFunction(liveLongerThan, 40);
    const partial = await live.textContent();
    if (!partial || partial.includes(ANSWER)) fail(`no partial text while streaming: ${partial}`);
    await live.waitFor({ state: 'detached', timeout: 15000 });
    const done = await page.locator('p.assistant').last().textContent();
    if (!done.includes(ANSWER)) fail(`the whole answer did not land: ${done}`);
    if (sent[1]?.model !== served[0]) fail(`request 2 was for ${sent[1]?.model}`);
    if ((await page.locator('p.error').count()) !== 0) fail('the error stayed after a good answer');
    await waitFor('the access-log line of request 2', () => chatLines(log).length >= before + 2);
    const completed = chatLines(log)[before + 1];
    if (!completed.includes(`model=${served[0]}`) || !completed.endsWith(' complete'))
      fail(`the gateway logged ${completed}`);

    // 4. Stop aborts the request at the gateway and keeps what arrived.
    await send('again, ' + PROMPT);
    await page.waitForFunction(liveLongerThan, 40);
    await page.click('button[type=button]');
    await live.waitFor({ state: 'detached', timeout: 5000 });
    await waitFor('the access-log line of request 3', () => chatLines(log).length >= before + 3);
    const stopped = chatLines(log)[before + 2];
    // Unsubscribing drops the connection and stops the resumable answer (fetchSse's POST .../stop):
    // whichever reaches the gateway first ends the request, `closed` or stopped.
    if (!/ closed$| error:RequestAbortedError "The stream .* was stopped/.test(stopped))
      fail(`Stop did not abort the request at the gateway: ${stopped}`);
    const kept = await page.locator('p.assistant').last().textContent();
    if (!kept || kept.length < 20 || kept.includes(PROMPT)) fail(`Stop kept ${kept}`);
    if (await page.locator('button[type=submit]').isDisabled()) fail('Send is still disabled after Stop');
    // The history: hi, the prompt, its answer, the new prompt (the refused turn got no answer).
    if (sent[2]?.messages?.length !== 4) fail(`request 3 carried ${sent[2]?.messages?.length} messages`);
    if (errors.length) fail(`page errors: ${errors.join('; ')}`);
    fs.mkdirSync(path.join(root, '.scratch'), { recursive: true });
    await page.screenshot({ path: path.join(root, '.scratch', 'angular-e2e.png') }).catch(() => {});
    console.log(
      `angular e2e: ok (picker: ${options.length} models from /v1/models; text streamed in through the proxy: "${partial.slice(0, 40)}..."; Stop: the gateway logged the request closed after ${kept.length} characters)`,
    );
  } finally {
    for (const step of cleanup) await step();
  }
}

main().catch((e) => {
  console.error(e.message ?? e);
  process.exit(1);
});
