/**
 * The import boundaries `npm run lint:deps` checks (.dependency-cruiser.cjs; docs/ARCHITECTURE.md, "Boundaries")
 * catch what they promise to. `lint:deps` passing on the project proves only that nothing breaks a rule; a rule
 * whose path pattern had gone stale would pass too. So this runs dependency-cruiser with the project's own
 * config over a small tree laid out like the project, where each rule is broken once and each exception is used
 * once, and expects exactly those violations: every rule fires, and no allowed import is reported.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { root } from './support/packaged.js';

const run = promisify(execFile);

/** The tree: file → its imports. Comments say which rule a file breaks, or which exception it uses. */
const TREE: Record<string, string[]> = {
  // a cycle between two domain modules (no-circular, reported once)
  'shared/domain/a.ts': ['./b.js'],
  'shared/domain/b.ts': ['./a.js'],
  // the domain may import the domain, zod and csv-parse
  'shared/domain/pure.ts': ['./ok.js', 'zod', 'csv-parse/sync'],
  'shared/domain/ok.ts': [],
  // domain-no-node
  'shared/domain/io.ts': ['node:fs'],
  // domain-is-pure: the domain importing the ports
  'shared/domain/impure.ts': ['../ports.js'],
  'shared/ports.ts': ['./domain/ok.js'],
  'shared/deps.ts': ['./ports.js'],
  // use-cases-no-adapters: an adapter and an SDK
  'shared/use-cases/use.ts': ['../ports.js', '../adapters/aws/s3.js', '@aws-sdk/client-s3'],
  'shared/use-cases/fine.ts': ['../ports.js', '../domain/ok.js'],
  'shared/adapters/aws/s3.ts': ['../../ports.js'],
  'shared/adapters/local/duckdb.ts': ['@duckdb/node-api'],
  'shared/adapters/local/local-bus.ts': [],
  'shared/events/parse.ts': ['zod'],
  // handlers-never-reach-local: the handler reaches DuckDB through the AWS composition root
  'services/alpha/handler.ts': ['./alpha.js'],
  'services/alpha/alpha.ts': ['../../shared/composition/aws.js', '../../shared/use-cases/fine.js', '../../shared/events/parse.js', '../../shared/deps.js'],
  'shared/composition/aws.ts': ['../adapters/aws/s3.js', '../adapters/local/duckdb.js'],
  // services-thin: a service importing an adapter itself
  'services/beta/beta.ts': ['../../shared/adapters/aws/s3.js'],
  // cli-through-ports: the CLI importing an adapter and DuckDB; the local bus and the sample lake are allowed
  'shared/local/cli.ts': ['../adapters/local/duckdb.js', '@duckdb/node-api', '../adapters/local/local-bus.js', './sample-lake.js'],
  'shared/local/sample-lake.ts': ['@duckdb/node-api'],
  'shared/local/run-local.ts': [],
  // composition-not-cli
  'shared/composition/local.ts': ['../local/run-local.js', '../adapters/local/duckdb.js'],
};

/** Exactly what the project's rules must report on TREE: `rule from → to`. */
const EXPECTED = [
  'no-circular shared/domain/a.ts → shared/domain/b.ts',
  'domain-no-node shared/domain/io.ts → fs',
  'domain-is-pure shared/domain/impure.ts → shared/ports.ts',
  'use-cases-no-adapters shared/use-cases/use.ts → shared/adapters/aws/s3.ts',
  'use-cases-no-adapters shared/use-cases/use.ts → node_modules/@aws-sdk/client-s3',
  'handlers-never-reach-local services/alpha/handler.ts → shared/adapters/local/duckdb.ts',
  'handlers-never-reach-local services/alpha/handler.ts → node_modules/@duckdb/node-api',
  'services-thin services/beta/beta.ts → shared/adapters/aws/s3.ts',
  'cli-through-ports shared/local/cli.ts → shared/adapters/local/duckdb.ts',
  'cli-through-ports shared/local/cli.ts → node_modules/@duckdb/node-api',
  'composition-not-cli shared/composition/local.ts → shared/local/run-local.ts',
];

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** A resolved node_modules path shortened to its package (`node_modules/@aws-sdk/client-s3/dist-cjs/index.js` → `node_modules/@aws-sdk/client-s3`). */
const short = (to: string) => to.replace(/^(node_modules\/(?:@[^/]+\/)?[^/]+).*$/, '$1');

test('every boundary rule reports its breach and nothing else', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'boundaries-'));
  for (const [file, imports] of Object.entries(TREE)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    const lines = imports.map((spec, i) => `import * as m${i} from '${spec}';\nexport const u${i} = m${i};`);
    writeFileSync(path.join(dir, file), `${lines.join('\n')}\nexport const here = '${file}';\n`);
  }
  // the project's rules as they are; node_modules is a link here, so it is resolved without following it
  writeFileSync(
    path.join(dir, '.dependency-cruiser.cjs'),
    `const c = require(${JSON.stringify(path.join(root, '.dependency-cruiser.cjs'))});\nmodule.exports = { ...c, options: { ...c.options, preserveSymlinks: true } };\n`,
  );
  copyFileSync(path.join(root, 'tsconfig.json'), path.join(dir, 'tsconfig.json'));
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');

  const bin = path.join(root, 'node_modules', '.bin', 'depcruise');
  const result = await run(bin, ['shared', 'services', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], {
    cwd: dir,
    maxBuffer: 64 * 1024 * 1024,
  }).catch((err: { stdout?: string; stderr?: string; code?: number }) => {
    // depcruise exits with the number of errors; its JSON is on stdout either way
    if (!err.stdout) throw new Error(`depcruise did not run: ${err.stderr ?? String(err)}`);
    return { stdout: err.stdout };
  });
  const violations = (JSON.parse(result.stdout) as { summary: { violations: Violation[] } }).summary.violations;
  const found = violations.map((v) => `${v.rule.name} ${v.from} → ${short(v.to)}`).sort();
  expect(found).toEqual([...EXPECTED].sort());
});
