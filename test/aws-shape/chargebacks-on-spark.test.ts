/**
 * glue-scripts/consolidate_chargebacks.py, unmodified, on real Spark (PySpark 3.5.4, local mode) against moto (S3 through
 * S3A and boto3; the Glue Data Catalog through the awsglue stand-in), compared with the DuckDB twin
 * (shared/adapters/local/consolidate.ts consolidateDay) on the same landing.
 *
 * The landing: realistic days from generateLanding (small files, re-delivered chargebacks, a few rows without an id)
 * under landing/chargebacks/year=/month=/day=/, and the table `landing_chargebacks` as the crawler registers it (parquet,
 * partitioned by year/month/day strings, one partition per crawled day) in moto's Glue catalog. The job arguments are the
 * ones the chargebacks use case passes (makeMaintenanceJobs(…).startChargebacks with the dev stage's CHARGEBACKS_*
 * parameters, its job runner captured): the 00:30 execution (the previous day, complete), the 06:30 one (the day so
 * far), a dry run, a re-run of a day after a late file landed, and a day without a crawled partition (both ways Glue
 * may answer it: the table's columns without rows, or a frame without columns). And a day landed as the current system
 * lands it, under landing/chargebacks/YYYY/MM/DD/, in the table a crawler makes of such folders (partition keys
 * partition_0, partition_1, partition_2), started with an explicit EXECUTION_SEQUENCE that decides its day.
 *
 * The data bucket sends its S3 events to EventBridge; a catch-all rule puts them on an SQS queue, so every object a
 * task created or deleted is on record, in order, between the sentinel objects put by the checkpoint tasks.
 */
import { CreateBucketCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { BatchCreatePartitionCommand, CreateDatabaseCommand, CreateTableCommand, GlueClient } from '@aws-sdk/client-glue';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { consolidateDay, type ConsolidationResult } from '../../shared/adapters/local/consolidate.js';
import { generateLanding } from '../../shared/local/sample-lake.js';
import { LocalDuckDb } from '../../shared/adapters/local/duckdb.js';
import { dayPartition, dayPath, LANDING_PREFIX } from '../../shared/domain/chargebacks.js';
import { defaultConfig } from '../../shared/domain/config.js';
import type { ChargebacksParams, ChargebacksRequest } from '../../shared/use-cases/chargebacks.js';
import { bodies, createQueue, receiveAll } from './moto-fixtures.js';
import { sdkConfig, startMoto, type MotoServer } from './moto-server.js';
import { maintenanceJobArgs } from './job-args.js';
import { downloadObjects, listObjects, queryRows, readParquet } from './s3-files.js';
import { describeFailure, inputRecords, runGlueOnSpark, type SparkRun, type TaskReport } from './spark/glue-spark.js';

const HOOK_TIMEOUT_MS = 1_800_000;
const BUCKET = 'data';
const DATABASE = 'flywheel';
const TABLE = 'landing_chargebacks';
const OUTPUT = `s3://${BUCKET}/consolidated/chargebacks/`;
const CONSOLIDATED = 'consolidated/chargebacks/';
/** The previous day (complete) and the current day so far, as the 00:30 and 06:30 executions of 2025-11-10 see them. */
const DAY1 = '2025-11-09';
const DAY2 = '2025-11-10';
/** A day the crawler has no partition for. */
const DAY_NONE = '2025-11-11';
/** A day landed in the current system's layout, landing/chargebacks/YYYY/MM/DD/, crawled into TABLE_CURRENT. */
const DAY_CURRENT = '2025-11-08';
const DAY_CURRENT_FILES = 10;
/** The landing table as a crawler registers YYYY/MM/DD/ folders: partition keys partition_0, partition_1, partition_2. */
const TABLE_CURRENT = 'landing_chargebacks_current';
const DAY1_FILES = 40;
const DAY2_FILES = 12;
const ROWS_PER_FILE = 500;
/** The dev stage's CHARGEBACKS_* (serverless.yml): the project database, landing_chargebacks, 8 snappy files, 4 executions, partition filter on. */
const PARAMS: ChargebacksParams = {
  sourceDatabase: DATABASE,
  sourceTable: TABLE,
  outputPath: OUTPUT,
  outputFileCount: 8,
  codec: 'snappy',
  totalExecutions: 4,
  partitionFilter: true,
};
const LATE = '_test/late/part-late.parquet';
const KEPT = '_test/kept/';
/** A consolidated file of DAY_NONE from before its partition went missing (e.g. the landing table re-created, not yet re-crawled). */
const PREVIOUS_DAY_NONE = `${CONSOLIDATED}${dayPartition(DAY_NONE)}part-previous.snappy.parquet`;
interface S3Event {
  'detail-type': string;
  detail: { object: { key: string } };
}

interface Step {
  name: string;
  request: ChargebacksRequest;
  /** Over PARAMS (the current layout's step reads TABLE_CURRENT). */
  params?: Partial<ChargebacksParams>;
  args: Record<string, string>;
  /** The twin's result (or its error) on the same landing at the same point. */
  local?: ConsolidationResult;
  localError?: string;
  /** The day's folder of the twin's output right after this step (copied aside). */
  localFiles?: string[];
}

let moto: MotoServer | undefined;
let s3: S3Client;
let sqs: SQSClient;
let glue: GlueClient;
let events: EventBridgeClient;
let home: string | undefined;
let lake: string;
let db: LocalDuckDb | undefined;
let duck: DuckDBConnection;
let run: SparkRun;
let log: S3Event[] = [];
const steps: Step[] = [];
const step = (name: string): Step => steps.find((s) => s.name === name)!;

const parquet = (files: string[]) => readParquet(files);
const listing = async (prefix: string) => (await listObjects(s3, BUCKET, prefix)).map((o) => o.key);
const download = (keys: string[], to: string) => downloadObjects(s3, BUCKET, keys, to);

const rows = (sql: string) => queryRows(duck, sql);

/** The job arguments the chargebacks use case passes for `request`. */
const chargebacksArgs = (request: ChargebacksRequest, params: Partial<ChargebacksParams> = {}) =>
  maintenanceJobArgs(defaultConfig(), new Date('2025-11-10T00:30:00Z'), (jobs) => jobs.startChargebacks({ ...PARAMS, ...params }, request));

/** The events between the checkpoint before a task and the one after it. */
function eventsOf(taskName: string): S3Event[] {
  const keys = log.map((e) => e.detail.object.key);
  const from = keys.indexOf(`_test/checkpoints/before ${taskName}`);
  const to = keys.indexOf(`_test/checkpoints/after ${taskName}`);
  if (from < 0 || to < 0) throw new Error(`no checkpoints around ${taskName}`);
  return log.slice(from + 1, to).filter((e) => e['detail-type'] === 'Object Created' || e['detail-type'] === 'Object Deleted');
}

/** Column names and types of parquet files, as DuckDB reads them. */
const types = async (files: string[]) => (await rows(`DESCRIBE SELECT * FROM ${parquet(files)}`)).map((x) => `${x.column_name} ${x.column_type}`);

/** The METRICS: line without its duration. */
const metrics = (text: string) => /METRICS: records_processed=\d+, duplicates_removed=\d+, output_files=\d+/.exec(text)?.[0];

beforeAll(async () => {
  moto = await startMoto();
  const config = sdkConfig(moto.endpoint, { accessKeyId: 'test', secretAccessKey: 'test' });
  s3 = new S3Client({ ...config, forcePathStyle: true });
  sqs = new SQSClient(config);
  glue = new GlueClient(config);
  events = new EventBridgeClient(config);
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: BUCKET, NotificationConfiguration: { EventBridgeConfiguration: {} } }));
  const queue = await createQueue(sqs, 'all-s3');
  await events.send(new PutRuleCommand({ Name: 'all-s3', EventPattern: JSON.stringify({ source: ['aws.s3'] }), State: 'ENABLED' }));
  await events.send(new PutTargetsCommand({ Rule: 'all-s3', Targets: [{ Id: 'q', Arn: queue.arn }] }));

  // 1. the landing days, locally (the twin's lake) and in moto's bucket; a late file for DAY1, landed later
  home = mkdtempSync(path.join(os.tmpdir(), 'chargebacks-on-spark-'));
  lake = path.join(home, 'lake');
  db = await LocalDuckDb.open(path.join(home, 'catalog.duckdb'), lake);
  await generateLanding(db, lake, DAY1, DAY1_FILES, ROWS_PER_FILE);
  await generateLanding(db, lake, DAY2, DAY2_FILES, ROWS_PER_FILE);
  // DAY_CURRENT as the current system lands it: landing/chargebacks/YYYY/MM/DD/
  await generateLanding(db, lake, DAY_CURRENT, DAY_CURRENT_FILES, ROWS_PER_FILE);
  const currentDir = path.join(lake, 'data', LANDING_PREFIX, dayPath(DAY_CURRENT));
  mkdirSync(path.dirname(currentDir.replace(/\/$/, '')), { recursive: true });
  renameSync(path.join(lake, 'data', LANDING_PREFIX, dayPartition(DAY_CURRENT)), currentDir);
  const day1Dir = path.join(lake, 'data', LANDING_PREFIX, dayPartition(DAY1));
  const lateFile = path.join(home, 'part-late.parquet');
  // 100 chargebacks updated late in the day, and one more row without an id (the same columns and types)
  await db.run(`COPY (SELECT chargeback_id, event_timestamp, TIMESTAMP '${DAY1} 23:00:00' + to_seconds(row_number() OVER (ORDER BY chargeback_id)) AS updated_at, amount + 1 AS amount, 'won' AS status
      FROM read_parquet('${path.join(day1Dir, 'part-0000.parquet')}', hive_partitioning = false) WHERE chargeback_id IS NOT NULL QUALIFY row_number() OVER (ORDER BY chargeback_id) <= 100
      UNION ALL SELECT NULL, TIMESTAMP '${DAY1} 23:30:00', NULL, 1.5, 'open') TO '${lateFile}' (FORMAT parquet)`);
  for (const day of [DAY1, DAY2]) {
    const dir = path.join(lake, 'data', LANDING_PREFIX, dayPartition(day));
    for (const f of readdirSync(dir).sort())
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${LANDING_PREFIX}${dayPartition(day)}${f}`, Body: readFileSync(path.join(dir, f)) }));
  }
  for (const f of readdirSync(currentDir).sort())
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${LANDING_PREFIX}${dayPath(DAY_CURRENT)}${f}`, Body: readFileSync(path.join(currentDir, f)) }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: LATE, Body: readFileSync(lateFile) }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: PREVIOUS_DAY_NONE, Body: readFileSync(path.join(day1Dir, 'part-0001.parquet')) }));

  // 2. the landing table as the hourly crawler registers it, with the partitions of the crawled days
  const columns = (await db.all(`DESCRIBE SELECT * FROM read_parquet('${path.join(day1Dir, '*.parquet')}', hive_partitioning = false)`)).map((c) => ({
    Name: String(c.column_name),
    Type:
      ({ VARCHAR: 'string', TIMESTAMP: 'timestamp', DOUBLE: 'double', BIGINT: 'bigint' } as Record<string, string>)[String(c.column_type)] ??
      String(c.column_type).toLowerCase(),
  }));
  const storage = (location: string) => ({
    Columns: columns,
    Location: location,
    InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
    OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
    SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe', Parameters: { 'serialization.format': '1' } },
  });
  await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: DATABASE } }));
  await glue.send(
    new CreateTableCommand({
      DatabaseName: DATABASE,
      TableInput: {
        Name: TABLE,
        TableType: 'EXTERNAL_TABLE',
        Parameters: { classification: 'parquet', UPDATED_BY_CRAWLER: 'flywheel-dev-chargebacks-landing' },
        StorageDescriptor: storage(`s3://${BUCKET}/${LANDING_PREFIX}`),
        PartitionKeys: ['year', 'month', 'day'].map((Name) => ({ Name, Type: 'string' })),
      },
    }),
  );
  await glue.send(
    new BatchCreatePartitionCommand({
      DatabaseName: DATABASE,
      TableName: TABLE,
      PartitionInputList: [DAY1, DAY2].map((d) => ({ Values: d.split('-'), StorageDescriptor: storage(`s3://${BUCKET}/${LANDING_PREFIX}${dayPartition(d)}`) })),
    }),
  );
  // the same landing as a crawler registers the current system's YYYY/MM/DD/ folders: keys partition_0..2, values YYYY, MM, DD
  await glue.send(
    new CreateTableCommand({
      DatabaseName: DATABASE,
      TableInput: {
        Name: TABLE_CURRENT,
        TableType: 'EXTERNAL_TABLE',
        Parameters: { classification: 'parquet', UPDATED_BY_CRAWLER: 'flywheel-dev-chargebacks-landing' },
        StorageDescriptor: storage(`s3://${BUCKET}/${LANDING_PREFIX}`),
        PartitionKeys: ['partition_0', 'partition_1', 'partition_2'].map((Name) => ({ Name, Type: 'string' })),
      },
    }),
  );
  await glue.send(
    new BatchCreatePartitionCommand({
      DatabaseName: DATABASE,
      TableName: TABLE_CURRENT,
      PartitionInputList: [{ Values: DAY_CURRENT.split('-'), StorageDescriptor: storage(`s3://${BUCKET}/${LANDING_PREFIX}${dayPath(DAY_CURRENT)}`) }],
    }),
  );
  await receiveAll(sqs, queue, { expected: 0, settleSeconds: 1 });

  // 3. the executions, with the arguments the use case passes
  steps.push({ name: '00:30 previous day', request: { executionTime: '2025-11-10T00:30:00.000Z' }, args: {} });
  steps.push({ name: '06:30 the day so far', request: { executionTime: '2025-11-10T06:30:00.000Z' }, args: {} });
  steps.push({ name: 'dry run', request: { executionTime: '2025-11-10T12:30:00.000Z', partitionDate: DAY1, dryRun: true }, args: {} });
  steps.push({ name: 're-run after a late file', request: { executionTime: '2025-11-10T12:30:00.000Z', partitionDate: DAY1 }, args: {} });
  // 06:30 is execution 2 by the time; the explicit sequence 1 makes it the previous day, DAY_CURRENT
  steps.push({
    name: 'current layout YYYY/MM/DD',
    request: { executionTime: '2025-11-09T06:30:00.000Z', executionSequence: 1 },
    params: { sourceTable: TABLE_CURRENT },
    args: {},
  });
  steps.push({ name: 'no crawled partition', request: { executionTime: '2025-11-12T00:30:00.000Z' }, args: {} });
  steps.push({ name: 'no crawled partition, frame without columns', request: { executionTime: '2025-11-12T00:30:00.000Z' }, args: {} });
  for (const s of steps) s.args = await chargebacksArgs(s.request, s.params);

  // 4. the DuckDB twin, step by step on the local lake (the late file lands before the re-run)
  for (const s of steps) {
    if (s.name === 're-run after a late file') copyFileSync(lateFile, path.join(day1Dir, 'part-late.parquet'));
    try {
      s.local = await consolidateDay(db, lake, {
        date: s.args.PARTITION_DATE!,
        fileCount: Number(s.args.OUTPUT_FILE_COUNT),
        codec: s.args.COMPRESSION_CODEC!,
        dryRun: s.args.DRY_RUN === 'true',
      });
      if (s.local.recordsProcessed === 0) continue; // nothing to consolidate: nothing written
      const out = path.join(lake, 'data', CONSOLIDATED, dayPartition(s.args.PARTITION_DATE!));
      const kept = path.join(home, 'local-kept', String(steps.indexOf(s)));
      cpSync(out, kept, { recursive: true });
      s.localFiles = readdirSync(kept)
        .filter((f) => f.endsWith('.parquet'))
        .sort()
        .map((f) => path.join(kept, f));
    } catch (err) {
      s.localError = (err as Error).message;
    }
  }

  // 5. one Spark process: the executions as Glue runs them, each between two checkpoints (a sentinel object, a listing)
  const checkpoint = (name: string, keep?: Record<string, string>) => ({
    name: `checkpoint ${name}`,
    call: 'test/aws-shape/spark/tasks.py:s3_checkpoint',
    params: { bucket: BUCKET, sentinelKey: `_test/checkpoints/${name}`, prefixes: [CONSOLIDATED], keep },
  });
  const script = (s: Step) => ({
    name: s.name,
    script: 'glue-scripts/consolidate_chargebacks.py',
    args: { JOB_NAME: 'flywheel-dev-chargebacks-consolidation', ...s.args },
  });
  run = await runGlueOnSpark({
    endpoint: moto.endpoint,
    buckets: [BUCKET],
    tasks: [
      ...steps.flatMap((s) => [
        ...(s.name === 're-run after a late file'
          ? [
              {
                name: 'the late file lands',
                call: 'test/aws-shape/spark/tasks.py:s3_copy',
                params: { copies: [{ bucket: BUCKET, from: LATE, to: `${LANDING_PREFIX}${dayPartition(DAY1)}part-late.parquet` }] },
              },
            ]
          : []),
        ...(s.name === 'no crawled partition, frame without columns'
          ? [{ name: 'stand-in: no columns', call: 'test/aws-shape/spark/tasks.py:glue_standin_empty_frame', params: { mode: 'no-columns' } }]
          : []),
        checkpoint(`before ${s.name}`),
        script(s),
        checkpoint(`after ${s.name}`, { [`${CONSOLIDATED}${dayPartition(s.args.PARTITION_DATE!)}`]: `${KEPT}${steps.indexOf(s)}/` }),
      ]),
      { name: 'stand-in: catalog columns', call: 'test/aws-shape/spark/tasks.py:glue_standin_empty_frame', params: { mode: 'catalog-columns' } },
    ],
  });
  log = bodies<S3Event>(await receiveAll(sqs, queue, { expected: 1, settleSeconds: 2 }));
  duck = await (await DuckDBInstance.create(':memory:')).connect();

  console.log(
    `Spark ${run.versions.spark}, Hadoop ${run.versions.hadoop}, Java ${run.versions.java}; start ${run.startSeconds} s, total ${run.seconds} s\n` +
      JSON.stringify(
        steps.map((s) => {
          const t = run.task(s.name);
          return {
            task: s.name,
            ok: t.ok,
            error: t.error,
            seconds: t.seconds,
            args: `${s.args.PARTITION_DATE} seq ${s.args.EXECUTION_SEQUENCE} dry ${s.args.DRY_RUN}`,
            said: t.stdout.split('\n').filter((l) => /^(METRICS|DRY RUN|NOTHING)/.test(l)),
            twin: s.local?.metrics ?? s.localError,
            inputRecords: inputRecords(t),
            stages: t.jobs.flatMap((j) => j.stages.map((st) => `${j.jobId}/${st.stageId} ${st.numTasks}t in=${st.inputRecords} (${st.inputBytes} B)`)),
            s3a: Object.fromEntries(
              Object.entries(t.s3a[BUCKET] ?? {}).filter(([k]) =>
                /^(stream_read_opened|stream_read_bytes|action_http_get_request|files_created|object_put_request|object_copy_requests)$/.test(k),
              ),
            ),
            s3Events: eventsOf(s.name).length,
            deletedFromTheDay: eventsOf(s.name)
              .filter((e) => e['detail-type'] === 'Object Deleted' && e.detail.object.key.startsWith(`${CONSOLIDATED}${dayPartition(s.args.PARTITION_DATE!)}`))
              .map((e) => path.basename(e.detail.object.key)),
          };
        }),
        null,
        1,
      ),
  );
}, HOOK_TIMEOUT_MS);

