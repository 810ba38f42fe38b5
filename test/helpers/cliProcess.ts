/**
 * The CLI as a real process, for tests where two runs must be two pids (the results-file lock) or
 * one must die by SIGKILL: `node --import tsx`, not the tsx CLI, which runs the script in a child
 * process that a SIGKILL of the parent would leave running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** A started CLI; `done` resolves to its exit code and everything it wrote on stderr. */
export type CliProcess = ChildProcess & { done: Promise<{ code: number | null; stderr: string }> };

/** Starts `rxllm ...args` with `env` (default: this process's), stdout ignored. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = process.env): CliProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(__dirname, '..', '..', 'src', 'cli', 'main.ts'), ...args],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stderr })),
  );
  return Object.assign(child, { done });
}

/** Resolves once `check()` holds; fails the test if it still does not after `ms`. */
export async function waitFor(check: () => boolean, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  expect(check()).toBe(true);
}

/**
 * A whole non-streamed `chat.completion` body as the mock server at `mockUrl` answers it: for an
 * upstream served by hand (headers now, this body when the test says).
 */
export async function completionBody(mockUrl: string): Promise<string> {
  const reply = await fetch(`${mockUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });
  return reply.text();
}
