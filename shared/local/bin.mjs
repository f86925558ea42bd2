#!/usr/bin/env node
// Local CLI entry: loads the TypeScript sources through tsx so `npx flywheel` always runs the current code.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv);
