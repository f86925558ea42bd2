// The shared vector file proves every engine computes the same id_bucket (docs/ARCHITECTURE.md, "Bucket function").
// Python's twin is checked by glue-scripts/test_flywheel_split.py against the same file.
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUCKET_EXTENSION_CAPI, bucketExtension, buildBucketExtension, extensionFooter } from '../shared/adapters/local/bucket-extension.js';
import { LocalDuckDb } from '../shared/adapters/local/duckdb.js';
import { athenaBucketSql, bucketOf, duckdbBucketSql } from '../shared/domain/bucket.js';

const { vectors, nullBucket } = JSON.parse(readFileSync(new URL('./fixtures/bucket-vectors.json', import.meta.url), 'utf8')) as {
  vectors: Array<{ id: string; bucket: number }>;
  nullBucket: number;
};

let db: DuckDBConnection;
beforeAll(async () => {
  db = await (await DuckDBInstance.create(':memory:', { allow_unsigned_extensions: 'true' })).connect();
  await db.run('CREATE TABLE v (i INTEGER, id VARCHAR, expected INTEGER)');
  const appender = await db.createAppender('v');
  vectors.forEach((v, i) => {
    appender.appendInteger(i);
    appender.appendVarchar(v.id);
    appender.appendInteger(v.bucket);
    appender.endRow();
  });
  appender.closeSync();
});

const mismatches = async (expr: string) =>
  (await db.runAndReadAll(`SELECT id, expected, ${expr} AS got FROM v WHERE got IS DISTINCT FROM expected`)).getRowObjectsJson();

