/**
 * Error names in a minified bundle. Minifiers rename classes (`class RateLimitError` becomes
 * `class u`), as esbuild `--minify` and the Angular production build do; the name is what
 * `errorFrame` sends and `errorFromFrame` rebuilds the class from, and what `retryBackoff`'s
 * `retryPolicy` is keyed by. This bundles a small app from the sources with esbuild (minified, no
 * keepNames), runs it in its own Node process, and checks what survived.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildSync } from 'esbuild';

const APP = `
import * as rxllm from './src/browser';
import { retryBackoff } from './operators/retryBackoff';
import { defer, lastValueFrom, throwError } from 'rxjs';

// Constructor arguments per class; a class not listed here gets a message only.
const ARGS = {
  ApiError: [{ status: 418, message: 'teapot' }],
  RateLimitError: [{ status: 429, message: 'slow down', headers: { 'retry-after-ms': '1500' } }],
  AuthenticationError: [{ status: 401, message: 'bad key' }],
  BadRequestError: [{ status: 400, message: 'bad' }],
  ServerError: [{ status: 503, message: 'down' }],
  TimeoutError: ['idle', 5],
  StreamParseError: ['invalid-json', 'not JSON', '{'],
  RequestAbortedError: [],
  RequestValidationError: ['bad request', []],
  FinishReasonError: ['length', 0],
  UnexpectedResponseError: [{ status: 200, contentType: 'text/html', message: 'html' }],
  ResponseTooLargeError: [10],
  ToolCallError: [{ reason: 'invalid-json', toolName: 't', toolCallId: 'c', choiceIndex: 0, arguments: '{' }],
  NoDeploymentAvailableError: ['group', 10, 0],
  BudgetExceededError: [1, 1, 0],
  StoreError: ['budget', 'down'],
  BatchResultError: ['t-1', 'expired', 'expired before it ran'],
  ResumableStreamError: ['not-found', 'abc'],
  StructuredOutputError: [{ reason: 'invalid-json', message: 'bad json', text: '{' }],
};

const classes = Object.entries(rxllm).filter(
  ([, v]) => typeof v === 'function' && (v === rxllm.LlmError || v.prototype instanceof rxllm.LlmError),
);
const results = classes.map(([key, Class]) => {
  const error = new Class(...(ARGS[key] ?? ['a message']));
  const frame = JSON.parse(JSON.stringify(rxllm.errorFrame(error)));
  const rebuilt = rxllm.errorFromFrame(frame);
  return {
    key,
    minifiedClassName: Class.name,
    name: error.name,
    frameType: frame.error.type,
    rebuiltName: rebuilt.name,
    rebuiltInstanceof: rebuilt instanceof Class,
    rebuiltIsLlmError: rebuilt instanceof rxllm.LlmError,
  };
});

// retryPolicy is keyed by class names: BadRequestError is not retryable, the policy says retry it twice.
let attempts = 0;
const policy = await lastValueFrom(
  defer(() => {
    attempts++;
    return throwError(() => new rxllm.BadRequestError({ status: 400, message: 'bad' }));
  }).pipe(retryBackoff({ maxRetries: 0, initialDelayMs: 0, jitter: 0, retryPolicy: { BadRequestError: 2 } })),
).catch((error) => error.name);

console.log(JSON.stringify({ results, policy, attempts }));
`;

/** Classes `errorFromFrame` rebuilds as themselves (others arrive as `LlmError` with the right `type`). */
const REBUILT = [
  'LlmError',
  'ApiError',
  'RateLimitError',
  'AuthenticationError',
  'BadRequestError',
  'ServerError',
  'ConnectionError',
  'TimeoutError',
  'StreamParseError',
  'StreamCutError',
  'RequestAbortedError',
  'RequestValidationError',
  'FinishReasonError',
  'ConfigurationError',
  'ToolCallError',
];

interface Result {
  key: string;
  minifiedClassName: string;
  name: string;
  frameType: string;
  rebuiltName: string;
  rebuiltInstanceof: boolean;
  rebuiltIsLlmError: boolean;
}

describe('error names survive a minified bundle (esbuild --minify, no keepNames)', () => {
  let run: { results: Result[]; policy: string; attempts: number };
  beforeAll(() => {
    const root = path.resolve(__dirname, '../..');
    const bundle = buildSync({
      stdin: { contents: APP, resolveDir: root, sourcefile: 'app.ts', loader: 'ts' },
      bundle: true,
      minify: true,
      keepNames: false,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      write: false,
      logLevel: 'silent',
    });
    const dir = mkdtempSync(path.join(tmpdir(), 'rxllm-minified-'));
    try {
      const file = path.join(dir, 'app.mjs');
      writeFileSync(file, bundle.outputFiles[0].text);
      const child = spawnSync(process.execPath, [file], { encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`the bundle failed: ${child.stderr}`);
      run = JSON.parse(child.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('really renames the classes (else this test proves nothing)', () => {
    const renamed = run.results.filter((r) => r.minifiedClassName !== r.key);
    expect(run.results.length).toBeGreaterThanOrEqual(REBUILT.length);
    expect(renamed.length).toBeGreaterThan(run.results.length / 2);
  });

  it('every error class keeps its name, and errorFrame sends it', () => {
    for (const r of run.results) {
      expect({ key: r.key, name: r.name, frameType: r.frameType }).toEqual({
        key: r.key,
        name: r.key,
        frameType: r.key,
      });
    }
  });

  it('errorFromFrame rebuilds the same class across the wire (instanceof holds)', () => {
    const rebuilt = run.results.filter((r) => REBUILT.includes(r.key));
    expect(rebuilt.map((r) => r.key).sort()).toEqual([...REBUILT].sort());
    for (const r of rebuilt) {
      expect({ key: r.key, rebuiltName: r.rebuiltName, instanceOf: r.rebuiltInstanceof }).toEqual({
        key: r.key,
        rebuiltName: r.key,
        instanceOf: true,
      });
    }
    for (const r of run.results) expect(r.rebuiltIsLlmError).toBe(true);
  });

  it("retryBackoff's retryPolicy still finds the class by its name", () => {
    expect(run.policy).toBe('BadRequestError');
    expect(run.attempts).toBe(3);
  });

  // The names are plain string-keyed static fields: a class with a computed static key (a symbol)
  // is kept by esbuild even when unused, and every app would carry every error class.
  it('an app that uses one error class does not carry the others', () => {
    const root = path.resolve(__dirname, '../..');
    const { outputFiles } = buildSync({
      stdin: {
        contents:
          "import { RateLimitError } from './src/errors'; console.log(new RateLimitError({ status: 429 }).name);",
        resolveDir: root,
        loader: 'ts',
      },
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    });
    const code = outputFiles[0].text;
    expect(code).toContain('"RateLimitError"');
    for (const unused of ['StructuredOutputError', 'BudgetExceededError', 'ToolCallError', 'TimeoutError'])
      expect(code).not.toContain(unused);
  });
});
