/**
 * The gateway's optional peers (yaml, prom-client, ioredis) are loaded only by the feature that
 * needs them, and a missing one is a clear error naming the package.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

/** The optional peers in `require.cache` after `code` ran in a fresh process. */
function peersLoadedAfter(code: string): string[] {
  const script = `${code}.then(() => {
    const loaded = Object.keys(require.cache)
      .map((k) => /node_modules\\/(prom-client|yaml|ioredis)\\//.exec(k)?.[1])
      .filter(Boolean);
    console.log(JSON.stringify([...new Set(loaded)].sort()));
    process.exit(0);
  })`;
  const run = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
    cwd: root,
    encoding: 'utf8',
  });
  expect(run.stderr).toBe('');
  return JSON.parse(run.stdout.trim()) as string[];
}

describe('optional peers of the gateway', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'rxllm-peers-'));
    writeFileSync(
      path.join(dir, 'c.yaml'),
      'model_list:\n  - { model_name: m, params: { model: mock/echo } }\n',
    );
    writeFileSync(
      path.join(dir, 'c.json'),
      JSON.stringify({ model_list: [{ model_name: 'm', params: { model: 'mock/echo' } }] }),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('rxllm and a JSON-configured gateway load none of them; YAML loads yaml, metrics load prom-client', () => {
    const json = JSON.stringify(path.join(dir, 'c.json'));
    const yaml = JSON.stringify(path.join(dir, 'c.yaml'));
    expect(peersLoadedAfter(`Promise.resolve(require('./src/index.ts'))`)).toEqual([]);
    expect(
      peersLoadedAfter(
        `const r = require('./src/index.ts'); r.startConfiguredGateway(r.loadGatewayConfig(${json}), { port: 0, log: () => {} }).then((g) => g.close())`,
      ),
    ).toEqual([]);
    expect(peersLoadedAfter(`Promise.resolve(require('./src/index.ts').loadGatewayConfig(${yaml}))`)).toEqual(
      ['yaml'],
    );
    expect(
      peersLoadedAfter(`Promise.resolve(require('./src/index.ts').createGatewayMetrics(() => 0))`),
    ).toEqual(['prom-client']);
  }, 60_000);

  // require() inside isolateModules: the modules must load after doMock, in the isolated registry.
  /* eslint-disable @typescript-eslint/no-require-imports */
  it('a missing peer is an error naming the package to install', async () => {
    let connect: typeof import('../../src/serve/redisStores').connectRedisStores | undefined;
    jest.isolateModules(() => {
      jest.doMock('../../src/serve/moduleLocation', () => ({
        ...jest.requireActual('../../src/serve/moduleLocation'),
        requireOptional: (name: string) => {
          throw Object.assign(new Error(`Cannot find module '${name}'`), { code: 'MODULE_NOT_FOUND' });
        },
      }));
      const { loadGatewayConfig } =
        require('../../src/serve/config') as typeof import('../../src/serve/config');
      const { createGatewayMetrics } =
        require('../../src/serve/metrics') as typeof import('../../src/serve/metrics');
      expect(() => loadGatewayConfig(path.join(dir, 'c.yaml'))).toThrow(
        /needs the optional package "yaml": npm install yaml/,
      );
      expect(() => createGatewayMetrics(() => 0)).toThrow(/"prom-client": npm install prom-client/);
      connect = (require('../../src/serve/redisStores') as typeof import('../../src/serve/redisStores'))
        .connectRedisStores;
    });
    await expect(connect!('redis://127.0.0.1:1')).rejects.toThrow(
      /--redis needs the optional package "ioredis"/,
    );
    await expect(connect!('http://127.0.0.1:1')).rejects.toThrow(/redis:\/\/ or rediss:\/\//);
  });
  /* eslint-enable @typescript-eslint/no-require-imports */
});
