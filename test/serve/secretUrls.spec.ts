/**
 * A Redis URL with a password that is refused (`--redis`, `--queue`): the error names the problem,
 * never the password, whatever the URL looks like (a `/` in the password, a scheme typo, a URL the
 * parser rejects and quotes back).
 */
import { inspect } from 'node:util';
import { openQueue } from '../../src/bullmq/connect';
import { ConfigurationError } from '../../src';
import { connectRedisStores } from '../../src/serve/redisStores';

const PASSWORD = 'pa55w0rd-XYZ-123456';
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (error: Error) => error,
  );

describe('refused Redis URLs keep their password out of errors', () => {
  it("--redis: a URL ioredis cannot parse is a ConfigurationError without the URL parser's error", async () => {
    const error = await refusal(connectRedisStores(`redis://:${PASSWORD}@[::1`));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error?.message).toMatch(/--redis is not a valid redis:\/\/ URL: "redis:\/\/\[REDACTED\]@\[::1"/);
    expect(inspect(error, { depth: 10 })).not.toContain(PASSWORD);
  });

  it.each([
    [`redis://:${PASSWORD.replace('-XYZ', '/XYZ')}@127.0.0.1:1`, 'a / in the password'],
    [`redis:/:${PASSWORD}@127.0.0.1:1`, 'a scheme typo'],
  ])('--queue %s (%s)', async (url) => {
    const error = await refusal(openQueue(url, 'q'));
    expect(error?.message).toMatch(/--queue must be a redis:\/\/ or rediss:\/\/ URL/);
    expect(inspect(error, { depth: 10 })).not.toMatch(/pa55w0rd/);
  });
});
