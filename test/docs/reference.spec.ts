/**
 * The reference pages of docs/ hold what the code says: the defaults table is the exported
 * `*_DEFAULTS` values rendered (rewrite it with `UPDATE_DOCS=1 npx jest test/docs/reference.spec.ts`),
 * and the errors page has a row for every exported error class.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as core from 'rxllm';
import { DEFAULTS_END, DEFAULTS_START, defaultsExports, defaultsTable } from '../helpers/defaultsTable';
import { ROOT } from '../helpers/docSnippets';

const read = (page: string) => readFileSync(join(ROOT, 'docs', page), 'utf8');

describe('docs/reference.md: the defaults table', () => {
  it('lists every exported *_DEFAULTS const with its values', () => {
    const page = read('reference.md');
    const start = page.indexOf(DEFAULTS_START);
    const end = page.indexOf(DEFAULTS_END);
    expect(start).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(start);
    const current = page.slice(start, end + DEFAULTS_END.length);
    if (process.env.UPDATE_DOCS && current !== defaultsTable())
      writeFileSync(join(ROOT, 'docs', 'reference.md'), page.replace(current, defaultsTable()));
    else expect(current).toBe(defaultsTable());
  });

  it('renders real values (a known default shows up as the code has it)', () => {
    expect(defaultsExports().length).toBeGreaterThanOrEqual(30);
    expect(defaultsTable()).toContain(
      '| `TRANSPORT_TIMEOUT_DEFAULTS` | `rxllm` | `connect: 10_000, headers: 600_000, body: 300_000, idle: 300_000` |',
    );
  });
});

describe('docs/errors.md: the classes table', () => {
  it('has a row for every error class rxllm exports', () => {
    const page = read('errors.md');
    const classes = Object.entries(core)
      .filter(
        ([, v]) => typeof v === 'function' && (v === core.LlmError || v.prototype instanceof core.LlmError),
      )
      .map(([name]) => name);
    expect(classes.length).toBeGreaterThanOrEqual(20);
    expect(classes.filter((name) => !page.includes(`| \`${name}\` |`))).toEqual([]);
  });
});
