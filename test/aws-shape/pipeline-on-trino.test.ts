/**
 * The whole pipeline in AWS shape, compared table by table with local mode on the same lake.
 *
 *   the sample lake (both datasets) lands in moto's data bucket → the ready markers → the template's rules
 *   → snapshot-trigger → Glue StartJobRun (moto) → glue-scripts/split_and_bucket.py on PySpark 3.5.4 → Glue Job State Change
 *   → register-staged-tables (ext_ in moto's Glue catalog) → Stage Completed → bucketed-tables
 *   → Athena (athena/athena-facade.ts in front of a real Trino 476 reading moto's catalog and S3): part_<t> by a CTAS and
 *     INSERT INTOs of ≤100 buckets, part_<t>_er likewise; each Athena Query State Change → bucketed-tables again
 *   → bucketed_<t> assembled (server-side copies) → the live switch → Pipeline Completed → data-monitor, its queries on
 *     Trino through the monitor workgroup → the report in the analysis bucket and the alert e-mail (SNS in moto, an SQS
 *     subscription reads it).
 *
 * Every step is the template's rule delivering to the real Lambda entry (stack-on-moto.ts); the harness plays only
 * what AWS services would do themselves: Glue running a job run's script (on Spark) and announcing its end. Athena's
 * part is the façade and Trino; its rules and translations are ATHENA_RULES (athena/athena-facade.ts).
 *
 * The local run: the same lake in a local home, the same ready-marker events through the local bus, to the end
 * (monitor included). Compared per table: rows, NULL keys and per-bucket rows of part_<t>, bucketed_<t> (AWS side:
 * Trino's "$bucket" of each row, read as a Hive bucketed table with bucket validation on; local side: the bucket named
 * by each file's name) and part_<t>_er (row_id unique), column names and types of every live table, and the monitor
 * report's figures. The differences are counted and written to .aws-shape/report.json.
 *
 * Then the bucketed tables as Hive bucketed tables (a point query reads one bucket's rows; a stray file), and a fault:
 * a Trino query killed mid-range on the next snapshot, the alert's replay, nothing lost or doubled.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetJobCommand, GetJobRunsCommand, GetTableCommand, type Table } from '@aws-sdk/client-glue';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tableDef } from '../../shared/adapters/aws/glue-catalog.js';
import { localRuntime, type LocalEngineRuntime as LocalRuntime } from '../../shared/composition/local.js';
import { ADDRESSABLE, INFOBASE, parseS3Uri, type DatasetConfig } from '../../shared/domain/config.js';
import type { MonitorReport } from '../../shared/domain/monitor/report.js';
import type { FunctionName } from '../../shared/events/patterns.js';
import { generateSampleLake } from '../../shared/local/sample-lake.js';
import { sample } from '../aws/lambda-env.js';
import { startAthenaFacade, type AthenaFacade, type FacadeExecution } from './athena/athena-facade.js';
import { ROOT, runGlueOnSpark, type SparkRun } from './spark/glue-spark.js';
import { emptyDirs, walk } from './lake-files.js';
import { stepTimer } from './step-timer.js';
import { startStackOnMoto, type Delivered, type StackOnMoto } from './stack-on-moto.js';
import { startTrino, TRINO_VERSION, type TrinoServer } from './trino/trino-server.js';

const HOOK_TIMEOUT_MS = 2_400_000;
const S1 = '2025-09-30';
const S2 = '2025-10-31';
const ROWS = 3_000;
const KEY = 'customer_user_id';
const DATASETS = [INFOBASE, ADDRESSABLE] as const;
const FUNCTIONS: FunctionName[] = ['snapshotTrigger', 'registerStagedTables', 'bucketedTables', 'dataMonitor', 'replay'];
/** How long the pump may go without the chain coming to rest. */
const PUMP_DEADLINE_MS = 1_500_000;

let st: StackOnMoto;
let trino: TrinoServer;
let facade: AthenaFacade;
let rt: LocalRuntime | undefined;
let duck: DuckDBConnection;
let home: string;
let genData: string;
const sparkRuns: SparkRun[] = [];
/** Job run ids the harness ran on Spark. */
const ranJobs = new Set<string>();
const extraEnv: Record<string, string> = {};
const { timings, step, restart } = stepTimer();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const isRunning = (e: FacadeExecution) => e.state === 'QUEUED' || e.state === 'RUNNING';
const bare = (args: Record<string, string> | undefined) => Object.fromEntries(Object.entries(args ?? {}).map(([k, v]) => [k.replace(/^--/, ''), v]));

