/**
 * `rxllm chat`: streams a reply to stdout as it arrives; finish reason, usage and time to first
 * chunk go to stderr. Errors print one line (no stack, no secrets) and exit non-zero.
 */
import { parseArgs } from 'node:util';
import { stream } from '../client';
import type { FinishReason, Usage } from '../chunk';
import { LlmError } from '../errors';
import type { ChatMessage } from '../request';
import { redactSecrets } from '../redact';

export interface CliIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env?: Record<string, string | undefined>;
}

/** The model used when `--model` is not given: the built-in mock, so the CLI runs with no key. */
export const CLI_DEFAULT_MODEL = 'mock/echo';

const HELP = `Usage: rxllm chat [--model provider/model] [--system TEXT] [--base-url URL] [--max-tokens N] "prompt"
       rxllm serve [--port 8787] [--host 127.0.0.1] [--model M] [--base-url U] [--token T]   (see rxllm serve --help)

Streams the reply to stdout; finish reason, usage and time to first chunk go to stderr.
  --model, -m     provider/model (default ${CLI_DEFAULT_MODEL}; e.g. openai/gpt-4o-mini, ollama/llama3.2)
  --system, -s    system prompt
  --base-url, -u  base URL of an OpenAI-compatible server
  --max-tokens    max_tokens of the request
API keys come from the provider's environment variable (OPENAI_API_KEY, ...).`;

/** Runs the CLI; resolves to the exit code. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
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
    io.stderr.write(`rxllm: ${(error as Error).message}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...words] = positionals;
  if (values.help || command === undefined) {
    io.stdout.write(HELP + '\n');
    return command === undefined && !values.help ? 2 : 0;
  }
  if (command !== 'chat') {
    io.stderr.write(`rxllm: unknown command "${command}". Try: rxllm chat "hello"\n`);
    return 2;
  }
  const prompt = words.join(' ').trim();
  if (!prompt) {
    io.stderr.write('rxllm: give a prompt, e.g. rxllm chat "hello"\n');
    return 2;
  }
  const messages: ChatMessage[] = [];
  if (values.system) messages.push({ role: 'system', content: values.system });
  messages.push({ role: 'user', content: prompt });
  const maxTokens = values['max-tokens'] === undefined ? undefined : Number(values['max-tokens']);

  const started = performance.now();
  let firstChunkMs: number | undefined;
  let finish: FinishReason | null = null;
  let usage: Usage | null = null;
  return new Promise<number>((resolve) => {
    stream(
      {
        model: values.model ?? CLI_DEFAULT_MODEL,
        messages,
        ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }),
      },
      { baseURL: values['base-url'] },
    ).subscribe({
      next(chunk) {
        firstChunkMs ??= performance.now() - started;
        const choice = chunk.choices[0];
        if (choice) {
          if (choice.delta.content) io.stdout.write(choice.delta.content);
          if (choice.finish_reason) finish = choice.finish_reason;
        }
        if (chunk.usage) usage = chunk.usage;
      },
      error(error) {
        io.stdout.write('\n');
        io.stderr.write(`rxllm: ${describe(error)}\n`);
        resolve(1);
      },
      complete() {
        io.stdout.write('\n');
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

function describe(error: unknown): string {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  const line = message.split('\n')[0];
  return redactSecrets(error instanceof LlmError ? `${name}: ${line}` : `${name}: ${line}`);
}
