/**
 * glue-scripts/split_and_bucket.py, unmodified, on real Spark (PySpark 3.5.4, local mode) reading and writing
 * s3:// through S3A against moto, compared with the local DuckDB twin (shared/adapters/local/local-engines.ts)
 * executing the same plan over the same lake.
 *
 * The lake is the `npm start` sample (small row counts) in moto's data bucket and in a local home; the plans come
 * from the product's snapshot trigger (makeStartSnapshotRun over the local runtime, which also runs the twin), with
 * a small target file size so that every table is split into several files. Spark's output is downloaded and
 * read with DuckDB next to the twin's.
 *
 * One more plan, written here, has bucketCount 16 (a power of two below 256: id_bucket = the 256-bucket value % 16):
 * its output is checked against shared/domain/bucket.ts and file_ranges(4, 16), not against the twin.
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { functionDeps, localJobName, localRuntime, type LocalEngineRuntime as LocalRuntime } from '../../shared/composition/local.js';
import { bucketOf } from '../../shared/domain/bucket.js';
import { parseS3Uri } from '../../shared/domain/config.js';
import type { SplitPlan, SplitTablePlan } from '../../shared/domain/split-plan.js';
import { generateSampleLake } from '../../shared/local/sample-lake.js';
import { makeStartSnapshotRun } from '../../shared/use-cases/snapshot-trigger.js';
import { describeFailure, inputRecords, runGlueOnSpark, type SparkRun, type TaskReport } from './spark/glue-spark.js';
import { sdkConfig, startMoto, type MotoServer } from './moto-server.js';
import { downloadObjects, listObjects, queryRows, readParquet, walk } from './s3-files.js';
import { INVALID_UTF8_HEX } from '../fixtures/invalid-utf8-keys.js';

const HOOK_TIMEOUT_MS = 1_800_000;
const SNAPSHOT = '2025-10-31';
const ROWS = 4_000;
/** Small enough that every table of the sample is split into several files (the product's default is 512 MB). */
const TARGET_FILE_BYTES = 8 * 1024;
const DATASETS = ['infobase', 'addressable'] as const;
const BUCKET = 'data';
const KEY = 'customer_user_id';

/** Raw key bytes (hex) for the invalid-UTF-8 run: lone continuation, overlong, truncated sequences, a surrogate, > U+10FFFF, 0xFF, and valid keys. */
const RAW_KEYS: Array<string | null> = [...INVALID_UTF8_HEX, '616263', '5A6FC3AB2D3530', 'F09F9880', '', null];
const RAW_RUN = 'r-raw-keys';
const RAW_PREFIX = 'evidence/raw-keys/';

/** The 16-bucket run: a plan with bucketCount 16 and 4 files, over the first ids of the shared vector file and a NULL. */
const SIXTEEN_RUN = 'r-16-buckets';
const SIXTEEN_PREFIX = 'evidence/16-buckets/';
const SIXTEEN_BUCKETS = 16;
const SIXTEEN_FILES = 4;
const SIXTEEN_KEYS: Array<string | null> = [
  ...(JSON.parse(readFileSync(new URL('../fixtures/bucket-vectors.json', import.meta.url), 'utf8')) as { vectors: Array<{ id: string }> }).vectors
    .slice(0, 200)
    .map((v) => v.id),
  null,
];

interface Side {
  /** Folder of the table's output files on disk. */
  dir: string;
  files: string[];
}

interface Compared {
  plan: SplitTablePlan;
  spark: Side;
  local: Side;
}

let moto: MotoServer | undefined;
let s3: S3Client;
let home: string | undefined;
let work: string;
let rt: LocalRuntime | undefined;
let duck: DuckDBConnection;
let run: SparkRun;
const plans = new Map<string, { plan: SplitPlan; planUri: string }>();
const tables: Compared[] = [];
let sixteenPlan: SplitPlan;
let sixteenFiles: string[] = [];

