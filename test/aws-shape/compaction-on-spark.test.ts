/**
 * glue-scripts/compact_raw.py, unmodified, on real Spark (PySpark 3.5.4, local mode) reading and writing s3:// through
 * S3A against moto, compared with the local DuckDB twin (shared/adapters/local/compaction.ts compactLanding) on the same
 * raw landings:
 *
 * - the addressable landing of the `npm start` sample (shared/local/sample-lake.ts rawLanding: 24 small files directly
 *   under opus/addressable_ids/raw_input/snapshot_dt=D/),
 * - an infobase landing (table folders: each sample source table re-landed as 6 small files under
 *   opus/infobase_attributes/raw_input/snapshot_dt=D/<TABLE>/, a stray text file, and a stale file in one output folder),
 * - a bigger addressable landing compacted with a 1 MB target (a stage's compactionTargetFileMb), so a folder becomes
 *   several files.
 *
 * The job arguments are the ones the compaction use case passes (makeMaintenanceJobs(…).startCompaction, its job runner
 * captured). The data bucket sends its S3 events to EventBridge as the template's bucket does; moto's EventBridge has the
 * template's ready-marker rule (routes() of shared/events/patterns.ts) and a catch-all rule, each with an SQS queue, so
 * every object Spark and the script created or deleted is on record in order, and what the ready-marker rule would have
 * started is too.
 */
import { CreateBucketCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compactLanding, type LandingCompaction } from '../../shared/adapters/local/compaction.js';
import { LocalDuckDb } from '../../shared/adapters/local/duckdb.js';
import { FsObjectStore } from '../../shared/adapters/local/fs-object-store.js';
import { assertCodec } from '../../shared/domain/compaction.js';
import { ADDRESSABLE, defaultConfig, INFOBASE, parseS3Uri, type DatasetConfig, type PipelineConfig } from '../../shared/domain/config.js';
import { routes } from '../../shared/events/patterns.js';
import { generateSampleLake } from '../../shared/local/sample-lake.js';
import { bodies, createQueue, receiveAll, type Queue } from './moto-fixtures.js';
import { sdkConfig, startMoto, type MotoServer } from './moto-server.js';
import { maintenanceJobArgs } from './job-args.js';
import { downloadObjects, listObjects, queryRows, readParquet, walk } from './s3-files.js';
import { describeFailure, runGlueOnSpark, type SparkRun, type TaskReport } from './spark/glue-spark.js';

const HOOK_TIMEOUT_MS = 1_800_000;
const BUCKET = 'data';
const SNAPSHOT = '2025-10-31';
/** The bigger addressable landing, compacted into several 1 MB files. */
const BIG_SNAPSHOT = '2025-11-30';
const ROWS = 4_000;
const BIG_ROWS = 400_000;
/** Small files each infobase source table is re-landed as. */
const INFOBASE_FILES_PER_TABLE = 6;
/** The multipart copy evidence: parts of 256 KiB (moto's minimum part size is lowered below for it; S3's is 5 MiB). */
const PART_BYTES = 256 * 1024;
const MOTO_MIN_PART_BYTES = 64 * 1024;
const EVIDENCE = 'evidence/multipart-copy/';

interface S3Event {
  'detail-type': 'Object Created' | 'Object Deleted' | string;
  detail: { bucket: { name: string }; object: { key: string; size?: number } };
}

/** One compaction run: its arguments (from the use case), Spark's task, the twin's result. */
interface Run {
  name: string;
  dataset: DatasetConfig;
  snapshot: string;
  args: Record<string, string>;
  local?: LandingCompaction;
}

let moto: MotoServer | undefined;
let s3: S3Client;
let sqs: SQSClient;
let events: EventBridgeClient;
let home: string | undefined;
let lake: string;
let db: LocalDuckDb | undefined;
let duck: DuckDBConnection;
let run: SparkRun;
let log: S3Event[] = [];
let readyRule: S3Event[] = [];
let sourceBefore: string[] = [];
let sourceAfter: string[] = [];
const runs: Run[] = [];

const parquet = (files: string[]) => readParquet(files);
const listing = (prefix: string) => listObjects(s3, BUCKET, prefix);
const download = (keys: string[], to: string) => downloadObjects(s3, BUCKET, keys, to);

/** Column names and types of parquet files, as DuckDB reads them. */
const types = async (files: string[]) => (await rows(`DESCRIBE SELECT * FROM ${parquet(files)}`)).map((x) => `${x.column_name} ${x.column_type}`);

