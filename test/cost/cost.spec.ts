/**
 * The price table and cost(): every built-in provider priced, cached/reasoning split, aliases and
 * dated snapshots, user prices, unknown = null (never a guessed 0).
 */
import { clearPrices, cost, findPrice, listProviders, MODEL_PRICES, PRICES_CHECKED, setPrice } from 'rxllm';
import { PRICE_ALIASES, UNBILLED_PROVIDERS } from '../../src/cost/prices';

afterEach(() => clearPrices());

describe('price table', () => {
  it('is dated and covers every built-in provider that bills (own prices or an alias)', () => {
    expect(PRICES_CHECKED).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    // compat is any OpenAI-compatible server (its bill is unknown to rxllm); mock and ollama send none.
    const billed = listProviders().filter((p) => p !== 'compat' && !UNBILLED_PROVIDERS.includes(p));
    const priced = (provider: string) => Object.keys(MODEL_PRICES).some((k) => k.startsWith(`${provider}/`));
    const uncovered = billed.filter((p) => !priced(p) && !(p in PRICE_ALIASES && priced(PRICE_ALIASES[p])));
    expect(uncovered).toEqual([]);
    // The providers this test knows about: a new one fails here until it is classified.
    expect(billed.sort()).toEqual([
      'anthropic',
      'azure',
      'deepseek',
      'gemini',
      'groq',
      'openai',
      'openai-responses',
    ]);
    for (const [model, p] of Object.entries(MODEL_PRICES)) {
      expect([model, p.input > 0 && p.output >= p.input * 0.5]).toEqual([model, true]);
      if (p.cachedInput !== undefined) expect([model, p.cachedInput <= p.input]).toEqual([model, true]);
    }
  });
});

