/**
 * The local CLI built ahead of time: esbuild bundles shared/local/cli.ts with its JavaScript packages (DuckDB's
 * native ones stay in node_modules), split into chunks so a command loads only what it imports, into
 * .cache/cli/<build>/: no TypeScript is transpiled and no package's module tree is walked when `flywheel`
 * starts. `npm install` builds it (the `prepare` script runs this file); bin.mjs builds it on first run and
 * rebuilds it whenever a source changed, so a checkout always runs its own code.
 *
 * Staleness: the build writes .cache/cli/stamp.json with the mtime and size of every file it bundled (each
 * stat taken before esbuild read the file; the packages' files included, so an `npm install` that changes
 * them counts), plus this file, tsconfig.json and esbuild's package.json; a start stats those ~270 files
 * (2–3 ms) and rebuilds when any differs or is gone.
 *
 * Concurrency: each build goes to a folder named by the hash of its output, written aside and renamed into
 * place, and the stamp is replaced by a rename, so concurrent first runs never see half a build. Folders of
 * other builds unused for a day are removed by the next build (each start touches the folder it runs).
 *
 * `node shared/local/build-cli.mjs` builds when stale (`--force`: always); it never fails an install: without
 * a build, bin.mjs builds at first run or falls back to tsx.
 */
import { promises as fs, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_DIR = path.resolve(HERE, '..', '..');
export const CLI_SOURCE = path.join(HERE, 'cli.ts');
export const DEFAULT_OUT_DIR = path.join(REPO_DIR, '.cache', 'cli');
const STAMP = 'stamp.json';
const STAMP_FORMAT = 1;
const KEEP_UNUSED_MS = 24 * 3600_000;
/** Packages loaded from node_modules at run time (native code); everything else is in the bundle. */
const EXTERNAL = ['@duckdb/*'];

/**
 * @typedef {[file: string, mtimeMs: number, size: number]} InputStamp
 * @typedef {{ format: number; root: string; build: string; entry: string; inputs: InputStamp[] }} Stamp
 */

/**
 * The current build's entry file, or why there is none to run (no build, a source changed, a build of another
 * checkout copied here, …). Only reads the stamp and stats the files it lists.
 * @returns {{ entry: string } | { stale: string }}
 */
export function checkCli(outDir = DEFAULT_OUT_DIR, root = REPO_DIR) {
  /** @type {Stamp} */
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(path.join(outDir, STAMP), 'utf8'));
  } catch {
    return { stale: 'no build' };
  }
  if (stamp?.format !== STAMP_FORMAT || !Array.isArray(stamp.inputs) || typeof stamp.build !== 'string') return { stale: 'unknown stamp' };
  if (stamp.root !== root) return { stale: `built for ${stamp.root}` };
  const name = (/** @type {string} */ file) => path.relative(root, file);
  for (const [file, mtimeMs, size] of stamp.inputs) {
    const st = statSync(file, { throwIfNoEntry: false });
    if (!st) return { stale: `${name(file)} is gone` };
    if (st.mtimeMs !== mtimeMs || st.size !== size) return { stale: `${name(file)} changed` };
  }
  const entry = path.join(outDir, stamp.build, stamp.entry);
  if (!statSync(entry, { throwIfNoEntry: false })) return { stale: 'build missing' };
  return { entry };
}

/**
 * Builds the CLI into `outDir` (never over a build in use) and writes its stamp.
 * @param {{ outDir?: string; logLevel?: import('esbuild').LogLevel; esbuild?: typeof import('esbuild') }} [options]
 * @returns {Promise<{ entry: string; build: string; inputs: number; ms: number }>}
 */
