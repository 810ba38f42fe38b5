import path from 'node:path';
import { entries } from '../../scripts/entries.json';

const TSLIB_HELPERS = new Set(Object.keys(jest.requireActual<Record<string, unknown>>('tslib')));

/** What a module could change by being imported: globals, process listeners, env, open handles, output. */
function observable() {
  const proc = process as unknown as { _getActiveHandles(): unknown[] };
  return {
    // zod itself keeps its registry on globalThis (`__zod_globalRegistry`): zod's doing, loaded only by
    // rxllm/schemas (and the first request validation), not rxllm's.
    // tslib's CommonJS build (required by @nestjs/common, the peer rxllm/nestjs loads) defines its
    // helpers (`__decorate`, `__awaiter`, ...) on globalThis: the peer's doing, not rxllm's.
    globals: Object.getOwnPropertyNames(globalThis)
      .filter((k) => !k.startsWith('__zod_') && !(k.startsWith('__') && TSLIB_HELPERS.has(k)))
      .sort(),
    listeners: [
      'exit',
      'beforeExit',
      'uncaughtException',
      'unhandledRejection',
      'warning',
      'SIGINT',
      'SIGTERM',
    ].map((e) => process.listenerCount(e)),
    env: { ...process.env },
    handles: proc._getActiveHandles().length,
  };
}

const root = path.resolve(__dirname, '../..');

describe('sideEffects: false holds: importing an entry point does nothing observable', () => {
  it.each(Object.entries(entries))('%s', (subpath, src) => {
    const before = observable();
    const writes = jest.spyOn(process.stdout, 'write');
    const errors = jest.spyOn(process.stderr, 'write');
    let exported: Record<string, unknown> = {};
    jest.isolateModules(() => {
      exported = jest.requireActual(path.join(root, src));
    });
    expect(observable()).toEqual(before);
    expect(writes).not.toHaveBeenCalled();
    expect(errors).not.toHaveBeenCalled();
    writes.mockRestore();
    errors.mockRestore();
    // it did load: the entry's module object is there (integration barrels may still be empty)
    expect(typeof exported).toBe('object');
    if (subpath === '.' || subpath === './operators' || subpath === './browser') {
      expect(Object.keys(exported).length).toBeGreaterThan(5);
    }
  });
});
