// A throwaway redis-server for scripts/bullmq-compat/run.mjs: a free port on 127.0.0.1, no
// persistence (nothing outlives the check), stopped by `stop()`. The tests' own helper is
// test/helpers/redisServer.ts (TypeScript, with a data folder for restarts); this one runs with
// plain node in the scratch app, where the repository's test helpers are not installed.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';

export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

/** Whether redis-server is here; under CI=true its absence is an error (.ci/run installs it). */
export function redisAvailable() {
  if (existsSync(REDIS_SERVER)) return true;
  if (process.env.CI === 'true')
    throw new Error(`${REDIS_SERVER} is missing: .ci/run installs it (apt-get install -y redis-server).`);
  return false;
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

/** Starts redis-server; resolves once it accepts connections. */
export async function startRedis() {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const proc = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`redis-server did not start: ${out.slice(-300)}`)),
      10_000,
    );
    proc.stdout.on('data', (d) => {
      out += d;
      if (/Ready to accept connections/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}): ${out.slice(-300)}`));
    });
  });
  proc.stdout.resume();
  return {
    port,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
