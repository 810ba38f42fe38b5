/**
 * The browser build of `rxllm/browser` that the gateway serves to its chat page, as one ES module
 * with rxjs and eventsource-parser inside (the page has no bundler and no import map).
 *
 * Where it comes from, first found wins:
 * 1. running from `dist/` (an installed package): `dist/browser/rxllm.browser.mjs`, written by
 *    `npm run build` (`scripts/bundle-browser.cjs`, esbuild);
 * 2. running from the sources (tests, `npm run cli -- serve`): `src/browser.ts` bundled in memory
 *    with esbuild, a dev dependency, once per process.
 * Neither: the page answers 500 saying to run `npm run build`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { moduleFile, packageRoot, requireOptional } from './moduleLocation';

/** The page's entry: the rxllm/browser functions it calls (keep in sync with scripts/bundle-browser.cjs). */
// (The specifier is kept apart from `from`: the ESM build makes relative specifiers after `from`
// explicit, and this one is resolved by esbuild against the sources, not by Node.)
const BROWSER_SOURCE = './browser';
export const PAGE_ENTRY: string = `export { fetchSse, fromWebSocket, bearerProtocol, errorFromFrame, isErrorFrame } from '${BROWSER_SOURCE}';`;

/** The file `npm run build` writes, relative to the package root. */
export const BROWSER_BUNDLE_PATH = 'dist/browser/rxllm.browser.mjs';

let cached: Promise<string> | undefined;

/** Whether this module is the compiled one under `dist/`. */
function runsFromDist(root: string | undefined): boolean {
  return !!root && moduleFile().startsWith(path.join(root, 'dist') + path.sep);
}

/** The page's own files (in `src/serve/page/`), served as they are. */
export const PAGE_FILES = [
  'index.html',
  'chat.js',
  'markdown.js',
  'chat.css',
  'favicon.svg',
  'resume.js',
] as const;

const pageCache = new Map<string, Promise<string>>();

/**
 * A page file's text (cached): `dist/browser/<name>` (copied there by `npm run build`), else
 * `src/serve/page/<name>` in a source checkout.
 */
export function pageFile(name: (typeof PAGE_FILES)[number]): Promise<string> {
  let text = pageCache.get(name);
  if (!text) {
    const root = packageRoot();
    const built = root ? [path.join(root, 'dist', 'browser', name)] : [];
    const source = root ? [path.join(root, 'src', 'serve', 'page', name)] : [];
    const candidates = runsFromDist(root) ? [...built, ...source] : [...source, ...built];
    const found = candidates.find((file) => fs.existsSync(file));
    text = found
      ? fs.promises.readFile(found, 'utf8')
      : Promise.reject(new Error(`rxllm: the chat page file ${name} is missing: run npm run build.`));
    text.catch(() => pageCache.delete(name));
    pageCache.set(name, text);
  }
  return text;
}

/** The bundle's source text (cached). Rejects with a message saying what to do when none is found. */
export function browserBundle(): Promise<string> {
  cached ??= load().catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}

async function load(): Promise<string> {
  const root = packageRoot();
  if (!root) throw new Error('rxllm: cannot find the package root to serve the browser build.');
  const built = path.join(root, BROWSER_BUNDLE_PATH);
  const source = path.join(root, 'src', 'browser.ts');
  // Running the build: its bundle. Running the sources (tests, tsx): bundle them, so the page
  // never gets a stale dist/ left by an older build.
  if (fs.existsSync(built) && (runsFromDist(root) || !fs.existsSync(source))) {
    return fs.promises.readFile(built, 'utf8');
  }
  if (fs.existsSync(source)) {
    let esbuild: typeof import('esbuild');
    try {
      // A dev dependency, present only in source checkouts: loaded lazily, never by the package.
      esbuild = requireOptional<typeof import('esbuild')>('esbuild');
    } catch {
      throw new Error(
        `rxllm: ${BROWSER_BUNDLE_PATH} is missing and esbuild is not installed: run npm run build.`,
      );
    }
    const result = await esbuild.build(bundleOptions(source));
    return result.outputFiles![0].text;
  }
  throw new Error(`rxllm: ${BROWSER_BUNDLE_PATH} is missing: run npm run build.`);
}

/** esbuild options shared with `scripts/bundle-browser.cjs`. */
export function bundleOptions(entry: string): import('esbuild').BuildOptions & { write: false } {
  return {
    // Only what the page uses, so the page does not download zod (rxllm/browser's chunk schemas).
    stdin: {
      contents: PAGE_ENTRY,
      resolveDir: path.dirname(entry),
      sourcefile: 'rxllm-browser.js',
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    write: false,
    legalComments: 'none',
    // Error classes take their `name` from the constructor: minified names would show as "sn: ...".
    keepNames: true,
  };
}
