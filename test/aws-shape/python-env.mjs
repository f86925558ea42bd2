#!/usr/bin/env node
/**
 * Creates the project-local Python virtualenv (.venv) with the AWS tools of requirements-aws.txt
 * (cfn-lint, parliament, moto[server], pyspark, boto3). Idempotent: .venv/requirements-aws.sha256 holds the
 * sha256 of the requirements file it was installed from; when that differs (or is missing) .venv is made anew.
 *
 * Then fetches the jars of test/aws-shape/spark/jars.json (hadoop-aws and its AWS SDK bundle, for s3:// through
 * S3A on Spark) from Maven Central into the project-local cache .cache/jars/ (gitignored), with progress. Each
 * jar must match both the .sha1 Maven Central publishes beside it and the sha1 pinned in jars.json; a jar
 * already in the cache is checked against the pinned sha1 and kept (no network), a bad one fetched anew.
 * Trino's archives of test/aws-shape/trino/trino.json (the minimal server and the Hive plugin) are fetched the same
 * way into .cache/trino/ and unpacked into .cache/trino/<version>/.
 *
 *   node test/aws-shape/python-env.mjs        # prints the venv's python path last
 *
 * PYTHON (default python3) picks the interpreter that creates the venv; MAVEN_REPOSITORY overrides the
 * repository of jars.json (a mirror of Maven Central's layout).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
    console.log(
      `python-env: ${existsSync(stamp) ? 'requirements-aws.txt changed' : 'no complete install recorded'} (sha256 ${wanted.slice(0, 12)}); removing ${venv}`,
    );
    rmSync(venv, { recursive: true, force: true });
  }
  console.log(`python-env: creating ${venv} with ${basePython}`);
  run(basePython, ['-m', 'venv', venv]);
  run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-r', requirements]);
  run(python, ['-m', 'pip', 'check']);
  for (const tool of ['cfn-lint', 'parliament', 'moto_server', 'spark-submit']) {
    if (!existsSync(path.join(venv, 'bin', tool))) fail(`${tool} is missing from ${path.join(venv, 'bin')} after pip install`);
  }
  writeFileSync(stamp, `${wanted}\n`);
  console.log(`python-env: installed requirements-aws.txt in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
await fetchArtifacts(path.join('test', 'aws-shape', 'spark', 'jars.json'), 'jars');
const trino = await fetchArtifacts(path.join('test', 'aws-shape', 'trino', 'trino.json'), 'artifacts');
unpackTrino(trino);
console.log(python);

/** sha1 (hex) of a file, streamed. */
async function sha1OfFile(file) {
  const hash = createHash('sha1');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

function mb(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** GET with a bounded number of attempts (the machine may be loaded; the registry may hiccup); the timeout covers the body too. */
async function get(url, timeoutMs = 60_000) {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return response;
    } catch (error) {
      if (attempt >= 3) fail(`could not fetch ${url}: ${error.message}`);
      console.log(`python-env: ${url}: ${error.message}; retrying (${attempt}/3)`);
      await new Promise((resolve) => setTimeout(resolve, 2_000 * attempt));
    }
  }
}

/**
 * The artifacts a manifest lists (jars.json's jars, trino.json's archives) into its cache folder, each verified
 * (see the header). Returns the manifest with each artifact's file.
 */
