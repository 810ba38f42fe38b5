/**
 * `rxllm serve`: starts the gateway (`startGateway`) and stops it on Ctrl-C — stop accepting, let
 * in-flight streams finish for a short grace period, exit 0. A thin shell over the public function.
 */
import { createClient, type Client } from '../client';
import { describeStartError, GATEWAY_DEFAULTS, startGateway, type Gateway } from '../serve/gateway';
import { integerFlag, parseCliArgs, type CliIO } from './io';
import type { ResumeStore } from '../resume/store';
import { requireOptional } from '../serve/moduleLocation';

/**
 * Time between two chunks of the default mock model. The in-process mock answers at once; with no
 * pause the chat page would print the whole echo in one frame, and nobody could see it stream.
 */
export const SERVE_MOCK_DELAY_MS = 30;

/** The client of `rxllm serve` with no --model: the mock, paced (a request's own `mock_delay_ms` wins). */
function pacedMock(): Pick<Client, 'stream'> {
  const client = createClient();
  return {
    stream: (request, options) => client.stream({ mock_delay_ms: SERVE_MOCK_DELAY_MS, ...request }, options),
  };
}

const HELP = `Usage: rxllm serve [--port ${GATEWAY_DEFAULTS.port}] [--host ${GATEWAY_DEFAULTS.host}] [--model M] [--base-url U] [--token T]

An OpenAI-compatible gateway with a chat page (open http://HOST:PORT/ in a browser):
  POST /v1/chat/completions (stream and not), GET /v1/models, WebSocket /v1/chat/ws, GET / the page.
  --port, -p      port (default ${GATEWAY_DEFAULTS.port}; 0 = a free one)
  --host          interface to bind (default ${GATEWAY_DEFAULTS.host}: this machine only)
  --model, -m     provider/model served (default ${GATEWAY_DEFAULTS.model}, the built-in mock: no key,
                  one chunk every ${SERVE_MOCK_DELAY_MS} ms)
  --base-url, -u  base URL of an OpenAI-compatible upstream (with --model compat/<model>)
  --token         require "Authorization: Bearer <token>" on the API (default: $RXLLM_TOKEN)
  --no-resume     streamed answers are not resumable (default: they are; see docs/resume.md)
  --resume-ttl    how long a resumable answer is kept after its last chunk: 600, 90s, 10m, 1h
                  (seconds unless a unit is given; default 10m)
  --redis URL     keep resumable answers in Redis (redis://...; needs the ioredis package), so
                  instances sharing it resume and stop each other's answers (default: memory)
Provider keys come from their environment variables and never reach the browser or the log.`;

export interface ServeControl {
  /** Called once listening (tests). */
  onListening?: (gateway: Gateway) => void;
  /** Stops the gateway like Ctrl-C (tests). @defaultValue SIGINT / SIGTERM of this process */
  stop?: AbortSignal;
  /** Grace period for in-flight streams on stop, in ms. @defaultValue 5000 */
  graceMs?: number;
  /**
   * Opens the Redis resume store of `--redis` (tests). @defaultValue loads `ioredis` and
   * `rxllm/redis` (optional peers: the CLI does not import them unless asked)
   */
  redisResumeStore?: (url: string) => RedisResumeHandle;
}

/** A Redis resume store the CLI opened, and how to close it with its connection. */
export interface RedisResumeHandle {
  store: ResumeStore;
  close(): Promise<void>;
}

/** `--redis`: ioredis and rxllm/redis loaded only now (the core never imports an integration). */
function loadRedisResumeStore(url: string): RedisResumeHandle {
  const Redis = requireOptional<{ default: new (url: string) => { quit(): Promise<unknown> } }>('ioredis');
  const { createRedisResumeStore } = requireOptional<{
    createRedisResumeStore: (client: unknown) => ResumeStore & { close(): Promise<void> };
  }>('rxllm/redis');
  const client = new Redis.default(url);
  const store = createRedisResumeStore(client);
  return {
    store,
    async close() {
      await store.close();
      await client.quit();
    },
  };
}

