import fs from 'node:fs';
import path from 'node:path';

/** ../shared/fixtures beside the repository: public recordings, read in place, never copied. */
export const FIXTURES_DIR = path.resolve(__dirname, '../../../shared/fixtures');

export interface FixtureCase {
  provider: string;
  name: string;
  sse: Buffer;
  expected: {
    text: string;
    tool_calls: { id: string | null; name: string; arguments: string }[];
    finish_reason: string | null;
    usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
    refusal?: string;
    reasoning?: string;
    error?: unknown;
    stream_complete?: boolean;
    [k: string]: unknown;
  };
}

export function fixturesAvailable(): boolean {
  return fs.existsSync(FIXTURES_DIR);
}

/** Every `<provider>/<case>.sse` with its expected file. */
export function loadFixtures(provider?: string): FixtureCase[] {
  if (!fixturesAvailable()) return [];
  const out: FixtureCase[] = [];
  for (const dir of fs.readdirSync(FIXTURES_DIR).sort()) {
    if (provider && dir !== provider) continue;
    const full = path.join(FIXTURES_DIR, dir);
    if (!fs.statSync(full).isDirectory()) continue;
    for (const file of fs.readdirSync(full).sort()) {
      if (!file.endsWith('.sse')) continue;
      const name = file.slice(0, -4);
      const expectedFile = path.join(full, `${name}.expected.json`);
      if (!fs.existsSync(expectedFile)) continue;
      out.push({
        provider: dir,
        name,
        sse: fs.readFileSync(path.join(full, file)),
        expected: JSON.parse(fs.readFileSync(expectedFile, 'utf8')),
      });
    }
  }
  return out;
}
