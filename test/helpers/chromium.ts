/**
 * Real headless Chromium for page tests: Debian's /usr/bin/chromium driven by playwright-core.
 * Under CI=true the tests must run; elsewhere they skip, saying why, when Chromium is missing.
 * Screenshots go to artifacts/ (git-ignored) for CI.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { createClient, startGateway, type Gateway, type GatewayOptions } from '../../src';
import { createMockServer, type MockServer } from '../../src/testing';

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const ARTIFACTS = path.resolve(__dirname, '../../artifacts');

/** `describe` when Chromium is there (or CI=true, where its absence must fail), else `describe.skip`. */
export function describeChromium(spec: string): jest.Describe {
  const available = fs.existsSync(CHROMIUM);
  if (!available && process.env.CI !== 'true') {
    console.log(`${spec}: skipped, ${CHROMIUM} is missing (install the chromium package; CI installs it)`);
  }
  return available || process.env.CI === 'true' ? describe : describe.skip;
}

/** A browser with a fresh profile; `close()` removes the profile too. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rxllm-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ARGS,
    headless: true,
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A screenshot of the whole page in artifacts/. */
export async function screenshot(page: { screenshot(o: object): Promise<unknown> }, name: string) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });
}

/** A mock upstream server and a gateway in front of it serving `compat/page-model` (`options`: a token...). */
export async function gatewayOverMock(
  options: Partial<GatewayOptions> = {},
): Promise<{ upstream: MockServer; gateway: Gateway }> {
  const upstream = await createMockServer();
  const gateway = await startGateway({
    port: 0,
    model: 'compat/page-model',
    client: createClient({ baseURL: upstream.url }),
    log: () => {},
    ...options,
  });
  return { upstream, gateway };
}

/** What `pageSuite` sets up: filled in by its `beforeAll`. */
export interface PageSuite {
  upstream: MockServer;
  gateway: Gateway;
  context: BrowserContext;
}

/**
 * Registers a page spec's hooks: a gateway over a mock upstream (`gatewayOverMock(options)`) and
 * Chromium for the whole describe, closed after it; the upstream reset before each test.
 */
export function pageSuite(options: Partial<GatewayOptions> = {}): PageSuite {
  const suite = {} as PageSuite;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  beforeAll(async () => {
    Object.assign(suite, await gatewayOverMock(options));
    browser = await launchChromium();
    suite.context = browser.context;
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await suite.gateway?.close(0);
    await suite.upstream?.close();
  });
  beforeEach(() => suite.upstream.reset());
  return suite;
}
