/**
 * The chain in AWS shape: the real Lambda entries (services/<name>/handler.ts, the AWS composition root, unchanged)
 * in-process against moto, with the split job run by the real Glue script on Spark, compared with a local run of
 * the same lake.
 *
 *   the `npm start` sample lake (small) lands in moto's data bucket (EventBridge notifications on, as in the template)
 *   → each dataset's `_SUCCESS` ready marker is put → moto's S3 emits Object Created to the default bus
 *   → the template's ready-marker rule (installed in moto, an SQS queue as its target) delivers it
 *   → services/snapshot-trigger/handler.ts → Glue StartJobRun in moto (the jobs created from the template)
 *   → glue-scripts/split_and_bucket.py on PySpark 3.5.4 for each job run, its arguments read back with GetJobRun
 *     (the job's DefaultArguments, then the run's, as Glue merges them; the script is the job's ScriptLocation,
 *     which `npm run deploy:scripts` fills from glue-scripts/)
 *   → a Glue Job State Change per run, put on the default bus (PutEvents; Glue itself would send it), routed by the
 *     template's split-job-finished rule to its queue → services/register-staged-tables/handler.ts
 *   → ext_<t> in moto's Glue catalog, and Stage Completed on the project bus (the template's
 *     staged-tables-registered rule → its queue). The Athena stages are not run here.
 *
 * Each entry is imported as Lambda loads it: with process.env set to its function's environment from the packaged
 * dev template (test/iam/check.ts Stack.env) plus AWS_ENDPOINT_URL and dummy credentials, each in its own module
 * registry (jest.isolateModulesAsync: one container per function, so awsDeps() builds each function's own deps).
 * S3 needs no path-style setting: the SDK's S3 endpoint rules address buckets by path when the endpoint's host is an
 * IP address (127.0.0.1); the JS SDK reads no AWS_S3_FORCE_PATH_STYLE variable.
 *
 * Where moto's answers differ from AWS's in a way the entries notice, the harness puts them right, and the tests
 * say so: AWS_ENDPOINT_URL is moto behind s3-response-proxy.ts (moto returns the Content-MD5 a PUT carried on later
 * GETs, ranged ones included; S3 never does, and the SDK would fail the footer read on it), and the Glue Job State
 * Change a rule delivers gets its `account` back (moto drops it from events put with PutEvents; step 7).
 *
 * The local run: the same lake in a local home (shared/composition/local.ts localRuntime), the same ready-marker
 * events (moto's, with the local data bucket's name) delivered through the local bus, which runs the local
 * snapshot-trigger, the DuckDB twin of the job and register-staged-tables; register's Stage Completed is held
 * back, so the local run stops where the AWS chain stops.
 */
import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetJobCommand, GetJobRunCommand, GetTablesCommand, type GlueClient, type JobRun, type Table } from '@aws-sdk/client-glue';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tableDef } from '../../shared/adapters/aws/glue-catalog.js';
import { localRuntime, type LocalEngineRuntime as LocalRuntime } from '../../shared/composition/local.js';
import { ADDRESSABLE, INFOBASE, parseS3Uri, type DatasetConfig } from '../../shared/domain/config.js';
import type { RunLedger } from '../../shared/domain/ledger.js';
import { generateSampleLake } from '../../shared/local/sample-lake.js';
import type { TableDef } from '../../shared/ports.js';
import type { StartRunResult } from '../../shared/use-cases/snapshot-trigger.js';
import { sample } from '../aws/lambda-env.js';
import type { Stack } from '../iam/check.js';
import { bodies, receiveAll, type Queue } from './moto-fixtures.js';
import { MOTO_ACCOUNT_ID } from './moto-server.js';
import type { S3ResponseProxy } from './s3-response-proxy.js';
import { emptyDirs, walk } from './lake-files.js';
import { stepTimer } from './step-timer.js';
import { startStackOnMoto, type Delivered, type StackOnMoto } from './stack-on-moto.js';
import { describeFailure, runGlueOnSpark, type SparkRun } from './spark/glue-spark.js';