afterAll(async () => {
  duck?.closeSync();
  db?.connection.closeSync();
  for (const c of [s3, sqs, glue, events]) c?.destroy();
  await moto?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
}, HOOK_TIMEOUT_MS);

const task = (name: string): TaskReport => run.task(name);

/** Spark's files of a day right after a step (copied aside by its checkpoint), downloaded. */
async function sparkFilesAfter(s: Step): Promise<string[]> {
  const prefix = `${KEPT}${steps.indexOf(s)}/${CONSOLIDATED}${dayPartition(s.args.PARTITION_DATE!)}`;
  const keys = (await listing(prefix)).filter((k) => k.endsWith('.parquet') && !k.slice(prefix.length).includes('/'));
  return download(keys, path.join(home!, 'spark', String(steps.indexOf(s))));
}

describe('consolidate_chargebacks.py on Spark, as Glue runs it, with the arguments the chargebacks use case passes', () => {
  test("every task ran; the arguments are the use case's", () => {
    for (const t of run.tasks) expect(describeFailure(t)).toBe(`${t.name}: ok`);
    expect(run.versions).toMatchObject({ spark: '3.5.4', hadoop: '3.3.4' });
    expect(step('00:30 previous day').args).toEqual({
      SOURCE_DATABASE: DATABASE,
      SOURCE_TABLE: TABLE,
      OUTPUT_PATH: OUTPUT,
      OUTPUT_FILE_COUNT: '8',
      COMPRESSION_CODEC: 'snappy',
      EXECUTION_TIME: '2025-11-10T00:30:00.000Z',
      EXECUTION_SEQUENCE: '1',
      TOTAL_EXECUTIONS: '4',
      ENABLE_PARTITION_FILTER: 'true',
      PARTITION_DATE: DAY1,
      DRY_RUN: 'false',
    });
    expect(steps.map((s) => `${s.args.PARTITION_DATE} ${s.args.EXECUTION_SEQUENCE} ${s.args.DRY_RUN}`)).toEqual([
      `${DAY1} 1 false`,
      `${DAY2} 2 false`,
      `${DAY1} 3 true`,
      `${DAY1} 3 false`,
      `${DAY_CURRENT} 1 false`,
      `${DAY_NONE} 1 false`,
      `${DAY_NONE} 1 false`,
    ]);
  });

  test('the METRICS: line: the same records processed, duplicates removed and output files as the twin', () => {
    for (const s of steps.filter((x) => x.local && x.local.recordsProcessed > 0)) {
      expect({ step: s.name, metrics: metrics(task(s.name).stdout) }).toEqual({ step: s.name, metrics: metrics(s.local!.metrics) });
      // the null-id count: the same DATA QUALITY line, logged before METRICS
      const said = task(s.name).stdout.split('\n');
      expect({ step: s.name, quality: said.find((l) => l.startsWith('DATA QUALITY:')) }).toEqual({ step: s.name, quality: s.local!.log[0] });
      expect(said.findIndex((l) => l.startsWith('DATA QUALITY:'))).toBeLessThan(said.findIndex((l) => l.startsWith('METRICS:')));
    }
    expect(metrics(task('00:30 previous day').stdout)).toBe(
      `METRICS: records_processed=${DAY1_FILES * ROWS_PER_FILE}, duplicates_removed=${step('00:30 previous day').local!.duplicatesRemoved}, output_files=8`,
    );
    expect(step('00:30 previous day').local!.duplicatesRemoved).toBeGreaterThan(0);
    expect(task('00:30 previous day').stdout).toMatch(/METRICS: records_processed=\d+, duplicates_removed=\d+, output_files=\d+, duration_seconds=\d+\.\d\d\n/);
  });

  test("the day's rows after the dedupe (every column), column names and types, and file counts equal the twin's, after each execution", async () => {
    const landing = await types([path.join(lake, 'data', LANDING_PREFIX, dayPartition(DAY1), 'part-0000.parquet')]);
    for (const s of steps.filter((x) => x.local && !x.local.dryRun && x.local.recordsProcessed > 0)) {
      const spark = await sparkFilesAfter(s);
      const local = s.localFiles!;
      expect({ step: s.name, spark: spark.length, local: local.length }).toEqual({ step: s.name, spark: 8, local: 8 });
      // both write the landing's columns and nothing else (the twin reads the day with hive partitioning off: no year/month/day columns)
      expect({ step: s.name, columns: await types(spark) }).toEqual({ step: s.name, columns: landing });
      expect({ step: s.name, columns: await types(local) }).toEqual({ step: s.name, columns: landing });
      const cols = landing.map((c) => `"${c.split(' ')[0]}"`).join(', ');
      const [c] = await rows(`SELECT (SELECT count(*) FROM ${parquet(spark)}) AS spark_rows, (SELECT count(*) FROM ${parquet(local)}) AS local_rows,
        (SELECT count(*) FROM (SELECT ${cols} FROM ${parquet(spark)} EXCEPT ALL SELECT ${cols} FROM ${parquet(local)})) AS only_spark,
        (SELECT count(*) FROM (SELECT ${cols} FROM ${parquet(local)} EXCEPT ALL SELECT ${cols} FROM ${parquet(spark)})) AS only_local`);
      expect({ step: s.name, ...c }).toEqual({ step: s.name, spark_rows: s.local!.outputRows, local_rows: s.local!.outputRows, only_spark: 0, only_local: 0 });
    }
  });

  test('the dedupe rule, checked against the landing itself: one row per chargeback_id, its latest updated_at (else event_timestamp); rows without an id kept', async () => {
    const s = step('re-run after a late file');
    const spark = await sparkFilesAfter(s);
    const landing = `read_parquet('${path.join(lake, 'data', LANDING_PREFIX, dayPartition(DAY1), '*.parquet')}', hive_partitioning = false)`;
    const [check] = await rows(`WITH latest AS (
        SELECT chargeback_id, max(coalesce(updated_at, event_timestamp)) AS at FROM ${landing} WHERE chargeback_id IS NOT NULL GROUP BY 1)
      SELECT (SELECT count(*) FROM latest) AS ids,
        (SELECT count(DISTINCT chargeback_id) FROM ${parquet(spark)}) AS spark_ids,
        (SELECT count(*) FROM ${parquet(spark)} WHERE chargeback_id IS NOT NULL) AS spark_id_rows,
        (SELECT count(*) FROM ${parquet(spark)} o JOIN latest l USING (chargeback_id) WHERE coalesce(o.updated_at, o.event_timestamp) = l.at) AS latest_kept,
        (SELECT count(*) FROM ${landing} WHERE chargeback_id IS NULL) AS landing_nulls,
        (SELECT count(*) FROM ${parquet(spark)} WHERE chargeback_id IS NULL) AS spark_nulls`);
    expect(check).toEqual({
      ids: check!.ids,
      spark_ids: check!.ids,
      spark_id_rows: check!.ids,
      latest_kept: check!.ids,
      landing_nulls: check!.landing_nulls,
      spark_nulls: check!.landing_nulls,
    });
    // the late file's 100 updates won
    const [late] = await rows(`SELECT count(*) AS n FROM ${parquet(spark)} WHERE updated_at >= TIMESTAMP '${DAY1} 23:00:00'`);
    expect(late!.n).toBe(100);
  });

  test('DRY_RUN writes nothing and says what it would write', async () => {
    const dry = step('dry run');
    expect(eventsOf('dry run')).toEqual([]);
    const checkpoints = (name: string) => task(`checkpoint ${name}`).result as Record<string, Array<{ key: string; etag: string }>>;
    expect(checkpoints('after dry run')[CONSOLIDATED]).toEqual(checkpoints('before dry run')[CONSOLIDATED]);
    expect(task('dry run').stdout).toContain(`DRY RUN: would write ${dry.local!.outputRows} rows in 8 files to ${OUTPUT}${dayPartition(DAY1)}`);
    expect(metrics(task('dry run').stdout)).toBe(
      `METRICS: records_processed=${DAY1_FILES * ROWS_PER_FILE}, duplicates_removed=${dry.local!.duplicatesRemoved}, output_files=0`,
    );
    expect(task('dry run').s3a[BUCKET]?.files_created ?? 0).toBe(0);
  });

  test('a re-run replaces the day: written aside, checked, copied in, and only then the previous files deleted; no staging left', () => {
    const name = 're-run after a late file';
    const day = `${CONSOLIDATED}${dayPartition(DAY1)}`;
    const before = (task(`checkpoint before ${name}`).result as Record<string, Array<{ key: string }>>)[CONSOLIDATED]!.map((o) => o.key);
    const after = (task(`checkpoint after ${name}`).result as Record<string, Array<{ key: string }>>)[CONSOLIDATED]!.map((o) => o.key);
    const oldDay = before.filter((k) => k.startsWith(day));
    const newDay = after.filter((k) => k.startsWith(day));
    expect(oldDay).toHaveLength(8);
    expect(newDay).toHaveLength(8);
    expect(newDay.filter((k) => oldDay.includes(k))).toEqual([]);
    // the other day untouched, nothing under _staging/
    expect(after.filter((k) => !k.startsWith(day))).toEqual(before.filter((k) => !k.startsWith(day)));
    expect(after.filter((k) => k.startsWith(`${CONSOLIDATED}_staging/`))).toEqual([]);
    const ev = eventsOf(name).map((e, i) => ({ i, what: e['detail-type'], key: e.detail.object.key }));
    const staged = ev.filter((e) => e.what === 'Object Created' && e.key.startsWith(`${CONSOLIDATED}_staging/`) && e.key.endsWith('.parquet'));
    const copiedIn = ev.filter((e) => e.what === 'Object Created' && e.key.startsWith(day));
    const oldDeleted = ev.filter((e) => e.what === 'Object Deleted' && oldDay.includes(e.key));
    expect(copiedIn.map((e) => e.key).sort()).toEqual([...newDay].sort());
    expect(oldDeleted.map((e) => e.key).sort()).toEqual([...oldDay].sort());
    expect(Math.max(...staged.map((e) => e.i))).toBeLessThan(Math.min(...copiedIn.map((e) => e.i)));
    expect(Math.max(...copiedIn.map((e) => e.i))).toBeLessThan(Math.min(...oldDeleted.map((e) => e.i)));
    // no object named _SUCCESS is ever written by the job
    expect(ev.filter((e) => e.key.endsWith('_SUCCESS'))).toEqual([]);
  });
});