const rows = (sql: string) => queryRows(duck, sql);

/** The job arguments the compaction use case passes for (dataset, snapshot). */
const compactionArgs = (config: PipelineConfig, dataset: DatasetConfig, snapshot: string) =>
  maintenanceJobArgs(config, new Date('2025-12-01T00:00:00Z'), (jobs) => jobs.startCompaction(dataset, snapshot));

const outPrefix = (r: Run) => parseS3Uri(r.args.OUTPUT_PATH!).key;
/** Where the job stages a folder's files (flywheel_compaction.compaction_staging_uri). */
const stagingPrefix = (r: Run) => `${r.dataset.rawPrefix}_compaction_staging/snapshot_dt=${r.snapshot}/`;
/** Where it staged them before: inside the split's input snapshot folder. */
const oldStagingPrefix = (r: Run) => `${outPrefix(r)}_compaction_staging/`;

beforeAll(async () => {
  // moto's minimum part size (S3's 5 MiB, checked when a multipart upload completes) lowered for this file's moto, so
  // that staged files of ~1.3 MB can be copied in several 256 KiB parts; the job's own parts are 512 MiB
  const savedMinPart = process.env.S3_UPLOAD_PART_MIN_SIZE;
  process.env.S3_UPLOAD_PART_MIN_SIZE = String(MOTO_MIN_PART_BYTES);
  try {
    moto = await startMoto();
  } finally {
    if (savedMinPart === undefined) delete process.env.S3_UPLOAD_PART_MIN_SIZE;
    else process.env.S3_UPLOAD_PART_MIN_SIZE = savedMinPart;
  }
  const config = sdkConfig(moto.endpoint, { accessKeyId: 'test', secretAccessKey: 'test' });
  s3 = new S3Client({ ...config, forcePathStyle: true });
  sqs = new SQSClient(config);
  events = new EventBridgeClient(config);
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: BUCKET, NotificationConfiguration: { EventBridgeConfiguration: {} } }));

  // the template's ready-marker rule (as routes() builds it for this bucket) and a catch-all of the bucket's events
  const ready = routes({
    dataBucket: BUCKET,
    athenaWorkgroup: 'wg',
    monitorWorkgroup: 'monitor',
    datasets: [INFOBASE, ADDRESSABLE].map((d) => ({
      rawPrefix: d.rawPrefix,
      readyMarker: d.readyMarker,
      splitJobName: `split-${d.name}`,
      compactionPrefix: d.compaction?.sourcePrefix,
    })),
    compactionJobName: 'compaction',
    chargebacksJobName: 'chargebacks',
  }).find((r) => r.name === 'ready-marker-landed')!;
  const queues: Record<string, Queue> = {};
  for (const [name, pattern] of [
    ['ready-marker-landed', ready.pattern],
    ['all-s3', { source: ['aws.s3'] }],
  ] as const) {
    queues[name] = await createQueue(sqs, name);
    await events.send(new PutRuleCommand({ Name: name, EventPattern: JSON.stringify(pattern), State: 'ENABLED' }));
    await events.send(new PutTargetsCommand({ Rule: name, Targets: [{ Id: 'q', Arn: queues[name]!.arn }] }));
  }

  // 1. the landings, locally (the twin's lake) and in moto's data bucket
  home = mkdtempSync(path.join(os.tmpdir(), 'compaction-on-spark-'));
  lake = path.join(home, 'lake');
  const data = path.join(lake, 'data');
  await generateSampleLake(lake, { rows: ROWS, snapshots: [SNAPSHOT], rawLanding: true });
  const gen = await (await DuckDBInstance.create(':memory:')).connect();
  try {
    // infobase: each source table (one file in the sample) re-landed as small files in its table folder
    const generated = path.join(data, INFOBASE.rawPrefix, `snapshot_dt=${SNAPSHOT}`);
    const landing = path.join(data, INFOBASE.compaction!.sourcePrefix, `snapshot_dt=${SNAPSHOT}`);
    for (const table of readdirSync(generated).filter((t) => statSync(path.join(generated, t)).isDirectory())) {
      mkdirSync(path.join(landing, table), { recursive: true });
      const src = readdirSync(path.join(generated, table))
        .filter((f) => f.endsWith('.parquet'))
        .map((f) => `'${path.join(generated, table, f)}'`);
      for (let i = 0; i < INFOBASE_FILES_PER_TABLE; i++) {
        await gen.run(`COPY (SELECT * EXCLUDE (file_row_number) FROM read_parquet([${src.join(', ')}], file_row_number = true, hive_partitioning = false) WHERE file_row_number % ${INFOBASE_FILES_PER_TABLE} = ${i})
          TO '${path.join(landing, table, `part-${String(i).padStart(5, '0')}.parquet`)}' (FORMAT parquet, COMPRESSION snappy)`);
      }
    }
    writeFileSync(path.join(landing, 'IBE_01', 'notes.txt'), 'not data\n');
    writeFileSync(path.join(landing, INFOBASE.compaction!.readyMarker), '');
    // the split's input starts empty but for a stale file in one folder (a previous run's), which the switch replaces
    rmSync(generated, { recursive: true, force: true });
    mkdirSync(path.join(generated, 'IBE_04'), { recursive: true });
    copyFileSync(path.join(landing, 'IBE_04', 'part-00000.parquet'), path.join(generated, 'IBE_04', 'part-stale.parquet'));
  } finally {
    gen.closeSync();
  }
  // the bigger addressable landing (24 files), taken from a second sample lake
  const big = path.join(home, 'big');
  await generateSampleLake(big, { rows: BIG_ROWS, snapshots: [BIG_SNAPSHOT], rawLanding: true });
  const bigLanding = `${ADDRESSABLE.compaction!.sourcePrefix}snapshot_dt=${BIG_SNAPSHOT}`;
  mkdirSync(path.dirname(path.join(data, bigLanding)), { recursive: true });
  renameSync(path.join(big, 'data', bigLanding), path.join(data, bigLanding));
  rmSync(big, { recursive: true, force: true });
  for (const file of walk(data)) {
    const key = path.relative(data, file).split(path.sep).join('/');
    if (key.startsWith('opus/') || key.startsWith(`${INFOBASE.rawPrefix}snapshot_dt=${SNAPSHOT}/`))
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: readFileSync(file) }));
  }
  sourceBefore = (await listing('opus/')).map((o) => `${o.key} ${o.size} ${o.etag}`);
  // the uploads' own events are not the job's
  for (const q of Object.values(queues)) await receiveAll(sqs, q, { expected: 0, settleSeconds: 1 });

  // 2. the arguments the compaction use case passes: the stage's defaults, and a 1 MB target for the bigger landing
  const defaults = defaultConfig();
  const oneMb = defaultConfig({
    datasets: { ...defaults.datasets, addressable: { ...ADDRESSABLE, compaction: { ...ADDRESSABLE.compaction!, targetFileBytes: 1024 * 1024 } } },
  });
  runs.push({ name: 'compact addressable', dataset: ADDRESSABLE, snapshot: SNAPSHOT, args: await compactionArgs(defaults, ADDRESSABLE, SNAPSHOT) });
  runs.push({ name: 'compact infobase', dataset: INFOBASE, snapshot: SNAPSHOT, args: await compactionArgs(defaults, INFOBASE, SNAPSHOT) });
  runs.push({
    name: 'compact addressable 1 MB files',
    dataset: ADDRESSABLE,
    snapshot: BIG_SNAPSHOT,
    args: await compactionArgs(oneMb, oneMb.datasets.addressable!, BIG_SNAPSHOT),
  });

  // 3. the DuckDB twin on the local lake, with the same arguments (as LocalJobRunner passes them)
  db = await LocalDuckDb.open(path.join(home, 'catalog.duckdb'), lake);
  const store = new FsObjectStore(lake);
  for (const r of runs) {
    r.local = await compactLanding(db, store, {
      sourceUri: r.args.SOURCE_PATH!,
      outputUri: r.args.OUTPUT_PATH!,
      readyMarker: r.args.READY_MARKER!,
      targetFileBytes: Number(r.args.TARGET_FILE_MB) * 1024 * 1024,
      codec: assertCodec(r.args.COMPRESSION_CODEC!),
    });
  }

  // 4. one Spark process: the three compactions as Glue runs them, then the multipart-copy path on the bigger output
  const big1mb = runs[2]!;
  run = await runGlueOnSpark({
    endpoint: moto.endpoint,
    buckets: [BUCKET],
    tasks: [
      ...runs.map((r) => ({ name: r.name, script: 'glue-scripts/compact_raw.py', args: { JOB_NAME: 'flywheel-dev-compaction', ...r.args } })),
      {
        name: 'multipart copy',
        call: 'test/aws-shape/spark/tasks.py:compaction_copy_in_parts',
        params: {
          sourceUri: big1mb.args.OUTPUT_PATH,
          outputUri: `s3://${BUCKET}/${EVIDENCE}out/`,
          stagingUri: `s3://${BUCKET}/${EVIDENCE}_staging/`,
          fileCount: 2,
          singleCopyMaxBytes: 1,
          partBytes: PART_BYTES,
        },
      },
    ],
  });

  // Object Created / Object Deleted (moto also sends Object Tags Added for a PutObject)
  log = bodies<S3Event>(await receiveAll(sqs, queues['all-s3']!, { expected: 1, settleSeconds: 2 })).filter(
    (e) => e['detail-type'] === 'Object Created' || e['detail-type'] === 'Object Deleted',
  );
  readyRule = bodies<S3Event>(await receiveAll(sqs, queues['ready-marker-landed']!, { expected: 1, settleSeconds: 1 }));
  sourceAfter = (await listing('opus/')).map((o) => `${o.key} ${o.size} ${o.etag}`);
  duck = await (await DuckDBInstance.create(':memory:')).connect();

  const created = log.filter((e) => e['detail-type'] === 'Object Created').map((e) => e.detail.object.key);
  console.log(
    `Spark ${run.versions.spark}, Hadoop ${run.versions.hadoop}, Java ${run.versions.java}; start ${run.startSeconds} s, total ${run.seconds} s\n` +
      JSON.stringify(
        {
          tasks: run.tasks.map((t) => ({
            task: t.name,
            ok: t.ok,
            error: t.error,
            seconds: t.seconds,
            jobs: t.jobs.length,
            s3a: Object.fromEntries(
              Object.entries(t.s3a[BUCKET] ?? {}).filter(([k]) =>
                /^(object_put_request|object_copy_requests|object_delete_request|object_delete_objects|files_created|stream_read_opened|object_list_request)$/.test(
                  k,
                ),
              ),
            ),
          })),
          s3Events: { created: created.length, deleted: log.length - created.length },
          successKeysCreated: created.filter((k) => k.endsWith('/_SUCCESS')),
          readyMarkerRule: readyRule.map((e) => e.detail.object.key),
          multipartCopy: run.task('multipart copy').result,
        },
        null,
        1,
      ),
  );
}, HOOK_TIMEOUT_MS);

