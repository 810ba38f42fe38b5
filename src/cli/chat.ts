/**
 * `rxllm chat`: streams a reply to stdout as it arrives; finish reason, usage and time to first
 * chunk go to stderr. Exit codes: 0 done, 1 the call failed (one line on stderr, no stack, no
 * secrets), 2 a usage error (bad arguments; nothing is sent), 141 stdout's reader left (`| head`:
 * the call is stopped, nothing more is written). stdout gets only the reply's text.
 */
import { Subscription } from 'rxjs';
import { stream } from '../client';
import type { FinishReason, Usage } from '../chunk';
import { LlmError } from '../errors';
import type { ChatMessage, ModelName } from '../request';
import { redactSecrets } from '../redact';
import {
  CLI_BROKEN_PIPE,
  CLI_USAGE_ERROR,
  flushed,
  integerFlag,
  isBrokenPipe,
  parseCliArgs,
  type CliIO,
} from './io';

/** The model used when `--model` is not given: the built-in mock, so the CLI runs with no key. */
export const CLI_DEFAULT_MODEL = 'mock/echo';

/** `rxllm --help`: chat's flags (the default command) and a line for each other command. */
export const CLI_HELP = `Usage: rxllm chat [--model provider/model] [--system TEXT] [--base-url URL] [--max-tokens N] "prompt"
       rxllm serve [--port 8787] [--host 127.0.0.1] [--model M] [--base-url U] [--token T]   (see rxllm serve --help)

Streams the reply to stdout; finish reason, usage and time to first chunk go to stderr.
  --model, -m     provider/model (default ${CLI_DEFAULT_MODEL}; e.g. openai/gpt-4o-mini, ollama/llama3.2)
  --system, -s    system prompt
  --base-url, -u  base URL of the provider's server (any provider, e.g. a local Ollama)
  --max-tokens    max_tokens of the request
API keys come from the provider's environment variable (OPENAI_API_KEY, ...).

       rxllm batch in.jsonl [--model M | --router config.json] [--concurrency 20] [--retries 3] [--out out.jsonl]
Runs a JSONL batch file (OpenAI batch format), resumable with the same --out. rxllm batch --help for more.

       rxllm batch in.jsonl --queue redis://host:6379 | rxllm worker --queue … | rxllm batch status|collect --queue … --batch ID
The same batch on a fleet of workers on BullMQ. rxllm worker --help, rxllm batch status --help for more.

       rxllm --version | rxllm help [chat|batch|serve|worker]
Exit codes: 0 done, 1 the call failed, 2 bad usage (nothing sent), 141 stdout was closed early (| head).`;

/**
 * Runs `rxllm chat`; resolves to the exit code. `argv` includes the word `chat` (the chat flags may
 * come before it: `rxllm -m openai/gpt-4o-mini chat "hello"`).
 */
export async function runChat(argv: string[], io: CliIO): Promise<number> {
  let parsed;
  try {
    parsed = parseCliArgs(
      {
        args: argv,
        allowPositionals: true,
        options: {
          model: { type: 'string', short: 'm' },
          system: { type: 'string', short: 's' },
          'base-url': { type: 'string', short: 'u' },
          'max-tokens': { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
      },
      ['max-tokens'],
    );
  } catch (error) {
    return usageError(io, (error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...words] = positionals;
  if (values.help) {
    io.stdout.write(CLI_HELP + '\n');
    return 0;
  }
  if (command === undefined) {
    io.stderr.write(CLI_HELP + '\n');
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
  const maxTokens = values['max-tokens'] === undefined ? undefined : integerFlag(values['max-tokens'], 1);
  if (values['max-tokens'] !== undefined && maxTokens === undefined) {
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
    // The reader of stdout left (`| head -c 20`): the call is stopped and nothing more is written,
    // not even the summary on stderr. A stream may emit synchronously, before `subscribe` returns:
    // a Subscription closed by then unsubscribes what is added to it at once.
    const subscription = new Subscription();
    let stopped = false;
    const stopOnBrokenPipe = () => {
      stopped = true;
      subscription.unsubscribe();
      resolve(CLI_BROKEN_PIPE);
    };
    const summary = () => {
      const u = usage as Usage | null;
      const usageText = u
        ? `${u.prompt_tokens} prompt + ${u.completion_tokens} completion = ${u.total_tokens} tokens`
        : 'none reported';
      const ttfc = firstChunkMs === undefined ? 'no chunks' : `${firstChunkMs.toFixed(0)} ms`;
      io.stderr.write(`finish: ${finish ?? 'none'} | usage: ${usageText} | first chunk: ${ttfc}\n`);
      resolve(0);
    };
    subscription.add(
      stream(
        {
          model: model as ModelName,
          messages,
          ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }),
        },
        { baseURL: values['base-url'] },
      ).subscribe({
        next(chunk) {
          if (stopped) return;
          firstChunkMs ??= performance.now() - started;
          const choice = chunk.choices[0];
          if (choice) {
            if (choice.delta.content) {
              io.stdout.write(choice.delta.content);
              wroteText = true;
              if (isBrokenPipe(io.stdout)) return stopOnBrokenPipe();
            }
            if (choice.finish_reason) finish = choice.finish_reason;
          }
          if (chunk.usage) usage = chunk.usage;
        },
        error(error) {
          if (stopped) return;
          endLine();
          void flushed(io.stdout).then((broken) => {
            if (broken) return resolve(CLI_BROKEN_PIPE);
            io.stderr.write(`rxllm: ${describe(error)}\n`);
            resolve(1);
          });
        },
        complete() {
          if (stopped) return;
          endLine();
          void flushed(io.stdout).then((broken) => (broken ? resolve(CLI_BROKEN_PIPE) : summary()));
        },
      }),
    );
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
