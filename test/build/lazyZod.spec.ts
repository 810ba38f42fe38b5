import fs from 'node:fs';
import path from 'node:path';
import { ChatRequestSchema, ChunkSchema, parseChunk } from 'rxllm/schemas';
import { RequestValidationError, validateRequest } from 'rxllm';

/** Every module `entry` loads at import time (static import/export of values, followed through relative paths). */
function staticGraph(entry: string, seen = new Set<string>(), external = new Set<string>()) {
  const isFile = (f: string) => fs.existsSync(f) && fs.statSync(f).isFile();
  const file = isFile(`${entry}.ts`) ? `${entry}.ts` : isFile(entry) ? entry : path.join(entry, 'index.ts');
  if (seen.has(file)) return { seen, external };
  seen.add(file);
  const source = fs.readFileSync(file, 'utf8');
  for (const m of source.matchAll(/^(?:import|export)\s+(?!type\b)([^'"]*?)from\s+'([^']+)'/gm)) {
    // `import { type A, type B } from` loads nothing either
    if (/^\{\s*(type\s+\w+\s*,?\s*)+\}\s*$/.test(m[1].trim())) continue;
    const spec = m[2];
    if (spec.startsWith('.')) staticGraph(path.resolve(path.dirname(file), spec), seen, external);
    else external.add(spec);
  }
  return { seen, external };
}

const root = path.resolve(__dirname, '../..');

describe('zod is loaded only where a schema is used', () => {
  it.each(['src/index.ts', 'operators/index.ts', 'src/browser.ts'])(
    '%s imports no zod when loaded',
    (entry) => {
      const { seen, external } = staticGraph(path.join(root, entry));
      expect(seen.size).toBeGreaterThan(1);
      expect([...external].filter((d) => d === 'zod' || d.startsWith('zod/'))).toEqual([]);
      // the chunk schemas, built when their module is evaluated, are not reached
      expect([...seen].map((f) => path.relative(root, f))).not.toContain(path.join('src', 'chunkSchema.ts'));
    },
  );

  it('importing rxllm does not load zod, nor does a plain-text request; the first request that needs the schema does', () => {
    let loads = 0;
    jest.isolateModules(() => {
      jest.doMock('zod/v4', () => {
        loads++;
        return jest.requireActual('zod/v4');
      });
      const rxllm = jest.requireActual<typeof import('../../src')>('../../src');
      jest.requireActual('../../operators');
      jest.requireActual('../../src/browser');
      expect(loads).toBe(0);
      rxllm.validateRequest({ model: 'mock/x', messages: [{ role: 'user', content: 'hi' }] });
      expect(loads).toBe(0);
      const parts = { role: 'user' as const, content: [{ type: 'text' as const, text: 'hi' }] };
      rxllm.validateRequest({ model: 'mock/x', messages: [parts] });
      expect(loads).toBe(1);
      rxllm.validateRequest({ model: 'mock/y', messages: [parts] });
      expect(loads).toBe(1);
    });
    jest.dontMock('zod/v4');
  });

  it('says what to install when zod (a peer dependency) is missing or older than 3.25', () => {
    jest.isolateModules(() => {
      jest.doMock('zod/v4', () => {
        throw Object.assign(new Error("Cannot find module 'zod/v4'"), { code: 'MODULE_NOT_FOUND' });
      });
      const { loadZod } = jest.requireActual<typeof import('../../src/lazyZod')>('../../src/lazyZod');
      const { ConfigurationError } =
        jest.requireActual<typeof import('../../src/errors')>('../../src/errors');
      let error: unknown;
      try {
        loadZod();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toMatch(
        /^rxllm needs zod \^3\.25\.76 \|\| \^4\.0\.0 \(a peer dependency\).*npm install zod$/,
      );
      expect(((error as Error).cause as Error).message).toBe("Cannot find module 'zod/v4'");
      const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
      expect((error as Error).message).toContain(pkg.peerDependencies.zod);
    });
    jest.dontMock('zod/v4');
  });

  it('validateRequest loads the schemas on first use and still lists every problem', () => {
    expect(validateRequest({ model: 'mock/x', messages: [{ role: 'user', content: 'hi' }] }).model).toBe(
      'mock/x',
    );
    let error: unknown;
    try {
      validateRequest({ model: 'no-slash', messages: [] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RequestValidationError);
    expect((error as RequestValidationError).issues.map((i) => i.path.join('.')).sort()).toEqual([
      'messages',
      'model',
    ]);
  });

  it('rxllm/schemas exports the zod schemas of chunks and requests', () => {
    const chunk = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [] };
    expect(parseChunk(chunk)).toEqual(chunk);
    expect(ChunkSchema.safeParse({ ...chunk, object: 'x' }).success).toBe(false);
    expect(
      ChatRequestSchema.safeParse({ model: 'a/b', messages: [{ role: 'user', content: 'x' }] }).success,
    ).toBe(true);
  });
});