const bucketOfBytes = (bytes: Uint8Array): number => bytes.reduce((acc, b) => (acc * 31 + b) % 256, 0);
const hexBytes = (hex: string) => Uint8Array.from(hex.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
/** The id_bucket range of each of n files over `buckets` buckets (flywheel_split.file_ranges). */
const fileRanges = (n: number, buckets = 256) =>
  Array.from({ length: n }, (_, i) => [Math.floor((i * buckets) / n), Math.floor(((i + 1) * buckets) / n) - 1] as const);
/** The bucket of a key for 16 buckets: the 256-bucket value % 16 (bucketOf called with one argument only). */
const bucketOf16 = (id: string | null) => bucketOf(id) % SIXTEEN_BUCKETS;

const keysUnder = async (prefix: string) => (await listObjects(s3, BUCKET, prefix)).map((o) => o.key);
const download = async (prefix: string, to: string) =>
  downloadObjects(
    s3,
    BUCKET,
    (await keysUnder(prefix)).filter((k) => k.endsWith('.parquet')),
    to,
  );
const parquet = readParquet;

async function text(key: string): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return got.Body!.transformToString();
}

const rows = (sql: string) => queryRows(duck, sql);

beforeAll(async () => {
  moto = await startMoto();
  s3 = new S3Client({ ...sdkConfig(moto.endpoint, { accessKeyId: 'test', secretAccessKey: 'test' }), forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  home = mkdtempSync(path.join(os.tmpdir(), 'split-on-spark-'));
  work = path.join(home, 'work');
  const lake = path.join(home, 'lake');

  // 1. the sample lake, locally and in moto's data bucket (what the trigger reads and the job reads)
  await generateSampleLake(lake, { rows: ROWS, snapshots: [SNAPSHOT] });
  for (const file of walk(path.join(lake, 'data'))) {
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: path.relative(path.join(lake, 'data'), file).split(path.sep).join('/'), Body: readFileSync(file) }),
    );
  }

  // 2. the product's snapshot trigger plans each dataset and starts the local twin; the Glue Job State Change
  //    events are dropped, so the bus runs the twin and nothing after it
  rt = await localRuntime({ home, observer: { drop: () => true }, config: { targetFileBytes: TARGET_FILE_BYTES } });
  const trigger = makeStartSnapshotRun(functionDeps(rt.deps, 'snapshotTrigger'));
  for (const dataset of DATASETS) {
    const started = await trigger({ dataset, snapshotDt: SNAPSHOT, trigger: { kind: 'cli' } });
    if (started.outcome !== 'started') throw new Error(`${dataset}: the trigger did not start a run: ${JSON.stringify(started)}`);
    const ledger = JSON.parse(
      readFileSync(path.join(lake, 'data', rt.deps.config.datasets[dataset]!.runsPrefix, `snapshot_dt=${SNAPSHOT}`, 'run.json'), 'utf8'),
    ) as { planUri: string };
    plans.set(dataset, { plan: started.plan, planUri: ledger.planUri });
    const { key } = parseS3Uri(ledger.planUri);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: readFileSync(path.join(lake, 'data', key)) }));
  }
  await rt.bus.drain();

  // 3. a source whose keys are raw bytes, valid UTF-8 or not (written by Spark itself, the only writer here that keeps them)
  const rawPlan: SplitPlan = {
    version: 1,
    dataset: 'infobase',
    snapshotDt: SNAPSHOT,
    runId: RAW_RUN,
    bucketCount: 256,
    keyColumn: KEY,
    metadataUri: `s3://${BUCKET}/${RAW_PREFIX}metadata/snapshot_dt.txt`,
    tables: [
      {
        target: 'raw_keys',
        source: 'RAW_KEYS',
        sourceFiles: [],
        sourceBytes: 0,
        estimatedBytes: 0,
        columns: [
          { source: 'CUSTOMER_USER_ID', target: KEY },
          { source: 'ROW_NO', target: 'row_no' },
        ],
        keySourceColumn: 'CUSTOMER_USER_ID',
        fileCount: 4,
        outputUri: `s3://${BUCKET}/${RAW_PREFIX}raw_keys/snapshot_dt=${SNAPSHOT}/run_id=${RAW_RUN}/`,
      },
    ],
    skipped: [],
    droppedColumns: {},
  };
  const rawPlanUri = `s3://${BUCKET}/${RAW_PREFIX}_runs/plan.json`;

  // 3b. the same kind of source (valid UTF-8 keys and a NULL), split by a plan with bucketCount 16 into 4 files
  sixteenPlan = {
    ...rawPlan,
    runId: SIXTEEN_RUN,
    bucketCount: SIXTEEN_BUCKETS,
    metadataUri: `s3://${BUCKET}/${SIXTEEN_PREFIX}metadata/snapshot_dt.txt`,
    tables: [
      {
        ...rawPlan.tables[0]!,
        target: 'sixteen',
        source: 'SIXTEEN',
        fileCount: SIXTEEN_FILES,
        outputUri: `s3://${BUCKET}/${SIXTEEN_PREFIX}sixteen/snapshot_dt=${SNAPSHOT}/run_id=${SIXTEEN_RUN}/`,
      },
    ],
  };
  const sixteenPlanUri = `s3://${BUCKET}/${SIXTEEN_PREFIX}_runs/plan.json`;

  // 4. one Spark process: both datasets' splits as Glue runs them, then the raw-key split and reading it back
  run = await runGlueOnSpark({
    endpoint: moto.endpoint,
    buckets: [BUCKET],
    tasks: [
      ...DATASETS.map((dataset) => {
        const { plan, planUri } = plans.get(dataset)!;
        return {
          name: `split ${dataset}`,
          script: 'glue-scripts/split_and_bucket.py',
          args: { JOB_NAME: localJobName(dataset), SNAPSHOT_DT: SNAPSHOT, RUN_ID: plan.runId, PLAN_URI: planUri },
        };
      }),
      {
        name: 'raw keys source',
        call: 'test/aws-shape/spark/tasks.py:write_source_with_raw_keys',
        params: { sourceUri: `s3://${BUCKET}/${RAW_PREFIX}source/RAW_KEYS/`, keysHex: RAW_KEYS, planUri: rawPlanUri, plan: rawPlan },
      },
      {
        name: 'split raw keys',
        script: 'glue-scripts/split_and_bucket.py',
        args: { JOB_NAME: 'raw-keys', SNAPSHOT_DT: SNAPSHOT, RUN_ID: RAW_RUN, PLAN_URI: rawPlanUri },
      },
      {
        name: 'read raw keys',
        call: 'test/aws-shape/spark/tasks.py:read_split_output',
        params: { uri: rawPlan.tables[0]!.outputUri, keyColumn: KEY, extraColumns: ['row_no'] },
      },
      {
        name: '16 buckets source',
        call: 'test/aws-shape/spark/tasks.py:write_source_with_raw_keys',
        params: {
          sourceUri: `s3://${BUCKET}/${SIXTEEN_PREFIX}source/SIXTEEN/`,
          keysHex: SIXTEEN_KEYS.map((k) => (k === null ? null : Buffer.from(k, 'utf8').toString('hex').toUpperCase())),
          planUri: sixteenPlanUri,
          plan: sixteenPlan,
        },
      },
      {
        name: 'split 16 buckets',
        script: 'glue-scripts/split_and_bucket.py',
        args: { JOB_NAME: '16-buckets', SNAPSHOT_DT: SNAPSHOT, RUN_ID: SIXTEEN_RUN, PLAN_URI: sixteenPlanUri },
      },
    ],
  });

  // 5. both sides' files of every planned table
  for (const dataset of DATASETS) {
    for (const t of plans.get(dataset)!.plan.tables) {
      const { key } = parseS3Uri(t.outputUri);
      const sparkDir = path.join(work, 'spark', key);
      const sparkFiles = await download(key, sparkDir);
      const localDir = path.join(lake, 'data', key);
      const localFiles = readdirSync(localDir)
        .filter((f) => f.endsWith('.parquet'))
        .sort()
        .map((f) => path.join(localDir, f));
      tables.push({ plan: t, spark: { dir: sparkDir, files: sparkFiles }, local: { dir: localDir, files: localFiles } });
    }
  }
  sixteenFiles = await download(parseS3Uri(sixteenPlan.tables[0]!.outputUri).key, path.join(work, 'spark', SIXTEEN_PREFIX));
  duck = await (await DuckDBInstance.create(':memory:')).connect();

  // the evidence this file asserts on, for the record
  const summary = run.tasks.map((t) => ({
    task: t.name,
    ok: t.ok,
    seconds: t.seconds,
    jobs: t.jobs.length,
    inputRecords: inputRecords(t),
    stages: t.jobs.flatMap((j) =>
      j.stages.map(
        (s) => `${j.jobId}/${s.stageId}:${s.numTasks}t in=${s.inputRecords} shW=${s.shuffleWriteRecords} shR=${s.shuffleReadRecords} out=${s.outputRecords}`,
      ),
    ),
    s3a: Object.fromEntries(
      Object.entries(t.s3a[BUCKET] ?? {}).filter(([k]) =>
        /stream_read_opened|action_http_get_request|stream_read_bytes$|object_list_request|object_put_request$/.test(k),
      ),
    ),
  }));
  console.log(
    `Spark ${run.versions.spark}, Hadoop ${run.versions.hadoop}, Java ${run.versions.java}, Python ${run.versions.python}; start ${run.startSeconds} s, total ${run.seconds} s\n${JSON.stringify(summary, null, 1)}`,
  );
}, HOOK_TIMEOUT_MS);