/** Glue's part: every job run of the split jobs not run yet, on Spark, then its Job State Change on the default bus. */
async function runPendingJobs(): Promise<number> {
  const env = st.stack.env('snapshotTrigger');
  const pending: Array<{ jobName: string; runId: string; args: Record<string, string>; script: string }> = [];
  for (const jobName of [env.SPLIT_JOB_NAME!, env.ADDRESSABLE_JOB_NAME!]) {
    const runs = (await st.glue.send(new GetJobRunsCommand({ JobName: jobName }))).JobRuns ?? [];
    const fresh = runs.filter((r) => !ranJobs.has(r.Id!));
    if (!fresh.length) continue;
    const { Job: job } = await st.glue.send(new GetJobCommand({ JobName: jobName }));
    for (const r of fresh) {
      ranJobs.add(r.Id!);
      pending.push({
        jobName,
        runId: r.Id!,
        script: path.join('glue-scripts', path.basename(job!.Command!.ScriptLocation!)),
        args: { ...bare(job!.DefaultArguments), ...bare(r.Arguments), JOB_NAME: jobName },
      });
    }
  }
  if (!pending.length) return 0;
  const spark = await runGlueOnSpark({
    endpoint: st.moto.endpoint,
    buckets: [st.dataBucket],
    tasks: pending.map((p) => ({ name: p.runId, script: p.script, args: p.args })),
  });
  sparkRuns.push(spark);
  const glueSample = sample('glue-job-state-change.succeeded.json');
  const put = await st.events.send(
    new PutEventsCommand({
      Entries: pending.map((p) => {
        const t = spark.task(p.runId);
        const detail = {
          ...glueSample.detail,
          jobName: p.jobName,
          jobRunId: p.runId,
          ...(t.ok ? {} : { state: 'FAILED', severity: 'ERROR', message: t.error ?? 'failed' }),
        };
        return { EventBusName: 'default', Source: glueSample.source, DetailType: glueSample['detail-type'], Detail: JSON.stringify(detail) };
      }),
    }),
  );
  if (put.FailedEntryCount) throw new Error(`PutEvents failed: ${JSON.stringify(put.Entries)}`);
  return pending.length;
}

/**
 * Delivers what the rules deliver, runs Glue's job runs, waits for Athena's queries, until nothing moves: no event
 * delivered, no job run pending, no query running, twice in a row.
 */
async function pumpUntilQuiet(label: string): Promise<void> {
  const started = Date.now();
  for (let quiet = 0; quiet < 2; ) {
    if (Date.now() - started > PUMP_DEADLINE_MS)
      throw new Error(
        `${label}: the chain did not come to rest in ${PUMP_DEADLINE_MS / 1000} s; last invocations: ${JSON.stringify(st.invocations.slice(-5).map((i) => [i.rule, i.error ?? 'ok']))}`,
      );
    const moved = (await st.deliver()) + (await runPendingJobs());
    if (moved > 0) {
      quiet = 0;
      continue;
    }
    if (facade.executions.some(isRunning)) {
      await facade.settled();
      quiet = 0;
      continue;
    }
    quiet++;
    await sleep(1_000);
  }
}

/** Lands the lake's files of one snapshot of some datasets in moto's data bucket (ready markers last, as an upload ends). */
async function land(lakeData: string, snapshot: string, datasets: readonly DatasetConfig[]): Promise<void> {
  const markers: string[] = [];
  for (const d of datasets) {
    const dir = path.join(lakeData, d.rawPrefix, `snapshot_dt=${snapshot}`);
    for (const file of walk(dir)) {
      const key = path.relative(lakeData, file).split(path.sep).join('/');
      if (key === `${d.rawPrefix}snapshot_dt=${snapshot}/${d.readyMarker}`) markers.push(key);
      else await st.s3.send(new PutObjectCommand({ Bucket: st.dataBucket, Key: key, Body: readFileSync(file) }));
    }
  }
  for (const key of markers) await st.s3.send(new PutObjectCommand({ Bucket: st.dataBucket, Key: key, Body: '', ContentLength: 0 }));
}

