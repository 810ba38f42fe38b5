/**
 * `rxllm serve`: starts the gateway (`startGateway`) and stops it on Ctrl-C — stop accepting, let
 * in-flight streams finish for a short grace period, exit 0. A thin shell over the public function.
 */
import { createClient, type Client } from '../client';
import { loadGatewayConfig, type GatewayConfig } from '../serve/config';
import { startConfiguredGateway } from '../serve/configuredGateway';
import { GATEWAY_DEFAULTS, startGateway, type Gateway } from '../serve/gateway';
import { describeStartError } from '../serve/logLines';
import { type CliIO, integerFlag, parseCommandArgs } from './io';
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

const HELP = `Usage: rxllm serve [--port ${GATEWAY_DEFAULTS.port}] [--host ${GATEWAY_DEFAULTS.host}] [--model M] [--base-url U] [--token T] [--cors ORIGINS]
       rxllm serve --config rxllm.config.yaml [--redis redis://HOST:6379] [--metrics | --metrics-open] [--port P] [--token T] [--cors ORIGINS]

An OpenAI-compatible gateway with a chat page (open http://HOST:PORT/ in a browser):
  POST /v1/chat/completions (stream and not), GET /v1/models, WebSocket /v1/chat/ws, GET / the page.
  --port, -p      port (default ${GATEWAY_DEFAULTS.port}; 0 = a free one)
  --host          interface to bind (default ${GATEWAY_DEFAULTS.host}: this machine only)
  --model, -m     provider/model served (default ${GATEWAY_DEFAULTS.model}, the built-in mock: no key,
                  one chunk every ${SERVE_MOCK_DELAY_MS} ms)
  --base-url, -u  base URL of an OpenAI-compatible upstream (with --model compat/<model>)
  --token         require "Authorization: Bearer <token>" on the API (default: $RXLLM_TOKEN; not empty)
  --config, -c    many models through the router: model groups, fallbacks, cooldowns, rpm/tpm,
                  virtual keys with budgets (.json, .yaml or .ts; see docs/gateway-config.md).
                  GET /healthz and /readyz are served without the token.
  --redis URL     share with every gateway on this Redis (redis://...; needs the ioredis package):
                  resumable answers (so instances resume and stop each other's), and with --config
                  the rate limits, cooldowns and budgets (default: this process's memory)
  --metrics       GET /metrics in Prometheus format, behind the token (with --config; needs prom-client)
  --metrics-open  the same without the token (for a scraper on a private network)
  --cors          origins whose pages may call the API, comma-separated, or * (default: none)
  --headers-timeout-ms  most time for a client's request headers (default ${GATEWAY_DEFAULTS.headersTimeoutMs})
  --request-timeout-ms  most time for a client's whole request, body included (default ${GATEWAY_DEFAULTS.requestTimeoutMs})
  --max-connections     most connections open at once (default ${GATEWAY_DEFAULTS.maxConnections})
  --no-resume     streamed answers are not resumable (default: they are; see docs/resume.md)
  --resume-ttl    how long a resumable answer is kept after its last chunk: 600, 90s, 10m, 1h
                  (seconds unless a unit is given; default 10m)
Provider keys come from their environment variables and never reach the browser or the log.`;

/** Whether `host` binds this machine only (`127.0.0.0/8`, `::1`, `localhost`). */
function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

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
  redisResumeStore?: (url: string) => RedisResumeHandle | Promise<RedisResumeHandle>;
}

/** A Redis resume store the CLI opened, and how to close it with its connection. */
export interface RedisResumeHandle {
  store: ResumeStore;
  close(): Promise<void>;
}

