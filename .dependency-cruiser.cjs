/**
 * Boundaries of the code (docs/ARCHITECTURE.md, "Ports, adapters and the two composition roots"), checked in
 * `npm test` (`npm run lint:deps`). Type-only imports count: a cycle through types is still a cycle.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'The domain imports only the domain and pure libraries.',
      from: { path: '^shared/domain/' },
      to: { pathNot: ['^shared/domain/', '^node_modules/(zod|csv-parse)/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'domain-no-node',
      severity: 'error',
      comment: 'The domain does no I/O: no Node built-ins.',
      from: { path: '^shared/domain/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'handlers-never-reach-local',
      severity: 'error',
      comment: 'No Lambda handler reaches the local adapters, the local CLI or DuckDB.',
      from: { path: '^services/[^/]+/handler[.]ts$' },
      to: { path: ['^shared/adapters/local/', '^shared/local/', '^shared/composition/local[.]ts$', '@duckdb'], reachable: true },
    },
    {
      name: 'use-cases-no-adapters',
      severity: 'error',
      comment: 'Use cases talk to ports, never to an adapter or a composition root.',
      from: { path: '^shared/use-cases/' },
      to: { path: ['^shared/adapters/', '^shared/composition/', '^shared/local/', '^node_modules/@aws-sdk/', '^node_modules/@duckdb/'] },
    },
    {
      name: 'services-thin',
      severity: 'error',
      comment: 'A service (services/<stage>/) imports only its own folder, the AWS composition root, use cases, events and the deps type.',
      from: { path: '^services/' },
      to: {
        pathNot: [
          '^services/',
          '^shared/composition/aws(-cleanrooms|-monitor)?[.]ts$',
          '^shared/use-cases/',
          '^shared/events/',
          '^shared/deps[.]ts$',
          '^node_modules/',
        ],
        dependencyTypesNot: ['core'],
      },
    },
    {
      name: 'cli-through-ports',
      severity: 'error',
      comment:
        'The local CLI reaches the engine only through the local composition root (its ports, the functions on the local bus, its SQL console) and use cases: ' +
        'no adapter but the local bus (routing predictions), no DuckDB except the sample-lake generator, which writes input files only.',
      from: { path: '^shared/local/', pathNot: '^shared/local/sample-lake[.]ts$' },
      to: { path: ['^shared/adapters/(?!local/local-bus[.]ts$)', '@duckdb'] },
    },
    {
      name: 'composition-not-cli',
      severity: 'error',
      comment: 'No composition root imports the local CLI (shared/local/cli.ts, run-local.ts).',
      from: { path: '^shared/composition/' },
      to: { path: '^shared/local/(cli|run-local|bin)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
