/**
 * The field checks of a gateway configuration file (`parseGatewayConfig`): each throws a
 * `GatewayConfigError` naming the field; a secret's value is never quoted, only where it is.
 */
import { GatewayConfigError } from '../errors';

/** A spend limit as the file gives it: USD per window. */
export interface BudgetLimit {
  /** USD that may be spent per window (`max_budget`). */
  maxBudget: number;
  /** The window (`budget_duration`) in ms; `undefined` = never resets. */
  budgetMs?: number;
}

const DURATION = /^(\d+(?:\.\d+)?)(s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const ENV_REF = /^os\.environ\/([A-Za-z_][A-Za-z0-9_]*)$/;

export type Obj = Record<string, unknown>;

/** The checks of one file: each throws a `GatewayConfigError` at the field. */
export class Checker {
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

  /** A window such as `30s`, `15m`, `24h`, `30d`, in ms. */
  duration(value: unknown, path: string): number {
    const m = typeof value === 'string' ? DURATION.exec(value) : null;
    if (!m || !(Number(m[1]) > 0)) this.fail(path, `must be like 30s, 15m, 24h or 30d, got ${show(value)}.`);
    return Number(m[1]) * UNIT_MS[m[2]];
  }

  /** `max_budget` (USD) and `budget_duration` of an object at `path`; `undefined` without a budget. */
  budget(o: Obj, path: string): BudgetLimit | undefined {
    if (o.max_budget === undefined) {
      if (o.budget_duration !== undefined) this.fail(join(path, 'budget_duration'), 'needs max_budget.');
      return undefined;
    }
    const limit: BudgetLimit = {
      maxBudget: this.number(o.max_budget, join(path, 'max_budget'), 'nonNegative'),
    };
    if (o.budget_duration !== undefined)
      limit.budgetMs = this.duration(o.budget_duration, join(path, 'budget_duration'));
    return limit;
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

export function join(path: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)
    ? path
      ? `${path}.${key}`
      : key
    : `${path}[${JSON.stringify(key)}]`;
}
export function kind(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value;
}
export function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 60)}...` : text;
}
