/**
 * The budgets of a gateway configuration beyond its keys: the whole gateway's
 * (`litellm_settings.max_budget` + `budget_duration`, where LiteLLM's proxy puts it,
 * https://docs.litellm.ai/docs/proxy/proxy_budget) and each group's
 * (`router_settings.model_group_budgets`), and the check that every model a budget may be charged
 * for has a price: a budget that cannot price a call could never reserve or stop one (the rule of
 * the `budget` operator, which refuses an unpriced model when it is created).
 */
import { findPrice } from '../cost/cost';
import type { ModelPrice } from '../cost/prices';
import type { RouterConfig } from '../router/config';
import { Checker, join, type BudgetLimit, type Obj } from './configChecker';

/** The budgets of a gateway beyond its keys. */
export interface GatewayBudgetLimits {
  /** Every request through the gateway, whichever key (the master key too). */
  gateway?: BudgetLimit;
  /** Per group (`model_name`): the requests that asked for it, wherever they were routed. */
  groups: Record<string, BudgetLimit>;
}

/** The models each group's calls may be served by: its deployments', then its fallbacks' (transitively). */
function servedByOf(router: RouterConfig): Record<string, string[]> {
  const next = (group: string) => [
    ...(router.fallbacks?.[group] ?? []),
    ...(router.contextWindowFallbacks?.[group] ?? []),
    ...(router.contentPolicyFallbacks?.[group] ?? []),
  ];
  const out: Record<string, string[]> = {};
  for (const group of Object.keys(router.groups)) {
    const seen = new Set([group]);
    const queue = [group];
    const models = new Set<string>();
    while (queue.length) {
      const g = queue.shift()!;
      for (const d of (router.groups[g] ?? []) as { model: string }[]) models.add(d.model);
      for (const f of next(g)) {
        if (seen.has(f)) continue;
        seen.add(f);
        queue.push(f);
      }
    }
    out[group] = [...models];
  }
  return out;
}

/**
 * Reads `litellm_settings` and `router_settings.model_group_budgets`, and refuses (at the
 * deployment's `model`) a model without a price that a budget may be charged for.
 */
export function parseBudgets(
  c: Checker,
  top: Obj,
  parsed: {
    router: RouterConfig;
    keys: readonly { models?: string[]; maxBudget?: number }[];
    prices: [string, ModelPrice][];
    modelPaths: Map<string, string>;
  },
): { budgets: GatewayBudgetLimits; servedBy: Record<string, string[]> } {
  const { router, keys, prices, modelPaths } = parsed;
  const groupNames = Object.keys(router.groups);
  const budgets: GatewayBudgetLimits = { groups: {} };
  if (top.litellm_settings !== undefined) {
    const l = c.object(top.litellm_settings, 'litellm_settings', ['max_budget', 'budget_duration']);
    budgets.gateway = c.budget(l, 'litellm_settings');
  }
  const raw = (top.router_settings as Obj | undefined)?.model_group_budgets;
  if (raw !== undefined) {
    const at = 'router_settings.model_group_budgets';
    const all = c.object(raw, at, Object.keys((raw as Obj) ?? {}));
    for (const [group, value] of Object.entries(all)) {
      if (!groupNames.includes(group))
        c.fail(join(at, group), `"${group}" is not a model_name of model_list.`);
      const limit = c.budget(
        c.object(value, join(at, group), ['max_budget', 'budget_duration']),
        join(at, group),
      );
      if (!limit) c.fail(join(join(at, group), 'max_budget'), 'is required.');
      budgets.groups[group] = limit;
    }
  }
  const servedBy = servedByOf(router);
  // Which budget covers each group, for the message: the first one found.
  const covered = new Map<string, string>();
  const cover = (groups: readonly string[], by: string) => {
    for (const g of groups) if (!covered.has(g)) covered.set(g, by);
  };
  if (budgets.gateway) cover(groupNames, 'litellm_settings.max_budget');
  for (const g of Object.keys(budgets.groups)) cover([g], `router_settings.model_group_budgets.${g}`);
  keys.forEach((k, i) => {
    if (k.maxBudget !== undefined) cover(k.models ?? groupNames, `keys[${i}].max_budget`);
  });
  const priced = new Set(prices.map(([model]) => model));
  for (const [group, by] of covered) {
    for (const model of servedBy[group]) {
      if (priced.has(model) || findPrice(model)) continue;
      c.fail(
        modelPaths.get(model) ?? 'model_list',
        `"${model}" has no price, so ${by} could not reserve or charge the calls of "${group}" it serves: give input_cost_per_token and output_cost_per_token (USD per token) beside it.`,
      );
    }
  }
  return { budgets, servedBy };
}