// ---- the figures compared --------------------------------------------------------------------------------------

interface Figures {
  rows: number;
  nullKeys: number;
  /** bucket → rows */
  buckets: Record<string, number>;
  /** part_<t>_er only: distinct row_id */
  distinctRowIds?: number;
  columns: Array<{ name: string; type: string }>;
  partitionKeys: Array<{ name: string; type: string }>;
  snapshotDt?: string;
}

const num = (v: unknown) => Number(v ?? 0);

/** One query: the rows of each bucket and the totals (GROUPING SETS), read by Trino through moto's catalog. */
async function trinoFigures(table: string, kind: 'part' | 'bucketed' | 'er'): Promise<Figures> {
  const db = st.database;
  const bucketExpr = kind === 'bucketed' ? '"$bucket"' : 'id_bucket';
  const { rows } = await trino.query(
    `SELECT ${bucketExpr} AS b, count(*), count_if(${KEY} IS NULL)${kind === 'er' ? ', count(DISTINCT row_id)' : ''} FROM "${db}"."${table}" GROUP BY GROUPING SETS ((${bucketExpr}), ())`,
  );
  const def = tableDef((await st.glue.send(new GetTableCommand({ DatabaseName: db, Name: table }))).Table as Table);
  const [, total, nullKeys, distinct] = rows.find((r) => r[0] === null) ?? [null, 0, 0, 0];
  return {
    rows: num(total),
    nullKeys: num(nullKeys),
    ...(kind === 'er' ? { distinctRowIds: num(distinct) } : {}),
    buckets: Object.fromEntries(rows.filter((r) => r[0] !== null).map(([bucket, c]) => [String(bucket), num(c)])),
    columns: def.columns,
    partitionKeys: def.partitionKeys,
    snapshotDt: def.parameters.snapshot_dt,
  };
}

async function localFigures(table: string, kind: 'part' | 'bucketed' | 'er'): Promise<Figures> {
  const def = (await rt!.catalog.getTable(rt!.deps.config.database, table))!;
  const loc = parseS3Uri(def.location);
  const dir = path.join(home, 'local', 'lake', loc.bucket, loc.key);
  const files = walk(dir).filter((f) => !path.basename(f).startsWith('_') && !path.basename(f).startsWith('.'));
  const list = `[${files.map((f) => `'${f.replace(/'/g, "''")}'`).join(', ')}]`;
  // part_ and _er: id_bucket is the partition folder; bucketed_: the bucket the file's name gives (Hive's 0000NN_k_…)
  const source = `read_parquet(${list}, hive_partitioning = ${kind === 'bucketed' ? 'false' : 'true'}, filename = true)`;
  const bucketExpr = kind === 'bucketed' ? `CAST(regexp_extract(parse_filename(filename), '^(\\d+)_', 1) AS INTEGER)` : 'id_bucket';
  const [totals] = (
    await duck.runAndReadAll(
      `SELECT count(*) AS n, count(*) FILTER (WHERE ${KEY} IS NULL) AS nulls${kind === 'er' ? ', count(DISTINCT row_id) AS d' : ''} FROM ${source}`,
    )
  ).getRowObjectsJson() as Array<Record<string, unknown>>;
  const perBucket = (await duck.runAndReadAll(`SELECT ${bucketExpr} AS b, count(*) AS c FROM ${source} GROUP BY 1`)).getRowObjectsJson() as Array<
    Record<string, unknown>
  >;
  return {
    rows: num(totals!.n),
    nullKeys: num(totals!.nulls),
    ...(kind === 'er' ? { distinctRowIds: num(totals!.d) } : {}),
    buckets: Object.fromEntries(perBucket.map((r) => [String(r.b), num(r.c)])),
    columns: def.columns,
    partitionKeys: def.partitionKeys,
    snapshotDt: def.parameters.snapshot_dt,
  };
}

interface TableComparison {
  table: string;
  rows_local: number;
  rows_aws: number;
  bucket_counts_equal: boolean;
  differences: string[];
}

