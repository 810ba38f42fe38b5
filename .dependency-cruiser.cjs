/**
 * The import graph's rules (STYLE.md "Layout": arrows point down). `npm run depcheck` fails on any
 * of them. Type-only imports count (`tsPreCompilationDeps`): a cycle through types is still a cycle
 * of concepts, and the next value import along it would make it a runtime one.
 * Rule syntax: https://github.com/sverweij/dependency-cruiser/blob/main/doc/rules-reference.md
 */
const INTEGRATIONS = '^src/(nestjs|redis|otel|bullmq)/';
/** The gateway's lazy Redis loader: the one core file that may import an integration, dynamically only. */
const GATEWAY_REDIS = '^src/serve/redisStores[.]ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles: move the shared part (often a type) below both files.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'providers-not-testing',
      severity: 'error',
      comment:
        'src/testing/ (the mock server) imports the providers, never the reverse: what both need sits below, in src/providers/mockWire.ts.',
      from: { path: '^src/providers/' },
      to: { path: '^src/testing/' },
    },
    {
      name: 'core-not-integrations',
      severity: 'error',
      comment: 'Integrations import the core; the core (src/, operators/) never imports an integration.',
      from: { path: '^(src|operators)/', pathNot: [INTEGRATIONS, GATEWAY_REDIS, '^src/cli/'] },
      to: { path: INTEGRATIONS },
    },
    {
      name: 'gateway-redis-lazy',
      severity: 'error',
      comment:
        'rxllm serve --redis loads the Redis stores in this one file, with a dynamic import(), only when a Redis URL is given: the core entry stays free of them.',
      from: { path: GATEWAY_REDIS },
      to: { path: INTEGRATIONS, dependencyTypesNot: ['dynamic-import'] },
    },
    {
      name: 'cli-integrations-lazy',
      severity: 'error',
      comment:
        'The CLI sits above everything and may run an integration (rxllm worker runs rxllm/bullmq), but only through import(): the other commands must start without its peers installed.',
      from: { path: '^src/cli/' },
      to: { path: INTEGRATIONS, dependencyTypesNot: ['dynamic-import', 'type-only', 'type-import'] },
    },
    {
      name: 'core-not-testing',
      severity: 'error',
      comment:
        'The core never imports src/testing/ (rxllm/testing); the mock provider lives in src/providers/mock/ for that reason.',
      from: { path: '^(src|operators)/', pathNot: ['^src/testing/', INTEGRATIONS] },
      to: { path: '^src/testing/' },
    },
    {
      name: 'request-not-providers',
      severity: 'error',
      comment: 'The request types sit below the providers (the mock fields live in src/mockRequest.ts).',
      from: { path: '^src/request[.]ts$' },
      to: { path: '^src/providers/' },
    },
    {
      name: 'cli-commands-independent',
      severity: 'error',
      comment:
        'One file per command, sharing cli/io.ts: a command file imports no other CLI file (main.ts and run.ts dispatch).',
      from: { path: '^src/cli/', pathNot: '^src/cli/(main|run|io)[.]ts$' },
      to: { path: '^src/cli/', pathNot: '^src/cli/io[.]ts$' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment:
        'An import the cruiser cannot resolve is an edge no other rule sees: fix the path or the config. The chat page imports /rxllm-browser.js, a URL the gateway serves, not a file.',
      from: { pathNot: '^src/serve/page/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};