// packaging can take minutes when the service changed; moto, Spark and the local run share 2 cores with other suites
const HOOK_TIMEOUT_MS = 1_800_000;
const SNAPSHOT = '2025-10-31';
const ROWS = 2_000;
const DATASETS = [INFOBASE, ADDRESSABLE] as const;
const KEY = 'customer_user_id';
const INFOBASE_TABLES = ['ibe_01a', 'ibe_01b', 'ibe_04', 'miacs_01', 'miacs_02'];
/** Long polls for what moto delivers inside the PutObject / PutEvents call, and a settling poll that proves nothing more came. */
const RECEIVE = { timeoutMs: 180_000, settleSeconds: 2 };

interface Side {
  table: TableDef;
  runId: string;
  /** Every object under the table's location, relative to it. */
  objects: string[];
  /** The parquet files on disk (downloaded from moto, or the local lake's). */
  files: string[];
}

interface DatasetRun {
  dataset: DatasetConfig;
  markerEvent: Delivered;
  started: Extract<StartRunResult, { outcome: 'started' }>;
  jobRun: JobRun;
  scriptLocation: string;
  /** The job's DefaultArguments as moto holds them (GetJob): Glue passes them before the run's own. */
  defaultArguments: Record<string, string>;
  stateEvent?: Delivered;
  /** The delivered Glue event had no `account` (moto's rendering; see step 7). */
  deliveredWithoutAccount?: boolean;
  registered?: { outcome: string; tables: string[] };
  stageCompleted?: Delivered;
  ledger?: RunLedger;
}

let sm: StackOnMoto | undefined;
let stack: Stack;
/** What the entries' AWS_ENDPOINT_URL points at: moto, through a proxy that drops one header moto adds (s3-response-proxy.ts). */
let proxy: S3ResponseProxy | undefined;
let s3: S3Client;
let glue: GlueClient;
let events: EventBridgeClient;
let sqs: SQSClient;
let home: string | undefined;
let rt: LocalRuntime | undefined;
let duck: DuckDBConnection | undefined;
let spark: SparkRun;
let dataBucket: string;
let database: string;
/** Rule name → its queue (every pattern rule of the template). */
const ruleQueues = new Map<string, Queue>();
let alertQueue: Queue;
const runs = new Map<string, DatasetRun>();
/** Every Glue table of moto's catalog after the chain, and the local catalog's ext_ tables. */
const awsTables: Table[] = [];
let localTables: TableDef[] = [];
/** The local register's Stage Completed events (held back from the local bus). */
const localStageCompleted: Delivered[] = [];
const localLedgers = new Map<string, RunLedger>();
/** ext_<t> → both sides. */
const compared = new Map<string, { aws: Side; local: Side }>();
/** Messages other rules' queues and the alert topic's queue received (none expected). */
const strays: Record<string, string[]> = {};

const ruleName = (route: string) => sm!.ruleName(route);

async function invoke<T>(fn: 'snapshotTrigger' | 'registerStagedTables', event: unknown): Promise<T> {
  return (await sm!.invoke(fn, event)) as T;
}

const keysUnder = (bucket: string, prefix: string) => sm!.keysUnder(bucket, prefix);
const getText = (bucket: string, key: string) => sm!.getText(bucket, key);

/** The queue of one of the template's rules. */
function queueOf(route: string): Queue {
  const queue = ruleQueues.get(ruleName(route));
  if (!queue) throw new Error(`the template has no rule ${ruleName(route)}`);
  return queue;
}

/** `--NAME value` job arguments as the Spark harness takes them (without the dashes). */
const bare = (args: Record<string, string> | undefined) => Object.fromEntries(Object.entries(args ?? {}).map(([k, v]) => [k.replace(/^--/, ''), v]));

/** A table definition with each side's own names taken out: the data bucket and the run id. */
function normalized(t: TableDef, bucket: string, runId: string) {
  const runPart = runId.toLowerCase().replace(/[^a-z0-9]/g, '_');
  return {
    ...t,
    name: t.name.replace(`__r${runPart}`, '__r<run>'),
    location: t.location.replace(`s3://${bucket}/`, 's3://<data>/').replace(`run_id=${runId}/`, 'run_id=<run>/'),
    parameters: { ...t.parameters, ...(t.parameters.run_id === runId ? { run_id: '<run>' } : {}) },
  };
}

