import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Observable } from 'rxjs';
import {
  ApiError,
  AuthenticationError,
  BadRequestError,
  BudgetExceededError,
  ConnectionError,
  FinishReasonError,
  LlmError,
  NoDeploymentAvailableError,
  QuotaExceededError,
  RateLimitError,
  RequestValidationError,
  ResponseTooLargeError,
  StoreError,
  ResumableStreamError,
  StructuredOutputError,
  UnexpectedResponseError,
  sendSse,
  stream,
  ServerError,
  StreamCutError,
  StreamParseError,
  TimeoutError,
  ToolCallError,
  type Chunk,
} from '../../src';
import { errorFrame, errorFromFrame, fetchSse } from '../../src/browser';
import { hideAddresses } from '../../src/serve/errorFrame';
import { scriptToChunks } from '../../src/testing';
import { collect } from '../helpers/collect';

const KEY = 'sk-test-frame-secret-0123456789abcdef';

const cases: [string, LlmError][] = [
  [
    'StreamParseError',
    new StreamParseError('invalid-json', 'The provider sent an event that is not JSON.', '{bad'),
  ],
  [
    'RateLimitError',
    new RateLimitError({
      status: 429,
      message: 'slow down',
      code: 'rate_limit_exceeded',
      headers: { 'retry-after-ms': '1500' },
    }),
  ],
  ['AuthenticationError', new AuthenticationError({ status: 401, message: 'bad key' })],
  ['BadRequestError', new BadRequestError({ status: 400, message: 'no such model' })],
  ['ServerError', new ServerError({ status: 503, message: 'down' })],
  ['ApiError', new ApiError({ status: 418, message: 'teapot' })],
  ['StreamCutError', new StreamCutError('cut short')],
  ['ConnectionError', new ConnectionError('reset')],
  ['TimeoutError', new TimeoutError('idle', 1234)],
  ['FinishReasonError', new FinishReasonError('length', 0)],
  [
    'RequestValidationError',
    new RequestValidationError('Invalid chat request: messages', [
      { path: ['messages'], message: 'required' },
    ]),
  ],
  [
    'ToolCallError',
    new ToolCallError({
      reason: 'invalid-json',
      toolName: 'get_weather',
      toolCallId: 'call_1',
      choiceIndex: 0,
      arguments: '{',
    }),
  ],
  [
    'QuotaExceededError',
    new QuotaExceededError({
      status: 429,
      message: 'You exceeded your current quota.',
      code: 'insufficient_quota',
    }),
  ],
  [
    'UnexpectedResponseError',
    new UnexpectedResponseError({
      status: 200,
      contentType: 'text/html',
      excerpt: '<html>',
      message: 'HTML, not SSE',
    }),
  ],
  ['ResponseTooLargeError', new ResponseTooLargeError(1024)],
  ['NoDeploymentAvailableError', new NoDeploymentAvailableError('fast', 6_000, 1_000)],
  ['BudgetExceededError', new BudgetExceededError(0.2, 0.1, 3_600_000)],
  ['StoreError', new StoreError('budget', 'Redis did not answer within 2000 ms.')],
  ['ResumableStreamError', new ResumableStreamError('too-large', 'abc')],
  [
    'StructuredOutputError',
    new StructuredOutputError({ reason: 'invalid-json', message: 'not JSON at 3', text: '{"a', position: 3 }),
  ],
];

describe('errorFrame / errorFromFrame', () => {
  it.each(cases)('rebuilds %s with the same class, message and retryable', (name, error) => {
    const rebuilt = errorFromFrame(JSON.parse(JSON.stringify(errorFrame(error))));
    expect(rebuilt.constructor.name).toBe(name);
    expect(rebuilt).toBeInstanceOf(error.constructor as new () => LlmError);
    expect(rebuilt.message).toBe(error.message);
    expect(rebuilt.retryable).toBe(error.retryable);
    if (error instanceof ApiError) {
      expect((rebuilt as ApiError).status).toBe(error.status);
      expect((rebuilt as ApiError).retryAfterMs).toBe(error.retryAfterMs);
    }
    if (error instanceof StreamParseError) expect((rebuilt as StreamParseError).type).toBe(error.type);
    if (error instanceof TimeoutError) expect((rebuilt as TimeoutError).timeout).toBe('idle');
    if (error instanceof NoDeploymentAvailableError)
      expect((rebuilt as NoDeploymentAvailableError).retryAfterMs).toBe(5_000);
    if (error instanceof BudgetExceededError)
      expect([(rebuilt as BudgetExceededError).spent, (rebuilt as BudgetExceededError).maxCost]).toEqual([
        0.2, 0.1,
      ]);
    if (error instanceof StoreError) expect((rebuilt as StoreError).store).toBe('budget');
    if (error instanceof ResumableStreamError)
      expect([(rebuilt as ResumableStreamError).reason, (rebuilt as ResumableStreamError).streamId]).toEqual([
        'too-large',
        'abc',
      ]);
    if (error instanceof StructuredOutputError) {
      expect((rebuilt as StructuredOutputError).reason).toBe('invalid-json');
      expect((rebuilt as StructuredOutputError).position).toBe(3);
    }
    if (error instanceof UnexpectedResponseError)
      expect((rebuilt as UnexpectedResponseError).contentType).toBe('text/html');
    if (error instanceof ResponseTooLargeError) expect((rebuilt as ResponseTooLargeError).limit).toBe(1024);
  });

  it('keeps a server-side retryable verdict that differs from the class default', () => {
    const error = new ServerError({ status: 500, message: 'x', headers: { 'x-should-retry': 'false' } });
    expect(error.retryable).toBe(false);
    expect(errorFromFrame(errorFrame(error)).retryable).toBe(false);
  });

  it('sends a non-rxllm error as a 500 server_error without its stack or secrets', () => {
    const frame = errorFrame(new Error(`db down for ${KEY}`));
    expect(frame.error).toMatchObject({ type: 'server_error', status: 500, retryable: true });
    expect(JSON.stringify(frame)).not.toContain(KEY.slice(0, 16));
    expect(JSON.stringify(frame)).not.toContain('at ');
    expect(errorFromFrame(frame)).toBeInstanceOf(ServerError);
  });
});

