/**
 * The shape of a gateway configuration file (`rxllm serve --config rxllm.config.yaml`), and how it
 * is read: JSON, YAML (the optional peer `yaml`, loaded only for a .yaml file) or a TypeScript /
 * JavaScript module whose default export is the object. The names follow LiteLLM's proxy config
 * (https://docs.litellm.ai/docs/proxy/configs: `model_list`, `model_name`, `litellm_params`,
 * `router_settings`, `general_settings.master_key`, `os.environ/NAME`), so a LiteLLM user finds
 * their way; what they map to is rxllm's `createRouter` config (src/router/config.ts).
 */
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { GatewayConfigError } from '../errors';
import { requireOptional } from './moduleLocation';

/** One deployment of a model group: where its calls go (LiteLLM's `litellm_params`). */
export interface GatewayDeploymentParams {
  /** `provider/model`, e.g. `openai/gpt-4o-mini`, `compat/llama-3` (with `api_base`). */
  model: string;
  /** The provider key, best as `os.environ/NAME`. @defaultValue the provider's environment variable */
  api_key?: string;
  /** Base URL of the upstream. @defaultValue the provider's */
  api_base?: string;
  /** Extra headers sent upstream. @defaultValue none */
  headers?: Record<string, string>;
  /** Requests per minute this deployment may get. @defaultValue no limit */
  rpm?: number;
  /** Tokens per minute this deployment may get. @defaultValue no limit */
  tpm?: number;
  /** Share of the group's traffic under `simple-shuffle`. @defaultValue 1 */
  weight?: number;
  /** Name in logs, metrics and shared stores. @defaultValue the model (`#2`... when repeated) */
  id?: string;
  /** USD per input token, for a model the price table does not know (LiteLLM's name). @defaultValue the shipped price */
  input_cost_per_token?: number;
  /** USD per output token. @defaultValue the shipped price */
  output_cost_per_token?: number;
}

/** One entry of `model_list`: a deployment of the group `model_name`. */
export interface GatewayModelEntry {
  /** The group: the `model` clients send, listed by `GET /v1/models`. Entries with one name form one group. */
  model_name: string;
  /** The deployment (`litellm_params` is accepted as well, for a LiteLLM file). */
  params?: GatewayDeploymentParams;
  /** LiteLLM's name for `params`. */
  litellm_params?: GatewayDeploymentParams;
}

/** A list of fallbacks: LiteLLM's list of one-key objects, or one object. */
export type GatewayFallbacks = Record<string, string[]> | Record<string, string[]>[];

/** How calls are routed across a group's deployments (LiteLLM's `router_settings`). */
export interface GatewayRouterSettings {
  /** @defaultValue 'simple-shuffle' */
  routing_strategy?: 'simple-shuffle' | 'least-busy' | 'latency-based-routing';
  /** Groups tried after a retryable error or a rate limit. @defaultValue none */
  fallbacks?: GatewayFallbacks;
  /** Groups tried after a context-window error. @defaultValue none */
  context_window_fallbacks?: GatewayFallbacks;
  /** Groups tried after a content-policy refusal. @defaultValue none */
  content_policy_fallbacks?: GatewayFallbacks;
  /** Failures in a minute before a deployment cools down. @defaultValue 3 */
  allowed_fails?: number;
  /** Seconds a deployment cools down. @defaultValue 5 */
  cooldown_time?: number;
  /** @defaultValue false */
  disable_cooldowns?: boolean;
  /** What a failure after the first chunk does (`createRouter`'s `afterFirstChunk`). @defaultValue 'error' */
  after_first_chunk?: 'error' | 'restart' | 'continue';
  /**
   * A budget per group (`model_name`): the requests that asked for it, wherever routed, reserved per
   * request like a key's. @defaultValue none
   */
  model_group_budgets?: Record<string, GatewayBudgetEntry>;
}

/** A spend limit: USD per window. */
export interface GatewayBudgetEntry {
  /** USD that may be spent per `budget_duration` (429 `insufficient_quota` once reached). */
  max_budget: number;
  /** Budget window: `30s`, `15m`, `24h`, `30d`. @defaultValue never resets */
  budget_duration?: string;
}