/** read_parquet over files (the folders' snapshot_dt=/run_id= are not columns). */
const parquet = (files: string[]) => `read_parquet([${files.map((f) => `'${f.replace(/'/g, "''")}'`).join(', ')}], hive_partitioning = false)`;

async function one(sql: string): Promise<Record<string, number>> {
  const [row] = (await duck!.runAndReadAll(sql)).getRowObjectsJson() as Array<Record<string, unknown>>;
  return Object.fromEntries(Object.entries(row ?? {}).map(([k, v]) => [k, Number(v)]));
}

const { timings, step, restart } = stepTimer();

beforeAll(async () => {
  restart();
  // 1. moto with the stack's resources, every pattern rule of the template with an SQS queue as its target (stack-on-moto.ts)
  sm = await startStackOnMoto();
  ({ stack, proxy, s3, glue, events, sqs, dataBucket, database, alertQueue } = sm);
  for (const [name, queue] of sm.ruleQueues) ruleQueues.set(name, queue);
  const triggerEnv = stack.env('snapshotTrigger');

  step('moto and its fixtures');
  // 2. the Lambda entries, each loaded in its own module registry with its function's environment (a container each)
  await sm.load(['snapshotTrigger', 'registerStagedTables']);

  step('entries imported');
  // 3. the sample lake, in a local home and (all but the ready markers) in moto's data bucket
  home = mkdtempSync(path.join(os.tmpdir(), 'chain-on-moto-'));
  const lakeData = path.join(home, 'lake', 'data');
  await generateSampleLake(path.join(home, 'lake'), { rows: ROWS, snapshots: [SNAPSHOT] });
  const markerKeys = DATASETS.map((d) => `${d.rawPrefix}snapshot_dt=${SNAPSHOT}/${d.readyMarker}`);
  for (const file of walk(lakeData)) {
    const key = path.relative(lakeData, file).split(path.sep).join('/');
    if (!markerKeys.includes(key)) await s3.send(new PutObjectCommand({ Bucket: dataBucket, Key: key, Body: readFileSync(file) }));
  }
  // the sample's empty junk folders (snapshot_dt=latest/, …) as S3 has folders: a zero-byte `<folder>/` object, as the console makes
  for (const dir of emptyDirs(lakeData)) {
    await s3.send(new PutObjectCommand({ Bucket: dataBucket, Key: `${path.relative(lakeData, dir).split(path.sep).join('/')}/`, Body: '', ContentLength: 0 }));
  }

  step('sample lake landed');
  // 4. the ready markers land; moto's S3 emits Object Created; the template's rule delivers each to its queue
  for (const key of markerKeys) await s3.send(new PutObjectCommand({ Bucket: dataBucket, Key: key, Body: '', ContentLength: 0 }));
  const markers = bodies<Delivered>(await receiveAll(sqs, queueOf('ready-marker-landed'), { expected: DATASETS.length, ...RECEIVE }));
  if (markers.length !== DATASETS.length)
    throw new Error(`the ready-marker rule delivered ${markers.length} events, not ${DATASETS.length}: ${JSON.stringify(markers)}`);

  step('ready markers delivered');
  // 5. snapshot-trigger, once per delivered event → Glue StartJobRun in moto
  for (const d of DATASETS) {
    const markerEvent = markers.find((e) => e.detail.object.key === `${d.rawPrefix}snapshot_dt=${SNAPSHOT}/${d.readyMarker}`);
    if (!markerEvent) throw new Error(`no Object Created event for ${d.name}'s ready marker: ${JSON.stringify(markers)}`);
    const results = await invoke<StartRunResult[]>('snapshotTrigger', markerEvent);
    const started = results[0];
    if (results.length !== 1 || started?.outcome !== 'started') throw new Error(`${d.name}: snapshot-trigger did not start a run: ${JSON.stringify(results)}`);
    const jobName = d === INFOBASE ? triggerEnv.SPLIT_JOB_NAME! : triggerEnv.ADDRESSABLE_JOB_NAME!;
    const { JobRun: jobRun } = await glue.send(new GetJobRunCommand({ JobName: jobName, RunId: started.jobRunId }));
    const { Job: job } = await glue.send(new GetJobCommand({ JobName: jobName }));
    runs.set(d.name, {
      dataset: d,
      markerEvent,
      started,
      jobRun: jobRun!,
      scriptLocation: job!.Command!.ScriptLocation!,
      defaultArguments: job!.DefaultArguments ?? {},
    });
  }

  step('snapshot-trigger');
  // 6. Glue's part, played by the harness: each job run's script (its ScriptLocation's file in glue-scripts/, as deploy:scripts
  //    uploads it) with the arguments Glue gives it (the job's DefaultArguments, then the run's), in one Spark process
  const tasks = [...runs.values()].map((r) => {
    const script = path.join('glue-scripts', path.basename(r.scriptLocation));
    if (!existsSync(script)) throw new Error(`${r.jobRun.JobName}: its script ${r.scriptLocation} is not in glue-scripts/`);
    return { name: r.jobRun.Id!, script, args: { ...bare(r.defaultArguments), ...bare(r.jobRun.Arguments), JOB_NAME: r.jobRun.JobName! } };
  });
  spark = await runGlueOnSpark({ endpoint: sm.moto.endpoint, buckets: [dataBucket], tasks });

  step('Spark');
  // 7. each run's Glue Job State Change on the default bus, as Glue sends it; the template's rule delivers it
  const glueSample = sample('glue-job-state-change.succeeded.json');
  const stateEntries = [...runs.values()].map((r) => {
    const t = spark.task(r.jobRun.Id!);
    const detail = {
      ...glueSample.detail,
      jobName: r.jobRun.JobName,
      jobRunId: r.jobRun.Id,
      ...(t.ok ? {} : { state: 'FAILED', severity: 'ERROR', message: t.error ?? 'failed' }),
    };
    return { EventBusName: 'default', Source: glueSample.source, DetailType: glueSample['detail-type'], Detail: JSON.stringify(detail) };
  });
  const put = await events.send(new PutEventsCommand({ Entries: stateEntries }));
  if (put.FailedEntryCount) throw new Error(`PutEvents failed: ${JSON.stringify(put.Entries)}`);
  const stateEvents = bodies<Delivered>(await receiveAll(sqs, queueOf('split-job-finished'), { expected: runs.size, ...RECEIVE }));
  for (const r of runs.values()) {
    const delivered = stateEvents.find((e) => e.detail.jobRunId === r.jobRun.Id);
    if (!delivered) continue;
    // moto 5.2.1 renders what a rule delivers for a PutEvents event through its default input template, which has no
    // `account` (events/utils.py DEFAULT_EVENT_INPUT_TEMPLATE); AWS delivers the event whole, and S3's events keep theirs
    // in moto too. The handlers' schemas require it, so the account of the stack (moto's) is put back, and only that.
    r.deliveredWithoutAccount = !('account' in delivered);
    r.stateEvent = { ...delivered, account: delivered.account ?? r.markerEvent.account };
  }

  step('job state changes delivered');
  // 8. register-staged-tables, once per delivered event → ext_<t> in moto's catalog, Stage Completed on the project bus
  for (const r of runs.values()) {
    if (!r.stateEvent) continue;
    r.registered = await invoke('registerStagedTables', r.stateEvent);
  }
  const registeredRuns = [...runs.values()].filter((r) => r.registered?.outcome === 'registered').length;
  const completed = bodies<Delivered>(await receiveAll(sqs, queueOf('staged-tables-registered'), { expected: registeredRuns, ...RECEIVE }));
  for (const r of runs.values()) {
    r.stageCompleted = completed.find((e) => e.detail.runId === r.started.runId);
    r.ledger = JSON.parse(await getText(dataBucket, `${r.dataset.runsPrefix}snapshot_dt=${SNAPSHOT}/run.json`)) as RunLedger;
  }
  // what else arrived: the other rules' queues and the alert topic's (one short poll each, all at once)
  await Promise.all(
    [
      ...[...ruleQueues.entries()].filter(
        ([name]) => ![ruleName('ready-marker-landed'), ruleName('split-job-finished'), ruleName('staged-tables-registered')].includes(name),
      ),
      ['alerts', alertQueue] as const,
    ].map(async ([name, queue]) => {
      const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      if (res.Messages?.length) strays[name] = res.Messages.map((m) => (m.Body ?? '').slice(0, 400));
    }),
  );
  for (let token: string | undefined, first = true; first || token; first = false) {
    const page = await glue.send(new GetTablesCommand({ DatabaseName: database, NextToken: token }));
    awsTables.push(...(page.TableList ?? []));
    token = page.NextToken;
  }

  step('register-staged-tables and its Stage Completed');
  // 9. the local run of the same lake: the same ready-marker events (with the local data bucket) through the local bus
  rt = await localRuntime({
    home,
    observer: {
      drop: (event) => {
        const e = event as Delivered;
        if (e['detail-type'] !== 'Stage Completed' || e.detail?.stage !== 'register-staged-tables') return false;
        localStageCompleted.push(e);
        return true;
      },
    },
  });
  const localBucket = rt.deps.config.dataBucket;
  for (const d of DATASETS) {
    const e = runs.get(d.name)!.markerEvent;
    rt.bus.deliver({ ...e, resources: [`arn:aws:s3:::${localBucket}`], detail: { ...e.detail, bucket: { name: localBucket } } });
  }
  await rt.bus.drain();
  for (const d of DATASETS)
    localLedgers.set(d.name, JSON.parse(readFileSync(path.join(lakeData, d.runsPrefix, `snapshot_dt=${SNAPSHOT}`, 'run.json'), 'utf8')) as RunLedger);
  localTables = await rt.catalog.listTables(rt.deps.config.database, rt.deps.config.prefixes.ext);

  step('local run');
  // 10. both sides of every ext_<t>: its objects, and its parquet files on disk
  const work = path.join(home, 'from-moto');
  for (const r of runs.values()) {
    const localLedger = localLedgers.get(r.dataset.name)!;
    for (const { target } of r.started.plan.tables) {
      const name = `ext_${target}`;
      const awsTable = awsTables.find((t) => t.Name === name);
      const localTable = localTables.find((t) => t.name === name);
      if (!awsTable || !localTable) continue;
      const aws = tableDef(awsTable);
      const awsLoc = parseS3Uri(aws.location);
      const awsKeys = await keysUnder(awsLoc.bucket, awsLoc.key);
      const dir = path.join(work, name);
      mkdirSync(dir, { recursive: true });
      const awsFiles: string[] = [];
      for (const key of awsKeys.filter((k) => k.endsWith('.parquet'))) {
        const got = await s3.send(new GetObjectCommand({ Bucket: awsLoc.bucket, Key: key }));
        const file = path.join(dir, path.basename(key));
        writeFileSync(file, await got.Body!.transformToByteArray());
        awsFiles.push(file);
      }
      const localDir = path.join(lakeData, parseS3Uri(localTable.location).key);
      const localObjects = walk(localDir)
        .map((f) => path.relative(localDir, f).split(path.sep).join('/'))
        .sort();
      compared.set(name, {
        aws: { table: aws, runId: r.started.runId, objects: awsKeys.map((k) => k.slice(awsLoc.key.length)), files: awsFiles.sort() },
        local: {
          table: localTable,
          runId: localLedger.runId,
          objects: localObjects,
          files: localObjects.filter((f) => f.endsWith('.parquet')).map((f) => path.join(localDir, f)),
        },
      });
    }
  }
  duck = await (await DuckDBInstance.create(':memory:')).connect();
  step('both sides read');

  console.log(
    `chain on moto: steps (s) ${JSON.stringify(timings)}; Spark ${spark.versions.spark} (start ${spark.startSeconds} s, total ${spark.seconds} s); ${JSON.stringify(
      [...runs.values()].map((r) => ({
        dataset: r.dataset.name,
        runId: r.started.runId,
        jobRunId: r.jobRun.Id,
        spark: `${spark.task(r.jobRun.Id!).ok ? 'ok' : 'FAILED'} ${spark.task(r.jobRun.Id!).seconds} s`,
        registered: r.registered,
      })),
    )}`,
  );
}, HOOK_TIMEOUT_MS);