afterAll(async () => {
  duck?.closeSync();
  rt?.close();
  s3?.destroy();
  await moto?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
}, HOOK_TIMEOUT_MS);

const task = (name: string): TaskReport => run.task(name);

describe('split_and_bucket.py on Spark, as Glue runs it', () => {
  test('every task ran: the script unmodified, Glue-shaped argv, its JSON logs', () => {
    for (const t of run.tasks) expect(describeFailure(t)).toBe(`${t.name}: ok`);
    expect(run.versions).toMatchObject({ spark: '3.5.4', hadoop: '3.3.4', python: expect.stringMatching(/^3\.11\./) });
    const split = task('split infobase');
    expect(split.argv).toEqual(
      expect.arrayContaining(['--JOB_NAME', localJobName('infobase'), '--SNAPSHOT_DT', SNAPSHOT, '--job-bookmark-option', 'job-bookmark-disable']),
    );
    expect(split.logs.map((l) => l.message)).toEqual(expect.arrayContaining(['split started', 'table written', 'split finished']));
    expect(split.logs.filter((l) => l.message === 'table written').map((l) => l.table)).toEqual(plans.get('infobase')!.plan.tables.map((t) => t.target));
    // every source went through S3A, and the script's own boto3 calls (plan, listing, result) reached moto too
    expect(split.s3a[BUCKET]!.stream_read_opened).toBeGreaterThan(0);
    expect(split.s3a[BUCKET]!.files_created).toBeGreaterThan(0);
  });

  test('the plans split every table into several files (the small target size)', () => {
    expect(tables.map((t) => t.plan.target)).toEqual(['ibe_01a', 'ibe_01b', 'ibe_04', 'miacs_01', 'miacs_02', 'addressable_ids']);
    for (const t of tables) expect(t.plan.fileCount).toBeGreaterThan(1);
  });
});