function compareFigures(table: string, local: Figures, aws: Figures): TableComparison {
  const differences: string[] = [];
  for (const field of ['rows', 'nullKeys', 'distinctRowIds', 'snapshotDt'] as const) {
    if (local[field] !== aws[field]) differences.push(`${field}: local ${local[field]}, aws ${aws[field]}`);
  }
  const bucketsEqual = JSON.stringify(Object.entries(local.buckets).sort()) === JSON.stringify(Object.entries(aws.buckets).sort());
  if (!bucketsEqual) {
    const all = new Set([...Object.keys(local.buckets), ...Object.keys(aws.buckets)]);
    const differing = [...all].filter((b) => local.buckets[b] !== aws.buckets[b]);
    differences.push(
      `per-bucket rows differ in ${differing.length} bucket(s), e.g. ${differing
        .slice(0, 3)
        .map((b) => `${b}: local ${local.buckets[b]}, aws ${aws.buckets[b]}`)
        .join('; ')}`,
    );
  }
  if (JSON.stringify(local.columns) !== JSON.stringify(aws.columns))
    differences.push(`columns: local ${JSON.stringify(local.columns)}, aws ${JSON.stringify(aws.columns)}`);
  if (JSON.stringify(local.partitionKeys) !== JSON.stringify(aws.partitionKeys))
    differences.push(`partition keys: local ${JSON.stringify(local.partitionKeys)}, aws ${JSON.stringify(aws.partitionKeys)}`);
  return { table, rows_local: local.rows, rows_aws: aws.rows, bucket_counts_equal: bucketsEqual, differences };
}

/** The monitor report's figures per table (what depends on neither side's names, run ids nor clock). */
function reportFigures(report: MonitorReport) {
  return {
    alerts: report.alert_details.map((a) => `${a.severity} ${a.code ?? ''} ${a.table ?? ''}`).sort(),
    tables: Object.fromEntries(
      report.tables.map((t) => {
        // each side's own: folder (bucket, run id), clock, query ids; bytes scanned is Athena's figure (0 locally)
        const { location: _l, checked_at: _c, query_ids: _q, bytes_scanned: _b, trend, ...rest } = t;
        return [t.table, { ...rest, trend: trend.map(({ generated_at: _g, ...point }) => point) }];
      }),
    ),
  };
}

async function latestReport(read: (key: string) => Promise<string>, keys: string[]): Promise<MonitorReport> {
  const json = keys
    .filter((k) => /omc_monitor_report_.*\.json$/.test(k))
    .sort()
    .at(-1);
  if (!json) throw new Error(`no monitor report among ${JSON.stringify(keys)}`);
  return JSON.parse(await read(json)) as MonitorReport;
}

const targets = (d: DatasetConfig) => (d === INFOBASE ? ['ibe_01a', 'ibe_01b', 'ibe_04', 'miacs_01', 'miacs_02'] : ['addressable_ids']);
const ALL_TARGETS = DATASETS.flatMap(targets);
const comparisons: TableComparison[] = [];
let awsReport: MonitorReport;
let localReport: MonitorReport;
let reportDifferences: string[] = [];
let versions: { spark: string; trino: string; moto: string };