afterAll(async () => {
  duck?.closeSync();
  rt?.close();
  await sm?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
}, HOOK_TIMEOUT_MS);

const run = (d: DatasetConfig) => runs.get(d.name)!;
const extNames = (tables: Array<{ name: string }>) =>
  tables
    .map((t) => t.name)
    .filter((n) => !n.includes('__r'))
    .sort();

describe('the chain on moto, through the Lambda entries', () => {
  test("S3 Object Created of each ready marker, delivered by the template's rule, started one Glue job run of the template's job", () => {
    for (const d of DATASETS) {
      const r = run(d);
      expect(r.markerEvent).toMatchObject({ source: 'aws.s3', 'detail-type': 'Object Created', detail: { bucket: { name: dataBucket } } });
      expect(r.started).toMatchObject({ outcome: 'started', snapshotDt: SNAPSHOT });
      expect(r.jobRun).toMatchObject({
        Id: r.started.jobRunId,
        JobName: d === INFOBASE ? stack.env('snapshotTrigger').SPLIT_JOB_NAME : stack.env('snapshotTrigger').ADDRESSABLE_JOB_NAME,
        Arguments: {
          '--SNAPSHOT_DT': SNAPSHOT,
          '--RUN_ID': r.started.runId,
          '--PLAN_URI': `s3://${dataBucket}/${d.runsPrefix}snapshot_dt=${SNAPSHOT}/run_id=${r.started.runId}/plan.json`,
        },
      });
      expect(r.scriptLocation).toBe(`s3://${dataBucket}/glue-scripts/split_and_bucket.py`);
      expect(r.started.plan.tables.map((t) => t.target)).toEqual(d === INFOBASE ? INFOBASE_TABLES : ['addressable_ids']);
    }
  });

  test("the split script ran on Spark for each job run with Glue's arguments", () => {
    expect(spark.versions).toMatchObject({ spark: '3.5.4', python: expect.stringMatching(/^3\.11\./) });
    for (const d of DATASETS) {
      const t = spark.task(run(d).jobRun.Id!);
      expect(describeFailure(t)).toBe(`${t.name}: ok`);
      expect(t.argv).toEqual(
        expect.arrayContaining([
          '--JOB_NAME',
          run(d).jobRun.JobName,
          '--PLAN_URI',
          run(d).jobRun.Arguments!['--PLAN_URI'],
          '--extra-py-files',
          `s3://${dataBucket}/glue-scripts/flywheel_split.py`,
        ]),
      );
      expect(t.logs.filter((l) => l.message === 'table written').map((l) => l.table)).toEqual(run(d).started.plan.tables.map((x) => x.target));
    }
  });

  test("each Glue Job State Change, routed by the template's rule, made register-staged-tables register every planned table", () => {
    for (const d of DATASETS) {
      const r = run(d);
      expect(r.stateEvent).toMatchObject({
        source: 'aws.glue',
        'detail-type': 'Glue Job State Change',
        account: MOTO_ACCOUNT_ID,
        detail: { jobRunId: r.jobRun.Id, state: 'SUCCEEDED' },
      });
      // the one field the harness restored (moto drops it from PutEvents deliveries); S3's event came with it
      expect({ dataset: d.name, restoredAccount: r.deliveredWithoutAccount, s3Account: r.markerEvent.account }).toEqual({
        dataset: d.name,
        restoredAccount: true,
        s3Account: MOTO_ACCOUNT_ID,
      });
      expect(r.registered).toEqual({ outcome: 'registered', tables: r.started.plan.tables.map((t) => t.target) });
      expect(r.ledger!.stages['split-and-bucket']).toMatchObject({ status: 'SUCCEEDED', jobRunId: r.jobRun.Id });
      expect(r.ledger!.stages['register-staged-tables']).toMatchObject({ status: 'SUCCEEDED' });
    }
  });

  test("Stage Completed arrived on the project bus through the template's staged-tables-registered rule, one per run, as the local run emits it", () => {
    for (const d of DATASETS) {
      const r = run(d);
      const local = localStageCompleted.find((e) => e.detail.dataset === d.name);
      expect(r.stageCompleted).toMatchObject({ source: 'flywheel.pipeline', 'detail-type': 'Stage Completed' });
      expect(r.stageCompleted!.detail).toEqual({
        stage: 'register-staged-tables',
        dataset: d.name,
        snapshotDt: SNAPSHOT,
        runId: r.started.runId,
        tables: r.registered!.tables,
      });
      expect({ ...r.stageCompleted!.detail, runId: '<run>' }).toEqual({ ...local!.detail, runId: '<run>' });
    }
  });

  test('nothing else: no other rule fired, no alert was published', () => {
    expect(strays).toEqual({});
  });

  test("the harness changed one header of moto's answers to the entries: Content-MD5, on reads of the files Spark wrote (S3 never sends it)", () => {
    const splitPrefixes = DATASETS.map((d) => `/${dataBucket}/${d.splitPrefix}`);
    expect(proxy!.stripped.length).toBeGreaterThan(0);
    for (const request of proxy!.stripped)
      expect({ request, ok: /^(GET|HEAD) /.test(request) && splitPrefixes.some((p) => request.split(' ')[1]!.startsWith(p)) }).toEqual({ request, ok: true });
  });
});

