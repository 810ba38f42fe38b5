// Writes dist/browser/rxllm.browser.mjs: rxllm/browser as one ES module (rxjs and
// eventsource-parser inside), served by `rxllm serve` to its chat page, and copies the page's
// plain HTML + JS beside it. Run by `npm run build`; prints to stderr only (`npm pack --json` runs it,
// and its stdout must stay npm's JSON).
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
esbuild
  .build({
    // Only what the page uses (same as PAGE_ENTRY in src/serve/browserBundle.ts), so no zod.
    stdin: {
      contents:
        "export { fetchSse, fromWebSocket, bearerProtocol, errorFromFrame, isErrorFrame } from './browser';",
      resolveDir: path.join(root, 'src'),
      sourcefile: 'rxllm-browser.js',
      loader: 'ts',
    },
    outfile: path.join(root, 'dist/browser/rxllm.browser.mjs'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    // No keepNames: error classes write their names out (src/errorName.ts), so "u: ..." cannot show.
  })
  .then(() => {
    // Every file of the page (index.html, chat.js, markdown.js, chat.css, favicon.svg, resume.js).
    for (const name of fs.readdirSync(path.join(root, 'src/serve/page'))) {
      fs.copyFileSync(path.join(root, 'src/serve/page', name), path.join(root, 'dist/browser', name));
    }
    console.error('browser bundle and chat page: dist/browser/');
  })
  .catch(() => process.exit(1));