describe('the current landing layout, landing/chargebacks/YYYY/MM/DD/, crawled as partition_0..2', () => {
  test('the day is consolidated exactly: the distinct ids that landed are the ids written (rows without an id kept), as the twin does', async () => {
    const s = step('current layout YYYY/MM/DD');
    expect(s.args).toMatchObject({ SOURCE_TABLE: TABLE_CURRENT, EXECUTION_SEQUENCE: '1', PARTITION_DATE: DAY_CURRENT });
    expect(describeFailure(task(s.name))).toBe(`${s.name}: ok`);
    expect(s.local!.landing).toEqual([path.join(lake, 'data', LANDING_PREFIX, dayPath(DAY_CURRENT))]);
    expect(metrics(task(s.name).stdout)).toBe(
      `METRICS: records_processed=${DAY_CURRENT_FILES * ROWS_PER_FILE}, duplicates_removed=${s.local!.duplicatesRemoved}, output_files=8`,
    );
    const spark = await sparkFilesAfter(s);
    const landed = `read_parquet('${path.join(lake, 'data', LANDING_PREFIX, dayPath(DAY_CURRENT), '*.parquet')}', hive_partitioning = false)`;
    const [c] = await rows(`SELECT
        (SELECT count(DISTINCT chargeback_id) FROM ${landed}) AS landed_ids,
        (SELECT count(*) FROM ${landed} WHERE chargeback_id IS NULL) AS landed_nulls,
        (SELECT count(*) FROM (SELECT DISTINCT chargeback_id FROM ${landed} WHERE chargeback_id IS NOT NULL EXCEPT SELECT chargeback_id FROM ${parquet(spark)})) AS missing,
        (SELECT count(*) FROM (SELECT chargeback_id FROM ${parquet(spark)} WHERE chargeback_id IS NOT NULL EXCEPT SELECT chargeback_id FROM ${landed})) AS extra,
        (SELECT count(*) FROM ${parquet(spark)} WHERE chargeback_id IS NOT NULL) AS id_rows,
        (SELECT count(*) FROM ${parquet(spark)} WHERE chargeback_id IS NULL) AS null_rows`);
    expect(Number(c!.landed_nulls)).toBeGreaterThan(0);
    expect(c).toEqual({ landed_ids: c!.landed_ids, landed_nulls: c!.landed_nulls, missing: 0, extra: 0, id_rows: c!.landed_ids, null_rows: c!.landed_nulls });
    // the partition keys are not written (no partition_0..2 columns): the landing's columns only, as for year=/month=/day=
    expect(await types(spark)).toEqual(await types([path.join(lake, 'data', LANDING_PREFIX, dayPath(DAY_CURRENT), 'part-0000.parquet')]));
  });
});