describe("the run ledgers: moto's S3 and the local lake", () => {
  test("the same tables, counts, skipped tables, junk and dropped columns; the same stages done; each started by its ready marker's event", () => {
    const comparable = (l: RunLedger) => ({
      dataset: l.dataset,
      snapshotDt: l.snapshotDt,
      status: l.status,
      trigger: l.trigger.kind,
      stages: Object.fromEntries(Object.entries(l.stages).map(([stage, record]) => [stage, record.status])),
      tables: l.tables,
      skipped: l.skipped,
      junk: l.junk,
      droppedColumns: l.droppedColumns,
    });
    for (const d of DATASETS) {
      const aws = run(d).ledger!;
      const local = localLedgers.get(d.name)!;
      expect(comparable(aws)).toEqual(comparable(local));
      expect(comparable(aws).stages).toEqual({
        'snapshot-trigger': 'SUCCEEDED',
        'split-and-bucket': 'SUCCEEDED',
        'register-staged-tables': 'SUCCEEDED',
        'bucketed-tables': 'PENDING',
      });
      // moto gives every event its S3 emits one fixed id (events/utils.py _BASE_EVENT_MESSAGE); AWS's are unique. Nothing here keys on it.
      expect(aws.trigger).toEqual({ kind: 'event', eventId: run(d).markerEvent.id });
      expect(aws.planUri).toBe(run(d).jobRun.Arguments!['--PLAN_URI']);
    }
    expect(localLedgers.get('infobase')!.junk.sort()).toEqual(['README.txt', 'snapshot_dt=2099-02-30', 'snapshot_dt=latest']);
  });
});

