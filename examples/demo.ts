/**
 * `npm run demo`: rxllm end to end on the built-in mock server — no API key, no network.
 */
import { demoBasics } from './sections/basics';
import { demoToolCall } from './sections/toolCall';
import { demoBatch } from './sections/batch';
import { demoRouter } from './sections/router';
import { demoWireFormats } from './sections/wireFormats';
import { demoToolLoop } from './sections/toolLoop';

async function main(): Promise<void> {
  console.log('rxllm demo — every call below is a real HTTP stream from a mock server on 127.0.0.1\n');
  await demoBasics();
  await demoToolCall();
  await demoToolLoop();
  await demoBatch();
  await demoRouter();
  await demoWireFormats();
  console.log(
    '\nNext: run `npx rxllm serve` and open http://127.0.0.1:8787/ for a chat page (the mock model, no key).',
  );
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  process.exitCode = 1;
});
