import type { MonoTypeOperatorFunction } from 'rxjs';
import type { Chunk } from '../src/chunk';
import { FinishReasonError } from '../src/errors';
import { consoleLogger, type Logger } from '../src/logger';
import { linkedSubscriber, operate } from './internal/operate';

/** What the warn handler is told. `finishReason: null` means the stream completed without one. */
export interface FinishReasonWarning {
  /** The choice concerned; `null` when the stream completed without any choice finishing. */
  choiceIndex: number | null;
  finishReason: string | null;
  /** The provider's own value (`MAX_TOKENS`, `SAFETY`, ...), when it differs from OpenAI's vocabulary. */
  rawFinishReason?: string;
  /** One line, saying what happened and what to do. */
  message: string;
}

export interface FinishReasonWarnConfig {
  /**
   * Called once per warning. What it throws (or the logger's `warn`) becomes the stream's error.
   * @defaultValue writes `warning.message` with `logger.warn`
   */
  onWarn?: (warning: FinishReasonWarning) => void;
  /** Where the default handler writes. @defaultValue consoleLogger (one `[rxllm]` line on stderr) */
  logger?: Logger;
  /**
   * Finish reasons that fail the stream with a `FinishReasonError` (after the chunk that carries them)
   * instead of warning. @defaultValue []
   */
  errorOn?: readonly ('length' | 'content_filter')[];
  /** Warn when the stream completes and a choice (or the whole stream) never finished. @defaultValue true */
  warnOnMissing?: boolean;
}

/** Defaults of {@link finishReasonWarn}. */
export const FINISH_REASON_WARN_DEFAULTS = {
  logger: consoleLogger,
  errorOn: [] as readonly ('length' | 'content_filter')[],
  warnOnMissing: true,
} as const satisfies FinishReasonWarnConfig;

/** The finish reasons of a normal end. */
const NORMAL = new Set(['stop', 'tool_calls']);

function describe(choiceIndex: number, reason: string, raw: string | undefined): string {
  const rawPart = raw !== undefined && raw !== reason ? ` (provider: "${raw}")` : '';
  const what = `Choice ${choiceIndex} finished with "${reason}"${rawPart}`;
  if (reason === 'length')
    return `${what}: the output was truncated; raise max_tokens or shorten the prompt.`;
  if (reason === 'content_filter') return `${what}: the provider's content filter stopped the output.`;
  return `${what}, not "stop" or "tool_calls": the output may be incomplete.`;
}

/**
 * Passes chunks through unchanged and warns when a choice ends with anything but `stop`/`tool_calls`
 * (`length`: truncated; `content_filter`; anything else), and when the stream completes without a
 * finish reason. With `errorOn`, `length`/`content_filter` fail the stream with a `FinishReasonError`
 * right after the chunk that carries them. Errors and unsubscription never warn; a reset chunk
 * clears what it tracked.
 *
 * ```
 * source: --a--b(length)--|
 * result: --a--b----------|      onWarn({ choiceIndex: 0, finishReason: 'length', ... }) at b
 * errorOn ['length']:
 * result: --a--b#                FinishReasonError('length', 0)
 * source: --a--|                 no finish reason: onWarn({ finishReason: null }) at completion
 * ```
 *
 * @example
 * import { stream } from 'rxllm';
 * import { finishReasonWarn } from 'rxllm/operators';
 * const chunks$ = stream({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
 * chunks$.pipe(finishReasonWarn({ logger: console })).subscribe((chunk) => console.log(chunk));
 * chunks$.pipe(finishReasonWarn({ errorOn: ['length'] })); // fail on truncation
 */
export function finishReasonWarn(config: FinishReasonWarnConfig = {}): MonoTypeOperatorFunction<Chunk> {
  if (config === null || typeof config !== 'object') {
    throw new TypeError(`finishReasonWarn: config must be an object, got ${String(config)}.`);
  }
  const {
    logger = FINISH_REASON_WARN_DEFAULTS.logger,
    errorOn = FINISH_REASON_WARN_DEFAULTS.errorOn,
    warnOnMissing = FINISH_REASON_WARN_DEFAULTS.warnOnMissing,
  } = config;
  if (typeof logger?.warn !== 'function')
    throw new TypeError('finishReasonWarn: logger must have a warn(message) method.');
  if (config.onWarn !== undefined && typeof config.onWarn !== 'function') {
    throw new TypeError('finishReasonWarn: onWarn must be a function.');
  }
  if (!Array.isArray(errorOn) || errorOn.some((r) => r !== 'length' && r !== 'content_filter')) {
    throw new TypeError(`finishReasonWarn: errorOn may only hold 'length' and 'content_filter'.`);
  }
  const onWarn = config.onWarn ?? ((warning: FinishReasonWarning) => logger.warn(warning.message));
  const failOn = new Set<string>(errorOn);

  return operate<Chunk, Chunk>((source, subscriber) => {
    const seen = new Set<number>();
    const finished = new Set<number>();
    // A throwing `onWarn` (or logger) becomes the stream's error: linkedSubscriber catches it.
    source.subscribe(
      linkedSubscriber<Chunk>(subscriber, {
        next: (chunk) => {
          if (chunk.reset !== undefined) {
            seen.clear();
            finished.clear();
            subscriber.next(chunk);
            return;
          }
          subscriber.next(chunk);
          for (const choice of chunk.choices) {
            seen.add(choice.index);
            const reason = choice.finish_reason;
            if (reason == null) continue;
            finished.add(choice.index);
            if (NORMAL.has(reason)) continue;
            const message = describe(choice.index, reason, choice.raw_finish_reason);
            if (failOn.has(reason)) {
              subscriber.error(new FinishReasonError(reason, choice.index, message));
              return;
            }
            const warning: FinishReasonWarning = { choiceIndex: choice.index, finishReason: reason, message };
            if (choice.raw_finish_reason !== undefined) warning.rawFinishReason = choice.raw_finish_reason;
            onWarn(warning);
          }
        },
        complete: () => {
          if (warnOnMissing) {
            if (finished.size === 0) {
              onWarn({
                choiceIndex: null,
                finishReason: null,
                message: 'The stream completed without a finish reason: the response may be incomplete.',
              });
            } else {
              for (const index of seen) {
                if (finished.has(index)) continue;
                const message = `Choice ${index} never received a finish reason: its output may be incomplete.`;
                onWarn({ choiceIndex: index, finishReason: null, message });
              }
            }
          }
          subscriber.complete();
        },
      }),
    );
  });
}