describe('error frames carry no upstream address', () => {
  it.each([
    [
      'connect ECONNREFUSED 127.0.0.1:11434. Retrying may help.',
      'connect ECONNREFUSED [address hidden]. Retrying may help.',
    ],
    ['connect ECONNREFUSED ::1:11434', 'connect ECONNREFUSED [address hidden]'],
    [
      'Connect Timeout Error (attempted address: ollama.internal:11434, timeout: 10000ms)',
      'Connect Timeout Error (attempted address: [address hidden], timeout: 10000ms)',
    ],
    ['getaddrinfo ENOTFOUND ollama.internal', 'getaddrinfo ENOTFOUND [host hidden]'],
    ['getaddrinfo EAI_AGAIN llm-backend', 'getaddrinfo EAI_AGAIN [host hidden]'],
    ['See http://10.0.0.5:8000/v1/chat/completions.', 'See [URL hidden].'],
    ['request to https://[fd00::1]:8443/v1 failed', 'request to [URL hidden] failed'],
    ['at [fd00::1]:8443 and fe80::1%eth0', 'at [address hidden] and [address hidden]'],
    ['2001:db8:0:0:0:0:0:1 is down', '[address hidden] is down'],
    ['localhost:8000 refused', '[address hidden] refused'],
    [
      "Hostname/IP does not match certificate's altnames: Host: api.internal. is not in the cert's altnames: DNS:*.corp.example",
      "Hostname/IP does not match certificate's altnames: Host: [host hidden]. is not in the cert's altnames: DNS:[host hidden]",
    ],
  ])('hides the address in %p', (text, hidden) => {
    expect(hideAddresses(text)).toBe(hidden);
  });

  it.each([
    'HTTP 404: The model `gpt-4.1` does not exist (request id req_123).',
    'model ollama/llama3.2:3b and qwen2.5:14b are not pulled',
    'back at 2024-01-01T10:30:00.000Z; std::string; 10:30:00; ratio 3:2',
    'The ws subprotocol rxllm.v1 is required.',
  ])('leaves %p as it is (no address in it)', (text) => {
    expect(hideAddresses(text)).toBe(text);
  });

  it('keeps the class, retryable and the useful part of the message; the excerpt is cleaned too', () => {
    const error = new ConnectionError(
      'The connection failed before a response arrived (ECONNREFUSED): connect ECONNREFUSED 127.0.0.1:11434. Retrying may help.',
    );
    const rebuilt = errorFromFrame(JSON.parse(JSON.stringify(errorFrame(error))));
    expect(rebuilt).toBeInstanceOf(ConnectionError);
    expect(rebuilt.retryable).toBe(true);
    expect(rebuilt.message).toBe(
      'The connection failed before a response arrived (ECONNREFUSED): connect ECONNREFUSED [address hidden]. Retrying may help.',
    );
    const parse = errorFrame(new StreamParseError('invalid-json', 'bad', '{"url":"http://10.1.2.3/x"'));
    expect(JSON.stringify(parse)).not.toContain('10.1.2.3');
  });
});

describe('sendSse → fetchSse keeps the error class (issue 9)', () => {
  let server: http.Server;
  let url: string;
  let failWith: LlmError;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      void sendSse(
        res,
        new Observable<Chunk>((s) => {
          s.next(scriptToChunks('before the error')[1]);
          s.error(failWith);
        }),
        { heartbeatMs: 0 },
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('a non-retryable StreamParseError arrives as a non-retryable StreamParseError with the same message', async () => {
    failWith = new StreamParseError('invalid-event', 'Could not handle a stream event: boom', '');
    const { values, error } = await collect(fetchSse(url));
    expect(values).toHaveLength(1);
    expect(error).toBeInstanceOf(StreamParseError);
    expect(error).not.toBeInstanceOf(ServerError);
    expect((error as StreamParseError).message).toBe('Could not handle a stream event: boom');
    expect((error as StreamParseError).retryable).toBe(false);
    expect((error as StreamParseError).type).toBe('invalid-event');
  });

  it('a TimeoutError arrives as a retryable TimeoutError', async () => {
    failWith = new TimeoutError('firstChunk', 50);
    const { error } = await collect(fetchSse(url));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).retryable).toBe(true);
    expect((error as TimeoutError).message).toBe(failWith.message);
  });
});

describe('rxllm as the client of an rxllm server (compat provider)', () => {
  it('rebuilds the class from the frame instead of guessing from the in-band table', async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      void sendSse(
        res,
        new Observable<Chunk>((s) => {
          s.next(scriptToChunks('x')[1]);
          s.error(new StreamParseError('invalid-json', 'The provider sent an event that is not JSON.', ''));
        }),
        { heartbeatMs: 0 },
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const { values, error } = await collect(
      stream({ model: 'compat/x', messages: [{ role: 'user', content: 'hi' }] }, { baseURL }),
    );
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    expect(values).toHaveLength(1);
    expect(error).toBeInstanceOf(StreamParseError);
    expect((error as StreamParseError).retryable).toBe(false);
    expect((error as StreamParseError).message).toBe('The provider sent an event that is not JSON.');
  });
});
