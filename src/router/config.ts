/**
 * The router's configuration: model groups of deployments, strategies, fallbacks, cooldowns.
 */
import type { SchedulerLike } from 'rxjs';
import type { ModelName } from '../request';
import type { TimeoutsConfig } from '../../operators/timeouts';
import type { Logger } from '../logger';
import type { CallOptions, ClientOptions } from '../options';
import type { RateLimitStore } from '../rateLimit/store';
import type { CooldownPolicy, CooldownStore } from './cooldown';
import type { FailureKind } from './classify';
import type { ContinuationMode } from './continuation';

/** One place a group's calls can go: an rxllm model plus its options. */
export interface DeploymentConfig {
  /** `provider/model`, e.g. `openai/gpt-4o-mini` or `compat/llama-3` (with `options.baseURL`). */
  model: ModelName;
  /** Options of this deployment's calls (`baseURL`, `apiKey`, `headers`, ...); they win over the call's. @defaultValue {} */
  options?: CallOptions;
  /** Name in routes, attempts and shared stores. @defaultValue the model, `#2`, `#3`... appended when repeated */
  id?: string;
  /** Share of the traffic under `shuffle`. @defaultValue 1 */
  weight?: number;
  /**
   * Requests per minute this deployment may get. One out of permits is tried after the others of its
   * group; a call that still goes to it waits for a permit. @defaultValue Infinity
   */
  rpm?: number;
  /**
   * Tokens per minute this deployment may get (estimated from the prompt, corrected by usage). One
   * with fewer tokens left than the request's estimate is tried after the others. @defaultValue Infinity
   */
  tpm?: number;
  /**
   * How this deployment continues a partial answer under `afterFirstChunk: 'continue'` (see
   * {@link ContinuationMode}): `'vllm'` for a vLLM server, `'prefill'` for one that continues a final
   * assistant message natively (llama.cpp), `false` for none.
   * @defaultValue `'prefill'` for `anthropic/` and `mock/`, `'deepseek-prefix'` for `deepseek/`, else `false`
   */
  continuation?: ContinuationMode;
}

/**
 * How a group orders its deployments for a call:
 * - `'shuffle'`: random, in proportion to `weight` (LiteLLM's `simple-shuffle`);
 * - `'least-busy'`: fewest calls in flight from this router first, ties in config order;
 * - `'lowest-latency'`: lowest moving average of the time to first chunk (or to the result) first;
 *   deployments not measured yet come first, in config order, so every one gets measured.
 */
export type RoutingStrategy = 'shuffle' | 'least-busy' | 'lowest-latency';

/**
 * What happens when a deployment fails after chunks reached the subscriber:
 * - `'error'`: the error surfaces, `error.partial` holding what was received;
 * - `'restart'`: the next deployment starts over behind a reset chunk (`Chunk.reset`) so consumers
 *   drop what they built (`accumulateChunks` and the SSE helpers honour it);
 * - `'continue'`: the text received so far is sent to the next deployment as an assistant message
 *   (a prefill) with the flag its server needs (each deployment's `continuation`: Anthropic, DeepSeek's
 *   prefix mode, vLLM, llama.cpp) and only the rest is streamed. `createRouter` refuses it with a
 *   `ConfigurationError` when a deployment cannot continue (OpenAI, Gemini...: they would answer anew
 *   and the text would be duplicated); with tool calls or n > 1 in the partial answer it behaves like
 *   `'error'`.
 */
export type AfterFirstChunk = 'error' | 'restart' | 'continue';

export interface GroupConfig {
  deployments: DeploymentConfig[];
  /** @defaultValue the router's `strategy` */
  strategy?: RoutingStrategy;
}

/** One finished attempt, for logs and metrics. */
export interface RouterAttempt {
  /** The group the caller asked for. */
  requested: string;
  /** The group of the deployment tried (differs after a fallback). */
  group: string;
  deployment: string;
  model: string;
  /** 1-based, within the call. */
  attempt: number;
  outcome: 'success' | 'error' | 'cancelled';
  error?: unknown;
  /** The error's class name (`ServerError`, `RateLimitError`, ...). */
  errorClass?: string;
  /** Which fallback list the error sent the call to. */
  kind?: FailureKind;
  /** Scheduler time the attempt started (ms). */
  startedAt: number;
  durationMs: number;
  /** Time to the first chunk (or the result), when one arrived. */
  firstChunkMs?: number;
  /** Values the attempt delivered. */
  chunks: number;
}

export interface RouterConfig {
  /** Model groups: the name callers put in `model`, and its deployments. */
  groups: Record<string, DeploymentConfig[] | GroupConfig>;
  /** @defaultValue 'shuffle' */
  strategy?: RoutingStrategy;
  /** Group → groups tried, in order, after a retryable error or a rate limit exhausted the group. @defaultValue {} */
  fallbacks?: Record<string, string[]>;
  /** Group → groups tried after a context-window error. @defaultValue {} */
  contextWindowFallbacks?: Record<string, string[]>;
  /** Group → groups tried after a content-policy refusal. @defaultValue {} */
  contentPolicyFallbacks?: Record<string, string[]>;
  /** @defaultValue 'error' */
  afterFirstChunk?: AfterFirstChunk;
  /** Cooldown policy, `false` for none. @defaultValue COOLDOWN_DEFAULTS */
  cooldown?: Partial<CooldownPolicy> | false;
  /** Where cooldowns live (`createRedisCooldownStore` shares them). @defaultValue a new in-memory store */
  cooldownStore?: CooldownStore;
  /** Longest `Retry-After` a 429 may cool a deployment for, in ms. @defaultValue 600_000 */
  maxRetryAfterMs?: number;
  /** Where the `rpm`/`tpm` limiters of deployments live (`createRedisRateLimitStore` shares them). @defaultValue in memory */
  rateLimitStore?: RateLimitStore;
  /** Time limits of each attempt (`timeouts` operator), so a stalled deployment falls back. @defaultValue false (the transport's limits only) */
  attemptTimeouts?: TimeoutsConfig | false;
  /** Called after every attempt. A throw is logged, never changes the call. @defaultValue undefined */
  onAttempt?: (attempt: RouterAttempt) => void;
  /** Defaults of every call, as `createClient` takes them. @defaultValue {} */
  options?: ClientOptions;
  /** Weight of the newest sample in the latency moving average (0-1]. @defaultValue 0.3 */
  latencyAlpha?: number;
  /**
   * Under `lowest-latency`, a deployment whose latest measurement is older than this (ms) gets the next
   * call, and its new measurement replaces the old average: one measured slow once comes back after it
   * recovered (about one call per deployment per `latencyTtlMs` while another is faster). @defaultValue 60_000
   */
  latencyTtlMs?: number;
  /** Random source in [0, 1) of `shuffle`. @defaultValue Math.random */
  random?: () => number;
  /** Where store failures are reported (the router then ignores cooldowns). @defaultValue consoleLogger */
  logger?: Logger;
  /** Clock of cooldowns and latencies. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
}

/** Defaults of {@link createRouter}. LiteLLM's cooldown defaults: 3 fails a minute, 5 s cooldown. */
export const ROUTER_DEFAULTS = {
  strategy: 'shuffle',
  afterFirstChunk: 'error',
  cooldown: { allowedFails: 3, windowMs: 60_000, cooldownMs: 5_000 },
  maxRetryAfterMs: 600_000,
  latencyAlpha: 0.3,
  latencyTtlMs: 60_000,
} as const;