describe('predictions about the chargebacks consolidation, checked on Spark', () => {
  test('a day without a crawled partition consolidates nothing, says so, writes nothing (either way Glue answers it)', () => {
    for (const name of ['no crawled partition', 'no crawled partition, frame without columns']) {
      const t = task(name);
      expect(describeFailure(t)).toBe(`${name}: ok`);
      expect(t.stdout).toContain(`NOTHING TO CONSOLIDATE: no landing rows for ${DAY_NONE} in ${DATABASE}.${TABLE}`);
      expect(metrics(t.stdout)).toBe('METRICS: records_processed=0, duplicates_removed=0, output_files=0');
      expect({ name, events: eventsOf(name) }).toEqual({ name, events: [] });
      // the day's earlier output stays as it was
      const listed = (when: string) => (task(`checkpoint ${when} ${name}`).result as Record<string, Array<{ key: string; etag: string }>>)[CONSOLIDATED]!;
      expect(listed('after')).toEqual(listed('before'));
      expect(listed('after').map((o) => o.key)).toContain(PREVIOUS_DAY_NONE);
    }
    expect(task('stand-in: no columns').result).toEqual({ before: 'catalog-columns', now: 'no-columns' });
    // the twin says the same (a day with no landing rows is nothing to consolidate, in both modes)
    expect(step('no crawled partition').local?.metrics).toMatch(
      new RegExp(`^NOTHING TO CONSOLIDATE: no landing rows for ${DAY_NONE} .*\\nMETRICS: records_processed=0, duplicates_removed=0, output_files=0,`),
    );
  });

  test('the day is read once: the landing rows are scanned by one Spark job', () => {
    for (const s of steps.filter((x) => x.local && x.local.recordsProcessed > 0)) {
      const t = task(s.name);
      const records = s.local!.recordsProcessed;
      // stages reading the landing (parquet scan) count each landing row; the cached dedupe's batches and the staged files' footers add a few
      const scans = t.jobs.flatMap((j) => j.stages).filter((st) => st.inputRecords >= records);
      expect({ step: s.name, scans: scans.length }).toEqual({ step: s.name, scans: 1 });
      expect({ step: s.name, fewer: inputRecords(t) < 2 * records }).toEqual({ step: s.name, fewer: true });
    }
  });
});