/** A virtual key: a token of its own, with the groups it may call, a rate and a budget. */
export interface GatewayKeyEntry {
  /** The bearer token, best as `os.environ/NAME`. Never logged: logs and metrics use `key_alias`. */
  key: string;
  /** Its name in the access log and metrics. @defaultValue `key-<n>` (its position, from 1) */
  key_alias?: string;
  /** Groups it may call (others get 403). @defaultValue every group */
  models?: string[];
  /** Requests per minute, shared by every gateway on one Redis (429 past it). @defaultValue no limit */
  rpm_limit?: number;
  /** Tokens per minute, each request counted by its estimate (prompt + `max_tokens`). @defaultValue no limit */
  tpm_limit?: number;
  /** USD it may spend per `budget_duration` (429 `insufficient_quota` once reached). @defaultValue no limit */
  max_budget?: number;
  /** Budget window: `30s`, `15m`, `24h`, `30d`. @defaultValue never resets */
  budget_duration?: string;
}

/** A gateway configuration file, as written (JSON, YAML, or the default export of a .ts/.js module). */
export interface GatewayConfigFile {
  model_list: GatewayModelEntry[];
  router_settings?: GatewayRouterSettings;
  /** `master_key`: a token allowed everything (as `--token`). */
  general_settings?: { master_key?: string };
  /** The whole gateway's budget (every request, the master key's too), where LiteLLM's proxy puts it. */
  litellm_settings?: Partial<GatewayBudgetEntry>;
  keys?: GatewayKeyEntry[];
}

const EXTENSIONS = ['.json', '.yaml', '.yml', '.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];

/** Reads a configuration file into its raw object (not yet checked: see `parseGatewayConfig`). */
export function readGatewayConfigFile(file: string): unknown {
  const ext = extname(file).toLowerCase();
  if (!EXTENSIONS.includes(ext)) {
    throw new GatewayConfigError('', `unknown extension "${ext}": use .json, .yaml or .ts.`, file);
  }
  const full = resolve(file);
  if (
    ext === '.ts' ||
    ext === '.mts' ||
    ext === '.cts' ||
    ext === '.js' ||
    ext === '.mjs' ||
    ext === '.cjs'
  ) {
    return loadModule(full, file);
  }
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (error) {
    throw new GatewayConfigError(
      '',
      `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      file,
    );
  }
  if (ext === '.json') {
    try {
      return JSON.parse(text);
    } catch (error) {
      // V8 quotes a window of the text around the error (`Unexpected token 's', ..."api_key": sk-pr"...`),
      // which may hold a key: only what went wrong, and where when it says, goes out.
      const reason = (error as Error).message.split(/,\s*(?:\.\.\.)?"/)[0];
      throw new GatewayConfigError('', `is not valid JSON (${reason}).`, file);
    }
  }
  let yaml: typeof import('yaml');
  try {
    yaml = requireOptional<typeof import('yaml')>('yaml');
  } catch {
    throw new GatewayConfigError(
      '',
      'a YAML config needs the optional package "yaml": npm install yaml (or use a .json config).',
      file,
    );
  }
  try {
    return yaml.parse(text);
  } catch (error) {
    // The parser's message says where (line, column); its excerpt of the line is left out (a secret
    // may be written there).
    throw new GatewayConfigError('', `is not valid YAML: ${(error as Error).message.split('\n')[0]}`, file);
  }
}

/**
 * A .ts or .js config, through `require`: under tsx, ts-node or jest it compiles; Node 22.18+ strips
 * the types of a .ts file itself (https://nodejs.org/api/typescript.html). Its default export wins.
 */
function loadModule(full: string, file: string): unknown {
  let mod: { default?: unknown } | undefined;
  try {
    mod = requireOptional<{ default?: unknown }>(full);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      throw new GatewayConfigError(
        '',
        'this Node cannot load TypeScript: run the CLI under tsx (npx tsx), use Node >= 22.18, or write the config as .json or .yaml.',
        file,
      );
    }
    if (code === 'MODULE_NOT_FOUND') throw new GatewayConfigError('', 'cannot be read (ENOENT).', file);
    throw new GatewayConfigError('', `failed to load: ${(error as Error).message.split('\n')[0]}`, file);
  }
  return mod && typeof mod === 'object' && 'default' in mod ? mod.default : mod;
}