afterAll(async () => {
  duck?.closeSync();
  db?.connection.closeSync();
  s3?.destroy();
  sqs?.destroy();
  events?.destroy();
  await moto?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
}, HOOK_TIMEOUT_MS);

const task = (name: string): TaskReport => run.task(name);
const createdKeys = () => log.filter((e) => e['detail-type'] === 'Object Created').map((e) => e.detail.object.key);

/** Spark's and the twin's files of one output folder (direct children, parquet). */
async function sides(r: Run, folder: string): Promise<{ spark: string[]; local: string[] }> {
  const prefix = `${outPrefix(r)}${folder}`;
  const keys = (await listing(prefix)).map((o) => o.key).filter((k) => !k.slice(prefix.length).includes('/') && k.endsWith('.parquet'));
  const spark = await download(keys, path.join(home!, 'spark', prefix));
  const dir = path.join(lake, 'data', prefix);
  const local = readdirSync(dir)
    .filter((f) => f.endsWith('.parquet'))
    .sort()
    .map((f) => path.join(dir, f));
  return { spark, local };
}

describe('compact_raw.py on Spark, as Glue runs it, with the arguments the compaction use case passes', () => {
  test("every task ran; the arguments are the use case's", () => {
    for (const t of run.tasks) expect(describeFailure(t)).toBe(`${t.name}: ok`);
    expect(run.versions).toMatchObject({ spark: '3.5.4', hadoop: '3.3.4' });
    expect(runs[0]!.args).toEqual({
      DATASET: 'addressable',
      SNAPSHOT_DT: SNAPSHOT,
      SOURCE_PATH: `s3://data/opus/addressable_ids/raw_input/snapshot_dt=${SNAPSHOT}/`,
      OUTPUT_PATH: `s3://data/${ADDRESSABLE.rawPrefix}snapshot_dt=${SNAPSHOT}/`,
      READY_MARKER: '_SUCCESS',
      TARGET_FILE_MB: '256',
      COMPRESSION_CODEC: 'snappy',
    });
    expect(runs[2]!.args.TARGET_FILE_MB).toBe('1');
    expect(task('compact infobase').argv).toEqual(
      expect.arrayContaining(['--SOURCE_PATH', runs[1]!.args.SOURCE_PATH, '--OUTPUT_PATH', runs[1]!.args.OUTPUT_PATH]),
    );
    expect(task('compact infobase').stdout).toMatch(/ignored under .*IBE_01\/notes\.txt/);
    expect(task('compact infobase').stdout).toMatch(/compaction done: \d+ rows in 4 files; marker written/);
  });

  test('the same folders, rows (every column), column names and types, and file counts as the DuckDB twin', async () => {
    const seen: Array<{ run: string; folder: string; rows: number; files: number }> = [];
    for (const r of runs) {
      for (const g of r.local!.groups) {
        const { spark, local } = await sides(r, g.folder);
        const source = await types(g.keys.slice(0, 1).map((k) => path.join(lake, 'data', k)));
        // both write the source's columns, and nothing else (the twin reads the landing with hive partitioning off: no snapshot_dt column)
        expect({ run: r.name, folder: g.folder, columns: await types(spark) }).toEqual({ run: r.name, folder: g.folder, columns: source });
        expect({ run: r.name, folder: g.folder, columns: await types(local) }).toEqual({ run: r.name, folder: g.folder, columns: source });
        const cols = source.map((c) => `"${c.split(' ')[0]}"`).join(', ');
        const s = parquet(spark);
        const l = parquet(local);
        const [c] = await rows(`SELECT (SELECT count(*) FROM ${s}) AS spark_rows, (SELECT count(*) FROM ${l}) AS local_rows,
          (SELECT count(*) FROM (SELECT ${cols} FROM ${s} EXCEPT ALL SELECT ${cols} FROM ${l})) AS only_spark,
          (SELECT count(*) FROM (SELECT ${cols} FROM ${l} EXCEPT ALL SELECT ${cols} FROM ${s})) AS only_local`);
        expect({ run: r.name, folder: g.folder, ...c }).toEqual({
          run: r.name,
          folder: g.folder,
          spark_rows: g.rowsIn,
          local_rows: g.rowsIn,
          only_spark: 0,
          only_local: 0,
        });
        expect({ run: r.name, folder: g.folder, spark: spark.length, local: local.length }).toEqual({
          run: r.name,
          folder: g.folder,
          spark: g.fileCount,
          local: g.fileCount,
        });
        seen.push({ run: r.name, folder: g.folder, rows: g.rowsIn, files: spark.length });
      }
    }
    expect(seen.map((x) => `${x.run}:${x.folder}:${x.files}`)).toEqual([
      'compact addressable::1',
      'compact infobase:IBE_01/:1',
      'compact infobase:IBE_04/:1',
      'compact infobase:MIACS_01/:1',
      'compact infobase:MIACS_02/:1',
      'compact addressable 1 MB files::3',
    ]);
    expect(seen.find((x) => x.run === 'compact addressable')!.rows).toBe(ROWS / 2);
    expect(seen.find((x) => x.folder === 'IBE_01/')!.rows).toBe(ROWS);
    expect(seen.find((x) => x.run === 'compact addressable 1 MB files')!.rows).toBe(BIG_ROWS / 2);
  });

  test("the stale file of a previous run is gone on both sides; the split's input holds the compacted files and the marker only", async () => {
    for (const r of runs) {
      const keys = (await listing(outPrefix(r))).map((o) => o.key.slice(outPrefix(r).length));
      const expected = r.local!.groups.flatMap((g) => Array.from({ length: g.fileCount }, () => g.folder));
      // Spark's names: <folder><run>-part-0000i-<uuid>-c000.snappy.parquet; the twin's: <folder>part-0000i.snappy.parquet
      expect(
        keys
          .filter((k) => k !== r.args.READY_MARKER)
          .map((k) => k.slice(0, k.lastIndexOf('/') + 1))
          .sort(),
      ).toEqual(expected.sort());
      expect(keys.filter((k) => k !== r.args.READY_MARKER).every((k) => /(^|\/)[0-9a-f]{12}-part-\d{5}-[0-9a-f-]+-c000\.snappy\.parquet$/.test(k))).toBe(true);
      expect(keys).toContain(r.args.READY_MARKER);
      const localDir = path.join(lake, 'data', outPrefix(r));
      const localKeys = walk(localDir).map((f) => path.relative(localDir, f).split(path.sep).join('/'));
      expect(localKeys.filter((k) => k !== r.args.READY_MARKER).sort()).toEqual(r.local!.groups.flatMap((g) => g.files.map((f) => `${g.folder}${f}`)).sort());
    }
    expect(createdKeys().some((k) => k.endsWith('part-stale.parquet'))).toBe(false);
    expect(log.some((e) => e['detail-type'] === 'Object Deleted' && e.detail.object.key.endsWith('IBE_04/part-stale.parquet'))).toBe(true);
  });

  test('the ready marker is written last (after every other object of its run was created or deleted), empty, once', async () => {
    for (const r of runs) {
      const marker = `${outPrefix(r)}${r.args.READY_MARKER}`;
      const mine = log
        .map((e, i) => ({ e, i }))
        .filter(({ e }) => e.detail.object.key.startsWith(r.dataset.rawPrefix) && e.detail.object.key.includes(`snapshot_dt=${r.snapshot}/`));
      const markerEvents = mine.filter(({ e }) => e.detail.object.key === marker);
      expect({ run: r.name, marker: markerEvents.map(({ e }) => `${e['detail-type']} ${e.detail.object.size}`) }).toEqual({
        run: r.name,
        marker: ['Object Created 0'],
      });
      expect({ run: r.name, last: mine.at(-1)!.e.detail.object.key }).toEqual({ run: r.name, last: marker });
      expect(r.local!.markerKey).toBe(marker);
      expect(readFileSync(path.join(lake, 'data', marker), 'utf8')).toBe('');
    }
  });

  test('nothing is left under the staging folder; the source landing is as it was', async () => {
    for (const r of runs) {
      expect({ run: r.name, staging: (await listing(stagingPrefix(r))).map((o) => o.key) }).toEqual({ run: r.name, staging: [] });
      expect({ run: r.name, oldStaging: (await listing(oldStagingPrefix(r))).map((o) => o.key) }).toEqual({ run: r.name, oldStaging: [] });
      // the staging folder was used (Spark wrote there) and emptied
      expect(createdKeys().filter((k) => k.startsWith(stagingPrefix(r))).length).toBeGreaterThan(0);
    }
    expect(sourceAfter).toEqual(sourceBefore);
    expect(log.filter((e) => e.detail.object.key.startsWith('opus/'))).toEqual([]);
    expect(existsSync(path.join(lake, 'data', 'opus'))).toBe(true);
  });
});

