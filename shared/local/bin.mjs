#!/usr/bin/env node
// Local CLI entry. Runs the CLI esbuild built ahead into .cache/cli/ (shared/local/build-cli.mjs), rebuilt
// first whenever one of its sources changed, so `npx flywheel` always runs the current code without
// transpiling TypeScript at every start. Where it cannot be built (no esbuild, an unwritable checkout,
// a source that does not compile) or FLYWHEEL_CLI=tsx, the sources are loaded through tsx as before.
import { cliEntry } from './build-cli.mjs';

const entry = await cliEntry();
let main;
if (entry) {
  process.setSourceMapsEnabled(true); // stack traces name the .ts sources, as under tsx
  ({ main } = await import(entry));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('./cli.ts'));
}
process.exitCode = await main(process.argv);