/** `600` (seconds), `90s`, `10m`, `1h`, `500ms` → ms; `undefined` when it is none of those. */
export function durationFlag(raw: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(raw);
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  const ms = Number(m[1]) * unit;
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}

/** Runs `rxllm serve`; resolves to the exit code once stopped. */
export async function runServe(argv: string[], io: CliIO, control: ServeControl = {}): Promise<number> {
  let values;
  try {
    ({ values } = parseCliArgs(
      {
        args: argv,
        options: {
          port: { type: 'string', short: 'p' },
          host: { type: 'string' },
          model: { type: 'string', short: 'm' },
          'base-url': { type: 'string', short: 'u' },
          token: { type: 'string' },
          'no-resume': { type: 'boolean' },
          'resume-ttl': { type: 'string' },
          redis: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
      },
      ['port'],
    ));
  } catch (error) {
    io.stderr.write(`rxllm serve: ${(error as Error).message}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(HELP + '\n');
    return 0;
  }
  const port = values.port === undefined ? GATEWAY_DEFAULTS.port : integerFlag(values.port, 0, 65535);
  if (port === undefined) {
    io.stderr.write(`rxllm serve: --port must be a port number (0-65535), got "${values.port}"\n`);
    return 2;
  }
  // As `rxllm chat`: a model that is not provider/model would start a gateway that answers every
  // request 400, and a URL alone would be ignored by the default mock model.
  if (values.model !== undefined && !/^[^/\s]+\/\S+/.test(values.model)) {
    io.stderr.write(`rxllm serve: --model must be provider/model, got "${values.model}"\n`);
    return 2;
  }
  if (values['base-url'] !== undefined && values.model === undefined) {
    io.stderr.write(
      'rxllm serve: --base-url needs --model, e.g. rxllm serve -m compat/llama3 -u http://127.0.0.1:8000/v1\n',
    );
    return 2;
  }
  const resumeTtl = values['resume-ttl'] === undefined ? undefined : durationFlag(values['resume-ttl']);
  if (values['resume-ttl'] !== undefined && resumeTtl === undefined) {
    io.stderr.write(
      `rxllm serve: --resume-ttl must be a duration (600, 90s, 10m, 1h), got "${values['resume-ttl']}"\n`,
    );
    return 2;
  }
  if (values['no-resume'] && (values.redis !== undefined || resumeTtl !== undefined)) {
    io.stderr.write('rxllm serve: --no-resume cannot go with --redis or --resume-ttl\n');
    return 2;
  }
  const env = io.env ?? process.env;
  let redis: RedisResumeHandle | undefined;
  let gateway: Gateway;
  try {
    if (values.redis !== undefined) redis = (control.redisResumeStore ?? loadRedisResumeStore)(values.redis);
    gateway = await startGateway({
      port,
      host: values.host,
      model: values.model,
      baseURL: values['base-url'],
      client: values.model === undefined ? pacedMock() : undefined,
      token: values.token ?? env.RXLLM_TOKEN ?? '',
      log: (line) => io.stderr.write(line + '\n'),
      resume: values['no-resume'] ? false : { store: redis?.store, ttlMs: resumeTtl },
    });
  } catch (error) {
    await redis?.close().catch(() => undefined);
    io.stderr.write(`rxllm serve: could not start: ${describeStartError(error)}\n`);
    return 1;
  }
  io.stderr.write(
    `rxllm serve: ${values.model ?? GATEWAY_DEFAULTS.model} on ${gateway.url} — open ${gateway.url}/ for the chat page` +
      `${values.token || env.RXLLM_TOKEN ? ' (token required)' : ''}. Ctrl-C stops.\n`,
  );
  control.onListening?.(gateway);
  await new Promise<void>((resolve) => {
    if (control.stop) {
      if (control.stop.aborted) return resolve();
      control.stop.addEventListener('abort', () => resolve(), { once: true });
      return;
    }
    const onSignal = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  io.stderr.write(`rxllm serve: stopping (${gateway.inFlight} in flight)\n`);
  await gateway.close(control.graceMs);
  await redis?.close().catch(() => undefined);
  io.stderr.write('rxllm serve: stopped\n');
  return 0;
}
