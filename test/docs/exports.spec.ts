/**
 * What the entry points export is documented: every exported function, class and constant is named
 * in README.md or a page of docs/ (helpers were once exported but documented nowhere), and the
 * transport's timeout defaults are the ones `TransportTimeouts` documents.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRANSPORT_TIMEOUT_DEFAULTS } from 'rxllm';
import { markdownFiles } from '../helpers/docSnippets';
import { ROOT, valueExports } from '../helpers/publicExports';

describe('exports are documented', () => {
  const docs = markdownFiles()
    .map((f) => readFileSync(join(ROOT, f), 'utf8'))
    .join('\n');
  const exports = valueExports();

  it.each(Object.entries(exports))(
    'every value export of %s is named in README.md or docs/',
    (_entry, names) => {
      expect(names.length).toBeGreaterThan(3);
      expect(names.filter((n) => !new RegExp(`\\b${n}\\b`).test(docs))).toEqual([]);
    },
  );

  it('keeps internal plumbing out of the public entry points', () => {
    const all = Object.values(exports).flat();
    for (const internal of [
      'mergeOptions',
      'splitModel',
      'extractMessage',
      'ChunkAccumulator',
      'withPartial',
    ])
      expect(all).not.toContain(internal);
  });
});

describe('TRANSPORT_TIMEOUT_DEFAULTS', () => {
  it('holds every limit TransportTimeouts documents, with the documented value', () => {
    const source = readFileSync(join(ROOT, 'src', 'options.ts'), 'utf8');
    const block = /export interface TransportTimeouts \{([\s\S]*?)\n\}/.exec(source)![1];
    const documented: Record<string, number> = {};
    for (const m of block.matchAll(/@defaultValue ([\d_]+)[\s\S]*?\*\/\s*(\w+)\?:/g))
      documented[m[2]] = Number(m[1].replace(/_/g, ''));
    expect(documented).toEqual({ connect: 10_000, headers: 600_000, body: 300_000, idle: 300_000 });
    expect(TRANSPORT_TIMEOUT_DEFAULTS).toEqual(documented);
  });
});