/** `--redis`: ioredis and rxllm/redis loaded only now (the core never imports an integration). */
async function loadRedisResumeStore(url: string): Promise<RedisResumeHandle> {
  const Redis = requireOptional<{ default: new (url: string) => { quit(): Promise<unknown> } }>('ioredis');
  // import(): the integration is loaded only now, from this copy (a source checkout has no dist/).
  const { createRedisResumeStore } = await import('../redis');
  const client = new Redis.default(url);
  const store = createRedisResumeStore(client as unknown as Parameters<typeof createRedisResumeStore>[0]);
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
  const parsed = parseCommandArgs(
    'rxllm serve',
    HELP,
    io,
    {
      args: argv,
      options: {
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        model: { type: 'string', short: 'm' },
        'base-url': { type: 'string', short: 'u' },
        token: { type: 'string' },
        config: { type: 'string', short: 'c' },
        redis: { type: 'string' },
        metrics: { type: 'boolean' },
        'metrics-open': { type: 'boolean' },
        cors: { type: 'string' },
        'headers-timeout-ms': { type: 'string' },
        'request-timeout-ms': { type: 'string' },
        'max-connections': { type: 'string' },
        'no-resume': { type: 'boolean' },
        'resume-ttl': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    ['port', 'headers-timeout-ms', 'request-timeout-ms', 'max-connections'],
  );
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
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
  const limits: Record<string, number> = {};
  for (const [flag, key, min] of [
    ['headers-timeout-ms', 'headersTimeoutMs', 1],
    ['request-timeout-ms', 'requestTimeoutMs', 1],
    ['max-connections', 'maxConnections', 1],
  ] as const) {
    const raw = values[flag];
    if (raw === undefined) continue;
    const value = integerFlag(raw, min);
    if (value === undefined) {
      io.stderr.write(`rxllm serve: --${flag} must be a positive integer, got "${raw}"\n`);
      return 2;
    }
    limits[key] = value;
  }
  const resumeTtl = values['resume-ttl'] === undefined ? undefined : durationFlag(values['resume-ttl']);
  if (values['resume-ttl'] !== undefined && resumeTtl === undefined) {
    io.stderr.write(
      `rxllm serve: --resume-ttl must be a duration (600, 90s, 10m, 1h), got "${values['resume-ttl']}"\n`,
    );
    return 2;
  }
  // With --config, --redis also holds the router's and keys' stores, so it goes with --no-resume.
  if (
    values['no-resume'] &&
    ((values.redis !== undefined && values.config === undefined) || resumeTtl !== undefined)
  ) {
    io.stderr.write('rxllm serve: --no-resume cannot go with --redis (without --config) or --resume-ttl\n');
    return 2;
  }
  const env = io.env ?? process.env;
  let config: GatewayConfig | undefined;
  if (values.config !== undefined) {
    if (values.model !== undefined || values['base-url'] !== undefined) {
      io.stderr.write('rxllm serve: --config lists the models; leave out --model and --base-url\n');
      return 2;
    }
    try {
      config = loadGatewayConfig(values.config, env);
    } catch (error) {
      io.stderr.write(`rxllm serve: ${describeStartError(error)}\n`);
      return 2;
    }
  } else if (values.metrics || values['metrics-open']) {
    io.stderr.write('rxllm serve: --metrics goes with --config\n');
    return 2;
  }
  // `--token "$RXLLM_TOKEN"` with the variable unset is `--token ""`: an open gateway its operator
  // believes locked. An empty token is a mistake, never a way to turn auth off.
  // An empty RXLLM_TOKEN is an unset one (as shells treat `VAR=`); an empty --token is an error.
  if (values.token !== undefined && values.token.trim() === '') {
    io.stderr.write(
      'rxllm serve: --token is empty (an unset variable in --token "$VAR"?): give a token, or leave --token out to run without one\n',
    );
    return 2;
  }
  const token = values.token ?? (env.RXLLM_TOKEN?.trim() ? env.RXLLM_TOKEN : undefined);
  if (
    !token &&
    !config?.masterKey &&
    !config?.keys.length &&
    !isLoopback(values.host ?? GATEWAY_DEFAULTS.host)
  ) {
    io.stderr.write(
      `rxllm serve: WARNING: binding to ${values.host} (not this machine only) without a token: every client on the network can call the provider with your key. Set --token or RXLLM_TOKEN.\n`,
    );
  }
  let redis: RedisResumeHandle | undefined;
  let gateway: Gateway;
  const resume = values['no-resume'] ? (false as const) : undefined;
  try {
    if (values.redis !== undefined && !values['no-resume'])
      redis = await (control.redisResumeStore ?? loadRedisResumeStore)(values.redis);
    const resumeOption = resume ?? { store: redis?.store, ttlMs: resumeTtl };
    gateway = config
      ? await startConfiguredGateway(config, {
          port,
          host: values.host,
          token: token ?? config.masterKey ?? '',
          cors: values.cors,
          ...limits,
          redis: values.redis,
          metrics: values['metrics-open'] ? 'open' : !!values.metrics,
          resume: resumeOption,
          log: (line) => io.stderr.write(line + '\n'),
        })
      : await startGateway({
          port,
          host: values.host,
          model: values.model,
          baseURL: values['base-url'],
          client: values.model === undefined ? pacedMock() : undefined,
          token: token ?? '',
          cors: values.cors,
          ...limits,
          resume: resumeOption,
          log: (line) => io.stderr.write(line + '\n'),
        });
  } catch (error) {
    await redis?.close().catch(() => undefined);
    io.stderr.write(`rxllm serve: could not start: ${describeStartError(error)}\n`);
    return error instanceof TypeError ? 2 : 1;
  }
  const access =
    token || config?.masterKey
      ? `token required${config?.keys.length ? ` (or one of ${config.keys.length} keys)` : ''}`
      : config?.keys.length
        ? `one of ${config.keys.length} keys required`
        : 'NO TOKEN: anyone who can reach it spends the provider key';
  io.stderr.write(
    `rxllm serve: ${config ? config.models.join(', ') : (values.model ?? GATEWAY_DEFAULTS.model)} on ${gateway.url} — open ${gateway.url}/ for the chat page` +
      ` (${access}${values.cors ? `; CORS for ${values.cors}` : ''}). Ctrl-C stops.\n`,
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