export async function buildCli({ outDir = DEFAULT_OUT_DIR, logLevel = 'error', esbuild } = {}) {
  const started = performance.now();
  esbuild ??= await import('esbuild');
  const { createHash, randomUUID } = await import('node:crypto'); // here, not at the top: every start imports this file
  const require = createRequire(import.meta.url);
  // what changes the output besides the bundled sources: the build script, the TypeScript settings esbuild reads, esbuild itself
  const extra = [fileURLToPath(import.meta.url), path.join(REPO_DIR, 'tsconfig.json'), require.resolve('esbuild/package.json')];
  /** @type {Map<string, InputStamp>} */
  const stamps = new Map(extra.map((file) => [file, stampOf(file)]));
  // a folder at the depth of the final one, so the source maps' relative paths hold after the rename
  const staging = path.join(outDir, 'staging');
  const result = await esbuild.build({
    absWorkingDir: REPO_DIR,
    entryPoints: { cli: CLI_SOURCE },
    outdir: staging,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // the JavaScript packages are bundled too (one file read instead of ~190 ESM modules of zod, Powertools, hyparquet…);
    // DuckDB's native packages stay in node_modules
    external: EXTERNAL,
    mainFields: ['module', 'main'],
    keepNames: true,
    sourcemap: 'linked',
    sourcesContent: false,
    outExtension: { '.js': '.mjs' },
    chunkNames: '[name]-[hash]',
    metafile: true,
    write: false,
    logLevel,
    // what loads CommonJS through require (below)
    banner: { js: "import { createRequire as __flywheelCreateRequire } from 'node:module'; const require = __flywheelCreateRequire(import.meta.url);" },
    plugins: [ownSources(stamps), requireCommonJs()],
  });
  // every bundled file was stamped as it was loaded; anything esbuild read otherwise is stamped now
  for (const input of Object.keys(result.metafile.inputs)) {
    if (/^[\w-]+:/.test(input)) continue; // a plugin's virtual module (commonjs-package:…)
    const file = path.resolve(REPO_DIR, input);
    if (!stamps.has(file)) stamps.set(file, stampOf(file));
  }
  const files = result.outputFiles.map((f) => ({ name: path.relative(staging, f.path), contents: f.contents })).sort((a, b) => a.name.localeCompare(b.name));
  const hash = createHash('sha256');
  for (const f of files) hash.update(f.name).update('\0').update(f.contents).update('\0');
  const build = hash.digest('hex').slice(0, 16);
  const dir = path.join(outDir, build);
  mkdirSync(outDir, { recursive: true });
  if (!statSync(dir, { throwIfNoEntry: false })) {
    const tmp = path.join(outDir, `.tmp-${build}-${process.pid}-${randomUUID().slice(0, 8)}`);
    try {
      for (const f of files) {
        mkdirSync(path.dirname(path.join(tmp, f.name)), { recursive: true });
        writeFileSync(path.join(tmp, f.name), f.contents);
      }
      renameSync(tmp, dir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      // a concurrent build of the same output got there first
      if (!statSync(path.join(dir, 'cli.mjs'), { throwIfNoEntry: false })) throw err;
    }
  } else touch(dir);
  /** @type {Stamp} */
  const stamp = { format: STAMP_FORMAT, root: REPO_DIR, build, entry: 'cli.mjs', inputs: [...stamps.values()] };
  const tmpStamp = path.join(outDir, `.${STAMP}.${process.pid}-${randomUUID().slice(0, 8)}`);
  writeFileSync(tmpStamp, `${JSON.stringify(stamp)}\n`);
  renameSync(tmpStamp, path.join(outDir, STAMP));
  prune(outDir, build);
  return { entry: path.join(dir, 'cli.mjs'), build, inputs: stamps.size, ms: performance.now() - started };
}

/**
 * What bin.mjs runs: the URL of the current build, building it first when missing or stale; undefined when
 * it cannot be built here (no esbuild, a source that does not compile, an unwritable .cache/) or
 * FLYWHEEL_CLI=tsx: bin.mjs then loads the sources through tsx, which reports any error as it always did.
 */
export async function cliEntry(outDir = DEFAULT_OUT_DIR) {
  if (process.env.FLYWHEEL_CLI === 'tsx') return undefined;
  const found = checkCli(outDir);
  if ('entry' in found) {
    touch(path.dirname(found.entry));
    return pathToFileURL(found.entry).href;
  }
  try {
    return pathToFileURL((await buildCli({ outDir, logLevel: 'silent' })).entry).href;
  } catch {
    return undefined;
  }
}

/** [file, mtimeMs, size] of a file. */
function stampOf(/** @type {string} */ file) {
  const st = statSync(file);
  return /** @type {InputStamp} */ ([file, st.mtimeMs, st.size]);
}

/**
 * Loads the repository's own sources: stats each before reading it (so an edit during the build shows as a
 * change at the next start), and gives each module its own file's `import.meta.url` / `dirname` / `filename`
 * rather than the bundle's (shared/adapters/local/bucket-extension.ts finds its C source by it).
 * @param {Map<string, InputStamp>} stamps
 * @returns {import('esbuild').Plugin}
 */
function ownSources(stamps) {
  return {
    name: 'flywheel-own-sources',
    setup(build) {
      build.onLoad({ filter: /\.[cm]?[jt]s$/ }, async (args) => {
        if (args.namespace !== 'file') return undefined;
        const st = await fs.stat(args.path);
        stamps.set(args.path, [args.path, st.mtimeMs, st.size]);
        if (args.path.split(path.sep).includes('node_modules')) return undefined; // a package's file: esbuild loads it as usual
        let contents = await fs.readFile(args.path, 'utf8');
        if (contents.includes('import.meta.')) {
          const own = { url: pathToFileURL(args.path).href, dirname: path.dirname(args.path), filename: args.path };
          contents = contents.replace(/\bimport\.meta\.(url|dirname|filename)\b/g, (_, key) => JSON.stringify(own[/** @type {keyof typeof own} */ (key)]));
        }
        return { contents, loader: /\.[cm]?ts$/.test(args.path) ? 'ts' : 'js' };
      });
    },
  };
}

/**
 * External packages whose `import` entry is CommonJS (@duckdb/node-api) are loaded with require(), as the
 * CommonJS they are: importing them from ESM makes Node lex every file they re-export for its export names
 * (~140 ms of CPU for DuckDB's API at each start).
 * @returns {import('esbuild').Plugin}
 */
function requireCommonJs() {
  /** @type {Map<string, boolean>} */
  const commonJs = new Map();
  const isCommonJs = (/** @type {string} */ spec) => {
    if (!commonJs.has(spec)) {
      let cjs = false;
      try {
        const file = fileURLToPath(import.meta.resolve(spec));
        cjs = file.endsWith('.cjs') || (file.endsWith('.js') && packageType(file) !== 'module');
      } catch {
        /* unresolvable here: left to Node */
      }
      commonJs.set(spec, cjs);
    }
    return commonJs.get(spec);
  };
  return {
    name: 'flywheel-require-commonjs',
    setup(build) {
      const external = new RegExp(`^(${EXTERNAL.map((p) => p.replace(/[.]/g, '\\.').replace('*', '[^/]+')).join('|')})(/|$)`);
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.namespace === 'commonjs-package') return { path: args.path, external: true };
        if ((args.kind !== 'import-statement' && args.kind !== 'dynamic-import') || isBuiltin(args.path) || !external.test(args.path) || !isCommonJs(args.path))
          return undefined;
        return { path: args.path, namespace: 'commonjs-package' };
      });
      build.onLoad({ filter: /.*/, namespace: 'commonjs-package' }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(args.path)});`,
        loader: 'js',
      }));
    },
  };
}

/** The `type` of the package.json nearest to a file. */
function packageType(/** @type {string} */ file) {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    const st = statSync(pkg, { throwIfNoEntry: false });
    if (st) return JSON.parse(readFileSync(pkg, 'utf8')).type;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** Marks a build folder as used now (pruning keeps folders used within a day); never fails. */
function touch(/** @type {string} */ dir) {
  try {
    const now = new Date();
    utimesSync(dir, now, now);
  } catch {
    /* read-only checkout */
  }
}

/** Removes other builds unused for a day and staging folders of builds that died. */
function prune(/** @type {string} */ outDir, /** @type {string} */ current) {
  const now = Date.now();
  for (const e of readdirSync(outDir, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name === current) continue;
    const p = path.join(outDir, e.name);
    const st = statSync(p, { throwIfNoEntry: false });
    const unusedFor = st ? now - st.mtimeMs : 0;
    if ((e.name.startsWith('.tmp-') && unusedFor > 3600_000) || (/^[0-9a-f]{16}$/.test(e.name) && unusedFor > KEEP_UNUSED_MS))
      rmSync(p, { recursive: true, force: true });
  }
}

// `node shared/local/build-cli.mjs [--force]` (npm's `prepare`)
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const force = process.argv.includes('--force');
  const found = force ? { stale: 'forced' } : checkCli();
  if ('entry' in found) {
    process.stdout.write(`flywheel CLI: ${path.relative(REPO_DIR, found.entry)} is current\n`);
  } else {
    try {
      const r = await buildCli({ logLevel: 'warning' });
      process.stdout.write(`flywheel CLI: built ${path.relative(REPO_DIR, r.entry)} from ${r.inputs} files in ${Math.round(r.ms)} ms (${found.stale})\n`);
    } catch (err) {
      // never fails `npm install`: bin.mjs builds at first run, or runs the sources through tsx
      process.stderr.write(
        `flywheel CLI: not built (${String(/** @type {Error} */ (err).message ?? err).split('\n')[0]}); \`flywheel\` will build it at first run or load the sources through tsx\n`,
      );
    }
  }
}
