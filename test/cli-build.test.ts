// The CLI built ahead by esbuild (shared/local/build-cli.mjs): a checkout always runs its current code (a changed,
// added or removed source makes the build stale, and bin.mjs rebuilds before running), a fresh clone builds at
// first run, concurrent first runs share one build, and the bundle behaves as the sources under tsx.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { buildCli, checkCli, cliEntry, type Stamp } from '../shared/local/build-cli.mjs';

const run = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;
const tmp = (prefix: string) => mkdtempSync(path.join(os.tmpdir(), prefix));
const readStamp = (outDir: string) => JSON.parse(readFileSync(path.join(outDir, 'stamp.json'), 'utf8')) as Stamp;
const writeStamp = (outDir: string, stamp: Stamp) => writeFileSync(path.join(outDir, 'stamp.json'), JSON.stringify(stamp));

/** `node shared/local/bin.mjs …` in `cwd` (a checkout). */
async function flywheel(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await run('node', [path.join(cwd, 'shared/local/bin.mjs'), ...args], {
      cwd,
      env: { ...process.env, ...env },
      maxBuffer: 1 << 24,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A clean clone: the sources the CLI builds from (as in the working tree), node_modules linked, no .cache/. */
function cleanClone(): string {
  const dir = tmp('flywheel-clone-');
  for (const f of ['shared', 'services', 'package.json', 'tsconfig.json']) cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

describe('the built CLI', () => {
  let outDir: string;
  beforeAll(async () => {
    outDir = tmp('flywheel-cli-build-');
    await buildCli({ outDir });
  });
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  test('a build stamps every file it bundled and is current until one changes', () => {
    const found = checkCli(outDir);
    expect(found).toEqual({ entry: expect.stringMatching(/[0-9a-f]{16}\/cli\.mjs$/) });
    const files = readStamp(outDir).inputs.map(([file]) => path.relative(ROOT, file));
    expect(files).toEqual(
      expect.arrayContaining(['shared/local/cli.ts', 'shared/domain/bucket.ts', 'shared/composition/local.ts', 'shared/local/build-cli.mjs', 'tsconfig.json']),
    );
    expect(files.some((f) => f.startsWith('node_modules/zod/'))).toBe(true); // bundled packages count too
    expect(files.some((f) => f.includes('@duckdb'))).toBe(false); // DuckDB is loaded from node_modules
  });

  test('a source whose mtime or size differs from the stamp, or that is gone, makes the build stale', () => {
    const stamp = readStamp(outDir);
    const i = stamp.inputs.findIndex(([file]) => file.endsWith('shared/domain/bucket.ts'));
    const [file, mtimeMs, size] = stamp.inputs[i]!;
    try {
      writeStamp(outDir, { ...stamp, inputs: stamp.inputs.map((e, j) => (j === i ? [file, mtimeMs - 1000, size] : e)) });
      expect(checkCli(outDir)).toEqual({ stale: 'shared/domain/bucket.ts changed' });
      writeStamp(outDir, { ...stamp, inputs: stamp.inputs.map((e, j) => (j === i ? [file, mtimeMs, size + 1] : e)) });
      expect(checkCli(outDir)).toEqual({ stale: 'shared/domain/bucket.ts changed' });
      writeStamp(outDir, { ...stamp, inputs: [...stamp.inputs, [path.join(ROOT, 'shared/domain/removed.ts'), mtimeMs, size]] });
      expect(checkCli(outDir)).toEqual({ stale: 'shared/domain/removed.ts is gone' });
      writeStamp(outDir, { ...stamp, build: '0000000000000000' });
      expect(checkCli(outDir)).toEqual({ stale: 'build missing' });
      writeFileSync(path.join(outDir, 'stamp.json'), '{"format":1,"bui');
      expect(checkCli(outDir)).toEqual({ stale: 'no build' });
    } finally {
      writeStamp(outDir, stamp);
    }
    expect(checkCli(outDir)).toHaveProperty('entry');
  });

  test('an unchanged rebuild lands in the same folder; each module keeps its own import.meta.url', async () => {
    const before = readStamp(outDir).build;
    const again = await buildCli({ outDir });
    expect(again.build).toBe(before);
    const dir = path.join(outDir, before);
    const code = readdirSync(dir)
      .filter((f) => f.endsWith('.mjs'))
      .map((f) => readFileSync(path.join(dir, f), 'utf8'))
      .join('\n');
    // bucket-extension.ts finds its C source next to itself, not next to the bundle
    const own = pathToFileURL(path.join(ROOT, 'shared/adapters/local/bucket-extension.ts')).href;
    expect(code).toContain(`new URL("./native/flywheel_bucket.c", ${JSON.stringify(own)})`);
    // the only import.meta.url left is each chunk's require() banner
    expect(code.match(/import\.meta\.url/g)?.length).toBe(readdirSync(dir).filter((f) => f.endsWith('.mjs')).length);
  });

  test('where the CLI cannot be built, bin.mjs is told to load the sources through tsx', async () => {
    const file = path.join(outDir, 'not-a-folder');
    writeFileSync(file, '');
    expect(await cliEntry(path.join(file, 'cli'))).toBeUndefined();
  });
});

describe('bin.mjs in a clean clone', () => {
  let clone: string;
  beforeAll(() => {
    clone = cleanClone();
  });
  afterAll(() => rmSync(clone, { recursive: true, force: true }));

  test('concurrent first runs build once and all run; a changed source is rebuilt before it runs', async () => {
    expect(existsSync(path.join(clone, '.cache'))).toBe(false);
    const first = await Promise.all([0, 1, 2].map(() => flywheel(clone, ['bucket', 'abc', 'Zoë-50', ''])));
    for (const r of first) expect(r).toEqual({ code: 0, stdout: 'abc\t98\nZoë-50\t11\n\t0\n', stderr: '' });
    const cache = path.join(clone, '.cache', 'cli');
    const stamp = readStamp(cache);
    expect(readdirSync(cache).sort()).toEqual([stamp.build, 'stamp.json']); // no half-written build left
    expect(checkCli(cache, clone)).toEqual({ entry: path.join(cache, stamp.build, 'cli.mjs') });
    expect(checkCli(cache)).toEqual({ stale: `built for ${clone}` }); // another checkout's build is never run here

    // an edit: the next run rebuilds and runs it
    const cli = path.join(clone, 'shared/local/cli.ts');
    writeFileSync(
      cli,
      readFileSync(cli, 'utf8').replace(
        "'print ID<TAB>bucket for each id (the shared bucket function, among FLYWHEEL_BUCKET_COUNT buckets, default 256)'",
        "'print each id with its bucket'",
      ),
    );
    expect(checkCli(cache, clone)).toEqual({ stale: 'shared/local/cli.ts changed' });
    const help = await flywheel(clone, ['bucket', '--help']);
    expect(help.stdout).toContain('print each id with its bucket');
    expect(readStamp(cache).build).not.toBe(stamp.build);

    // the same content under an older mtime is still a change (mtimes are compared for equality, not order)
    const old = new Date(statSync(cli).mtimeMs - 3_600_000);
    utimesSync(cli, old, old);
    expect(checkCli(cache, clone)).toEqual({ stale: 'shared/local/cli.ts changed' });
  });

  test('the bundle loads DuckDB from node_modules and builds the bucket function from its own sources', async () => {
    const status = async (env: NodeJS.ProcessEnv = {}) => {
      const home = tmp('flywheel-home-');
      const r = await flywheel(clone, ['status', '--home', home], env);
      const log = readFileSync(path.join(home, 'logs', 'flywheel.jsonl'), 'utf8');
      rmSync(home, { recursive: true, force: true });
      return { ...r, home, sqlForm: log.includes('uses the SQL form of the bucket function') };
    };
    const r = await status();
    expect(r).toEqual({ code: 0, stdout: `no runs yet under ${r.home}\n`, stderr: '', home: r.home, sqlForm: false });
    // the oracle: without the compiled function the runtime says so
    expect((await status({ FLYWHEEL_BUCKET_EXTENSION: 'off' })).sqlForm).toBe(true);
  });

  test('FLYWHEEL_CLI=tsx runs the sources through tsx, with the same output', async () => {
    const args = ['bucket', 'abc', 'Zoë-50'];
    const [built, tsx] = await Promise.all([flywheel(clone, args), flywheel(clone, args, { FLYWHEEL_CLI: 'tsx' })]);
    expect(tsx).toEqual(built);
    expect(built.stdout).toBe('abc\t98\nZoë-50\t11\n');
  });
});
