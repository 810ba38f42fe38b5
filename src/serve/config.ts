/**
 * A gateway configuration file, checked and mapped to what the gateway runs: `createRouter`'s
 * groups, fallbacks and cooldowns, the virtual keys, and the prices the file adds. Every problem is
 * a `GatewayConfigError` naming the field (`model_list[1].params.rpm`); a secret's value (an
 * `api_key`, a `key`, the `master_key`) is never quoted, only where it is.
 */
import { GatewayConfigError } from '../errors';
import type { ModelPrice } from '../cost/prices';
import type { ModelName } from '../request';
import type { DeploymentConfig, RouterConfig, RoutingStrategy } from '../router/config';
import type { GatewayConfigFile } from './configFile';
import { readGatewayConfigFile } from './configFile';

/** A virtual key, resolved. */
export interface GatewayKeySpec {
  /** The token (from the environment when written `os.environ/NAME`). */
  token: string;
  /** Its name in logs and metrics. */
  alias: string;
  /** Groups it may call; `undefined` = every group. */
  models?: string[];
  rpm?: number;
  maxBudget?: number;
  /** Budget window in ms; `undefined` = never resets. */
  budgetMs?: number;
}

/** A configuration file, checked and resolved. */
export interface GatewayConfig {
  /** The router config, without stores (the gateway adds Redis stores with `--redis`). */
  router: RouterConfig;
  /** The group names, in file order: what `GET /v1/models` lists. */
  models: string[];
  keys: GatewayKeySpec[];
  /** `general_settings.master_key`: allowed everything. */
  masterKey?: string;
  /** Prices the file sets (`input_cost_per_token`), as `setPrice` takes them. */
  prices: [string, ModelPrice][];
  /** The file it came from. */
  file?: string;
}

const STRATEGIES: Record<string, RoutingStrategy> = {
  'simple-shuffle': 'shuffle',
  'least-busy': 'least-busy',
  'latency-based-routing': 'lowest-latency',
};
const DURATION = /^(\d+(?:\.\d+)?)(s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const ENV_REF = /^os\.environ\/([A-Za-z_][A-Za-z0-9_]*)$/;

type Obj = Record<string, unknown>;

/** The checks of one file: each throws a `GatewayConfigError` at the field. */
class Checker {
  constructor(
    readonly env: Record<string, string | undefined>,
    readonly file: string | undefined,
  ) {}

  fail(path: string, message: string): never {
    throw new GatewayConfigError(path, message, this.file);
  }

  object(value: unknown, path: string, known: readonly string[]): Obj {
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      this.fail(path, `must be an object, got ${kind(value)}.`);
    for (const k of Object.keys(value as Obj))
      if (!known.includes(k)) this.fail(join(path, k), `unknown field (known here: ${known.join(', ')}).`);
    return value as Obj;
  }

  array(value: unknown, path: string): unknown[] {
    if (!Array.isArray(value)) this.fail(path, `must be a list, got ${kind(value)}.`);
    return value;
  }

  /** A string; `os.environ/NAME` reads the environment. `secret`: the value is never quoted. */
  string(value: unknown, path: string, secret = false): string {
    if (typeof value !== 'string' || value === '')
      this.fail(path, `must be a non-empty string, got ${secret ? kind(value) : show(value)}.`);
    const ref = ENV_REF.exec(value);
    if (!ref) return value;
    const found = this.env[ref[1]];
    if (found === undefined || found === '')
      this.fail(path, `the environment variable ${ref[1]} is not set (or empty).`);
    return found;
  }

  number(value: unknown, path: string, rule: 'positive' | 'nonNegative'): number {
    const ok =
      typeof value === 'number' && Number.isFinite(value) && (rule === 'positive' ? value > 0 : value >= 0);
    if (!ok) this.fail(path, `must be a number ${rule === 'positive' ? '> 0' : '>= 0'}, got ${show(value)}.`);
    return value as number;
  }

  strings(value: unknown, path: string): string[] {
    return this.array(value, path).map((v, i) => this.string(v, `${path}[${i}]`));
  }

  fallbacks(value: unknown, path: string, groups: Set<string>): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    const lists = Array.isArray(value) ? value : [value];
    lists.forEach((entry, i) => {
      const at = Array.isArray(value) ? `${path}[${i}]` : path;
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry))
        this.fail(at, `must map a group to a list of groups, got ${kind(entry)}.`);
      for (const [from, to] of Object.entries(entry as Obj)) {
        if (!groups.has(from)) this.fail(join(at, from), `"${from}" is not a model_name of model_list.`);
        out[from] = this.strings(to, join(at, from));
        out[from].forEach((g, j) => {
          if (!groups.has(g))
            this.fail(`${join(at, from)}[${j}]`, `"${g}" is not a model_name of model_list.`);
        });
      }
    });
    return out;
  }
}