describe("the ext_ tables in moto's Glue catalog equal the local run's", () => {
  test("the same ext_ tables, and each run's own staging definition", () => {
    const all = [...INFOBASE_TABLES, 'addressable_ids'].map((t) => `ext_${t}`).sort();
    expect(extNames(awsTables.map((t) => ({ name: t.Name! })))).toEqual(all);
    expect(extNames(localTables)).toEqual(all);
    expect([...compared.keys()].sort()).toEqual(all);
    const staging = (names: string[]) => names.filter((n) => n.includes('__r')).sort();
    const expectedStaging = (runIdOf: (d: DatasetConfig) => string) =>
      DATASETS.flatMap((d) =>
        run(d).started.plan.tables.map(
          (t) =>
            `ext_${t.target}__r${runIdOf(d)
              .toLowerCase()
              .replace(/[^a-z0-9]/g, '_')}`,
        ),
      ).sort();
    expect(staging(awsTables.map((t) => t.Name!))).toEqual(expectedStaging((d) => run(d).started.runId));
    expect(staging(localTables.map((t) => t.name))).toEqual(expectedStaging((d) => localLedgers.get(d.name)!.runId));
  });

  test('definitions: columns and types, partition keys, comment, parameters (snapshot_dt, run_id), location (up to the bucket and run id)', () => {
    for (const [name, { aws, local }] of compared) {
      const a = normalized(aws.table, dataBucket, aws.runId);
      const l = normalized(local.table, rt!.deps.config.dataBucket, local.runId);
      expect({ name, columns: a.columns, partitionKeys: a.partitionKeys, comment: a.comment, location: a.location }).toEqual({
        name,
        columns: l.columns,
        partitionKeys: l.partitionKeys,
        comment: l.comment,
        location: l.location,
      });
      expect(a.comment).toBe(`Bucketed table created from snapshot_dt=${SNAPSHOT}`);
      expect(a.columns[0]).toEqual({ name: KEY, type: 'string' });
      expect(a.columns.at(-1)).toEqual({ name: 'id_bucket', type: 'int' });
      // the Glue adapter adds EXTERNAL=TRUE (what Glue and Athena expect of an external table); the rest is the use case's
      expect(a.parameters).toEqual({ ...l.parameters, EXTERNAL: 'TRUE' });
      expect(a.parameters).toMatchObject({ snapshot_dt: SNAPSHOT, run_id: '<run>', classification: 'parquet' });
      expect(aws.table.storage).toMatchObject({
        tableType: 'EXTERNAL_TABLE',
        inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
        serde: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
      });
      expect(local.table.storage).toEqual(aws.table.storage);
    }
  });

  test("each location holds its run's data: the planned files, the same rows as the local run's, the counts the ledgers recorded", async () => {
    for (const [name, { aws, local }] of compared) {
      const target = name.slice('ext_'.length);
      const d = target === 'addressable_ids' ? ADDRESSABLE : INFOBASE;
      const plan = run(d).started.plan.tables.find((t) => t.target === target)!;
      expect({ name, awsFiles: aws.files.length, localFiles: local.files.length }).toEqual({ name, awsFiles: plan.fileCount, localFiles: plan.fileCount });
      const counts = await one(`SELECT (SELECT count(*) FROM ${parquet(aws.files)}) AS aws_rows, (SELECT count(*) FROM ${parquet(local.files)}) AS local_rows,
        (SELECT count(*) FROM ${parquet(aws.files)} WHERE ${KEY} IS NULL) AS aws_null, (SELECT count(*) FROM ${parquet(local.files)} WHERE ${KEY} IS NULL) AS local_null,
        (SELECT count(*) FROM (SELECT * FROM ${parquet(aws.files)} EXCEPT ALL SELECT * FROM ${parquet(local.files)})) AS only_aws,
        (SELECT count(*) FROM (SELECT * FROM ${parquet(local.files)} EXCEPT ALL SELECT * FROM ${parquet(aws.files)})) AS only_local`);
      const rows = d === ADDRESSABLE ? ROWS / 2 : ROWS;
      expect({ name, ...counts }).toEqual({ name, aws_rows: rows, local_rows: rows, aws_null: 1, local_null: 1, only_aws: 0, only_local: 0 });
      const awsRecord = run(d).ledger!.tables[target]!;
      const localRecord = localLedgers.get(d.name)!.tables[target]!;
      expect({ name, rows: awsRecord.rows, nullKeys: awsRecord.nullKeys }).toEqual({ name, rows, nullKeys: 1 });
      expect({ name, rows: localRecord.rows, nullKeys: localRecord.nullKeys }).toEqual({ name, rows, nullKeys: 1 });
      expect({ name, files: awsRecord.files }).toEqual({ name, files: aws.files.length });
    }
  });

  test("the objects under each location: one parquet file each (the plan's fileCount), and Spark's _SUCCESS beside it on S3", () => {
    const shape = (objects: string[]) => ({
      parquet: objects.filter((o) => o.endsWith('.parquet')).length,
      other: objects.filter((o) => !o.endsWith('.parquet')),
    });
    const got = Object.fromEntries([...compared].map(([name, { aws, local }]) => [name, { aws: shape(aws.objects), local: shape(local.objects) }]));
    // Spark's committer marks a finished folder with _SUCCESS (Athena and Hive skip files starting with '_'); the DuckDB
    // twin writes the parquet files only. register-staged-tables reads only the .parquet objects either way.
    const want = Object.fromEntries([...compared.keys()].map((name) => [name, { aws: { parquet: 1, other: ['_SUCCESS'] }, local: { parquet: 1, other: [] } }]));
    expect(got).toEqual(want);
  });
});
