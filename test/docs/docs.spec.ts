/**
 * The docs are executable: every ```ts block of README.md and docs/*.md and every TSDoc `@example`
 * of src/ and operators/ type-checks (strict, moduleResolution bundler and node16) and runs against
 * the mock provider or a mock server on 127.0.0.1 (OPENAI_BASE_URL points `openai/...` models at it).
 * What a block promises to print (`// → text` after a statement) must be printed, in that order.
 * Blocks whose first line is `// doc-test: typecheck-only` are only type-checked here; the ones that
 * need more than a mock server run in a spec of their own (docs/resume.md's NestJS recipe, with Nest
 * and a redis-server: test/nestjs/resumeRecipe.spec.ts).
 */
import { config } from 'rxjs';
import { createMockServer, type MockServer } from 'rxllm/testing';
import {
  allSnippets,
  consumerOptions,
  markdownFiles,
  promisedOutput,
  ROOT,
  transpile,
  typecheck,
  type Snippet,
} from '../helpers/docSnippets';

const snippets = allSnippets();
const runnable = snippets.filter((s) => !s.typecheckOnly);
const byName = (list: Snippet[]) => list.map((s) => [s.name, s] as const);

describe('docs: extraction', () => {
  it("finds the README blocks, the docs/ pages' blocks and the TSDoc examples", () => {
    expect(snippets.filter((s) => s.name.startsWith('README.md')).length).toBeGreaterThanOrEqual(10);
    expect(markdownFiles().length).toBeGreaterThanOrEqual(5);
    expect(snippets.filter((s) => s.name.startsWith('docs/')).length).toBeGreaterThanOrEqual(5);
    expect(snippets.filter((s) => s.name.startsWith('src/')).length).toBeGreaterThanOrEqual(10);
    expect(snippets.filter((s) => s.name.startsWith('operators/')).length).toBeGreaterThanOrEqual(5);
  });

  it.each(byName(snippets))('%s is a complete program: public imports, no placeholders', (_name, s) => {
    const specifiers = [...s.code.matchAll(/\bfrom\s+'([^']+)'/g)].map((m) => m[1]);
    expect(specifiers.filter((p) => p.startsWith('.') || p.startsWith('rxllm/src'))).toEqual([]);
    expect(s.code).not.toMatch(/\(\.\.\.\)|^\s*\.\.\.\s*$|\/\/ \.\.\./m);
  });
});

describe.each(['bundler', 'node16'] as const)('docs: type-check (strict, moduleResolution %s)', (mode) => {
  // The type tests (`@ts-expect-error` lines) ride along: checked as a consumer in both modes.
  const typeTests = `${ROOT}/test/types/publicTypes.ts`;
  let errors: Map<string, string[]>;
  beforeAll(() => {
    errors = typecheck(snippets, consumerOptions(mode), [typeTests]);
  }, 120_000);

  it('test/types/publicTypes.ts compiles: every @ts-expect-error line is an error', () => {
    expect(errors.get(typeTests)).toEqual([]);
  });

  it.each(byName(snippets))('%s compiles', (_name, s) => {
    expect(errors.get(s.fileName)).toEqual([]);
  });
});

describe('docs: run', () => {
  let server: MockServer;
  const saved = { base: process.env.OPENAI_BASE_URL, key: process.env.OPENAI_API_KEY };
  beforeAll(async () => {
    server = await createMockServer();
    process.env.OPENAI_BASE_URL = server.url;
    process.env.OPENAI_API_KEY = 'sk-test-docs';
  });
  afterAll(async () => {
    await server.close();
    if (saved.base === undefined) delete process.env.OPENAI_BASE_URL;
    else process.env.OPENAI_BASE_URL = saved.base;
    if (saved.key === undefined) delete process.env.OPENAI_API_KEY;
    else process.env.OPENAI_API_KEY = saved.key;
  });

  it.each(byName(runnable))('%s runs without an error', async (_name, s) => {
    const output: string[] = [];
    const log = (...args: unknown[]) => void output.push(args.map(String).join(' ') + '\n');
    const errors: string[] = [];
    const error = (...args: unknown[]) => void errors.push(args.map(String).join(' '));
    const fakeConsole = { ...console, log, info: log, warn: log, error, debug: log };
    const fakeProcess = Object.create(process, {
      stdout: { value: { write: (text: unknown) => (output.push(String(text)), true) } },
    });
    const unhandled: unknown[] = [];
    const previous = config.onUnhandledError;
    config.onUnhandledError = (error) => unhandled.push(error);
    try {
      const body = new Function(
        'require',
        'exports',
        'module',
        'console',
        'process',
        'expect',
        `return (async () => {\n${transpile(s)}\n})();`,
      );
      const mod = { exports: {} };
      await body(require, mod.exports, mod, fakeConsole, fakeProcess, expect);
      // Let what the snippet subscribed to finish (mock answers take milliseconds).
      await new Promise((resolve) => setTimeout(resolve, 150));
    } finally {
      config.onUnhandledError = previous;
    }
    // An error the snippet did not handle, or one it printed as an error, fails it.
    expect(unhandled).toEqual([]);
    expect(errors).toEqual([]);
    // Each promised line was printed, after the one promised before it.
    const printed = output.join('');
    let from = 0;
    for (const line of promisedOutput(s)) {
      const at = printed.indexOf(line, from);
      expect({ line, printedAfterThePreviousOne: at >= 0 }).toEqual({
        line,
        printedAfterThePreviousOne: true,
      });
      from = at + line.length;
    }
  });

  it('has output promises to check: at least ten runnable blocks say what they print', () => {
    const promised = runnable.filter((s) => promisedOutput(s).length > 0);
    expect(promised.length).toBeGreaterThanOrEqual(10);
  });
});

describe("docs: the README's performance figures", () => {
  it('quotes only figures that BENCHMARKS.md reports', () => {
    const { readFileSync } = jest.requireActual<typeof import('node:fs')>('node:fs');
    const { join } = jest.requireActual<typeof import('node:path')>('node:path');
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    const benchmarks = readFileSync(join(__dirname, '..', '..', 'BENCHMARKS.md'), 'utf8');
    const section = /## Performance\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
    const figures = [...section.matchAll(/\d[\d,]*(?:\.\d+)?(?:x| KB| ms)/g)].map((m) => m[0]);
    expect(figures.length).toBeGreaterThanOrEqual(8);
    expect(figures.filter((f) => !benchmarks.includes(f))).toEqual([]);
  });
});
