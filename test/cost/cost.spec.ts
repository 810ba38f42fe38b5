/**
 * The price table and cost(): every built-in provider priced, cached/reasoning split, aliases and
 * dated snapshots, user prices, unknown = null (never a guessed 0).
 */
import { clearPrices, cost, findPrice, listProviders, MODEL_PRICES, PRICES_CHECKED, setPrice } from 'rxllm';

afterEach(() => clearPrices());

describe('price table', () => {
  it('is dated and covers every built-in provider that bills (openai, deepseek, groq, anthropic, gemini)', () => {
    expect(PRICES_CHECKED).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const billed = listProviders().filter((p) => !['mock', 'compat', 'ollama'].includes(p));
    for (const provider of billed) {
      expect(Object.keys(MODEL_PRICES).some((k) => k.startsWith(`${provider}/`))).toBe(true);
    }
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

  it('finds bare names as chunks carry them and dated snapshots', () => {
    expect(findPrice('gpt-4o-mini')?.key).toBe('openai/gpt-4o-mini');
    expect(findPrice('gpt-4o-mini-2024-07-18')?.key).toBe('openai/gpt-4o-mini');
    expect(findPrice('anthropic/claude-sonnet-4-5-20250929')?.key).toBe('anthropic/claude-sonnet-4-5');
    expect(findPrice('GROQ/openai/gpt-oss-120b')?.key).toBe('groq/openai/gpt-oss-120b');
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