describe('bucket vectors', () => {
  test('the file covers the required kinds of ids', () => {
    const ids = vectors.map((v) => v.id);
    expect(ids.length).toBeGreaterThanOrEqual(1000);
    expect(ids).toContain('');
    expect(ids.some((id) => /^[\x20-\x7e]+$/.test(id))).toBe(true);
    expect(ids.some((id) => /[\u0080-\uffff]/.test(id))).toBe(true);
    expect(ids.some((id) => /[\u{10000}-\u{10ffff}]/u.test(id))).toBe(true);
    expect(ids.some((id) => new TextEncoder().encode(id).length > 1000)).toBe(true);
  });

  test('the examples of docs/ARCHITECTURE.md', () => {
    expect(bucketOf('abc')).toBe(98);
    expect(bucketOf('customer_0001')).toBe(194);
    expect(bucketOf('')).toBe(0);
    expect(bucketOf('ÄÖü-ünïcødé')).toBe(211);
    expect(bucketOf('Zoë-50')).toBe(11);
    expect(bucketOf(null)).toBe(nullBucket);
  });

  test('TypeScript matches every vector', () => {
    expect(vectors.filter((v) => bucketOf(v.id) !== v.bucket)).toEqual([]);
  });

  test('DuckDB SQL matches every vector, and NULL goes to bucket 0', async () => {
    expect(await mismatches(duckdbBucketSql('id'))).toEqual([]);
    const nul = (await db.runAndReadAll(`SELECT ${duckdbBucketSql('NULL::VARCHAR')} AS b`)).getRowObjectsJson();
    expect(nul[0]!.b).toBe(nullBucket);
  });

  describe('compiled DuckDB extension (flywheel_bucket)', () => {
    // This machine kind has a C compiler (the polyglot machine: Node + g++), so the extension must build here;
    // the reason is in the failure message when it does not.
    test('builds against the loaded libduckdb, loads, and matches every vector; NULL goes to bucket 0', async () => {
      const ext = await bucketExtension();
      expect(ext).toEqual({ available: true, file: expect.stringMatching(/flywheel_bucket\.duckdb_extension$/) });
      if (!ext.available) return;
      await db.run(`LOAD '${ext.file}'`);
      expect(await mismatches('flywheel_bucket(id)')).toEqual([]);
      // a NULL constant (no NULL propagation: special handling) and NULL rows in a vector
      const nul = (
        await db.runAndReadAll(
          `SELECT flywheel_bucket(NULL) AS c, (SELECT list(flywheel_bucket(k)) FROM (VALUES ('abc'), (NULL), ('customer_0001')) t(k)) AS v`,
        )
      ).getRowObjectsJson();
      expect(nul[0]).toEqual({ c: nullBucket, v: [98, nullBucket, 194] });
      // the check can fail: the fold modulo 255 disagrees with the extension
      expect((await mismatches("list_reduce(list_transform(string_split(id, ''), c -> ascii(c)), (a, b) -> (a * 31 + b) % 255, 0)")).length).toBeGreaterThan(0);
    });

    test('a fresh build compiles the C source; without a compiler the reason says so', async () => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'flywheel-ext-'));
      try {
        const built = await buildBucketExtension({ cacheDir: dir });
        expect(built.available).toBe(true);
        if (!built.available) return;
        expect(built.file.startsWith(dir)).toBe(true);
        const fresh = await (await DuckDBInstance.create(':memory:', { allow_unsigned_extensions: 'true' })).connect();
        await fresh.run(`LOAD '${built.file}'`);
        expect((await fresh.runAndReadAll("SELECT flywheel_bucket('abc') AS b")).getRowObjectsJson()).toEqual([{ b: 98 }]);
        fresh.closeSync();
        const missing = await buildBucketExtension({ cc: path.join(dir, 'no-such-cc'), cacheDir: path.join(dir, 'other') });
        expect(missing).toEqual({ available: false, reason: expect.stringContaining('could not build flywheel_bucket.c') });
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    test("the footer is DuckDB's 512 bytes: 8 fields of 32 bytes, last first, then an empty signature", () => {
      const footer = extensionFooter({ platform: 'linux_amd64', capiVersion: BUCKET_EXTENSION_CAPI, extensionVersion: 'x' });
      expect(footer.length).toBe(512);
      const fields = Array.from({ length: 8 }, (_, i) =>
        footer
          .subarray(i * 32, i * 32 + 32)
          .toString('ascii')
          .replace(/\0+$/, ''),
      ).reverse();
      expect(fields).toEqual(['4', 'linux_amd64', 'v1.2.0', 'x', 'C_STRUCT', '', '', '']);
      expect(footer.subarray(256).every((b) => b === 0)).toBe(true);
      expect(() => extensionFooter({ platform: 'p'.repeat(33), capiVersion: 'v', extensionVersion: 'x' })).toThrow(/longer than 32 bytes/);
    });

    test('the local engine uses the extension, and the SQL form when it is switched off', async () => {
      const home = await fs.mkdtemp(path.join(os.tmpdir(), 'flywheel-form-'));
      const saved = process.env.FLYWHEEL_BUCKET_EXTENSION;
      try {
        const withExt = await LocalDuckDb.open(path.join(home, 'a.duckdb'), home);
        expect(withExt.bucketForm).toEqual({ form: 'extension' });
        expect(withExt.bucketSql('k')).toBe('flywheel_bucket(k)');
        expect(await withExt.all(`SELECT ${withExt.bucketSql("'Zoë-50'")} AS b`)).toEqual([{ b: 11 }]);
        process.env.FLYWHEEL_BUCKET_EXTENSION = 'off';
        const sqlOnly = await LocalDuckDb.open(path.join(home, 'b.duckdb'), home);
        expect(sqlOnly.bucketForm).toEqual({ form: 'sql', reason: 'FLYWHEEL_BUCKET_EXTENSION=off' });
        expect(sqlOnly.bucketSql('k')).toBe(duckdbBucketSql('k'));
        expect(await sqlOnly.all(`SELECT ${sqlOnly.bucketSql("'Zoë-50'")} AS b`)).toEqual([{ b: 11 }]);
        await expect(sqlOnly.run("SELECT flywheel_bucket('x')")).rejects.toThrow(/flywheel_bucket/);
        withExt.connection.closeSync();
        sqlOnly.connection.closeSync();
      } finally {
        if (saved === undefined) delete process.env.FLYWHEEL_BUCKET_EXTENSION;
        else process.env.FLYWHEEL_BUCKET_EXTENSION = saved;
        await fs.rm(home, { recursive: true, force: true });
      }
    });
  });

  test('the signed-byte hash and the unsigned fold agree (the identity the SQL forms rely on)', () => {
    const fold = (s: string) => [...new TextEncoder().encode(s)].reduce((acc, b) => (acc * 31 + b) % 256, 0);
    expect(vectors.filter((v) => fold(v.id) !== v.bucket)).toEqual([]);
  });

  describe('Athena (Trino) SQL', () => {
    const athena = athenaBucketSql('id');

    test('uses only Trino functions, with integer division and no DuckDB-only syntax', () => {
      expect(athena).toContain("regexp_extract_all(id, '(?s).')");
      expect(athena).toContain('codepoint(CAST(c AS varchar(1)))');
      expect(athena).toMatch(/reduce\(transform\(/);
      expect(athena).toContain(', 0, (acc, x) -> (acc * (x / 1000) + x % 1000) % 256, acc -> acc)');
      expect(athena).not.toMatch(/list_|\/\/|string_split|unicode\(/);
    });

    // Trino cannot run here. The Trino text differs from DuckDB's only in these four spellings, so
    // rewriting them mechanically and evaluating the result in DuckDB tests every piece of arithmetic.
    test('evaluates to every vector once its four Trino spellings are mapped to DuckDB', async () => {
      let asDuck = athena
        .replace("regexp_extract_all(id, '(?s).')", "string_split(id, '')")
        .replaceAll('codepoint(CAST(c AS varchar(1)))', 'unicode(c)')
        .replaceAll(' / ', ' // ')
        .replace('reduce(transform(', 'list_reduce(list_transform(')
        .replace(', 0, (acc, x) -> (acc * (x // 1000) + x % 1000) % 256, acc -> acc)', ', (acc, x) -> (acc * (x // 1000) + x % 1000) % 256, 0)');
      expect(asDuck).not.toContain('codepoint');
      expect(await mismatches(asDuck)).toEqual([]);
      asDuck = asDuck.replace('% 256, 0)', '% 255, 0)'); // the check can fail
      expect((await mismatches(asDuck)).length).toBeGreaterThan(0);
    });
  });
});
