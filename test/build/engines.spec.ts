import fs from 'node:fs';
import path from 'node:path';

// semver ships no types of its own (jest and ts-jest depend on it); only these two functions are used.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const semver = require('semver') as {
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
};

const root = path.resolve(__dirname, '../..');
const read = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));
const pkg = read(path.join(root, 'package.json'));

describe('engines.node', () => {
  it('is a range with a lowest version', () => {
    expect(semver.minVersion(pkg.engines.node)).not.toBeNull();
  });

  // undici 7 needs >= 20.18.1: rxllm promising 20.18.0 would install and then fail in undici.
  const required = Object.keys(pkg.dependencies as Record<string, string>)
    .map((dependency): [string, string | undefined] => [
      dependency,
      read(path.join(root, 'node_modules', dependency, 'package.json')).engines?.node,
    ])
    .filter((entry): entry is [string, string] => entry[1] !== undefined);

  it('covers the dependencies that state a Node version', () => {
    expect(required.map(([dependency]) => dependency)).toContain('undici');
  });

  it.each(required)('its lowest version satisfies what %s requires (%s)', (_dependency, range) => {
    const lowest = semver.minVersion(pkg.engines.node)!.version;
    expect(semver.satisfies(lowest, range)).toBe(true);
  });
});
