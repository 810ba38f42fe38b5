/**
 * `rxllm chat`: streams a reply to stdout as it arrives; finish reason, usage and time to first
 * chunk go to stderr. Exit codes: 0 done, 1 the call failed (one line on stderr, no stack, no
 * secrets), 2 a usage error (bad arguments; nothing is sent). stdout gets only the reply's text.
 */
import { parseArgs } from 'node:util';
import { stream } from '../client';
import type { FinishReason, Usage } from '../chunk';
import { LlmError } from '../errors';
import type { ChatMessage, ModelName } from '../request';
import { redactSecrets } from '../redact';

export interface CliIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env?: Record<string, string | undefined>;
  /** Stops a long command (`rxllm batch`) as Ctrl-C does. */
  signal?: AbortSignal;
}

/** Exit code of a usage error (bad arguments), as POSIX utilities and most CLIs use; 1 is a failed call. */
export const CLI_USAGE_ERROR = 2;

/** The model used when `--model` is not given: the built-in mock, so the CLI runs with no key. */
export const CLI_DEFAULT_MODEL = 'mock/echo';

const HELP = `Usage: rxllm chat [--model provider/model] [--system TEXT] [--base-url URL] [--max-tokens N] "prompt"
       rxllm serve [--port 8787] [--host 127.0.0.1] [--model M] [--base-url U] [--token T]   (see rxllm serve --help)

Streams the reply to stdout; finish reason, usage and time to first chunk go to stderr.
  --model, -m     provider/model (default ${CLI_DEFAULT_MODEL}; e.g. openai/gpt-4o-mini, ollama/llama3.2)
  --system, -s    system prompt
  --base-url, -u  base URL of the provider's server (any provider, e.g. a local Ollama)
  --max-tokens    max_tokens of the request
API keys come from the provider's environment variable (OPENAI_API_KEY, ...).

       rxllm batch in.jsonl [--model M | --router config.json] [--concurrency 20] [--retries 3] [--out out.jsonl]
Runs a JSONL batch file (OpenAI batch format), resumable with the same --out. rxllm batch --help for more.`;

/** Runs the CLI; resolves to the exit code. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  if (argv[0] === 'batch') return (await import('./batch')).runBatchCommand(argv.slice(1), io, io.signal);
  // Subcommands with their own flags parse them in their own file.
  if (argv[0] === 'serve') return (await import('./serve')).runServe(argv.slice(1), io);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        model: { type: 'string', short: 'm' },
        system: { type: 'string', short: 's' },
        'base-url': { type: 'string', short: 'u' },
        'max-tokens': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    return usageError(io, (error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...words] = positionals;
  if (values.help) {
    io.stdout.write(HELP + '\n');
    return 0;
  }
  if (command === undefined) {
    io.stderr.write(HELP + '\n');
    return CLI_USAGE_ERROR;
  }
  if (command !== 'chat') return usageError(io, `unknown command "${command}". Try: rxllm chat "hello"`);
  const prompt = words.join(' ').trim();
  if (!prompt) return usageError(io, 'give a prompt, e.g. rxllm chat "hello"');
  // A URL alone would silently be ignored by the default mock model: say which model to send it.
  if (values['base-url'] !== undefined && values.model === undefined) {
    return usageError(
      io,
      '--base-url needs --model, e.g. rxllm chat -m compat/llama3 -u http://127.0.0.1:8000/v1 "hello"',
    );
  }
  const model = values.model ?? CLI_DEFAULT_MODEL;
  if (!/^[^/\s]+\/\S+/.test(model)) return usageError(io, `--model must be provider/model, got "${model}"`);
  const messages: ChatMessage[] = [];
  if (values.system) messages.push({ role: 'system', content: values.system });
  messages.push({ role: 'user', content: prompt });
  const maxTokens = values['max-tokens'] === undefined ? undefined : Number(values['max-tokens']);
  if (maxTokens !== undefined && !(Number.isInteger(maxTokens) && maxTokens > 0)) {
    return usageError(io, `--max-tokens must be a positive integer, got "${values['max-tokens']}"`);
  }

  const started = performance.now();
  let firstChunkMs: number | undefined;
  let finish: FinishReason | null = null;
  let usage: Usage | null = null;
  let wroteText = false;
  // Ends the reply's last line; nothing when no text came (no blank line on errors).
  const endLine = () => {
    if (wroteText) io.stdout.write('\n');
  };
  return new Promise<number>((resolve) => {
    stream(
      {
        model: model as ModelName,
        messages,
        ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }),
      },
      { baseURL: values['base-url'] },
    ).subscribe({
      next(chunk) {
        firstChunkMs ??= performance.now() - started;
        const choice = chunk.choices[0];
        if (choice) {
          if (choice.delta.content) {
            io.stdout.write(choice.delta.content);
            wroteText = true;
          }
          if (choice.finish_reason) finish = choice.finish_reason;
        }
        if (chunk.usage) usage = chunk.usage;
      },
      error(error) {
        endLine();
        io.stderr.write(`rxllm: ${describe(error)}\n`);
        resolve(1);
      },
      complete() {
        endLine();
        const u = usage as Usage | null;
        const usageText = u
          ? `${u.prompt_tokens} prompt + ${u.completion_tokens} completion = ${u.total_tokens} tokens`
          : 'none reported';
        const ttfc = firstChunkMs === undefined ? 'no chunks' : `${firstChunkMs.toFixed(0)} ms`;
        io.stderr.write(`finish: ${finish ?? 'none'} | usage: ${usageText} | first chunk: ${ttfc}\n`);
        resolve(0);
      },
    });
  });
}

function usageError(io: CliIO, message: string): number {
  io.stderr.write(`rxllm: ${message}\nTry: rxllm --help\n`);
  return CLI_USAGE_ERROR;
}

function describe(error: unknown): string {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  const line = message.split('\n')[0];
  return redactSecrets(error instanceof LlmError ? `${name}: ${line}` : `${name}: ${line}`);
}
