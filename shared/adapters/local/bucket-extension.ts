/**
 * The local engine's compiled bucket function: native/flywheel_bucket.c built into a DuckDB extension
 * that registers `flywheel_bucket(VARCHAR) → INTEGER`. It computes the same id_bucket as the pure-SQL
 * form `duckdbBucketSql` at about native `hash()` speed (the SQL form is 20–30× slower: it splits every
 * key into characters).
 *
 * Built on first use with the machine's C compiler (`CC`, default `cc`) against the libduckdb that
 * @duckdb/node-api loads, then cached under node_modules/.cache/flywheel/ keyed by the DuckDB bindings
 * version and the source's hash. Where it cannot be built (no compiler, unknown platform) or
 * `FLYWHEEL_BUCKET_EXTENSION=off`, the local engine uses the SQL form and says why.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** Name of the extension, of its file and of the SQL function it registers. */
export const BUCKET_EXTENSION = 'flywheel_bucket';
/** The C API version the extension is written against (DuckDB's stable extension ABI). */
export const BUCKET_EXTENSION_CAPI = 'v1.2.0';

const SOURCE = fileURLToPath(new URL('./native/flywheel_bucket.c', import.meta.url));
const FOOTER_FIELD = 32;
const SIGNATURE_BYTES = 256;

export type BucketExtension = { available: true; file: string } | { available: false; reason: string };

/**
 * DuckDB's extension footer: 8 fields of 32 bytes, stored last field first, then a 256-byte signature
 * (zeros: the extension is unsigned, so the database loading it allows unsigned extensions). DuckDB reads
 * magic "4", platform, C API version, extension version and ABI type from it before it loads the file.
 */
export function extensionFooter(meta: { platform: string; capiVersion: string; extensionVersion: string }): Buffer {
  const fields = ['4', meta.platform, meta.capiVersion, meta.extensionVersion, 'C_STRUCT', '', '', ''];
  const field = (value: string) => {
    if (Buffer.byteLength(value, 'ascii') > FOOTER_FIELD) throw new Error(`extension footer field "${value}" is longer than ${FOOTER_FIELD} bytes`);
    const buf = Buffer.alloc(FOOTER_FIELD);
    buf.write(value, 'ascii');
    return buf;
  };
  return Buffer.concat([...fields.reverse().map(field), Buffer.alloc(SIGNATURE_BYTES)]);
}

/** Compiler and linker arguments for a shared library that resolves DuckDB's C API from `libDir`. */
function compileArgs(platform: NodeJS.Platform, source: string, out: string, libDir: string): string[] {
  const shared = platform === 'darwin' ? ['-dynamiclib'] : ['-shared', '-fPIC'];
  return ['-O2', '-std=c11', '-Wall', '-Werror', ...shared, '-o', out, source, `-L${libDir}`, '-lduckdb', `-Wl,-rpath,${libDir}`];
}

let cached: Promise<BucketExtension> | undefined;

/** The built extension (building it once per DuckDB version and source), or why the SQL form is used. */
export function bucketExtension(): Promise<BucketExtension> {
  if (process.env.FLYWHEEL_BUCKET_EXTENSION === 'off') return Promise.resolve({ available: false, reason: 'FLYWHEEL_BUCKET_EXTENSION=off' });
  cached ??= buildBucketExtension();
  return cached;
}

/**
 * Builds the extension into `cacheDir` (default node_modules/.cache/flywheel) unless it is there
 * already, with compiler `cc` (default $CC or cc). Never throws: a failure is the reason returned.
 */
export async function buildBucketExtension(options: { cc?: string; cacheDir?: string } = {}): Promise<BucketExtension> {
  try {
    return await build(options.cc ?? (process.env.CC || 'cc'), options.cacheDir);
  } catch (err) {
    return { available: false, reason: firstLine(err) };
  }
}

async function build(cc: string, cacheDir: string | undefined): Promise<BucketExtension> {
  const bindings = `@duckdb/node-bindings-${process.platform}-${process.arch}`;
  let libDir: string;
  let version: string;
  try {
    const pkgJson = createRequire(import.meta.url).resolve(`${bindings}/package.json`);
    libDir = path.dirname(pkgJson);
    version = (JSON.parse(await fs.readFile(pkgJson, 'utf8')) as { version: string }).version;
  } catch {
    return { available: false, reason: `no DuckDB library package ${bindings} for this platform` };
  }
  const source = await fs.readFile(SOURCE);
  const sourceHash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const key = `${version}-${process.platform}-${process.arch}-${sourceHash}`;
  const dir = path.join(cacheDir ?? path.join(libDir, '..', '..', '.cache', 'flywheel'), key);
  const file = path.join(dir, `${BUCKET_EXTENSION}.duckdb_extension`);
  if (await exists(file)) return { available: true, file };

  await fs.mkdir(dir, { recursive: true });
  // built aside and renamed: parallel processes (test workers) never load a half-written file
  const tmp = path.join(dir, `${randomUUID()}.tmp`);
  try {
    await promisify(execFile)(cc, compileArgs(process.platform, SOURCE, tmp, libDir));
    await fs.appendFile(tmp, extensionFooter({ platform: await duckdbPlatform(), capiVersion: BUCKET_EXTENSION_CAPI, extensionVersion: `src-${sourceHash}` }));
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    return { available: false, reason: `could not build ${path.basename(SOURCE)}: ${firstLine(err)}` };
  }
  return { available: true, file };
}

/** DuckDB's own platform name (linux_amd64, osx_arm64, …), which the footer must match. */
async function duckdbPlatform(): Promise<string> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    return String((await conn.runAndReadAll('SELECT platform FROM pragma_platform()')).getRows()[0]?.[0]);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false,
  );
const firstLine = (err: unknown) => ((err as { stderr?: string }).stderr || (err as Error).message || String(err)).trim().split('\n')[0]!;
