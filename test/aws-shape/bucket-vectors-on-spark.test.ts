/**
 * The split's bucket expression (glue-scripts/flywheel_split.py bucket_sql_expr) evaluated by real Spark (PySpark 3.5.4,
 * local mode) over every id of test/fixtures/bucket-vectors.json, plus what the expression's design rests on:
 * the Python model of the Spark functions (glue-scripts/test_bucket_sql_eval.py, npm test) checked example by example
 * on Spark; keys whose bytes are not valid UTF-8; the cost per key length; the Murmur3 port that sends each id_bucket
 * range to its own output file.
 */
import { readFileSync } from 'node:fs';
import { describeFailure, ROOT, runGlueOnSpark, type SparkRun } from './spark/glue-spark.js';
import { startMoto, type MotoServer } from './moto-server.js';
import { INVALID_UTF8_HEX } from '../fixtures/invalid-utf8-keys.js';

const HOOK_TIMEOUT_MS = 1_800_000;
const VECTORS_FILE = `${ROOT}test/fixtures/bucket-vectors.json`;
const { vectors, nullBucket } = JSON.parse(readFileSync(VECTORS_FILE, 'utf8')) as { vectors: Array<{ id: string; bucket: number }>; nullBucket: number };

/** The expression before this change (flywheel_split.py at 4435866), kept as evidence for the predictions it was read for. */
const BEFORE =
  'CAST(CASE WHEN `k` IS NULL OR octet_length(`k`) = 0 THEN 0 ELSE aggregate(sequence(0, octet_length(`k`) - 1), 0, ' +
  "(acc, i) -> CAST((acc * 31 + CAST(conv(substr(hex(encode(`k`, 'UTF-8')), 2 * i + 1, 2), 16, 10) AS INT)) % 256 AS INT)) END AS INT)";
const CURRENT =
  "CAST(CASE WHEN `k` IS NULL THEN 0 ELSE aggregate(split(decode(CAST(`k` AS BINARY), 'ISO-8859-1'), ''), 0, (acc, ch) -> CAST((acc * 31 + ascii(ch)) % 256 AS INT)) END AS INT)";
/** Stored bytes (hex) that are not valid UTF-8: lone continuation, overlong, truncated, surrogate, > U+10FFFF, 0xFF; then valid ones. */
const RAW_KEYS = [...INVALID_UTF8_HEX, '616263', 'C3A9', 'F09F9880'];
const HOSTILE_COLUMN = 'cust`id; DROP --';

const bucketOfBytes = (hex: string): number => (hex.match(/../g) ?? []).reduce((acc, h) => (acc * 31 + Number.parseInt(h, 16)) % 256, 0);

let moto: MotoServer | undefined;
let run: SparkRun;

beforeAll(async () => {
  moto = await startMoto(); // nothing here touches S3, but the runner's S3A and boto3 are configured for a moto
  const hashValues = [...Array.from({ length: 2001 }, (_, i) => i - 1000), 2147483647, -2147483648, 123456789, -987654321];
  run = await runGlueOnSpark({
    endpoint: moto.endpoint,
    tasks: [
      { name: 'vectors', call: 'test/aws-shape/spark/tasks.py:bucket_vectors', params: { vectorsFile: VECTORS_FILE } },
      {
        name: 'vectors, hostile column name',
        call: 'test/aws-shape/spark/tasks.py:bucket_vectors',
        params: { vectorsFile: VECTORS_FILE, column: HOSTILE_COLUMN },
      },
      { name: 'model examples', call: 'test/aws-shape/spark/tasks.py:model_examples' },
      {
        name: 'raw keys',
        call: 'test/aws-shape/spark/tasks.py:raw_key_buckets',
        params: { keysHex: RAW_KEYS, expressions: { before: BEFORE, current: CURRENT } },
      },
      {
        name: 'codegen',
        call: 'test/aws-shape/spark/tasks.py:codegen_fallback',
        params: { classes: ['ArrayAggregate', 'Encode', 'Hex', 'Ascii', 'Decode', 'StringSplit'] },
      },
      {
        name: 'hash partitioning',
        call: 'test/aws-shape/spark/tasks.py:spark_hash_check',
        params: { values: hashValues, repartitionCounts: [1, 2, 3, 7, 64, 255, 256] },
      },
    ],
  });
  console.log(
    `Spark ${run.versions.spark} (Java ${run.versions.java}); start ${run.startSeconds} s, total ${run.seconds} s\n` +
      JSON.stringify({ raw: run.task('raw keys').result, codegen: run.task('codegen').result }, null, 1),
  );
}, HOOK_TIMEOUT_MS);

