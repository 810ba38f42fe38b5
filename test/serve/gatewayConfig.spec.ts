import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayConfigError, loadGatewayConfig, parseGatewayConfig } from '../../src';

const dir = mkdtempSync(join(tmpdir(), 'rxllm-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** The error a bad config throws (fails the test when it does not throw). */
function errorOf(raw: unknown, env: Record<string, string> = {}): GatewayConfigError {
  try {
    parseGatewayConfig(raw, { env });
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayConfigError);
    return error as GatewayConfigError;
  }
  throw new Error('expected a GatewayConfigError');
}

const YAML = `
model_list:
  - model_name: fast
    litellm_params:          # LiteLLM's name is accepted
      model: compat/llama-3
      input_cost_per_token: 0.0000002 # under keys[0]'s budget: it needs a price
      output_cost_per_token: 0.0000006
      api_base: http://127.0.0.1:8000/v1
      api_key: os.environ/VLLM_KEY
      rpm: 600
      tpm: 100000
      weight: 3
  - model_name: fast
    params:
      model: mock/echo
      input_cost_per_token: 0.000001
      output_cost_per_token: 0.000002
  - model_name: strong
    params: { model: openai/gpt-4o }
router_settings:
  routing_strategy: latency-based-routing
  fallbacks: [{ fast: [strong] }]
  allowed_fails: 2
  cooldown_time: 30
general_settings:
  master_key: os.environ/MASTER
keys:
  - key: os.environ/TEAM_A
    key_alias: team-a
    models: [fast]
    rpm_limit: 60
    max_budget: 5
    budget_duration: 30d
  - key: sk-literal
`;

describe('gateway configuration files', () => {
  const env = { VLLM_KEY: 'sk-vllm-secret', MASTER: 'sk-master', TEAM_A: 'sk-team-a' };

  it('maps a LiteLLM-shaped YAML file to createRouter groups, fallbacks, cooldowns and keys', () => {
    const config = loadGatewayConfig(write('a.yaml', YAML), env);
    expect(config.models).toEqual(['fast', 'strong']);
    expect(config.router.groups.fast).toEqual([
      {
        model: 'compat/llama-3',
        options: { apiKey: 'sk-vllm-secret', baseURL: 'http://127.0.0.1:8000/v1' },
        rpm: 600,
        tpm: 100000,
        weight: 3,
      },
      { model: 'mock/echo' },
    ]);
    expect(config.router.strategy).toBe('lowest-latency');
    expect(config.router.fallbacks).toEqual({ fast: ['strong'] });
    expect(config.router.cooldown).toEqual({ allowedFails: 2, cooldownMs: 30_000 });
    expect(config.masterKey).toBe('sk-master');
    expect(config.keys).toEqual([
      {
        token: 'sk-team-a',
        alias: 'team-a',
        models: ['fast'],
        rpm: 60,
        maxBudget: 5,
        budgetMs: 30 * 86_400_000,
      },
      { token: 'sk-literal', alias: 'key-2' },
    ]);
    // LiteLLM's USD per token becomes the price table's USD per million tokens.
    expect(config.prices.map(([m]) => m)).toEqual(['compat/llama-3', 'mock/echo']);
    expect(config.prices[1]).toEqual(['mock/echo', { input: 1, output: 2 }]);
    expect(config.prices[0][1].output).toBeCloseTo(0.6, 10);
    // What a budget prices a request of a group at: its deployments and, through fallbacks, theirs.
    expect(config.servedBy).toEqual({
      fast: ['compat/llama-3', 'mock/echo', 'openai/gpt-4o'],
      strong: ['openai/gpt-4o'],
    });
  });

  it('reads the same config from JSON and from a .ts module default export', () => {
    const raw = { model_list: [{ model_name: 'm', params: { model: 'mock/echo' } }] };
    expect(loadGatewayConfig(write('b.json', JSON.stringify(raw))).models).toEqual(['m']);
    const ts = write(
      'c.ts',
      `import type { GatewayConfigFile } from '${join(__dirname, '../../src').replace(/\\/g, '/')}';\n` +
        `const config: GatewayConfigFile = ${JSON.stringify(raw)};\nexport default config;\n`,
    );
    expect(loadGatewayConfig(ts).router.groups).toEqual({ m: [{ model: 'mock/echo' }] });
  });

  it('names the file and the bad field; never quotes a secret', () => {
    const file = write('d.yaml', YAML.replace('rpm: 600', 'rpm: fast'));
    expect(() => loadGatewayConfig(file, env)).toThrow(
      `${file}: model_list[0].litellm_params.rpm: must be a number > 0, got "fast".`,
    );
    const unset = errorOf({
      model_list: [{ model_name: 'm', params: { model: 'mock/echo', api_key: 'os.environ/NOPE' } }],
    });
    expect(unset.path).toBe('model_list[0].params.api_key');
    expect(unset.message).toContain('NOPE is not set');
    const secret = errorOf({
      model_list: [{ model_name: 'm', params: { model: 'mock/echo', api_key: 12345678 } }],
    });
    expect(secret.message).not.toContain('12345678');
    const twice = errorOf({
      model_list: [{ model_name: 'm', params: { model: 'mock/echo' } }],
      keys: [{ key: 'sk-dup' }, { key: 'sk-dup' }],
    });
    expect(twice.path).toBe('keys[1].key');
    expect(twice.message).not.toContain('sk-dup');
  });

  it.each([
    [{}, 'model_list', 'must be a list'],
    [{ model_list: [] }, 'model_list', 'at least one'],
    [
      { model_list: [{ model_name: 'm', params: { model: 'echo' } }] },
      'model_list[0].params.model',
      'provider/model',
    ],
    [
      { model_list: [{ model_name: 'm', params: { model: 'mock/a', rpm_limit: 3 } }] },
      'model_list[0].params.rpm_limit',
      'unknown field',
    ],
    [
      { model_list: [{ model_name: 'm', params: { model: 'mock/a', api_base: 'not a url' } }] },
      'model_list[0].params.api_base',
      'URL',
    ],
    [
      { model_list: [{ model_name: 'm', params: { model: 'mock/a', input_cost_per_token: 1 } }] },
      'model_list[0].params.input_cost_per_token',
      'together',
    ],
    [
      {
        model_list: [{ model_name: 'm', params: { model: 'mock/a' } }],
        router_settings: { fallbacks: [{ m: ['x'] }] },
      },
      'router_settings.fallbacks[0].m[0]',
      '"x" is not a model_name',
    ],
    [
      {
        model_list: [{ model_name: 'm', params: { model: 'mock/a' } }],
        router_settings: { routing_strategy: 'fastest' },
      },
      'router_settings.routing_strategy',
      'simple-shuffle',
    ],
    [
      { model_list: [{ model_name: 'm', params: { model: 'mock/a' } }], keys: [{ key: 'k', models: ['x'] }] },
      'keys[0].models[0]',
      'not a model_name',
    ],
    [
      {
        model_list: [{ model_name: 'm', params: { model: 'mock/a' } }],
        keys: [{ key: 'k', max_budget: 1, budget_duration: '1 week' }],
      },
      'keys[0].budget_duration',
      '30d',
    ],
    [
      {
        model_list: [{ model_name: 'm', params: { model: 'mock/a' } }],
        keys: [{ key: 'k', budget_duration: '1d' }],
      },
      'keys[0].budget_duration',
      'needs max_budget',
    ],
    [
      {
        model_list: [{ model_name: 'm', params: { model: 'mock/a' } }],
        keys: [{ key: 'k', key_alias: 'a b' }],
      },
      'keys[0].key_alias',
      'letters',
    ],
    [
      { model_list: [{ model_name: 'm', params: { model: 'mock/a' } }], litellm_settings: { max_budgte: 1 } },
      'litellm_settings.max_budgte',
      'unknown field',
    ],
    [
      // An unpriced model under the gateway's budget: no call could be reserved or charged.
      { model_list: [{ model_name: 'm', params: { model: 'mock/a' } }], litellm_settings: { max_budget: 1 } },
      'model_list[0].params.model',
      '"mock/a" has no price, so litellm_settings.max_budget could not reserve',
    ],
    [
      // Under a group's budget through a fallback: the fallback's deployment is charged to it.
      {
        model_list: [
          {
            model_name: 'm',
            params: { model: 'mock/a', input_cost_per_token: 1e-6, output_cost_per_token: 1e-6 },
          },
          { model_name: 'n', params: { model: 'mock/b' } },
        ],
        router_settings: { fallbacks: [{ m: ['n'] }], model_group_budgets: { m: { max_budget: 1 } } },
      },
      'model_list[1].params.model',
      'router_settings.model_group_budgets.m could not reserve or charge the calls of "m"',
    ],
    [
      {
        model_list: [{ model_name: 'm', params: { model: 'mock/a' } }],
        keys: [{ key: 'k', models: ['m'], max_budget: 0.5 }],
      },
      'model_list[0].params.model',
      'keys[0].max_budget',
    ],
    [
      {
        model_list: [{ model_name: 'm', params: { model: 'mock/a' } }],
        router_settings: { model_group_budgets: { x: { max_budget: 1 } } },
      },
      'router_settings.model_group_budgets.x',
      'is not a model_name',
    ],
    [
      {
        model_list: [{ model_name: 'm', params: { model: 'mock/a' } }],
        router_settings: { model_group_budgets: { m: { budget_duration: '1d' } } },
      },
      'router_settings.model_group_budgets.m.budget_duration',
      'needs max_budget',
    ],
    [
      {
        model_list: [{ model_name: 'm', params: { model: 'mock/a' } }],
        keys: [{ key: 'k', tpm_limit: 0 }],
      },
      'keys[0].tpm_limit',
      'must be a number > 0',
    ],
  ])('refuses %j at %s', (raw, path, text) => {
    const error = errorOf(raw);
    expect(error.path).toBe(path);
    expect(error.message).toContain(text);
  });

  it('refuses a file it cannot read or parse, with the reason', () => {
    expect(() => loadGatewayConfig(join(dir, 'missing.json'))).toThrow(
      /missing\.json: cannot be read \(ENOENT\)/,
    );
    expect(() => loadGatewayConfig(write('e.json', '{ "model_list": ['))).toThrow(/is not valid JSON/);
    // V8 quotes the text around the error: a key there must not reach the message.
    const broken = () => loadGatewayConfig(write('k.json', '{ "api_key": sk-proj-AbCdEf0123456789AbCd }'));
    expect(broken).toThrow(/is not valid JSON \(Unexpected token 's'\)\.$/);
    expect(broken).not.toThrow(/AbCdEf/);
    expect(() => loadGatewayConfig(write('f.yaml', 'model_list: [\n  - a'))).toThrow(/is not valid YAML/);
    expect(() => loadGatewayConfig(write('g.toml', ''))).toThrow(/unknown extension ".toml"/);
  });
});
