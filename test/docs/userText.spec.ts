/**
 * Text users read names no tracker entry ("issue 9", "issues 9–15"): it means nothing outside the
 * project's history. Users read the README, docs/, the changelog, TSDoc (the API docs and editor
 * hovers), the CLI's output and the gateway's page.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { markdownFiles, ROOT } from '../helpers/docSnippets';

const ISSUE_NUMBER = /\bissues?\s*#?\d+/gi;

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? files(join(dir, e.name), ext) : ext.test(e.name) ? [join(dir, e.name)] : [],
    )
    .sort();
}

/** Every match of ISSUE_NUMBER in `text`, as `file:line: match`. */
function hits(file: string, text: string, offset = 0): string[] {
  return [...text.matchAll(ISSUE_NUMBER)].map(
    (m) => `${file}:${text.slice(0, m.index).split('\n').length + offset}: ${m[0]}`,
  );
}

describe('user-facing text names no issue number', () => {
  it('finds "issue 9" and "issues 9–15" (the pattern works)', () => {
    expect(hits('x', 'as issue 9 said; re-run after issues 9–15; see Issue #12')).toEqual([
      'x:1: issue 9',
      'x:1: issues 9',
      'x:1: Issue #12',
    ]);
    expect(hits('x', 'no issue here; 9 issues')).toEqual([]);
  });

  it('README.md, docs/*.md and CHANGELOG.md', () => {
    const found = [...markdownFiles(), 'CHANGELOG.md'].flatMap((f) =>
      hits(f, readFileSync(join(ROOT, f), 'utf8')),
    );
    expect(found).toEqual([]);
  });

  it('TSDoc comments of src/ and operators/', () => {
    const found = files('src', /\.ts$/)
      .concat(files('operators', /\.ts$/))
      .flatMap((f) => {
        const text = readFileSync(join(ROOT, f), 'utf8');
        return [...text.matchAll(/\/\*\*[\s\S]*?\*\//g)].flatMap((c) =>
          hits(relative(ROOT, join(ROOT, f)), c[0], text.slice(0, c.index).split('\n').length - 1),
        );
      });
    expect(found).toEqual([]);
  });

  it("the CLI's sources and the gateway page's files", () => {
    const found = files('src/cli', /\.ts$/)
      .concat(files('src/serve/page', /./))
      .flatMap((f) => hits(f, readFileSync(join(ROOT, f), 'utf8')));
    expect(found).toEqual([]);
  });
});
