/**
 * `npm run demo`: rxllm end to end on the built-in mock server — no API key, no network. Each
 * numbered section is one file of examples/sections/, which also runs alone
 * (`npx tsx examples/sections/batch.ts`).
 */
import { demoBasics } from './sections/basics';
import { demoBatch } from './sections/batch';
import { demoRouter } from './sections/router';
import { bold, heading, quietOnClosedPipe } from './sections/style';
import { demoToolCall } from './sections/toolCall';
import { demoToolLoop } from './sections/toolLoop';
import { demoWireFormats } from './sections/wireFormats';

/** The sections, in order: a title, its file in examples/sections/, and the function it exports. */
export const SECTIONS: { title: string; file: string; run: () => Promise<unknown> }[] = [
  { title: 'Streaming a poem, chunk by chunk', file: 'basics.ts', run: demoBasics },
  { title: 'A streamed tool call, validated or refused', file: 'toolCall.ts', run: demoToolCall },
  {
    title: 'A tool-calling loop: two calls in parallel, then the answer',
    file: 'toolLoop.ts',
    run: demoToolLoop,
  },
  { title: 'A batch of 100 requests with retries', file: 'batch.ts', run: demoBatch },
  { title: 'A router with a fallback, a cooldown and costs', file: 'router.ts', run: demoRouter },
  { title: 'One pipeline over six wire formats', file: 'wireFormats.ts', run: () => demoWireFormats() },
];

async function main(): Promise<void> {
  console.log(bold('rxllm demo — every call below is a real HTTP stream from a mock server on 127.0.0.1'));
  for (const [i, section] of SECTIONS.entries()) {
    console.log(`\n${heading(i + 1, section.title, section.file)}`);
    await section.run();
  }
  console.log(
    [
      '',
      'Each section above is a file in examples/sections/: read it, or run one alone with',
      '`npx tsx examples/sections/<file>.ts`.',
      'Next: `npm run cli -- serve` (`npx rxllm serve` where rxllm is installed) and open http://127.0.0.1:8787/',
      'for a chat page on the mock model (no key).',
    ].join('\n'),
  );
}

// Run, unless imported (the demo's test reads SECTIONS).
if (require.main === module) {
  quietOnClosedPipe();
  main().catch((error: unknown) => {
    console.error(
      `demo failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    );
    process.exitCode = 1;
  });
}
