// Runs before `npm start` and `npm run build`. This example installs rxllm from the repository root
// (`"rxllm": "file:../.."`) packed like a published package (.npmrc: install-links), so it gets the
// root's build (dist/) as it was at `npm install`. In a clone where rxllm was never built, that
// install has no dist/: build rxllm and install it again, or say what is missing.
//   node ensure-rxllm.mjs            only when the installed rxllm is not built
//   node ensure-rxllm.mjs --update   after changing rxllm: rebuild it and install it again
import { execSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const here = fileURLToPath(new URL('./', import.meta.url));
const built = (dir) => existsSync(`${dir}dist/esm/src/browser.js`);
const update = process.argv.includes('--update');

if (update || !built(`${here}node_modules/rxllm/`)) {
  if (!existsSync(`${root}node_modules`)) {
    console.error('rxllm is not built here: run `npm ci` in the repository root, then this again.');
    process.exit(1);
  }
  if (update || !built(root)) {
    console.log('Building rxllm (npm run build in the repository root)...');
    execSync('npm run build', { cwd: root, stdio: 'inherit' });
  }
  console.log('Installing the built rxllm into this example...');
  rmSync(`${here}node_modules/rxllm`, { recursive: true, force: true });
  execSync('npm install --no-audit --no-fund', { cwd: here, stdio: 'inherit' });
}
