/**
 * Mock servers for one spec file, each closed after the test that started it: `const server =
 * mockServers();` at the top of a file, then `await server({ ... })` in a test.
 */
import { createMockServer, type MockServer } from 'rxllm/testing';

export function mockServers(): (options?: Parameters<typeof createMockServer>[0]) => Promise<MockServer> {
  const servers: MockServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return async (options = {}) => {
    const s = await createMockServer(options);
    servers.push(s);
    return s;
  };
}