describe('cost', () => {
  it('prices uncached input, cached input, output and reasoning separately', () => {
    const c = cost(
      {
        prompt_tokens: 1_000_000,
        completion_tokens: 1_000_000,
        total_tokens: 2_000_000,
        prompt_tokens_details: { cached_tokens: 400_000 },
        completion_tokens_details: { reasoning_tokens: 250_000 },
      },
      'openai/gpt-4o-mini',
    )!;
    expect(c.input).toBeCloseTo(0.6 * 0.15, 12);
    expect(c.cachedInput).toBeCloseTo(0.4 * 0.075, 12);
    expect(c.output).toBeCloseTo(0.75 * 0.6, 12);
    expect(c.reasoning).toBeCloseTo(0.25 * 0.6, 12);
    expect(c.total).toBeCloseTo(0.09 + 0.03 + 0.45 + 0.15, 12);
    expect(c.model).toBe('openai/gpt-4o-mini');
  });

  it('prices cache writes at the write rate (the 1-hour part at its own), reads and plain input apart', () => {
    const usage = {
      prompt_tokens: 1_000_000,
      completion_tokens: 0,
      total_tokens: 1_000_000,
      // 100k read, 600k written (200k of them to a 1-hour cache), 300k plain input.
      prompt_tokens_details: {
        cached_tokens: 100_000,
        cache_creation_tokens: 600_000,
        cache_creation_1h_tokens: 200_000,
      },
    };
    const c = cost(usage, 'anthropic/claude-sonnet-4-5')!;
    expect(c.input).toBeCloseTo(0.3 * 3, 12);
    expect(c.cachedInput).toBeCloseTo(0.1 * 0.3, 12);
    expect(c.cacheWrite).toBeCloseTo(0.4 * 3.75 + 0.2 * 6, 12);
    expect(c.total).toBeCloseTo(0.9 + 0.03 + 1.5 + 1.2, 12);
    // Every shipped Anthropic model: writes 1.25 x input (5 minutes), 2 x input (1 hour); Claude
    // Haiku 3's page price is rounded ($0.30 for 5-minute writes, not 1.25 x $0.25).
    for (const [model, price] of Object.entries(MODEL_PRICES).filter(([m]) => m.startsWith('anthropic/'))) {
      expect([model, price.cacheWrite, price.cacheWrite1h]).toEqual([
        model,
        model === 'anthropic/claude-3-haiku' ? 0.3 : price.input * 1.25,
        price.input * 2,
      ]);
    }
    // A provider without a write premium bills written tokens as input.
    expect(cost(usage, 'openai/gpt-4o-mini')!.total).toBeCloseTo(0.9 * 0.15 + 0.1 * 0.075, 12);
    expect(() => setPrice('x/y', { input: 1, output: 1, cacheWrite: -1 })).toThrow(TypeError);
    // 1-hour writes default to the write rate, which defaults to input.
    setPrice('x/writes', { input: 1, cacheWrite: 2, output: 1 });
    expect(cost(usage, 'x/writes')!.cacheWrite).toBeCloseTo(0.6 * 2, 12);
    clearPrices();
  });

  it('finds bare names as chunks carry them and dated snapshots', () => {
    expect(findPrice('gpt-4o-mini')?.key).toBe('openai/gpt-4o-mini');
    expect(findPrice('gpt-4o-mini-2024-07-18')?.key).toBe('openai/gpt-4o-mini');
    expect(findPrice('anthropic/claude-sonnet-4-5-20250929')?.key).toBe('anthropic/claude-sonnet-4-5');
    expect(findPrice('GROQ/openai/gpt-oss-120b')?.key).toBe('groq/openai/gpt-oss-120b');
  });

  it('prices a snapshot priced apart from its alias at its own price (gpt-4o-2024-05-13: $5 / $15)', () => {
    const usage = { prompt_tokens: 1_000_000, completion_tokens: 1_000_000, total_tokens: 2_000_000 };
    expect(cost(usage, 'openai/gpt-4o-2024-05-13')?.total).toBeCloseTo(5 + 15, 12);
    expect(cost(usage, 'gpt-4o-2024-05-13')?.total).toBeCloseTo(5 + 15, 12);
    expect(cost(usage, 'azure/gpt-4o-2024-05-13')?.total).toBeCloseTo(5 + 15, 12);
    // The later snapshots cost what the alias costs.
    expect(cost(usage, 'openai/gpt-4o-2024-08-06')?.total).toBeCloseTo(2.5 + 10, 12);
  });

  it("prices Anthropic's aliases (-latest, -4-0) and the Claude 4 / 3.7 / Haiku 3 models: never null for a billed call", () => {
    const usage = { prompt_tokens: 1_000_000, completion_tokens: 1_000_000, total_tokens: 2_000_000 };
    const cases: [string, string, number][] = [
      ['anthropic/claude-sonnet-4-0', 'anthropic/claude-sonnet-4', 3 + 15],
      ['anthropic/claude-opus-4-0', 'anthropic/claude-opus-4', 15 + 75],
      ['anthropic/claude-opus-4-20250514', 'anthropic/claude-opus-4', 15 + 75],
      ['anthropic/claude-3-7-sonnet-latest', 'anthropic/claude-3-7-sonnet', 3 + 15],
      ['claude-3-7-sonnet-20250219', 'anthropic/claude-3-7-sonnet', 3 + 15],
      ['anthropic/claude-3-5-haiku-latest', 'anthropic/claude-3-5-haiku', 0.8 + 4],
      ['anthropic/claude-3-haiku-20240307', 'anthropic/claude-3-haiku', 0.25 + 1.25],
    ];
    for (const [model, key, total] of cases) {
      expect([model, findPrice(model)?.key]).toEqual([model, key]);
      expect(cost(usage, model)?.total).toBeCloseTo(total, 12);
    }
    // The Claude 4.x aliases that are their own names stay theirs.
    expect(findPrice('anthropic/claude-opus-4-1')?.key).toBe('anthropic/claude-opus-4-1');
    expect(findPrice('anthropic/claude-sonnet-4-5')?.key).toBe('anthropic/claude-sonnet-4-5');
  });

  it('prices openai-responses models at OpenAI prices, dated snapshots included', () => {
    const usage = { prompt_tokens: 1_000_000, completion_tokens: 1_000_000, total_tokens: 2_000_000 };
    expect(cost(usage, 'openai-responses/gpt-4o-mini')).toEqual(cost(usage, 'openai/gpt-4o-mini'));
    expect(findPrice('openai-responses/gpt-5-mini-2025-08-07')?.key).toBe('openai/gpt-5-mini');
    expect(cost(usage, 'openai-responses/gpt-4o-mini')?.total).toBeCloseTo(0.15 + 0.6, 12);
  });

  it('prices an azure deployment named after an OpenAI model at its price, else null; setPrice wins', () => {
    const usage = { prompt_tokens: 1_000_000, completion_tokens: 0, total_tokens: 1_000_000 };
    expect(findPrice('azure/gpt-4o')?.key).toBe('openai/gpt-4o');
    expect(cost(usage, 'azure/gpt-4o')?.total).toBeCloseTo(2.5, 12);
    expect(cost(usage, 'azure/my-team-deployment')).toBeNull();
    setPrice('azure/my-team-deployment', { input: 3, output: 12 });
    expect(cost(usage, 'azure/my-team-deployment')?.total).toBeCloseTo(3, 12);
    setPrice('azure/gpt-4o', { input: 2.75, output: 11 });
    expect(cost(usage, 'azure/gpt-4o')?.model).toBe('azure/gpt-4o');
    expect(cost(usage, 'azure/gpt-4o')?.total).toBeCloseTo(2.75, 12);
  });

  it('is null for ollama (local) and mock models, even named like a billed model, unless priced', () => {
    const usage = { prompt_tokens: 1_000_000, completion_tokens: 1_000_000, total_tokens: 2_000_000 };
    // Same names as billed models: the bare-name fallback must not price local or fake calls.
    expect(cost(usage, 'ollama/gpt-4o-mini')).toBeNull();
    expect(cost(usage, 'ollama/openai/gpt-oss-20b')).toBeNull();
    expect(cost(usage, 'mock/gpt-4o')).toBeNull();
    setPrice('ollama/llama3.2', { input: 0.01, output: 0.02 });
    expect(cost(usage, 'ollama/llama3.2')?.total).toBeCloseTo(0.03, 12);
  });

  it('is null for an unknown model or a missing usage: unknown, never 0', () => {
    const usage = { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 };
    expect(cost(usage, 'compat/my-finetune')).toBeNull();
    expect(cost(null, 'openai/gpt-4o')).toBeNull();
  });

  it('uses prices added with setPrice, which win over the shipped table', () => {
    setPrice('compat/my-finetune', { input: 1, output: 2 });
    setPrice('openai/gpt-4o', { input: 100, output: 100 });
    const usage = { prompt_tokens: 1_000_000, completion_tokens: 500_000, total_tokens: 1_500_000 };
    expect(cost(usage, 'compat/my-finetune')?.total).toBeCloseTo(2, 12);
    expect(cost(usage, 'openai/gpt-4o')?.total).toBeCloseTo(150, 12);
    clearPrices();
    expect(cost(usage, 'openai/gpt-4o')?.total).toBeCloseTo(2.5 + 5, 12);
    expect(() => setPrice('x/y', { input: -1, output: 1 })).toThrow(TypeError);
  });
});