describe('Spark and the DuckDB twin give the same tables from the same plan', () => {
  test('column names and types', async () => {
    for (const t of tables) {
      const spark = await rows(`DESCRIBE SELECT * FROM ${parquet(t.spark.files)}`);
      const local = await rows(`DESCRIBE SELECT * FROM ${parquet(t.local.files)}`);
      expect({ table: t.plan.target, columns: spark.map((c) => `${c.column_name} ${c.column_type}`) }).toEqual({
        table: t.plan.target,
        columns: local.map((c) => `${c.column_name} ${c.column_type}`),
      });
      expect(spark.map((c) => c.column_name)).toEqual([...t.plan.columns.map((c) => c.target), 'id_bucket']);
    }
  });

  test('the same rows (every column), row counts, NULL keys and per-bucket counts', async () => {
    for (const t of tables) {
      const s = parquet(t.spark.files);
      const l = parquet(t.local.files);
      const [counts] = await rows(`SELECT (SELECT count(*) FROM ${s}) AS spark_rows, (SELECT count(*) FROM ${l}) AS local_rows,
        (SELECT count(*) FROM ${s} WHERE ${KEY} IS NULL) AS spark_null, (SELECT count(*) FROM ${l} WHERE ${KEY} IS NULL) AS local_null,
        (SELECT count(*) FROM (SELECT * FROM ${s} EXCEPT ALL SELECT * FROM ${l})) AS only_spark,
        (SELECT count(*) FROM (SELECT * FROM ${l} EXCEPT ALL SELECT * FROM ${s})) AS only_local`);
      const expectedRows = t.plan.target === 'addressable_ids' ? ROWS / 2 : ROWS;
      expect({ table: t.plan.target, ...counts }).toEqual({
        table: t.plan.target,
        spark_rows: expectedRows,
        local_rows: expectedRows,
        spark_null: 1,
        local_null: 1,
        only_spark: 0,
        only_local: 0,
      });
      const perBucket = async (src: string) =>
        (await rows(`SELECT id_bucket, count(*) AS n FROM ${src} GROUP BY 1 ORDER BY 1`)).map((r) => `${r.id_bucket}:${r.n}`);
      const sparkBuckets = await perBucket(s);
      expect(sparkBuckets).toEqual(await perBucket(l));
      // the NULL key is in bucket 0
      expect(await rows(`SELECT id_bucket FROM ${s} WHERE ${KEY} IS NULL`)).toEqual([{ id_bucket: 0 }]);
    }
  });

  test('result.json and metadata/snapshot_dt.txt', async () => {
    for (const dataset of DATASETS) {
      const { plan, planUri } = plans.get(dataset)!;
      const resultKey = parseS3Uri(planUri).key.replace(/plan\.json$/, 'result.json');
      const spark = JSON.parse(await text(resultKey)) as { tables: Record<string, { rows: number; files: number; nullKeys: number; plannedFiles: number }> };
      const local = JSON.parse(readFileSync(path.join(home!, 'lake', 'data', resultKey), 'utf8')) as {
        tables: Record<string, { rows: number; files: number; nullKeys: number }>;
      };
      expect(Object.keys(spark.tables).sort()).toEqual(Object.keys(local.tables).sort());
      for (const t of plan.tables) {
        const side = tables.find((x) => x.plan.target === t.target)!;
        expect({ table: t.target, rows: spark.tables[t.target]!.rows, nullKeys: spark.tables[t.target]!.nullKeys }).toEqual({
          table: t.target,
          rows: local.tables[t.target]!.rows,
          nullKeys: local.tables[t.target]!.nullKeys,
        });
        // files: each side counts what it wrote; the twin always writes fileCount files, Spark one per non-empty range
        expect(local.tables[t.target]!.files).toBe(t.fileCount);
        expect(spark.tables[t.target]).toMatchObject({ files: side.spark.files.length, plannedFiles: t.fileCount });
      }
      const metaKey = parseS3Uri(plan.metadataUri).key;
      expect(await text(metaKey)).toBe(`${SNAPSHOT}\n`);
      expect(readFileSync(path.join(home!, 'lake', 'data', metaKey), 'utf8')).toBe(`${SNAPSHOT}\n`);
    }
  });

  test('file counts: the twin writes fileCount files of row shares; Spark file part-i holds exactly the rows of id_bucket range i (file_ranges)', async () => {
    for (const t of tables) {
      expect(t.local.files).toHaveLength(t.plan.fileCount);
      const ranges = fileRanges(t.plan.fileCount);
      // a range without rows would give no file; the sample has rows in every range
      expect({ table: t.plan.target, files: t.spark.files.length }).toEqual({ table: t.plan.target, files: t.plan.fileCount });
      const perFile = await rows(
        `SELECT filename, min(id_bucket) AS lo, max(id_bucket) AS hi, count(*) AS n FROM ${parquet(t.spark.files, 'filename = true')} GROUP BY 1 ORDER BY 1`,
      );
      const got = perFile.map((r) => {
        const part = Number(/part-(\d+)-/.exec(path.basename(String(r.filename)))![1]);
        const [lo, hi] = ranges[part]!;
        return { part, inRange: (r.lo as number) >= lo && (r.hi as number) <= hi };
      });
      expect({ table: t.plan.target, files: got }).toEqual({ table: t.plan.target, files: ranges.map((_, part) => ({ part, inRange: true })) });
      // and every row of a range is in that one file: the twin's per-range counts equal Spark's per-file counts
      const localPerRange = await Promise.all(
        ranges.map(async ([lo, hi]) => (await rows(`SELECT count(*) AS n FROM ${parquet(t.local.files)} WHERE id_bucket BETWEEN ${lo} AND ${hi}`))[0]!.n),
      );
      expect(perFile.map((r) => r.n)).toEqual(localPerRange);
    }
  });

  test('each Spark file is sorted by (id_bucket, key), NULL key first', async () => {
    for (const t of tables) {
      const [bad] = await rows(`SELECT count(*) AS n FROM (
          SELECT id_bucket, ${KEY} AS k, lag(id_bucket) OVER w AS pb, lag(${KEY}) OVER w AS pk, row_number() OVER w AS rn
          FROM ${parquet(t.spark.files, 'filename = true, file_row_number = true')}
          WINDOW w AS (PARTITION BY filename ORDER BY file_row_number))
        WHERE rn > 1 AND (pb > id_bucket OR (pb = id_bucket AND ((pk IS NOT NULL AND k IS NULL) OR pk > k)))`);
      expect({ table: t.plan.target, unsorted: bad!.n }).toEqual({ table: t.plan.target, unsorted: 0 });
    }
  });
});

