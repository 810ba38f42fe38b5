/**
 * One attempt of a routed call on one deployment: the request (a continuation when a previous
 * deployment was cut off), the deployment's rate limit and time limits, the chunks passed on with
 * `route`, its latency measured, a refusal in a 200 answer turned into a failure, and its report
 * (`onAttempt`). What follows a failure is the router's business (`AttemptContext.onFailure`).
 */
import {
  tap,
  type Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscriber,
  type Subscription,
} from 'rxjs';
import { linkedSubscriber } from '../../operators/internal/operate';
import type { ChunkAccumulator } from '../../operators/accumulateChunks';
import { rateLimit } from '../../operators/rateLimit';
import { timeouts, type TimeoutsConfig } from '../../operators/timeouts';
import type { ChatCompletion, Chunk } from '../chunk';
import { AttemptUsage } from '../cost/attemptUsage';
import { unreadAnswerUsage } from '../cost/billedParts';
import type { Client } from '../client';
import { errorClassName } from '../errorName';
import { FinishReasonError, LlmError, TimeoutError } from '../errors';
import { mergeOptions, type CallOptions, type ResponseMeta, type TransportTimeouts } from '../options';
import { estimateRequestTokens } from '../rateLimit/estimate';
import type { ChatRequest } from '../request';
import { classifyFailure, type FailureKind } from './classify';
import type { RouterAttempt } from './config';
import { continueRequest, dropSkipped } from './continuation';
import type { Deployment } from './deployment';
import { recordFirstChunk, type LatencySettings } from './latency';
import { isEmptyLead, refusalOf } from './refusal';
import type { BilledAttempt, RouteInfo } from './route';

/** What every attempt of a router needs (defaults applied). */
export interface AttemptSettings extends LatencySettings {
  client: Client;
  attemptTimeouts: TimeoutsConfig | false;
  scheduler: SchedulerLike;
  onAttempt: ((attempt: RouterAttempt) => void) | undefined;
  /** Runs a callback of the user's, logging what it throws. */
  safe: (what: string, fn: () => unknown) => void;
}

/** A failed attempt, reported and detached from the caller. */
export interface FailedAttempt {
  deployment: Deployment;
  error: unknown;
  failure: FailureKind;
  /** The error is a time limit the caller set for this call (not the deployment's failure). */
  callerLimit: boolean;
  /** Chunks this attempt passed on before it failed. */
  chunks: number;
  route: RouteInfo;
}

/** One routed call, as its attempts see it. */
export interface AttemptContext<T> {
  kind: 'stream' | 'complete';
  request: ChatRequest;
  callOptions: CallOptions;
  /** The caller: values go to it with `route`; it completes with the attempt that succeeds. */
  subscriber: Subscriber<T & { route: RouteInfo }>;
  /** The chunks the caller received (streams), for `error.partial`, resets and continuations. */
  delivered: ChunkAccumulator;
  /**
   * Attempts the provider billed that passed nothing on, not yet told to the caller: they go on the
   * next value's `route.billed` (or the call's final error, `error.billed`).
   */
  billed: BilledAttempt[];
  /** The group the call named. */
  requested: string;
  /** Whether a 200 answer the model's filter refused is a failure (a content-policy group is left). */
  refusalFails: () => boolean;
  onFailure: (failed: FailedAttempt) => void;
}

/**
 * Starts attempt number `attempt` on `d`; `prefix` is the text a previous deployment streamed
 * before it failed (`afterFirstChunk: 'continue'`). Returns the attempt's subscription.
 */