function join(path: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)
    ? path
      ? `${path}.${key}`
      : key
    : `${path}[${JSON.stringify(key)}]`;
}
function kind(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value;
}
function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 60)}...` : text;
}

const TOP = ['model_list', 'router_settings', 'general_settings', 'keys'] as const;
const ENTRY = ['model_name', 'params', 'litellm_params'] as const;
const PARAMS = [
  'model',
  'api_key',
  'api_base',
  'headers',
  'rpm',
  'tpm',
  'weight',
  'id',
  'input_cost_per_token',
  'output_cost_per_token',
] as const;
const ROUTER = [
  'routing_strategy',
  'fallbacks',
  'context_window_fallbacks',
  'content_policy_fallbacks',
  'allowed_fails',
  'cooldown_time',
  'disable_cooldowns',
  'after_first_chunk',
] as const;
const KEY = ['key', 'key_alias', 'models', 'rpm_limit', 'max_budget', 'budget_duration'] as const;

/**
 * Checks a configuration object (as read from a file) and resolves it: `os.environ/NAME` values
 * are read from `env`.
 *
 * @example
 * import { parseGatewayConfig } from 'rxllm';
 * const config = parseGatewayConfig({
 *   model_list: [
 *     { model_name: 'fast', params: { model: 'mock/primary', rpm: 600 } },
 *     { model_name: 'fast', params: { model: 'mock/secondary' } },
 *   ],
 *   keys: [{ key: 'os.environ/TEAM_A_KEY', key_alias: 'team-a', models: ['fast'], max_budget: 5, budget_duration: '30d' }],
 * }, { env: { TEAM_A_KEY: 'sk-team-a' } });
 * console.log(config.models, config.keys[0].alias); // [ 'fast' ] team-a
 */
export function parseGatewayConfig(
  raw: unknown,
  options: { env?: Record<string, string | undefined>; file?: string } = {},
): GatewayConfig {
  const c = new Checker(options.env ?? process.env, options.file);
  const top = c.object(raw, '', TOP) as Partial<GatewayConfigFile>;
  const list = c.array(top.model_list, 'model_list');
  if (list.length === 0) c.fail('model_list', 'must list at least one model.');
  const groups: Record<string, DeploymentConfig[]> = {};
  const prices: [string, ModelPrice][] = [];
  list.forEach((item, i) => {
    const at = `model_list[${i}]`;
    const entry = c.object(item, at, ENTRY);
    const name = c.string(entry.model_name, `${at}.model_name`);
    const field = entry.params !== undefined ? 'params' : 'litellm_params';
    if (entry.params !== undefined && entry.litellm_params !== undefined)
      c.fail(`${at}.litellm_params`, 'give params or litellm_params, not both.');
    const p = c.object(entry[field], `${at}.${field}`, PARAMS);
    const pat = `${at}.${field}`;
    const model = c.string(p.model, `${pat}.model`);
    if (!/^[^/\s]+\/\S+$/.test(model)) c.fail(`${pat}.model`, `must be provider/model, got ${show(model)}.`);
    const d: DeploymentConfig = { model: model as ModelName };
    const callOptions: NonNullable<DeploymentConfig['options']> = {};
    if (p.api_key !== undefined) callOptions.apiKey = c.string(p.api_key, `${pat}.api_key`, true);
    if (p.api_base !== undefined) {
      callOptions.baseURL = c.string(p.api_base, `${pat}.api_base`);
      if (!URL.canParse(callOptions.baseURL))
        c.fail(`${pat}.api_base`, 'must be a URL (http://host:port/v1).');
    }
    if (p.headers !== undefined) {
      const h = c.object(p.headers, `${pat}.headers`, Object.keys(p.headers ?? {}));
      callOptions.headers = Object.fromEntries(
        Object.entries(h).map(([k, v]) => [k, c.string(v, join(`${pat}.headers`, k), true)]),
      );
    }
    if (Object.keys(callOptions).length) d.options = callOptions;
    if (p.rpm !== undefined) d.rpm = c.number(p.rpm, `${pat}.rpm`, 'positive');
    if (p.tpm !== undefined) d.tpm = c.number(p.tpm, `${pat}.tpm`, 'positive');
    if (p.weight !== undefined) d.weight = c.number(p.weight, `${pat}.weight`, 'positive');
    if (p.id !== undefined) d.id = c.string(p.id, `${pat}.id`);
    if ((p.input_cost_per_token === undefined) !== (p.output_cost_per_token === undefined))
      c.fail(`${pat}.input_cost_per_token`, 'give input_cost_per_token and output_cost_per_token together.');
    if (p.input_cost_per_token !== undefined) {
      // LiteLLM's unit is USD per token; rxllm's price table is USD per million tokens.
      const input = c.number(p.input_cost_per_token, `${pat}.input_cost_per_token`, 'nonNegative');
      const output = c.number(p.output_cost_per_token, `${pat}.output_cost_per_token`, 'nonNegative');
      prices.push([model, { input: input * 1e6, output: output * 1e6 }]);
    }
    (groups[name] ??= []).push(d);
  });
  const names = new Set(Object.keys(groups));
  const router: RouterConfig = { groups };
  if (top.router_settings !== undefined) {
    const r = c.object(top.router_settings, 'router_settings', ROUTER);
    if (r.routing_strategy !== undefined) {
      const s = STRATEGIES[String(r.routing_strategy)];
      if (!s)
        c.fail(
          'router_settings.routing_strategy',
          `must be one of ${Object.keys(STRATEGIES).join(', ')}, got ${show(r.routing_strategy)}.`,
        );
      router.strategy = s;
    }
    for (const [field, target] of [
      ['fallbacks', 'fallbacks'],
      ['context_window_fallbacks', 'contextWindowFallbacks'],
      ['content_policy_fallbacks', 'contentPolicyFallbacks'],
    ] as const) {
      if (r[field] !== undefined) router[target] = c.fallbacks(r[field], `router_settings.${field}`, names);
    }
    if (r.disable_cooldowns !== undefined && typeof r.disable_cooldowns !== 'boolean')
      c.fail('router_settings.disable_cooldowns', `must be true or false, got ${show(r.disable_cooldowns)}.`);
    if (r.disable_cooldowns === true) router.cooldown = false;
    else if (r.allowed_fails !== undefined || r.cooldown_time !== undefined) {
      router.cooldown = {};
      if (r.allowed_fails !== undefined) {
        const n = c.number(r.allowed_fails, 'router_settings.allowed_fails', 'positive');
        if (!Number.isInteger(n))
          c.fail('router_settings.allowed_fails', `must be a whole number, got ${n}.`);
        router.cooldown.allowedFails = n;
      }
      if (r.cooldown_time !== undefined)
        router.cooldown.cooldownMs =
          c.number(r.cooldown_time, 'router_settings.cooldown_time', 'nonNegative') * 1000;
    }
    if (r.after_first_chunk !== undefined) {
      if (!['error', 'restart', 'continue'].includes(String(r.after_first_chunk)))
        c.fail(
          'router_settings.after_first_chunk',
          `must be error, restart or continue, got ${show(r.after_first_chunk)}.`,
        );
      router.afterFirstChunk = r.after_first_chunk as RouterConfig['afterFirstChunk'];
    }
  }
  let masterKey: string | undefined;
  if (top.general_settings !== undefined) {
    const g = c.object(top.general_settings, 'general_settings', ['master_key']);
    if (g.master_key !== undefined) masterKey = c.string(g.master_key, 'general_settings.master_key', true);
  }
  const keys =
    top.keys === undefined ? [] : c.array(top.keys, 'keys').map((k, i) => parseKey(c, k, i, names));
  const tokens = new Set<string>(masterKey ? [masterKey] : []);
  const aliases = new Set<string>();
  keys.forEach((k, i) => {
    if (tokens.has(k.token)) c.fail(`keys[${i}].key`, 'the same token is given twice (keys or master_key).');
    if (aliases.has(k.alias)) c.fail(`keys[${i}].key_alias`, `"${k.alias}" is used twice.`);
    tokens.add(k.token);
    aliases.add(k.alias);
  });
  return { router, models: [...names], keys, masterKey, prices, file: options.file };
}

function parseKey(c: Checker, raw: unknown, i: number, groups: Set<string>): GatewayKeySpec {
  const at = `keys[${i}]`;
  const k = c.object(raw, at, KEY);
  const spec: GatewayKeySpec = {
    token: c.string(k.key, `${at}.key`, true),
    alias: k.key_alias === undefined ? `key-${i + 1}` : c.string(k.key_alias, `${at}.key_alias`),
  };
  if (!/^[\w.@:-]{1,64}$/.test(spec.alias))
    c.fail(`${at}.key_alias`, 'letters, digits and . _ - @ : only, at most 64 (it becomes a metrics label).');
  if (k.models !== undefined) {
    spec.models = c.strings(k.models, `${at}.models`);
    spec.models.forEach((m, j) => {
      if (!groups.has(m)) c.fail(`${at}.models[${j}]`, `"${m}" is not a model_name of model_list.`);
    });
  }
  if (k.rpm_limit !== undefined) spec.rpm = c.number(k.rpm_limit, `${at}.rpm_limit`, 'positive');
  if (k.max_budget !== undefined) spec.maxBudget = c.number(k.max_budget, `${at}.max_budget`, 'nonNegative');
  if (k.budget_duration !== undefined) {
    const m = DURATION.exec(String(k.budget_duration));
    if (typeof k.budget_duration !== 'string' || !m || !(Number(m[1]) > 0))
      c.fail(`${at}.budget_duration`, `must be like 30s, 15m, 24h or 30d, got ${show(k.budget_duration)}.`);
    if (spec.maxBudget === undefined) c.fail(`${at}.budget_duration`, 'needs max_budget.');
    spec.budgetMs = Number(m[1]) * UNIT_MS[m[2]];
  }
  return spec;
}

/**
 * Reads and checks a configuration file: `.json`, `.yaml` / `.yml` (needs the optional package
 * `yaml`), or a `.ts` / `.js` module whose default export is the object (type it with
 * `GatewayConfigFile`).
 *
 * @example
 * // doc-test: typecheck-only
 * import { loadGatewayConfig } from 'rxllm';
 * const config = loadGatewayConfig('rxllm.config.yaml');
 * console.log(config.models);
 */
export function loadGatewayConfig(
  file: string,
  env: Record<string, string | undefined> = process.env,
): GatewayConfig {
  return parseGatewayConfig(readGatewayConfigFile(file), { env, file });
}
