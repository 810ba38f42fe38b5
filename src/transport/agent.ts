/**
 * The shared keep-alive pool. Every call without its own `dispatcher` goes through one undici
 * `Agent`, so sequential calls to one origin reuse their sockets instead of opening new ones.
 */
import type { Dispatcher } from 'undici';
import { ConfigurationError } from '../errors';
import { redactAndCut } from '../redact';
import { ReusePool } from './pool';
import { proxyRouter, type ProxyOptions } from './proxy';

export type { ProxyOptions } from './proxy';

export interface AgentOptions {
  /** Most sockets per origin; `undefined` = no cap (the concurrency operators cap in-flight calls). @defaultValue undefined */
  connections?: number;
  /** How long an idle socket stays open. @defaultValue 30_000 */
  keepAliveTimeout?: number;
  /** Upper bound for a server-suggested keep-alive timeout. @defaultValue 600_000 */
  keepAliveMaxTimeout?: number;
  /** TCP + TLS connect timeout in ms. @defaultValue 10_000 */
  connectTimeout?: number;
  /**
   * Proxies: `false` connects directly whatever the environment; an object overrides the
   * environment field by field. By default `HTTP_PROXY` / `HTTPS_PROXY` / `NO_PROXY` (lower-case
   * first) are honoured as undici's `EnvHttpProxyAgent` does, read when the agent is created
   * (`NO_PROXY` again whenever it changes). @defaultValue undefined (the environment)
   */
  proxy?: ProxyOptions | false;
}

/** Defaults of the shared agent. */
export const AGENT_DEFAULTS = {
  connections: undefined as number | undefined,
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 600_000,
  connectTimeout: 10_000,
} as const;

/**
 * A new keep-alive dispatcher with rxllm's defaults: undici clients, one socket each, reused as soon
 * as a request ends (see `ReusePool` for why not undici's `Agent`).
 */
export function createAgent(options: AgentOptions = {}): ReusePool {
  const { connections, keepAliveTimeout, keepAliveMaxTimeout, connectTimeout, proxy } = {
    ...AGENT_DEFAULTS,
    ...options,
  };
  positive('connectTimeout', connectTimeout, true);
  positive('keepAliveTimeout', keepAliveTimeout, false);
  positive('keepAliveMaxTimeout', keepAliveMaxTimeout, false);
  if (connections !== undefined && connections !== Infinity) {
    if (!Number.isInteger(connections) || connections < 1) {
      throw new ConfigurationError(
        `createAgent: connections must be a positive integer or undefined (no cap), got ${String(connections)}.`,
      );
    }
  }
  const router = proxyRouter(proxy, connectTimeout);
  // undici: a connect timeout of 0 is "none" (`Infinity` is rxllm's spelling of it).
  const timeout = connectTimeout >= 2_147_483_647 ? 0 : connectTimeout;
  return new ReusePool({
    connections,
    clientOptions: { keepAliveTimeout, keepAliveMaxTimeout, connect: { timeout } },
    connectorFor: router && ((origin) => router.connectorFor(origin)),
  });
}

/** A time option: a positive number of milliseconds (or `Infinity` = off, where undici allows it). */
function positive(name: string, value: unknown, infinityOk: boolean): void {
  const ok =
    typeof value === 'number' && value > 0 && (Number.isFinite(value) || (infinityOk && value === Infinity));
  if (!ok) {
    throw new ConfigurationError(
      `createAgent: ${name} must be a positive number of milliseconds${infinityOk ? ' or Infinity (off)' : ''}, got ${redactAndCut(typeof value === 'string' ? JSON.stringify(value) : String(value), 40)}.`,
    );
  }
}

let shared: Dispatcher | undefined;

/** The agent used when a call passes no `dispatcher`. Created on first use. */
export function getDefaultAgent(): Dispatcher {
  shared ??= createAgent();
  return shared;
}

/**
 * Replaces the shared agent (a dispatcher of your own, or options for a new one) and returns it.
 * The previous agent is not closed: calls in flight finish on it.
 */
export function setDefaultAgent(agent: Dispatcher | AgentOptions): Dispatcher {
  shared = isDispatcher(agent) ? agent : createAgent(agent);
  return shared;
}

function isDispatcher(value: unknown): value is Dispatcher {
  return typeof (value as Dispatcher).dispatch === 'function';
}

const byConnectTimeout = new Map<number, Dispatcher>();

/**
 * The dispatcher for a call: its own, else the shared agent — or, when the call sets its own
 * connect timeout, a shared agent with that timeout (undici sets connect timeouts per agent).
 */
export function dispatcherFor(own: Dispatcher | undefined, connectTimeout: number | undefined): Dispatcher {
  if (own) return own;
  if (connectTimeout === undefined || connectTimeout === AGENT_DEFAULTS.connectTimeout)
    return getDefaultAgent();
  let agent = byConnectTimeout.get(connectTimeout);
  if (!agent) {
    agent = createAgent({ connectTimeout });
    byConnectTimeout.set(connectTimeout, agent);
  }
  return agent;
}
