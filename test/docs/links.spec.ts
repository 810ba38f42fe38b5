/**
 * Links between the README, docs/ and the changelog resolve: the file exists and, for `#anchor`,
 * the page has a heading with that GitHub slug. (Links to other sites are not fetched: tests touch
 * no network.)
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { markdownFiles, ROOT } from '../helpers/docSnippets';

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchors(file: string): Set<string> {
  const text = readFileSync(join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1])));
}

describe('markdown links', () => {
  it('slugs headings as GitHub does', () => {
    expect(slug('Shared limits on Redis (`rxllm/redis`)')).toBe('shared-limits-on-redis-rxllmredis');
    expect(slug('Routing, fallbacks and cost')).toBe('routing-fallbacks-and-cost');
  });

  const files = [...markdownFiles(), 'CHANGELOG.md'];
  it.each(files)('every relative link of %s resolves', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target)) continue;
      const [path, anchor] = target.split('#');
      const resolved = path ? join(dirname(file), path) : file;
      if (!existsSync(join(ROOT, resolved))) broken.push(`${target} (no ${resolved})`);
      else if (anchor !== undefined && resolved.endsWith('.md') && !anchors(resolved).has(anchor))
        broken.push(`${target} (no heading #${anchor} in ${resolved})`);
    }
    expect(broken).toEqual([]);
  });
});