describe('predictions about the split, checked on Spark', () => {
  test('each source is scanned once: input records over all stages = source rows + the output count pass', () => {
    for (const dataset of DATASETS) {
      const t = task(`split ${dataset}`);
      const sourceRows = plans.get(dataset)!.plan.tables.reduce((sum, x) => sum + (x.target === 'addressable_ids' ? ROWS / 2 : ROWS), 0);
      // the counting pass after the write reads the written key column: one more record per row
      expect({ dataset, inputRecords: inputRecords(t) }).toEqual({ dataset, inputRecords: 2 * sourceRows });
    }
  });

  test('the write plan: hash partitioning on the file key (no range partitioning and its sampling job), id_bucket computed once per row, interpreted', () => {
    for (const dataset of DATASETS) {
      const writes = task(`split ${dataset}`).sqlExecutions.filter((e) => e.physicalPlan.includes('InsertIntoHadoopFsRelationCommand'));
      expect(writes).toHaveLength(plans.get(dataset)!.plan.tables.length);
      for (const w of writes) {
        const count = (needle: string) => w.physicalPlan.split(needle).length - 1;
        expect(count('rangepartitioning')).toBe(0);
        // the plan text shows the final and the initial (adaptive) plan: one exchange and one bucket computation in each
        expect(count('hashpartitioning(__flywheel_file#')).toBeGreaterThan(0);
        expect(count('aggregate(split(decode(cast(')).toBe(count('hashpartitioning(__flywheel_file#'));
        // aggregate() is CodegenFallback: the Project computing id_bucket is outside whole-stage codegen (no "*")
        expect(w.physicalPlan).toMatch(/\n\(\d+\) Project\nOutput \[\d+\]: \[[^\n]*aggregate\(split/);
      }
    }
  });

  test('a plan with bucketCount 16: every id_bucket is the 256-bucket value % 16 (0..15 only), file part-i holds exactly file_ranges(4, 16)[i]', async () => {
    const split = task('split 16 buckets');
    expect(describeFailure(split)).toBe('split 16 buckets: ok');
    expect(split.logs.filter((l) => l.message === 'split started').map((l) => l.bucket_count)).toEqual([SIXTEEN_BUCKETS]);
    // what landed in S3, read with DuckDB (not Spark)
    const got = await rows(
      `SELECT row_no, 'x' || hex(${KEY}) AS key_hex, id_bucket, filename FROM ${parquet(sixteenFiles, 'filename = true')} ORDER BY row_no`,
    );
    expect(got).toHaveLength(SIXTEEN_KEYS.length);
    const ranges = fileRanges(SIXTEEN_FILES, SIXTEEN_BUCKETS);
    expect(ranges).toEqual([
      [0, 3],
      [4, 7],
      [8, 11],
      [12, 15],
    ]);
    const fileOf = (bucket: number) => ranges.findIndex(([lo, hi]) => bucket >= lo && bucket <= hi);
    const actual = got.map((r) => ({
      row: r.row_no,
      key: r.key_hex,
      bucket: r.id_bucket,
      part: Number(/part-(\d+)-/.exec(path.basename(String(r.filename)))![1]),
    }));
    const expected = SIXTEEN_KEYS.map((k, i) => ({
      row: i,
      key: k === null ? null : `x${Buffer.from(k, 'utf8').toString('hex').toUpperCase()}`,
      bucket: bucketOf16(k),
      part: fileOf(bucketOf16(k)),
    }));
    expect(actual).toEqual(expected);
    // the ids span buckets 0..15 and nothing above (with 256 buckets they would not fit 0..15)
    expect([...new Set(actual.map((r) => r.bucket))].sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: SIXTEEN_BUCKETS }, (_, b) => b));
    expect(SIXTEEN_KEYS.some((k) => bucketOf(k) >= SIXTEEN_BUCKETS)).toBe(true);
    // one file per range, each holding exactly its range's buckets, sorted by (id_bucket, key)
    expect(sixteenFiles).toHaveLength(SIXTEEN_FILES);
    const perFile = await rows(
      `SELECT filename, list(DISTINCT id_bucket ORDER BY id_bucket) AS buckets FROM ${parquet(sixteenFiles, 'filename = true')} GROUP BY 1 ORDER BY 1`,
    );
    expect(perFile.map((r) => r.buckets)).toEqual(ranges.map(([lo, hi]) => Array.from({ length: hi - lo + 1 }, (_, j) => lo + j)));
    const [unsorted] = await rows(`SELECT count(*) AS n FROM (
        SELECT id_bucket, ${KEY} AS k, lag(id_bucket) OVER w AS pb, lag(${KEY}) OVER w AS pk, row_number() OVER w AS rn
        FROM ${parquet(sixteenFiles, 'filename = true, file_row_number = true')}
        WINDOW w AS (PARTITION BY filename ORDER BY file_row_number))
      WHERE rn > 1 AND (pb > id_bucket OR (pb = id_bucket AND ((pk IS NOT NULL AND k IS NULL) OR pk > k)))`);
    expect(unsorted!.n).toBe(0);
    const result = JSON.parse(await text(`${SIXTEEN_PREFIX}_runs/result.json`)) as { tables: Record<string, unknown> };
    expect(result.tables.sixteen).toEqual({ rows: SIXTEEN_KEYS.length, files: SIXTEEN_FILES, nullKeys: 1, plannedFiles: SIXTEEN_FILES });
  });

  test('a key with invalid UTF-8 is bucketed by its raw bytes (as Hive bucketing hashes them), never NULL, and no row is lost', () => {
    const back = task('read raw keys').result as {
      schema: string;
      rows: Array<{ row_no: number; key_hex: string | null; id_bucket: number | null; file: string }>;
    };
    expect(back.schema).toContain(`${KEY}:string`);
    expect(back.rows).toHaveLength(RAW_KEYS.length);
    const got = back.rows.sort((a, b) => a.row_no - b.row_no).map((r) => ({ key: r.key_hex, bucket: r.id_bucket }));
    const want = RAW_KEYS.map((h) => ({ key: h, bucket: h === null ? 0 : bucketOfBytes(hexBytes(h)) }));
    expect(got).toEqual(want);
  });
});