describe('predictions about the compaction, checked on Spark', () => {
  test("Spark's _SUCCESS cannot start a run: no object named _SUCCESS but the ready markers is written, and nothing at all under the split's snapshot folders but the compacted files and the marker", () => {
    const markers = runs.map((r) => `${outPrefix(r)}${r.args.READY_MARKER}`);
    expect(
      createdKeys()
        .filter((k) => k.endsWith('/_SUCCESS'))
        .sort(),
    ).toEqual([...markers].sort());
    // the template's ready-marker rule fired for the three markers and nothing else
    expect(readyRule.map((e) => e.detail.object.key).sort()).toEqual([...markers].sort());
    for (const r of runs) {
      const inSnapshot = createdKeys().filter((k) => k.startsWith(outPrefix(r)));
      expect({
        run: r.name,
        other: inSnapshot.filter((k) => k !== `${outPrefix(r)}${r.args.READY_MARKER}` && !/[0-9a-f]{12}-part-\d{5}-[0-9a-f-]+-c000\.snappy\.parquet$/.test(k)),
      }).toEqual({ run: r.name, other: [] });
    }
  });

  test('a staged file over the CopyObject limit is copied in parts (UploadPartCopy), the rows unchanged', () => {
    const t = task('multipart copy');
    const result = t.result as { keys: Array<{ key: string; size: number; etag: string }>; rowsIn: number; rowsOut: number; onlyIn: number; onlyOut: number };
    expect(result.keys).toHaveLength(2);
    for (const k of result.keys) {
      // a multipart object's ETag is <md5 of the parts' md5s>-<parts>
      expect({ key: k.key, etag: k.etag.replace(/^[0-9a-f]{32}/, '') }).toEqual({ key: k.key, etag: `-${Math.ceil(k.size / PART_BYTES)}` });
      expect(k.size).toBeGreaterThan(PART_BYTES);
    }
    expect(result).toMatchObject({ rowsIn: BIG_ROWS / 2, rowsOut: BIG_ROWS / 2, onlyIn: 0, onlyOut: 0 });
    // the objects were created by CompleteMultipartUpload (moto sends two Object Created events for one: its internal put, then the completion)
    expect([...new Set(createdKeys().filter((k) => k.startsWith(`${EVIDENCE}out/`)))].sort()).toEqual(result.keys.map((k) => k.key).sort());
  });
});
