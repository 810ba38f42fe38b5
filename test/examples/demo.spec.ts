/**
 * `npm run demo` as a user pipes it (`npm run demo | less`, a CI log): it exits 0, prints no ANSI
 * escapes and no JSON-escaped newlines, numbers every section to the last, shows the batch's
 * progress bar, and points at examples/sections/. Colour itself is decided by `useColor`.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { SECTIONS } from '../../examples/demo';
import { useColor } from '../../examples/sections/style';

const root = path.join(__dirname, '..', '..');

describe('npm run demo, piped', () => {
  let run: ReturnType<typeof spawnSync>;
  let out: string;
  beforeAll(() => {
    // No NO_COLOR: the output is plain because it is piped.
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NO_COLOR;
    run = spawnSync(
      process.execPath,
      [path.join(root, 'node_modules/tsx/dist/cli.mjs'), 'examples/demo.ts'],
      {
        cwd: root,
        env,
        encoding: 'utf8',
        timeout: 90_000,
      },
    );
    out = String(run.stdout);
  }, 100_000);

  it('exits 0 with nothing on stderr', () => {
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('prints no ANSI escape and no JSON-escaped newline', () => {
    expect(out).not.toContain('\x1b');
    expect(out).not.toContain('\\n');
    expect(out).not.toContain('\r');
  });

  it('numbers every section, in order, to the last, each with its file', () => {
    const headings = [...out.matchAll(/^(\d+)\. (.+?) {2}examples\/sections\/(\w+\.ts)$/gm)];
    expect(headings.map((m) => Number(m[1]))).toEqual(SECTIONS.map((_, i) => i + 1));
    expect(headings.map((m) => m[3])).toEqual(SECTIONS.map((s) => s.file));
    expect(SECTIONS.length).toBe(6);
  });

  it('shows the poem line by line and the batch progress bar at its end', () => {
    expect(out).toContain('   床前明月光，\n   疑是地上霜。\n');
    expect(out).toMatch(/^ {3}\[█{30}\] 100\/100 done, 0 in flight, \d+ retries$/m);
    expect(out).toMatch(/results\s+100 ok, 0 failed/);
  });

  it('ends pointing at examples/sections/ and the gateway', () => {
    const tail = out.slice(out.lastIndexOf('6. '));
    expect(tail).toContain('Each section above is a file in examples/sections/');
    expect(tail).toContain('npm run cli -- serve');
  });
});

describe('useColor', () => {
  it('colours a terminal only, and never when NO_COLOR is set to something', () => {
    expect(useColor({ isTTY: true }, {})).toBe(true);
    expect(useColor({ isTTY: false }, {})).toBe(false);
    expect(useColor({}, {})).toBe(false);
    expect(useColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    // https://no-color.org: an empty NO_COLOR does not count.
    expect(useColor({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
  });
});
