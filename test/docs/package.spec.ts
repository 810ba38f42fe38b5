/**
 * What the published package carries besides the build: the licence, the changelog and the README
 * (`files` in package.json), and where to find the project (repository, homepage, bugs).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/docSnippets';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, any>;

describe('the package', () => {
  it('packs LICENSE, CHANGELOG.md and README.md (npm pack --dry-run)', () => {
    // --ignore-scripts: the file list without building (prepack runs the whole build).
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const files = (JSON.parse(out) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'CHANGELOG.md', 'README.md', 'package.json']));
    expect(files.filter((f) => f.startsWith('docs/') || f.startsWith('test/'))).toEqual([]);
  }, 60_000);

  it('says MIT, and the LICENSE file is the MIT licence of the rxllm contributors', () => {
    expect(pkg.license).toBe('MIT');
    const license = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 rxllm contributors\n/);
    expect(license).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND');
  });

  it('names its home: repository, homepage, bugs and keywords', () => {
    expect(pkg.repository).toEqual({ type: 'git', url: 'git+https://github.com/rxllm/rxllm.git' });
    expect(pkg.homepage).toBe('https://github.com/rxllm/rxllm#readme');
    expect(pkg.bugs).toEqual({ url: 'https://github.com/rxllm/rxllm/issues' });
    expect(pkg.keywords).toEqual(expect.arrayContaining(['llm', 'rxjs', 'streaming']));
  });

  it('has a changelog in Keep a Changelog form with an Unreleased section', () => {
    const changelog = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8');
    expect(changelog).toContain('[Keep a Changelog](https://keepachangelog.com/');
    expect(changelog).toMatch(/^## \[Unreleased\]$/m);
    expect(changelog).toMatch(/^- \*\*Breaking:\*\* The zod schemas moved from `rxllm` to `rxllm\/schemas`/m);
  });
});