export function runAttempt<T extends Chunk | ChatCompletion>(
  settings: AttemptSettings,
  ctx: AttemptContext<T>,
  d: Deployment,
  attempt: number,
  prefix: string | undefined,
): Subscription {
  const { client, attemptTimeouts, scheduler, onAttempt, safe } = settings;
  const { kind, request, callOptions, subscriber, delivered } = ctx;
  const info: RouteInfo = { group: d.group, deployment: d.id, model: d.model, attempt };
  let req: ChatRequest = { ...request, model: d.model };
  let opts = mergeOptions(callOptions, d.options);
  let skip = '';
  if (prefix !== undefined && prefix !== '' && d.continuation !== false) {
    // 'continue': the answer so far goes back as the assistant's own words, with the flag this
    // deployment's server needs to continue it (see continuation.ts).
    ({ request: req, options: opts, skip } = continueRequest(req, opts, prefix, d.continuation));
  }
  if (d.limiter) {
    const limiter = d.limiter;
    const user = opts.onResponse;
    opts.onResponse = (meta: ResponseMeta) => {
      limiter.onResponse(meta);
      user?.(meta);
    };
  }
  // The error the call itself raised (the transport's), as opposed to the router's own limits.
  let ownError: unknown;
  let call: Observable<Chunk | ChatCompletion> = (
    (kind === 'stream' ? client.stream(req, opts) : client.complete(req, opts)) as Observable<
      Chunk | ChatCompletion
    >
  ).pipe(
    tap({
      error: (e: unknown) => {
        ownError = e;
      },
    }),
  );
  if (attemptTimeouts !== false) call = call.pipe(timeouts(attemptTimeouts) as OperatorFunction<any, any>);
  if (d.limiter) call = call.pipe(rateLimit(d.limiter, { estimateTokens: () => estimateRequestTokens(req) }));
  // A transport limit the caller set for this call (and the deployment did not override).
  const callerLimit = (error: unknown): boolean => {
    if (!(error instanceof TimeoutError) || error !== ownError) return false;
    const key = error.timeout as keyof TransportTimeouts;
    return callOptions.timeouts?.[key] !== undefined && d.options.timeouts?.[key] === undefined;
  };

  const startedAt = scheduler.now();
  let firstChunkMs: number | undefined;
  let count = 0;
  let received = 0;
  let ended = false;
  // Chunks with nothing but a role, held until something real arrives: a refusal or a failure
  // before the first content chunk then switches deployments invisibly.
  const held: Chunk[] = [];
  // What arrived before anything was passed on: billed, even when the router goes elsewhere.
  const unseen = new AttemptUsage();
  d.inFlight++;
  d.probeAt = startedAt;
  const end = (outcome: RouterAttempt['outcome'], error?: unknown, failure?: FailureKind): void => {
    if (ended) return;
    ended = true;
    d.inFlight--;
    if (!onAttempt) return;
    const report: RouterAttempt = {
      requested: ctx.requested,
      group: d.group,
      deployment: d.id,
      model: d.model,
      attempt: info.attempt,
      outcome,
      startedAt,
      durationMs: scheduler.now() - startedAt,
      chunks: count,
    };
    if (firstChunkMs !== undefined) report.firstChunkMs = firstChunkMs;
    if (outcome === 'error') {
      report.error = error;
      report.errorClass = error instanceof Error ? errorClassName(error.constructor) : typeof error;
      report.kind = failure;
    }
    safe('onAttempt', () => onAttempt(report));
  };
  /** What arrived before anything was passed on, as a billed attempt the caller is told of later. */
  const billUnseen = (): void => {
    ctx.billed.push({ deployment: d.id, model: d.model, ...unseen.settle(false, req) });
  };
  const deliver = (value: Chunk | ChatCompletion): void => {
    // The first value of the attempt tells the attempts billed before it (once).
    const route = count === 0 && ctx.billed.length > 0 ? { ...info, billed: ctx.billed.splice(0) } : info;
    count++;
    if (kind === 'stream') delivered.push(value as Chunk);
    subscriber.next({ ...(value as T), route });
  };
  const onError = (error: unknown): void => {
    if (count === 0 && unseen.chunks > 0) {
      // Left before anything was passed on (a refusal, a failure after the opening role chunk): the
      // caller never sees these values, but the provider billed them.
      billUnseen();
    } else if (count === 0 && error instanceof LlmError && error.billedAnswer) {
      // A `complete()` answer generated and billed whose body broke: priced here, at this
      // deployment's model (the caller's `trackUsage` knows only the group; with `error.billed` set,
      // it does not count `billedAnswer` again).
      const usage = unreadAnswerUsage(req);
      ctx.billed.push({ deployment: d.id, model: d.model, usage, estimated: usage !== null });
    }
    const failure = classifyFailure(error);
    end('error', error, failure);
    subscriber.remove(inner);
    ctx.onFailure({
      deployment: d,
      error,
      failure,
      callerLimit: callerLimit(error),
      chunks: count,
      route: info,
    });
  };
  /** The continuation without the whitespace that was trimmed off the prefix. */
  const dropLeading = (chunk: Chunk): Chunk => {
    const choice = chunk.choices[0];
    const text = choice?.delta.content;
    if (!choice || typeof text !== 'string' || text === '') return chunk;
    const out = dropSkipped(text, skip);
    skip = out.skip;
    return {
      ...chunk,
      choices: [{ ...choice, delta: { ...choice.delta, content: out.content } }, ...chunk.choices.slice(1)],
    };
  };

  // Linked before the call starts (operators/internal/operate.ts): a synchronous deployment stops
  // as soon as the subscriber does, and nothing of this attempt runs after unsubscribe.
  const inner: Subscriber<Chunk | ChatCompletion> = linkedSubscriber<Chunk | ChatCompletion>(subscriber, {
    finalize: () => {
      // Unsubscribed while its opening role chunk was held (nothing passed on yet): billed.
      if (!ended && count === 0 && unseen.chunks > 0) billUnseen();
      end('cancelled');
    },
    next: (value) => {
      if (ended) return;
      if (received++ === 0) {
        firstChunkMs = scheduler.now() - startedAt;
        recordFirstChunk(d, firstChunkMs, scheduler.now(), settings);
      }
      if (count === 0) unseen.observe(value);
      const refusal = refusalOf(value);
      if (refusal !== undefined && ctx.refusalFails()) {
        // A 200 answer the model's filter refused (Gemini SAFETY, Anthropic `refusal`,
        // `content_filter`): the content-policy fallbacks, as for a refusal sent as an error.
        onError(
          new FinishReasonError(
            'content_filter',
            refusal,
            `${d.id} refused the request (finish reason "content_filter").`,
          ),
        );
        return inner.unsubscribe();
      }
      if (kind === 'stream' && count === 0 && isEmptyLead(value as Chunk)) {
        held.push(value as Chunk);
        return;
      }
      if (skip !== '' && kind === 'stream') value = dropLeading(value as Chunk);
      while (held.length && !subscriber.closed) deliver(held.shift()!);
      if (!subscriber.closed) deliver(value);
    },
    complete: () => {
      while (held.length && !subscriber.closed) deliver(held.shift()!);
      end('success');
      subscriber.complete();
    },
    error: onError,
  });
  return call.subscribe(inner);
}