async function fetchArtifacts(manifestPath, listName) {
  const manifest = JSON.parse(readFileSync(path.join(root, manifestPath), 'utf8'));
  const repository = (process.env.MAVEN_REPOSITORY || manifest.repository).replace(/\/+$/, '');
  const cache = path.join(root, manifest.cache);
  mkdirSync(cache, { recursive: true });
  const started = Date.now();
  let fetched = 0;
  for (const jar of manifest[listName]) {
    const name = `${jar.artifact}-${jar.version}.${jar.ext ?? 'jar'}`;
    const file = path.join(cache, name);
    jar.file = file;
    if (existsSync(file) && (await sha1OfFile(file)) === jar.sha1) {
      console.log(`python-env: ${path.relative(root, file)} is in the cache (sha1 ${jar.sha1.slice(0, 12)})`);
      continue;
    }
    const url = `${repository}/${jar.group.replace(/\./g, '/')}/${jar.artifact}/${jar.version}/${name}`;
    // Maven Central's .sha1 is the hex digest, sometimes followed by the file name
    const published = (await (await get(`${url}.sha1`)).text()).trim().split(/\s+/)[0].toLowerCase();
    if (published !== jar.sha1) fail(`${url}.sha1 says ${published}, ${manifestPath} pins ${jar.sha1}: refusing it`);
    const partial = `${file}.part`;
    for (let attempt = 1; ; attempt++) {
      try {
        await download(url, partial, name, jar);
        break;
      } catch (error) {
        rmSync(partial, { force: true });
        if (attempt >= 3) fail(`${name}: ${error.message}`);
        console.log(`python-env: ${name}: ${error.message}; fetching it again (${attempt}/3)`);
      }
    }
    renameSync(partial, file);
    fetched += statSync(file).size;
  }
  if (fetched > 0) console.log(`python-env: fetched ${mb(fetched)} for ${manifestPath} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return manifest;
}

/**
 * Trino's archives unpacked into <cache>/<version>/: the server tarball's top folder as server/, the Hive plugin
 * archive's as plugin/hive/. A stamp names the archives' sha1s; an unpack that was cut off is made anew.
 */
function unpackTrino(manifest) {
  const target = path.join(root, manifest.cache, manifest.version);
  const stamp = path.join(target, 'unpacked.sha1');
  const wantedStamp = manifest.artifacts.map((a) => `${a.sha1} ${a.unpack}`).join('\n');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === wantedStamp) {
    console.log(`python-env: ${path.relative(root, target)} holds Trino ${manifest.version}, unpacked`);
    return;
  }
  const started = Date.now();
  rmSync(target, { recursive: true, force: true });
  const staging = path.join(root, manifest.cache, `unpacking-${manifest.version}`);
  rmSync(staging, { recursive: true, force: true });
  for (const a of manifest.artifacts) {
    const into = path.join(staging, a.artifact);
    mkdirSync(into, { recursive: true });
    // tar for the tarball; Python's zipfile for the zip (no unzip binary needed on a bare machine)
    if (a.ext === 'zip') run(python, ['-m', 'zipfile', '-e', a.file, into]);
    else run('tar', ['-xzf', a.file, '-C', into]);
    const top = path.join(into, `${a.artifact}-${a.version}`);
    if (!existsSync(top)) fail(`${a.file} has no top folder ${a.artifact}-${a.version}/`);
    mkdirSync(path.dirname(path.join(staging, 'out', a.unpack)), { recursive: true });
    renameSync(top, path.join(staging, 'out', a.unpack));
  }
  renameSync(path.join(staging, 'out'), target);
  rmSync(staging, { recursive: true, force: true });
  writeFileSync(stamp, `${wantedStamp}\n`);
  console.log(`python-env: unpacked Trino ${manifest.version} into ${path.relative(root, target)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** One jar into `partial`, with progress; rejects unless its sha1 is the pinned one (= Maven Central's .sha1). */
async function download(url, partial, name, jar) {
  // 20 minutes for the 268 MB SDK bundle (or Trino's 258 MB Hive plugin) on a slow link; a stalled transfer fails and is tried again
  const response = await get(url, 20 * 60_000);
  const total = Number(response.headers.get('content-length')) || jar.bytes;
  console.log(`python-env: fetching ${url} (${mb(total)})`);
  const hash = createHash('sha1');
  let received = 0;
  let shown = 0;
  const began = Date.now();
  const body = Readable.fromWeb(response.body);
  body.on('data', (chunk) => {
    hash.update(chunk);
    received += chunk.length;
    const tenth = Math.floor((received / total) * 10);
    // every 10% of a big jar; a small one only when done
    if ((total >= 8 * 1024 * 1024 && tenth > shown) || received === total) {
      shown = tenth;
      const seconds = (Date.now() - began) / 1000;
      console.log(
        `python-env:   ${name}: ${mb(received)} of ${mb(total)} (${Math.min(100, Math.round((received / total) * 100))}%, ${(received / 1024 / 1024 / Math.max(seconds, 0.001)).toFixed(1)} MB/s)`,
      );
    }
  });
  await pipeline(body, createWriteStream(partial));
  const got = hash.digest('hex');
  if (got !== jar.sha1) throw new Error(`downloaded ${received} bytes with sha1 ${got}, expected ${jar.sha1} (Maven Central's .sha1)`);
}