beforeAll(async () => {
  restart();
  home = mkdtempSync(path.join(os.tmpdir(), 'pipeline-on-trino-'));
  st = await startStackOnMoto({ env: extraEnv });
  step('moto and the stack');
  trino = await startTrino({ motoEndpoint: st.moto.endpoint });
  step('Trino started');
  const workgroups = st.stack.resources('AWS::Athena::WorkGroup').map(([, w]) => {
    const c = st.stack.resolve(w.Properties.WorkGroupConfiguration);
    return {
      name: st.stack.resolve(w.Properties.Name) as string,
      enforce: c.EnforceWorkGroupConfiguration === true,
      outputLocation: c.ResultConfiguration.OutputLocation as string,
    };
  });
  facade = await startAthenaFacade({ trino, workgroups, eventsEndpoint: st.moto.endpoint, s3Endpoint: st.moto.endpoint });
  extraEnv.AWS_ENDPOINT_URL_ATHENA = facade.endpoint;
  await st.load(FUNCTIONS);
  step('entries loaded');

  // the lake: both snapshots generated once; S1 lands first (both datasets), S2 (infobase) later, for the fault
  const gen = path.join(home, 'gen');
  await generateSampleLake(gen, { rows: ROWS, snapshots: [S1, S2] });
  genData = path.join(gen, 'data');
  for (const dir of emptyDirs(genData)) {
    await st.s3.send(
      new PutObjectCommand({ Bucket: st.dataBucket, Key: `${path.relative(genData, dir).split(path.sep).join('/')}/`, Body: '', ContentLength: 0 }),
    );
  }
  for (const file of walk(genData).filter((f) => !f.includes('snapshot_dt='))) {
    await st.s3.send(new PutObjectCommand({ Bucket: st.dataBucket, Key: path.relative(genData, file).split(path.sep).join('/'), Body: readFileSync(file) }));
  }
  await land(genData, S1, DATASETS);
  step('S1 landed');
  await pumpUntilQuiet('S1');
  step('S1 through the chain');

  // the local run of the same lake (S1 only), to its end
  const localLake = path.join(home, 'local', 'lake');
  cpSync(gen, localLake, { recursive: true, filter: (src) => !src.includes(`snapshot_dt=${S2}`) });
  rt = await localRuntime({ home: path.join(home, 'local') });
  const markerEvents = st.invocations.filter((i) => i.fn === 'snapshotTrigger').map((i) => i.event);
  const localBucket = rt.deps.config.dataBucket;
  for (const e of markerEvents) rt.bus.deliver({ ...e, resources: [`arn:aws:s3:::${localBucket}`], detail: { ...e.detail, bucket: { name: localBucket } } });
  await rt.bus.drain();
  step('local run');

  duck = await (await DuckDBInstance.create(':memory:')).connect();
  for (const t of ALL_TARGETS) {
    for (const [kind, name] of [
      ['part', `part_${t}`],
      ['bucketed', `bucketed_${t}`],
      ['er', `part_${t}_er`],
    ] as const) {
      const local = await localFigures(name, kind);
      const aws = await trinoFigures(name, kind);
      comparisons.push(compareFigures(name, local, aws));
    }
  }
  awsReport = await latestReport((k) => st.getText(st.analysisBucket, k), await st.keysUnder(st.analysisBucket, 'data-monitor/'));
  const localReports = walk(path.join(localLake, rt.deps.config.analysisBucket, 'data-monitor')).map((f) =>
    path.relative(path.join(localLake, rt!.deps.config.analysisBucket), f).split(path.sep).join('/'),
  );
  localReport = await latestReport(async (k) => readFileSync(path.join(localLake, rt!.deps.config.analysisBucket, k), 'utf8'), localReports);
  const a = reportFigures(awsReport);
  const l = reportFigures(localReport);
  reportDifferences = [];
  if (JSON.stringify(a.alerts) !== JSON.stringify(l.alerts))
    reportDifferences.push(`alerts: local ${JSON.stringify(l.alerts)}, aws ${JSON.stringify(a.alerts)}`);
  for (const t of new Set([...Object.keys(a.tables), ...Object.keys(l.tables)])) {
    if (JSON.stringify(a.tables[t]) !== JSON.stringify(l.tables[t]))
      reportDifferences.push(`monitor ${t}: local ${JSON.stringify(l.tables[t])}, aws ${JSON.stringify(a.tables[t])}`);
  }
  const moto = spawnSync(path.join(ROOT, '.venv', 'bin', 'python'), ['-c', 'import moto; print(moto.__version__)'], { encoding: 'utf8' }).stdout.trim();
  versions = { spark: sparkRuns[0]?.versions.spark ?? 'not run', trino: TRINO_VERSION, moto };
  const differences = comparisons.reduce((n, c) => n + c.differences.length, 0) + reportDifferences.length;
  const report = { versions, tables: comparisons, monitor: { differences: reportDifferences }, differences, timings };
  mkdirSync(path.join(ROOT, '.aws-shape'), { recursive: true });
  writeFileSync(path.join(ROOT, '.aws-shape', 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(
    `pipeline on Trino: ${comparisons.length} tables compared with local mode, ${differences} difference(s); Spark ${versions.spark}, Trino ${versions.trino}, moto ${versions.moto}; ` +
      `${facade.executions.length} Athena queries; steps (s) ${JSON.stringify(timings)}; .aws-shape/report.json`,
  );
  step('compared');
}, HOOK_TIMEOUT_MS);

afterAll(async () => {
  duck?.closeSync();
  rt?.close();
  await facade?.stop();
  await trino?.stop();
  await st?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
}, HOOK_TIMEOUT_MS);

const invocationsOf = (fn: FunctionName) => st.invocations.filter((i) => i.fn === fn);

describe('S1 through the whole chain in AWS shape', () => {
  test('every entry the rules invoked succeeded; both datasets completed; the monitor ran and e-mailed', () => {
    expect(st.invocations.filter((i) => i.error).map((i) => `${i.fn}: ${i.error}`)).toEqual([]);
    expect(invocationsOf('snapshotTrigger')).toHaveLength(DATASETS.length);
    expect(invocationsOf('registerStagedTables')).toHaveLength(DATASETS.length);
    expect(invocationsOf('dataMonitor').length).toBeGreaterThan(0);
    expect(st.mails.some((m) => m.subject.startsWith('[DATA MONITOR]'))).toBe(true);
  });

  test("Athena ran each table's part_ and part_<t>_er as a CTAS and INSERT INTOs of ≤100 buckets, on Trino, in the builds workgroup", () => {
    const builds = facade.executions.filter((e) => e.workgroup === st.stack.env('bucketedTables').ATHENA_WORKGROUP);
    expect(builds.filter((e) => e.state !== 'SUCCEEDED').map((e) => `${e.state} ${e.reason} ${e.sql.slice(0, 120)}`)).toEqual([]);
    for (const t of ALL_TARGETS) {
      const ofTable = builds.filter((e) => new RegExp(`CREATE TABLE "[a-z_0-9]+"\\."part_${t}__r|INSERT INTO "[a-z_0-9]+"\\."part_${t}__r`).test(e.sql));
      expect({
        t,
        ctas: ofTable.filter((e) => e.sql.startsWith('CREATE TABLE')).length,
        inserts: ofTable.filter((e) => e.sql.startsWith('INSERT INTO')).length,
      }).toEqual({ t, ctas: 1, inserts: 2 });
      const er = builds.filter((e) => new RegExp(`"part_${t}_er__r`).test(e.sql));
      expect({ t, er: er.length }).toEqual({ t, er: 3 });
    }
  });

  test("every live table equals the local run's: rows, NULL keys, per-bucket rows, columns and types, ER row_id unique (0 differences)", () => {
    expect(comparisons.map((c) => c.table).sort()).toEqual(ALL_TARGETS.flatMap((t) => [`part_${t}`, `bucketed_${t}`, `part_${t}_er`]).sort());
    expect(comparisons.filter((c) => c.differences.length)).toEqual([]);
    for (const c of comparisons.filter((x) => x.table.endsWith('_er'))) expect(c.rows_aws).toBeGreaterThan(0);
  });

  test("the monitor's figures on Trino equal the local monitor's", () => {
    expect(reportDifferences).toEqual([]);
    expect(awsReport.tables.length).toBeGreaterThan(0);
  });
});

describe('the bucketed_ tables read as Hive bucketed tables (Trino, hive.validate-bucketing on)', () => {
  test('every bucketed_<t> reads in full, each row in the file of its bucket (bucket validation fails a query otherwise)', async () => {
    for (const t of ALL_TARGETS) {
      const { rows } = await trino.query(`SELECT count(*), count(DISTINCT "$bucket"), count_if(${KEY} IS NULL) FROM "${st.database}"."bucketed_${t}"`);
      const c = comparisons.find((x) => x.table === `bucketed_${t}`)!;
      expect({ t, rows: num(rows[0]![0]) }).toEqual({ t, rows: c.rows_local });
    }
  });

  test("a point query WHERE customer_user_id = <id> is answered from one bucket: it reads that bucket's files only (query stats)", async () => {
    const table = `"${st.database}"."bucketed_ibe_01a"`;
    const { rows: picked } = await trino.query(`SELECT ${KEY}, "$bucket" FROM ${table} WHERE ${KEY} IS NOT NULL ORDER BY ${KEY} LIMIT 1`);
    const [id, bucket] = picked[0] as [string, number];
    const { rows: inBucket } = await trino.query(`SELECT count(*), count(DISTINCT "$path") FROM ${table} WHERE "$bucket" = ${bucket}`);
    const { rows: all } = await trino.query(`SELECT count(*), count(DISTINCT "$path") FROM ${table}`);
    const point = await trino.query(`SELECT * FROM ${table} WHERE ${KEY} = '${id.replace(/'/g, "''")}'`);
    // Trino's EXPLAIN does not show bucket pruning; its query stats do: the splits scheduled (one per file here) and the rows read
    console.log(
      `point query on bucketed_ibe_01a: bucket ${bucket}; ${point.stats.totalSplits} split(s) of the table's ${all[0]![1]} files, rows read ${point.stats.processedRows} of ${all[0]![0]} (bucket ${bucket}: ${inBucket[0]![0]} rows in ${inBucket[0]![1]} file(s))`,
    );
    expect(point.rows.length).toBeGreaterThan(0);
    // the scan was given only the files of the key's bucket: its splits and the rows it read are that bucket's, not the table's
    expect(num(point.stats.totalSplits)).toBeGreaterThan(0);
    expect(num(point.stats.totalSplits)).toBeLessThanOrEqual(num(inBucket[0]![1]));
    expect(num(all[0]![1])).toBeGreaterThan(100);
    expect(num(point.stats.processedRows)).toBeLessThanOrEqual(num(inBucket[0]![0]));
    expect(num(point.stats.processedRows)).toBeLessThan(num(all[0]![0]));
  });

  test('a stray file in a bucketed folder: Trino refuses the table (Hive bucketing) until it is removed; Flywheel never writes one', async () => {
    const def = tableDef((await st.glue.send(new GetTableCommand({ DatabaseName: st.database, Name: 'bucketed_ibe_04' }))).Table as Table);
    const loc = parseS3Uri(def.location);
    const [first] = (await st.keysUnder(loc.bucket, loc.key)).filter((k) => k.endsWith('.parquet') || /\/\d{6}_\d+_/.test(k));
    const body = await (await st.s3.send(new GetObjectCommand({ Bucket: loc.bucket, Key: first! }))).Body!.transformToByteArray();
    const stray = `${loc.key}stray-copy.parquet`;
    await st.s3.send(new PutObjectCommand({ Bucket: loc.bucket, Key: stray, Body: body }));
    let error: { errorName?: string; message: string } | undefined;
    try {
      await trino.query(`SELECT count(*) FROM "${st.database}"."bucketed_ibe_04"`);
    } catch (e) {
      error = e as { errorName?: string; message: string };
    }
    await st.s3.send(new DeleteObjectCommand({ Bucket: loc.bucket, Key: stray }));
    console.log(`stray file in bucketed_ibe_04's folder: ${error ? `${error.errorName}: ${error.message}` : 'read without error'}`);
    expect(error?.errorName).toMatch(/HIVE_INVALID_BUCKET_FILES|HIVE_INVALID_METADATA|HIVE_/);
    const { rows } = await trino.query(`SELECT count(*) FROM "${st.database}"."bucketed_ibe_04"`);
    expect(num(rows[0]![0])).toBe(comparisons.find((c) => c.table === 'bucketed_ibe_04')!.rows_local);
  });
});

describe('a fault in AWS shape: a Trino query killed mid-range on the next snapshot', () => {
  const victim = 'ibe_04';
  let killed: FacadeExecution | undefined;
  let killError: string | undefined;
  let afterFailure: Record<string, Figures>;
  let afterReplay: Record<string, Figures>;
  let s2Rows: Record<string, number>;
  let failureMail: string | undefined;
  let replayed: Delivered | undefined;
  let invocationsBefore = 0;

  beforeAll(async () => {
    facade.onRunning(async (e) => {
      if (killed || !e.sql.startsWith('INSERT INTO') || !e.sql.includes(`"part_${victim}__r`)) return;
      killed = e;
      try {
        await facade.kill(e.id);
      } catch (error) {
        killError = error instanceof Error ? error.message : String(error);
      }
    });
    const mailsBefore = st.mails.length;
    invocationsBefore = st.invocations.length;
    await land(genData, S2, [INFOBASE]);
    await pumpUntilQuiet('S2 with a killed query');
    // one table at a time: the machine has 2 cores, and Trino's queries here are small
    const figures = async () => {
      const out: Record<string, Figures> = {};
      for (const t of targets(INFOBASE)) {
        out[`part_${t}`] = await trinoFigures(`part_${t}`, 'part');
        out[`bucketed_${t}`] = await trinoFigures(`bucketed_${t}`, 'bucketed');
        out[`part_${t}_er`] = await trinoFigures(`part_${t}_er`, 'er');
      }
      return out;
    };
    afterFailure = await figures();
    s2Rows = {};
    for (const t of targets(INFOBASE)) s2Rows[t] = num((await trino.query(`SELECT count(*) FROM "${st.database}"."ext_${t}"`)).rows[0]![0]);
    failureMail = st.mails
      .slice(mailsBefore)
      .map((m) => m.body)
      .find((b) => b.includes('aws events put-events') && b.includes(victim));
    const command = failureMail ? /aws events put-events --entries '(.*)'/.exec(failureMail)?.[1] : undefined;
    if (command) {
      const entries = JSON.parse(command.replace(/'\\''/g, "'")) as Array<{ EventBusName: string; Source: string; DetailType: string; Detail: string }>;
      const put = await st.events.send(new PutEventsCommand({ Entries: entries }));
      if (put.FailedEntryCount) throw new Error(`the alert's replay command failed: ${JSON.stringify(put.Entries)}`);
      await pumpUntilQuiet('the replay');
      replayed = st.invocations.find((i, n) => n >= invocationsBefore && i.fn === 'replay')?.event;
      afterReplay = await figures();
    }
  }, HOOK_TIMEOUT_MS);

  test('the query was killed while running; Athena reported it FAILED', () => {
    expect(killError).toBeUndefined();
    expect(killed).toBeDefined();
    const execution = facade.executions.find((e) => e.id === killed!.id)!;
    expect(execution.state).toBe('FAILED');
  });

  test('the failed table stayed on its previous snapshot; the others moved to the new one', () => {
    for (const [name, f] of Object.entries(afterFailure)) {
      const t = name.replace(/^(part_|bucketed_)/, '').replace(/_er$/, '');
      const s1 = comparisons.find((c) => c.table === name)!.rows_aws;
      if (t === victim) expect({ name, snapshot: f.snapshotDt, rows: f.rows }).toEqual({ name, snapshot: S1, rows: s1 });
      else expect({ name, snapshot: f.snapshotDt, rows: f.rows }).toEqual({ name, snapshot: S2, rows: s2Rows[t] });
    }
  });

  test('an alert was e-mailed naming the table, with the replay command; the replay ran from it', () => {
    expect(failureMail).toBeDefined();
    expect(replayed).toMatchObject({ source: 'flywheel.ops', 'detail-type': 'Replay Requested', detail: { dataset: 'infobase', snapshotDt: S2 } });
    expect(
      st.invocations
        .slice(invocationsBefore)
        .filter((i) => i.error)
        .map((i) => `${i.fn}: ${i.error}`),
    ).toEqual([]);
  });

  test("after the replay: every table on the new snapshot, nothing lost or doubled (part_, bucketed_ and _er rows = the split's rows; row_id unique)", () => {
    expect(afterReplay).toBeDefined();
    for (const [name, f] of Object.entries(afterReplay)) {
      const t = name.replace(/^(part_|bucketed_)/, '').replace(/_er$/, '');
      expect({ name, snapshot: f.snapshotDt, rows: f.rows, ...(f.distinctRowIds !== undefined ? { distinct: f.distinctRowIds } : {}) }).toEqual({
        name,
        snapshot: S2,
        rows: s2Rows[t],
        ...(f.distinctRowIds !== undefined ? { distinct: s2Rows[t] } : {}),
      });
      expect(Object.values(f.buckets).reduce((a, b) => a + b, 0)).toBe(s2Rows[t]);
    }
  });
});
