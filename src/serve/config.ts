/**
 * A gateway configuration file, checked and mapped to what the gateway runs: `createRouter`'s
 * groups, fallbacks and cooldowns, the virtual keys, and the prices the file adds. Every problem is
 * a `GatewayConfigError` naming the field (`model_list[1].params.rpm`); a secret's value (an
 * `api_key`, a `key`, the `master_key`) is never quoted, only where it is.
 */
import type { ModelPrice } from '../cost/prices';
import type { ModelName } from '../request';
import type { DeploymentConfig, RouterConfig, RoutingStrategy } from '../router/config';
import type { GatewayConfigFile } from './configFile';
import { readGatewayConfigFile } from './configFile';
import { parseBudgets, type GatewayBudgetLimits } from './configBudgets';
import { Checker, join, show, type BudgetLimit } from './configChecker';

/** A virtual key, resolved. */
export interface GatewayKeySpec {
  /** The token (from the environment when written `os.environ/NAME`). */
  token: string;
  /** Its name in logs and metrics. */
  alias: string;
  /** Groups it may call; `undefined` = every group. */
  models?: string[];
  rpm?: number;
  /** Tokens per minute, counted by each request's estimate (prompt + `max_tokens`). */
  tpm?: number;
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
  /** The gateway's budget (`litellm_settings.max_budget`) and the groups' (`router_settings.model_group_budgets`). */
  budgets: GatewayBudgetLimits;
  /**
   * Per group, every `provider/model` its calls may be served by: its deployments and, through
   * fallbacks, theirs. A budget reserves a request's estimate at the priciest of them.
   */
  servedBy: Record<string, string[]>;
  /** The file it came from. */
  file?: string;
}

const STRATEGIES: Record<string, RoutingStrategy> = {
  'simple-shuffle': 'shuffle',
  'least-busy': 'least-busy',
  'latency-based-routing': 'lowest-latency',
};
const TOP = ['model_list', 'router_settings', 'general_settings', 'litellm_settings', 'keys'] as const;
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
  'model_group_budgets',
] as const;
const KEY = [
  'key',
  'key_alias',
  'models',
  'rpm_limit',
  'tpm_limit',
  'max_budget',
  'budget_duration',
] as const;

/**
 * Checks a configuration object (as read from a file) and resolves it: `os.environ/NAME` values
 * are read from `env`.
 *
 * @example
 * import { parseGatewayConfig } from 'rxllm';
 * const config = parseGatewayConfig({
 *   model_list: [
 *     { model_name: 'fast', params: { model: 'openai/gpt-4o-mini', rpm: 600 } },
 *     // Under a budget, a model the price table does not know needs a price (USD per token).
 *     { model_name: 'fast', params: { model: 'mock/secondary', input_cost_per_token: 1e-7, output_cost_per_token: 4e-7 } },
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
  /** Where each deployment's model is written, for a price error. */
  const modelPaths = new Map<string, string>();
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
    if (!modelPaths.has(model)) modelPaths.set(model, `${pat}.model`);
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
  const { budgets, servedBy } = parseBudgets(c, top, { router, keys, prices, modelPaths });
  return { router, models: [...names], keys, masterKey, prices, budgets, servedBy, file: options.file };
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
  if (k.tpm_limit !== undefined) spec.tpm = c.number(k.tpm_limit, `${at}.tpm_limit`, 'positive');
  const limit: BudgetLimit | undefined = c.budget(k, at);
  if (limit) Object.assign(spec, limit);
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
