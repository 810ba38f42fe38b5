import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import {
  batchExitCode,
  CLI_BAD_INPUT,
  CLI_BROKEN_PIPE,
  CLI_INTERRUPTED,
  CLI_REQUESTS_FAILED,
  CLI_TERMINATED,
  exitOnBrokenPipe,
  flushed,
  integerFlag,
  interruptedExitCode,
  isBrokenPipe,
  parseCliArgs,
  parseCommandArgs,
  stopOnSignals,
  usageError,
} from '../../src/cli/io';
import { cliIO } from '../helpers/cliIO';

describe('cli/io', () => {
  it('stopOnSignals aborts on the first SIGINT or SIGTERM with its name, then listens to neither', () => {
    for (const first of ['SIGINT', 'SIGTERM'] as const) {
      const target = new EventEmitter();
      const stop = new AbortController();
      stopOnSignals(target, stop);
      expect(target.listenerCount('SIGINT') + target.listenerCount('SIGTERM')).toBe(2);
      target.emit(first);
      expect(stop.signal.reason).toBe(first);
      // No listener left: Node's default for the next signal of either kind ends the process.
      expect(target.listenerCount('SIGINT') + target.listenerCount('SIGTERM')).toBe(0);
      expect(interruptedExitCode(stop.signal)).toBe(first === 'SIGTERM' ? CLI_TERMINATED : CLI_INTERRUPTED);
    }
    expect([CLI_INTERRUPTED, CLI_TERMINATED]).toEqual([128 + 2, 128 + 15]);
    expect(interruptedExitCode(AbortSignal.abort())).toBe(CLI_INTERRUPTED); // a caller's own abort
    expect(interruptedExitCode(undefined)).toBe(CLI_INTERRUPTED);
  });

  const options = { port: { type: 'string', short: 'p' }, model: { type: 'string', short: 'm' } } as const;

  it('parseCommandArgs answers --help (0, help on stdout) and a flag error (2, the message on stderr), else the flags', () => {
    const withHelp = { ...options, help: { type: 'boolean', short: 'h' } } as const;
    const help = cliIO();
    expect(parseCommandArgs('rxllm x', 'HELP TEXT', help.io, { args: ['-h'], options: withHelp })).toBe(0);
    expect(help.out()).toBe('HELP TEXT\n');
    const bad = cliIO();
    expect(parseCommandArgs('rxllm x', 'HELP TEXT', bad.io, { args: ['--nope'], options: withHelp })).toBe(2);
    expect(bad.err()).toMatch(/^rxllm x: .*--nope/);
    expect(bad.out()).toBe('');
    const good = cliIO();
    const parsed = parseCommandArgs('rxllm x', 'HELP', good.io, { args: ['-p', '-1'], options: withHelp }, [
      'port',
    ]);
    expect(typeof parsed === 'number' ? parsed : parsed.values.port).toBe('-1');
    const usage = cliIO();
    expect(usageError(usage.io, 'rxllm x', 'HELP', 'give a file')).toBe(2);
    expect(usage.err()).toBe('rxllm x: give a file\nHELP\n');
  });

  it('parseCliArgs joins a negative number to its numeric flag, long or short', () => {
    expect(parseCliArgs({ args: ['--port', '-1'], options }, ['port']).values.port).toBe('-1');
    expect(parseCliArgs({ args: ['-p', '-1.5'], options }, ['port']).values.port).toBe('-1.5');
    expect(parseCliArgs({ args: ['--port=-2'], options }, ['port']).values.port).toBe('-2');
  });

  it('parseCliArgs leaves other flags, non-numbers and everything after -- as parseArgs has them', () => {
    expect(() => parseCliArgs({ args: ['--model', '-5'], options }, ['port'])).toThrow(/ambiguous/);
    expect(() => parseCliArgs({ args: ['--port', '-m', 'x'], options }, ['port'])).toThrow(/ambiguous/);
    const after = parseCliArgs({ args: ['--', '--port', '-1'], options, allowPositionals: true }, ['port']);
    expect(after.positionals).toEqual(['--port', '-1']);
    expect(after.values.port).toBeUndefined();
  });

  it.each([
    ['0', 0, 0],
    ['42', 1, 42],
    ['007', 1, 7],
    ['65535', 0, 65535],
  ])('integerFlag(%p, min %p) is %p', (raw, min, value) => {
    expect(integerFlag(raw, min, 65535)).toBe(value);
  });

  it.each(['', ' 5', '-1', '1e3', '0x10', '5.0', '65536', 'NaN', '99999999999999999999'])(
    'integerFlag(%p) is not a number in [0, 65535]',
    (raw) => {
      expect(integerFlag(raw, 0, 65535)).toBeUndefined();
    },
  );

  it('exitOnBrokenPipe exits 141 on EPIPE and rethrows any other error', () => {
    const stream = new EventEmitter();
    const exit = jest.fn();
    exitOnBrokenPipe(stream, exit);
    stream.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    expect(exit).toHaveBeenCalledWith(CLI_BROKEN_PIPE);
    expect(() => stream.emit('error', Object.assign(new Error('nope'), { code: 'EIO' }))).toThrow('nope');
    expect(exit).toHaveBeenCalledTimes(1);
  });

  it('isBrokenPipe and flushed tell a destroyed stream from a working one', async () => {
    const open = new PassThrough();
    open.resume();
    open.write('x');
    expect(isBrokenPipe(open)).toBe(false);
    await expect(flushed(open)).resolves.toBe(false);
    const gone = new PassThrough();
    gone.on('error', () => undefined);
    gone.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    expect(isBrokenPipe(gone)).toBe(true);
    await expect(flushed(gone)).resolves.toBe(true);
    // A plain object (tests) has no write callbacks: flushed at once.
    await expect(flushed({ write: () => true })).resolves.toBe(false);
  });
});

describe('batchExitCode', () => {
  it('is 0 when all went well, 1 for failed requests, and 3 for bad lines, which wins', () => {
    expect(batchExitCode(0, 0)).toBe(0);
    expect(batchExitCode(0, 2)).toBe(CLI_REQUESTS_FAILED);
    expect(batchExitCode(1, 0)).toBe(CLI_BAD_INPUT);
    expect(batchExitCode(1, 2)).toBe(CLI_BAD_INPUT);
  });
});
