/**
 * `rxllm serve --config FILE --redis URL --port 0` in a process of its own (from the sources, through
 * tsx), resolved once it printed the URL it listens on: the gateway-fleet and budget specs run two of
 * them on one redis-server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** Everything it wrote to stderr so far (the start line, access-log lines). */
  stderr: () => string;
  exited: Promise<number | null>;
}

export async function serveProcess(
  config: string,
  redisPort: number,
  env: Record<string, string> = {},
): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [
      path.join(root, 'node_modules/tsx/dist/cli.mjs'),
      'src/cli/main.ts',
      'serve',
      '--config',
      config,
      '--redis',
      `redis://127.0.0.1:${redisPort}`,
      '--port',
      '0',
    ],
    { cwd: root, env: { ...process.env, RXLLM_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  while (!/ on (http:\/\/\S+) /.test(stderr)) {
    if (child.exitCode !== null) throw new Error(stderr);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, url: / on (http:\/\/\S+) /.exec(stderr)![1], stderr: () => stderr, exited };
}
