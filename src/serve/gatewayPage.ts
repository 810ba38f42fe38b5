/**
 * The gateway's chat page: its routes (`/`, its scripts and styles, the favicon, the browser bundle
 * and `/page.json`) and how one is answered. Served without a token: the page holds nothing secret,
 * and it asks for the token before any API call.
 */
import type { ServerResponse } from 'node:http';
import { browserBundle, pageFile, type PAGE_FILES } from './browserBundle';
import { sendJsonError } from './chatCompletions';

/** What a page route serves: a page file, the browser bundle, or the page's config (`/page.json`). */
type PageSource = (typeof PAGE_FILES)[number] | 'bundle' | 'config';

/** One page route: what it serves, with which content type. */
export interface PageRoute {
  file: PageSource;
  type: string;
}

const PAGE_ROUTES: Record<string, PageRoute> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/chat.js': { file: 'chat.js', type: 'text/javascript; charset=utf-8' },
  '/resume.js': { file: 'resume.js', type: 'text/javascript; charset=utf-8' },
  '/markdown.js': { file: 'markdown.js', type: 'text/javascript; charset=utf-8' },
  '/chat.css': { file: 'chat.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
  // Browsers ask for /favicon.ico on their own (a JSON tab of /v1/models too): no 404 in the log.
  '/favicon.ico': { file: 'favicon.svg', type: 'image/svg+xml' },
  '/rxllm-browser.js': { file: 'bundle', type: 'text/javascript; charset=utf-8' },
  // What the page must know of this gateway (`{ webSocket }`), so it offers only what works.
  '/page.json': { file: 'config', type: 'application/json; charset=utf-8' },
};

/** The page route of `path`, if it is one. */
export function pageRoute(path: string): PageRoute | undefined {
  return Object.hasOwn(PAGE_ROUTES, path) ? PAGE_ROUTES[path] : undefined;
}

/**
 * Answers a page route; resolves with the status sent (500 when a file cannot be read). `webSocket`
 * is what `/page.json` tells the page: whether this gateway serves `/v1/chat/ws`.
 */
export async function servePage(res: ServerResponse, page: PageRoute, webSocket: boolean): Promise<number> {
  let body: string;
  try {
    body =
      page.file === 'config'
        ? JSON.stringify({ webSocket })
        : page.file === 'bundle'
          ? await browserBundle()
          : await pageFile(page.file);
  } catch (error) {
    sendJsonError(res, 500, 'server_error', (error as Error).message);
    return 500;
  }
  res.writeHead(200, {
    'content-type': page.type,
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
  return 200;
}