afterAll(async () => {
  await moto?.stop();
}, HOOK_TIMEOUT_MS);

describe('bucket_sql_expr on Spark', () => {
  test('every task ran', () => {
    for (const t of run.tasks) expect(describeFailure(t)).toBe(`${t.name}: ok`);
  });

  test('gives every vector its bucket, NULL bucket 0, as an INT', () => {
    const result = run.task('vectors').result as { rows: Array<{ i: number; bucket: number | null }>; types: string[]; expression: string };
    expect(result.expression).toBe(CURRENT.replace(/`k`/g, '`customer_user_id`'));
    expect(result.types).toEqual(['int']);
    expect(vectors.length).toBeGreaterThanOrEqual(1000);
    const got = new Map(result.rows.map((r) => [r.i, r.bucket]));
    expect(got.get(-1)).toBe(nullBucket);
    expect(vectors.map((v, i) => ({ i, id: v.id.slice(0, 40), bucket: got.get(i) })).filter((x) => x.bucket !== vectors[x.i]!.bucket)).toEqual([]);
  });

  test('with a hostile source column name (quoted)', () => {
    const result = run.task('vectors, hostile column name').result as { rows: Array<{ i: number; bucket: number | null }> };
    expect(result.rows.filter((r) => r.bucket !== (r.i < 0 ? nullBucket : vectors[r.i]!.bucket))).toEqual([]);
  });

  test("the Python model's pinned examples (test_bucket_sql_eval.py SPARK_EXAMPLES) are what Spark gives", () => {
    const examples = run.task('model examples').result as Array<{ sql: string; expected: unknown; model: unknown; spark: unknown }>;
    expect(examples.length).toBeGreaterThan(25);
    expect(examples.filter((e) => JSON.stringify(e.spark) !== JSON.stringify(e.expected) || JSON.stringify(e.model) !== JSON.stringify(e.expected))).toEqual(
      [],
    );
  });
});

describe('predictions about the bucket expression, checked on Spark', () => {
  test('invalid UTF-8: the earlier expression hashed the U+FFFD re-encoding (a wrong bucket, never NULL: the re-encoding is never shorter); the current one hashes the bytes', () => {
    const rows = run.task('raw keys').result as Array<{ hex: string; octets: number; reencoded_octets: number; before: number | null; current: number | null }>;
    const invalid = rows.filter((r) => !['616263', 'C3A9', 'F09F9880'].includes(r.hex));
    expect(invalid).toHaveLength(15);
    for (const r of rows) {
      expect({ hex: r.hex, current: r.current }).toEqual({ hex: r.hex, current: bucketOfBytes(r.hex) });
      expect(r.before).not.toBeNull();
      expect(r.reencoded_octets).toBeGreaterThanOrEqual(r.octets);
    }
    expect(invalid.filter((r) => r.before === bucketOfBytes(r.hex)).map((r) => r.hex)).toEqual([]);
    // valid UTF-8: both forms agree
    for (const r of rows.filter((x) => !invalid.includes(x))) expect(r.before).toBe(r.current);
  });

  test('aggregate() has no codegen in Spark 3.5 (CodegenFallback); the functions around it do', () => {
    expect(run.task('codegen').result).toEqual({ ArrayAggregate: true, Encode: false, Hex: false, Ascii: false, Decode: false, StringSplit: false });
  });

  test("hash partitioning on file_partition_keys sends each id_bucket range to its own partition (Spark's hash() = the Python Murmur3 port)", () => {
    const result = run.task('hash partitioning').result as {
      values: number;
      hashMismatches: unknown[];
      pairs: number;
      wrongPartitions: number;
      repartitionMisplaced: Record<string, number>;
    };
    expect(result.hashMismatches).toEqual([]);
    expect(result.values).toBeGreaterThan(2000);
    expect(result.pairs).toBe(256 * 256);
    expect(result.wrongPartitions).toBe(0);
    expect(result.repartitionMisplaced).toEqual({ 1: 0, 2: 0, 3: 0, 7: 0, 64: 0, 255: 0, 256: 0 });
  });
});
