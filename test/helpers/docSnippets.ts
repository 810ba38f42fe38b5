/**
 * The docs test's machinery: finds every ```ts block of README.md and docs/*.md and every TSDoc
 * `@example` of src/ and operators/, type-checks them all in one TypeScript program per module resolution mode
 * (strict; `bundler` and `node16`), and runs them (transpiled to CommonJS, inside the jest process).
 * A snippet whose first line is `// doc-test: typecheck-only` is only type-checked.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

export const ROOT = join(__dirname, '..', '..');
export const TYPECHECK_ONLY = '// doc-test: typecheck-only';

export interface Snippet {
  /** `README.md:12` or `src/client.ts:33`: where it starts. */
  name: string;
  code: string;
  typecheckOnly: boolean;
  /** Virtual file the type-checker sees it as. */
  fileName: string;
}

function snippet(name: string, code: string, n: number): Snippet {
  const trimmed = code.replace(/^\s*\n/, '').replace(/\s+$/, '') + '\n';
  return {
    name,
    code: trimmed,
    typecheckOnly: trimmed.trimStart().startsWith(TYPECHECK_ONLY),
    fileName: join(ROOT, 'test', 'docs', '__snippets__', `snippet${n}.mts`),
  };
}

/** ```ts / ```typescript blocks of a markdown file. */
export function markdownSnippets(file: string, start = 0): Snippet[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*```(ts|typescript)\s*$/.exec(lines[i]);
    if (!open) continue;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]); j++) body.push(lines[j]);
    out.push(snippet(`${file}:${i + 1}`, body.join('\n'), start + out.length));
    i = j;
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out.sort();
}

/** The `@example` of every TSDoc comment under `dirs` (text up to the next tag or the comment's end). */
export function tsdocSnippets(dirs: string[], start = 0): Snippet[] {
  const out: Snippet[] = [];
  for (const file of dirs.flatMap(sourceFiles)) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const comment of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
      const lines = comment[0]
        .split('\n')
        .map((l) => l.replace(/^\s*\/?\*\*?\/?\s?/, '').replace(/\s*\*\/$/, ''));
      const firstLine = text.slice(0, comment.index).split('\n').length;
      for (let i = 0; i < lines.length; i++) {
        if (!/^@example\b/.test(lines[i])) continue;
        const body: string[] = [];
        const rest = lines[i].replace(/^@example\s*/, '');
        if (rest) body.push(rest);
        let j = i + 1;
        for (; j < lines.length && !/^@\w+/.test(lines[j]); j++) body.push(lines[j]);
        const code = body.filter((l) => !/^```/.test(l.trim())).join('\n');
        out.push(snippet(`${relative(ROOT, join(ROOT, file))}:${firstLine + i}`, code, start + out.length));
        i = j - 1;
      }
    }
  }
  return out;
}

/** README.md, then the pages of docs/ in name order. */
export function markdownFiles(): string[] {
  const pages = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...pages];
}

export function allSnippets(): Snippet[] {
  const markdown: Snippet[] = [];
  for (const file of markdownFiles()) markdown.push(...markdownSnippets(file, markdown.length));
  return [...markdown, ...tsdocSnippets(['src', 'operators'], markdown.length)];
}

/**
 * The output a snippet promises: the text after each `// → ` comment, in order. A snippet prints
 * `console.log(x); // → 42` and the docs test checks that 42 was printed, after what came before.
 */
export function promisedOutput(snippet: Snippet): string[] {
  return [...snippet.code.matchAll(/\/\/ → (.+)$/gm)].map((m) => m[1].trim());
}

const PATHS = {
  rxllm: ['./src/index.ts'],
  'rxllm/operators': ['./operators/index.ts'],
  'rxllm/testing': ['./src/testing/index.ts'],
  'rxllm/browser': ['./src/browser.ts'],
  'rxllm/nestjs': ['./src/nestjs/index.ts'],
  'rxllm/redis': ['./src/redis/index.ts'],
  'rxllm/bullmq': ['./src/bullmq/index.ts'],
  'rxllm/schemas': ['./src/schemas.ts'],
};

/** Compiler options of a consumer with `strict` on, in one module resolution mode. */
export function consumerOptions(mode: 'bundler' | 'node16'): ts.CompilerOptions {
  return {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: ['node', 'jest'],
    skipLibCheck: true,
    esModuleInterop: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    baseUrl: ROOT,
    paths: PATHS,
    ...(mode === 'bundler'
      ? { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler }
      : { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 }),
  };
}

/**
 * Type-checks every snippet (and `extraFiles`, e.g. the type tests) in one program; returns the error
 * messages per snippet file and per extra file.
 */
export function typecheck(
  snippets: Snippet[],
  options: ts.CompilerOptions,
  extraFiles: string[] = [],
): Map<string, string[]> {
  const files = new Map(snippets.map((s) => [s.fileName, s.code + '\nexport {};\n']));
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (f) => files.has(f) || fileExists.call(host, f);
  host.readFile = (f) => files.get(f) ?? readFile.call(host, f);
  host.getSourceFile = (f, lang, onError, create) => {
    const text = files.get(f);
    return text !== undefined
      ? ts.createSourceFile(f, text, lang, true)
      : getSourceFile.call(host, f, lang, onError, create);
  };
  const program = ts.createProgram([...files.keys(), ...extraFiles], options, host);
  const errors = new Map<string, string[]>(
    [...snippets.map((s) => s.fileName), ...extraFiles].map((f) => [f, []]),
  );
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const file = d.file?.fileName;
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
    const line = `TS${d.code} ${where ? `(line ${where.line + 1}) ` : ''}${message}`;
    if (file && errors.has(file)) errors.get(file)!.push(line);
    else
      errors.set('(outside the snippets)', [
        ...(errors.get('(outside the snippets)') ?? []),
        `${file}: ${line}`,
      ]);
  }
  return errors;
}

/** The snippet as CommonJS inside an async function (so top-level `await` works). */
export function transpile(snippet: Snippet): string {
  const out = ts.transpileModule(snippet.code, {
    fileName: snippet.fileName.replace(/\.mts$/, '.ts'),
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      experimentalDecorators: true,
      // As in consumerOptions: Nest injects a constructor parameter by the type this records.
      emitDecoratorMetadata: true,
    },
  });
  return out.outputText;
}
