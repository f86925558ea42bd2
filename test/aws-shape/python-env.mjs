#!/usr/bin/env node
/**
 * Creates the project-local Python virtualenv (.venv) with the AWS tools of requirements-aws.txt
 * (cfn-lint, parliament, moto[server]). Idempotent: .venv/requirements-aws.sha256 holds the sha256
 * of the requirements file it was installed from; when that differs (or is missing) .venv is made anew.
 *
 *   node test/aws-shape/python-env.mjs        # prints the venv's python path last
 *
 * PYTHON (default python3) picks the interpreter that creates the venv.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const requirements = path.join(root, 'requirements-aws.txt');
const venv = path.join(root, '.venv');
const python = path.join(venv, 'bin', 'python');
const stamp = path.join(venv, 'requirements-aws.sha256');
const basePython = process.env.PYTHON || 'python3';

function fail(message) {
  console.error(`python-env: ${message}`);
  process.exit(1);
}

/** Runs a command with inherited output; fails the script with its exit status otherwise. */
function run(command, args) {
  console.log(`python-env: $ ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.error) fail(`could not run ${command}: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(' ')} exited with ${result.status ?? `signal ${result.signal}`}`);
}

if (!existsSync(requirements)) fail(`${requirements} is missing`);
const wanted = createHash('sha256').update(readFileSync(requirements)).digest('hex');

if (existsSync(python) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === wanted) {
  console.log(`python-env: ${path.relative(root, venv)} is up to date with requirements-aws.txt (sha256 ${wanted.slice(0, 12)})`);
} else {
  const started = Date.now();
  // Made anew rather than updated: pip never removes what the file no longer lists, and a venv with
  // leftovers could pass here and fail on CI's bare machine. No stamp until the install is complete.
  if (existsSync(venv)) {
    console.log(`python-env: ${existsSync(stamp) ? 'requirements-aws.txt changed' : 'no complete install recorded'} (sha256 ${wanted.slice(0, 12)}); removing ${venv}`);
    rmSync(venv, { recursive: true, force: true });
  }
  console.log(`python-env: creating ${venv} with ${basePython}`);
  run(basePython, ['-m', 'venv', venv]);
  run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-r', requirements]);
  run(python, ['-m', 'pip', 'check']);
  for (const tool of ['cfn-lint', 'parliament', 'moto_server']) {
    if (!existsSync(path.join(venv, 'bin', tool))) fail(`${tool} is missing from ${path.join(venv, 'bin')} after pip install`);
  }
  writeFileSync(stamp, `${wanted}\n`);
  console.log(`python-env: installed requirements-aws.txt in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
console.log(python);
