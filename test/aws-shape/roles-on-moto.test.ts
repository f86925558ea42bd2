/**
 * The AWS-shape handlers under each function's own role, with moto's IAM enforcement on.
 *
 * Every role is the function's role of the packaged dev template, restricted to what moto 5.2.1 can check
 * (MOTO-IAM.md): its S3 statements as they are, minus Condition (moto never evaluates one), plus one
 * `Allow NotAction s3:* Resource *` standing for the Glue / SNS / EventBridge / Athena / KMS / logs statements,
 * which moto only checks against Resource "*" and test/iam.test.ts proves with a policy simulator. So what this
 * file proves about IAM is S3: every S3 call the handlers make in these scenarios is checked by moto against the
 * role's object and bucket ARNs (MOTO-IAM.md says where moto's check differs from AWS's).
 *
 * The deps are the real AWS composition (buildAwsDeps over the function's own environment from the template),
 * pointed at moto through startResigningProxy: moto checks signatures over a decoded URL, so every S3 request
 * with '=' in its key (all of Flywheel's) or '/' in a query value (every listing) would fail SignatureDoesNotMatch
 * without it. Fixtures (buckets, database, jobs, topic, the sample lake, the split job's output) are written with an
 * admin role, as the services and the Glue job would. Alerts come back through an HTTP subscription of the alert
 * topic (the project has no SQS client).
 */
import { AthenaClient, CreateWorkGroupCommand, GetQueryExecutionCommand } from '@aws-sdk/client-athena';
import {
  BatchCreatePartitionCommand,
  CreateDatabaseCommand,
  CreateJobCommand,
  CreateTableCommand,
  GetJobRunsCommand,
  GetPartitionsCommand,
  GetTableCommand,
  GetTablesCommand,
  GlueClient,
  type Partition,
} from '@aws-sdk/client-glue';
import { CreateEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { DuckDBInstance } from '@duckdb/node-api';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { buildAwsDeps } from '../../shared/composition/aws.js';
import type { Deps } from '../../shared/deps.js';
import { ADDRESSABLE, INFOBASE, parseS3Uri } from '../../shared/domain/config.js';
import type { SplitPlan } from '../../shared/domain/split-plan.js';
import type { FunctionName } from '../../shared/events/patterns.js';
import { generateSampleLake } from '../../shared/local/sample-lake.js';
import { AccessDeniedError } from '../../shared/ports.js';
import type { StartRunResult } from '../../shared/use-cases/snapshot-trigger.js';
import { makeBucketedTablesHandler } from '../../services/bucketed-tables/bucketed-tables.js';
import { makeChargebacksHandler } from '../../services/chargebacks/chargebacks.js';
import { makeCompactionHandler } from '../../services/compaction/compaction.js';
import { makeRegisterStagedTablesHandler } from '../../services/register-staged-tables/register-staged-tables.js';
import { makeSnapshotTriggerHandler } from '../../services/snapshot-trigger/snapshot-trigger.js';
import { sample } from '../aws/lambda-env.js';
import { Stack } from '../iam/check.js';
import { packaged } from '../support/packaged.js';
import {
  enforceIam,
  roleCredentials,
  sdkConfig,
  startMoto,
  startResigningProxy,
  type MotoServer,
  type ResigningProxy,
  type RoleCredentials,
} from './moto-server.js';

// packaging the template can take minutes when the service changed; moto starts slowly on a loaded machine
const HOOK_TIMEOUT_MS = 900_000;
const TEST_TIMEOUT_MS = 300_000;
const SNAPSHOTS = ['2025-09-30', '2025-10-31'];
const SNAPSHOT = '2025-10-31';
const FUNCTIONS = ['snapshotTrigger', 'registerStagedTables', 'bucketedTables', 'compaction', 'chargebacks'] as const satisfies readonly FunctionName[];
type Fn = (typeof FUNCTIONS)[number];
type Handler = (event: unknown) => Promise<unknown>;
/** A resolved IAM statement of the template. */
type Statement = {
  Sid?: string;
  Effect: string;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: string | string[];
  NotResource?: unknown;
  Condition?: unknown;
};
interface Alert {
  subject: string;
  body: string;
}

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const cap = (s: string) => `${s[0]!.toUpperCase()}${s.slice(1)}`;
const isS3Only = (s: Statement) => asList(s.Action).length > 0 && asList(s.Action).every((a) => a.startsWith('s3:'));

/**
 * A role's statements as moto can check them: the S3 statements without Condition, and one NotAction s3:*
 * on "*" for everything else (moto checks other services only against "*": an ARN-scoped statement denies all).
 */
function motoPolicy(statements: Statement[]): { Version: string; Statement: object[] } {
  for (const s of statements) {
    if (s.NotAction !== undefined || s.NotResource !== undefined)
      throw new Error(`statement ${s.Sid} uses NotAction/NotResource, which this translation does not handle`);
    const actions = asList(s.Action);
    if (actions.some((a) => a.startsWith('s3:')) && !isS3Only(s)) throw new Error(`statement ${s.Sid} mixes S3 and other actions: split it in the translation`);
    if (!isS3Only(s) && s.Effect !== 'Allow') throw new Error(`statement ${s.Sid} is a non-S3 ${s.Effect}: dropping it would widen the role`);
  }
  const s3 = statements.filter(isS3Only).map(({ Condition: _ignoredByMoto, ...s }) => s);
  return {
    Version: '2012-10-17',
    Statement: [...s3, { Sid: 'NotS3ProvenBySimulator', Effect: 'Allow', NotAction: ['s3:*'], Resource: '*' }],
  };
}

let stack: Stack;
let moto: MotoServer | undefined;
let proxy: ResigningProxy | undefined;
let sink: Server | undefined;
let lakeDir: string | undefined;
const alerts: Alert[] = [];
const roles = {} as Record<Fn, RoleCredentials>;
const roleNames = {} as Record<Fn, string>;
/** The snapshot trigger's role with the statement the review found: GetObject only on …/cleanroom_tables/bucketed/metadata/*. */
let oldTriggerRole: RoleCredentials;
let oldTriggerStatements: Statement[];
let admin: { s3: S3Client; glue: GlueClient; athena: AthenaClient };
let dataBucket: string;
let analysisBucket: string;
let database: string;

/** Deps of a function, built once per role (as a Lambda container would). */
const depsCache = new Map<string, Deps>();

/** Invokes a handler factory with the function's environment, under `credentials` (default: its own role), as Lambda would. */
async function invoke<T>(fn: Fn, make: (deps: Deps) => Handler, event: unknown, credentials: RoleCredentials = roles[fn]): Promise<T> {
  const env = stack.env(fn);
  const key = `${fn}:${credentials.accessKeyId}`;
  let deps = depsCache.get(key);
  if (!deps) {
    deps = buildAwsDeps(env, { endpoint: proxy!.endpoint, credentials, forcePathStyle: true });
    depsCache.set(key, deps);
  }
  // env carries AWS_LAMBDA_FUNCTION_NAME, as Lambda sets it: a denial whose AWS message names no role names the function's execution role by it
  return (await make(deps)(event)) as T;
}

/** The alerts published since the last call (moto delivers to the HTTP subscription inside sns:Publish). */
function takeAlerts(): Alert[] {
  return alerts.splice(0, alerts.length);
}

/** An S3 Object Created event through EventBridge (events/s3-object-created.eventbridge.json) for a key of the data bucket. */
function objectCreated(key: string): Record<string, unknown> {
  const e = sample('s3-object-created.eventbridge.json');
  return {
    ...e,
    id: randomUUID(),
    resources: [`arn:aws:s3:::${dataBucket}`],
    detail: { ...e.detail, bucket: { name: dataBucket }, object: { ...e.detail.object, key } },
  };
}

function glueStateChange(name: string, detail: Record<string, unknown>): Record<string, unknown> {
  const e = sample(name);
  return { ...e, id: randomUUID(), detail: { ...e.detail, ...detail } };
}

async function adminText(key: string): Promise<string> {
  const got = await admin.s3.send(new GetObjectCommand({ Bucket: dataBucket, Key: key }));
  return got.Body!.transformToString();
}

/** What the split job does with a plan: one parquet file per table (its target columns and id_bucket) and result.json. */
async function simulateSplitJob(planUri: string): Promise<SplitPlan> {
  const { key } = parseS3Uri(planUri);
  const plan = JSON.parse(await adminText(key)) as SplitPlan;
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'moto-split-'));
  try {
    for (const t of plan.tables) {
      const file = path.join(dir, `${t.target}.parquet`);
      await db.run(`COPY (SELECT ${t.columns.map((c) => `'v' AS "${c.target}"`).join(', ')}, 7 AS id_bucket) TO '${file}' (FORMAT parquet)`);
      const out = parseS3Uri(t.outputUri);
      await admin.s3.send(new PutObjectCommand({ Bucket: out.bucket, Key: `${out.key}part-00000.snappy.parquet`, Body: readFileSync(file) }));
    }
    const result = { tables: Object.fromEntries(plan.tables.map((t) => [t.target, { rows: 300, files: 1, nullKeys: 1 }])) };
    await admin.s3.send(new PutObjectCommand({ Bucket: dataBucket, Key: key.replace(/plan\.json$/, 'result.json'), Body: JSON.stringify(result) }));
  } finally {
    db.closeSync();
    instance.closeSync();
    rmSync(dir, { recursive: true, force: true });
  }
  return plan;
}

/** Keys under a prefix of the data bucket (admin). */
async function adminKeys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await admin.s3.send(new ListObjectsV2Command({ Bucket: dataBucket, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

async function adminPartitions(table: string): Promise<Partition[]> {
  const out: Partition[] = [];
  let token: string | undefined;
  do {
    const page = await admin.glue.send(new GetPartitionsCommand({ DatabaseName: database, TableName: table, NextToken: token }));
    out.push(...(page.Partitions ?? []));
    token = page.NextToken;
  } while (token);
  return out;
}

/**
 * What Athena does for a part_ range query (CTAS or INSERT INTO … WHERE id_bucket BETWEEN a AND b), as
 * test/aws/fake-athena.ts does on the fakes: the CTAS registers the staging table; every bucket of the range
 * gets a file under id_bucket=N/ and a partition. moto runs no SQL.
 */
async function simulateAthena(sql: string): Promise<void> {
  const table = new RegExp(`^(?:CREATE TABLE|INSERT INTO) "${database}"\\."([a-z0-9_]+)"`).exec(sql)?.[1];
  const range = /BETWEEN (\d+) AND (\d+)/.exec(sql);
  if (!table || !range) throw new Error(`not a part_ range query: ${sql.slice(0, 200)}`);
  if (sql.startsWith('CREATE TABLE')) {
    const location = /external_location = '([^']+)'/.exec(sql)![1]!;
    await admin.glue.send(
      new CreateTableCommand({
        DatabaseName: database,
        TableInput: {
          Name: table,
          TableType: 'EXTERNAL_TABLE',
          PartitionKeys: [{ Name: 'id_bucket', Type: 'int' }],
          StorageDescriptor: {
            Location: location,
            Columns: [{ Name: 'customer_user_id', Type: 'string' }],
            InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
            OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
            SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
          },
        },
      }),
    );
  }
  const { Table } = await admin.glue.send(new GetTableCommand({ DatabaseName: database, Name: table }));
  const location = Table!.StorageDescriptor!.Location!;
  const buckets = Array.from({ length: Number(range[2]) - Number(range[1]) + 1 }, (_, i) => Number(range[1]) + i);
  const { key } = parseS3Uri(location);
  for (const b of buckets) {
    await admin.s3.send(
      new PutObjectCommand({ Bucket: dataBucket, Key: `${key}id_bucket=${b}/20251031_000000_00001_abcde_${b}`, Body: `rows of bucket ${b}` }),
    );
  }
  for (let i = 0; i < buckets.length; i += 100) {
    const batch = buckets.slice(i, i + 100);
    await admin.glue.send(
      new BatchCreatePartitionCommand({
        DatabaseName: database,
        TableName: table,
        PartitionInputList: batch.map((b) => ({
          Values: [String(b)],
          StorageDescriptor: { ...Table!.StorageDescriptor, Location: `${location}id_bucket=${b}/` },
        })),
      }),
    );
  }
}

function pipelineEvent(detailType: string, source: string, detail: Record<string, unknown>): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': detailType,
    source,
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail,
  };
}

/** A tiny HTTP endpoint subscribed to the alert topic: moto POSTs each notification as SNS's JSON. */
async function startAlertSink(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      try {
        const n = JSON.parse(body) as { Type?: string; Subject?: string; Message?: string };
        if (n.Type === 'Notification') alerts.push({ subject: n.Subject ?? '', body: n.Message ?? '' });
      } catch {
        // not a notification
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('alert sink: no address');
  return { server, url: `http://127.0.0.1:${address.port}/alerts` };
}

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  stack = new Stack(packaged('dev').template, 'dev');
  const env = stack.env('snapshotTrigger');
  dataBucket = env.DATA_BUCKET!;
  analysisBucket = env.ANALYSIS_BUCKET!;
  database = env.GLUE_DATABASE!;

  moto = await startMoto();
  proxy = await startResigningProxy(moto.endpoint);
  const alertSink = await startAlertSink();
  sink = alertSink.server;

  // fixtures, enforcement off: an admin role used through the proxy (it stays valid once enforcement is on)
  const adminCreds = await roleCredentials(moto.endpoint, {
    roleName: 'fixture-admin',
    policies: [{ name: 'all', document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } }],
  });
  proxy.trust(adminCreds);
  const config = sdkConfig(proxy.endpoint, adminCreds);
  admin = { s3: new S3Client({ ...config, forcePathStyle: true }), glue: new GlueClient(config), athena: new AthenaClient(config) };
  const sns = new SNSClient(config);
  const events = new EventBridgeClient(config);
  try {
    for (const bucket of [dataBucket, analysisBucket]) await admin.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await admin.glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: database } }));
    const jobs = Object.values(stack.jobNames()).filter((name): name is string => !!name);
    for (const name of jobs) {
      await admin.glue.send(
        new CreateJobCommand({
          Name: name,
          Role: 'arn:aws:iam::123456789012:role/glue-job',
          Command: { Name: 'glueetl', ScriptLocation: `s3://${dataBucket}/glue-scripts/${name}.py` },
          ExecutionProperty: { MaxConcurrentRuns: 10 },
        }),
      );
    }
    const topic = await sns.send(new CreateTopicCommand({ Name: env.ALERT_TOPIC_ARN!.split(':').at(-1)! }));
    if (topic.TopicArn !== env.ALERT_TOPIC_ARN) throw new Error(`moto made topic ${topic.TopicArn}, the functions publish to ${env.ALERT_TOPIC_ARN}`);
    await sns.send(new SubscribeCommand({ TopicArn: topic.TopicArn, Protocol: 'http', Endpoint: alertSink.url }));
    await events.send(new CreateEventBusCommand({ Name: env.EVENT_BUS_NAME! }));
    for (const name of new Set([env.ATHENA_WORKGROUP!, env.MONITOR_WORKGROUP!])) await admin.athena.send(new CreateWorkGroupCommand({ Name: name }));

    // the sample lake (two snapshots of the four infobase tables and the addressable ids) in the data bucket
    lakeDir = mkdtempSync(path.join(os.tmpdir(), 'moto-lake-'));
    await generateSampleLake(lakeDir, { rows: 300, snapshots: SNAPSHOTS });
    const root = path.join(lakeDir, 'data');
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) => (statSync(path.join(dir, f)).isDirectory() ? walk(path.join(dir, f)) : [path.join(dir, f)]));
    for (const file of walk(root)) {
      await admin.s3.send(new PutObjectCommand({ Bucket: dataBucket, Key: path.relative(root, file).split(path.sep).join('/'), Body: readFileSync(file) }));
    }
  } finally {
    sns.destroy();
    events.destroy();
  }

  // each function's role from the template, as moto can check it
  for (const fn of FUNCTIONS) {
    const role = stack.role(`${cap(fn)}IamRoleLambdaExecution`);
    roleNames[fn] = role.arn.split('/').at(-1)!;
    roles[fn] = await roleCredentials(moto.endpoint, { roleName: roleNames[fn], policies: [{ name: 'function', document: motoPolicy(role.statements) }] });
    proxy.trust(roles[fn]);
  }
  // the regression: the trigger's GetObject on the live-snapshot markers as it was before the review
  const infobaseMarker = `arn:aws:s3:::${dataBucket}/${INFOBASE.bucketedPrefix}metadata/snapshot_dt.txt`;
  const addressableMarker = `arn:aws:s3:::${dataBucket}/${ADDRESSABLE.bucketedPrefix}metadata/snapshot_dt.txt`;
  oldTriggerStatements = stack.role('SnapshotTriggerIamRoleLambdaExecution').statements.map((s: Statement) => {
    const resources = asList(s.Resource);
    if (!asList(s.Action).includes('s3:GetObject') || !resources.includes(addressableMarker)) return s;
    return {
      ...s,
      Resource: [
        ...resources.filter((r) => r !== infobaseMarker && r !== addressableMarker),
        `arn:aws:s3:::${dataBucket}/${INFOBASE.bucketedPrefix}metadata/*`,
      ],
    };
  });
  oldTriggerRole = await roleCredentials(moto.endpoint, {
    roleName: `${roleNames.snapshotTrigger.slice(0, 50)}-old`,
    policies: [{ name: 'function', document: motoPolicy(oldTriggerStatements) }],
  });
  proxy.trust(oldTriggerRole);

  await enforceIam(moto.endpoint, true);
}, HOOK_TIMEOUT_MS);

// a test that failed before reading its alerts leaves them to no one else
afterEach(() => void takeAlerts());

afterAll(async () => {
  admin?.s3.destroy();
  admin?.glue.destroy();
  admin?.athena.destroy();
  await proxy?.stop();
  await new Promise<void>((resolve) => (sink ? (sink.closeAllConnections(), sink.close(() => resolve())) : resolve()));
  await moto?.stop();
  if (lakeDir) rmSync(lakeDir, { recursive: true, force: true });
}, HOOK_TIMEOUT_MS);

describe('the roles as moto checks them', () => {
  test('each role keeps its S3 statements (Condition dropped: moto never evaluates one) and stands for the rest with NotAction s3:*', () => {
    for (const fn of FUNCTIONS) {
      const statements = stack.role(`${cap(fn)}IamRoleLambdaExecution`).statements as Statement[];
      const policy = motoPolicy(statements);
      expect(policy.Statement.length).toBe(statements.filter(isS3Only).length + 1);
      expect(JSON.stringify(policy)).not.toContain('Condition');
    }
    // the regression role differs from today's in that one statement only
    const today = stack.role('SnapshotTriggerIamRoleLambdaExecution').statements as Statement[];
    const changed = oldTriggerStatements.filter((s, i) => JSON.stringify(s) !== JSON.stringify(today[i]));
    expect(changed).toHaveLength(1);
    expect(asList(changed[0]!.Resource)).toContain(`arn:aws:s3:::${dataBucket}/${INFOBASE.bucketedPrefix}metadata/*`);
  });

  test('a listing under enforcement works through the re-signing proxy (moto alone answers SignatureDoesNotMatch)', async () => {
    const deps = buildAwsDeps(stack.env('snapshotTrigger'), { endpoint: proxy!.endpoint, credentials: roles.snapshotTrigger, forcePathStyle: true });
    const listing = await deps.store.list(dataBucket, INFOBASE.rawPrefix, { delimiter: '/' });
    expect(listing.prefixes).toEqual(SNAPSHOTS.map((d) => `${INFOBASE.rawPrefix}snapshot_dt=${d}/`));
    expect(listing.objects.map((o) => o.key)).toEqual([`${INFOBASE.rawPrefix}README.txt`]);
    // the same calls straight to moto: the listing ('/' in its query) and a read of a key with '='
    const direct = buildAwsDeps(stack.env('snapshotTrigger'), { endpoint: moto!.endpoint, credentials: roles.snapshotTrigger, forcePathStyle: true });
    await expect(direct.store.list(dataBucket, INFOBASE.rawPrefix, { delimiter: '/' })).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });
    await expect(direct.store.get(dataBucket, INFOBASE.mappingKey!)).resolves.toBeDefined();
    await expect(direct.store.get(dataBucket, `${INFOBASE.rawPrefix}snapshot_dt=${SNAPSHOT}/${INFOBASE.readyMarker}`)).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
    });
    expect(proxy!.resigned).toBeGreaterThan(0);
    // and a key the role may not read is denied by moto's own check, named by the adapters
    await expect(deps.store.get(dataBucket, '_runs/index/jobs/anything.json')).rejects.toBeInstanceOf(AccessDeniedError);
  });
});

describe('snapshot-trigger under its role', () => {
  test(
    'regression: under the statement before the review, the addressable run fails on s3:GetObject of its live-snapshot marker, an access denial (not "missing")',
    async () => {
      const key = `${ADDRESSABLE.rawPrefix}snapshot_dt=${SNAPSHOT}/${ADDRESSABLE.readyMarker}`;
      const [result] = await invoke<StartRunResult[]>('snapshotTrigger', makeSnapshotTriggerHandler, objectCreated(key), oldTriggerRole);
      const markerKey = `${ADDRESSABLE.bucketedPrefix}metadata/snapshot_dt.txt`;
      const functionName = stack.env('snapshotTrigger').AWS_LAMBDA_FUNCTION_NAME!;
      expect(result).toMatchObject({ outcome: 'failed', snapshotDt: SNAPSHOT });
      const error = (result as Extract<StartRunResult, { outcome: 'failed' }>).error;
      const cause = error.details.cause;
      expect(cause).toBeInstanceOf(AccessDeniedError);
      expect(cause).toMatchObject({
        action: 's3:GetObject',
        resource: `arn:aws:s3:::${dataBucket}/${markerKey}`,
        principal: `the execution role of function ${functionName}`,
      });
      expect(error.message).toContain(`may not s3:GetObject on arn:aws:s3:::${dataBucket}/${markerKey}`);
      expect(error.message).toMatch(/^access denied: /);

      const [alert, ...more] = takeAlerts();
      expect(more).toEqual([]);
      expect(alert!.subject).toBe(`[Flywheel] snapshot-trigger FAILED addressable snapshot_dt=${SNAPSHOT}`);
      expect(alert!.body).toContain(
        `access denied: the execution role of function ${functionName} may not s3:GetObject on arn:aws:s3:::${dataBucket}/${markerKey}`,
      );
      // nothing was started
      const runs = await admin.glue.send(new GetJobRunsCommand({ JobName: stack.env('snapshotTrigger').ADDRESSABLE_JOB_NAME! }));
      expect(runs.JobRuns ?? []).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'the ready markers of the infobase and the addressable snapshot start their runs, no alert',
    async () => {
      const env = stack.env('snapshotTrigger');
      for (const [ds, jobName] of [
        [INFOBASE, env.SPLIT_JOB_NAME!],
        [ADDRESSABLE, env.ADDRESSABLE_JOB_NAME!],
      ] as const) {
        const [result] = await invoke<StartRunResult[]>(
          'snapshotTrigger',
          makeSnapshotTriggerHandler,
          objectCreated(`${ds.rawPrefix}snapshot_dt=${SNAPSHOT}/${ds.readyMarker}`),
        );
        if (result?.outcome === 'failed') throw new Error(`${ds.name}: ${result.error.message}`);
        expect(result).toMatchObject({ outcome: 'started', snapshotDt: SNAPSHOT });
        const started = result as Extract<StartRunResult, { outcome: 'started' }>;
        const ledger = JSON.parse(await adminText(`${ds.runsPrefix}snapshot_dt=${SNAPSHOT}/run.json`));
        expect(ledger.stages['split-and-bucket']).toMatchObject({ status: 'RUNNING', jobName, jobRunId: started.jobRunId });
        const runs = await admin.glue.send(new GetJobRunsCommand({ JobName: jobName }));
        expect(runs.JobRuns?.map((r) => r.Id)).toEqual([started.jobRunId]);
        expect(runs.JobRuns![0]!.Arguments).toMatchObject({ '--SNAPSHOT_DT': SNAPSHOT, '--RUN_ID': started.runId, '--PLAN_URI': ledger.planUri });
        expect(started.plan.tables.map((t) => t.target)).toEqual(
          ds === INFOBASE ? ['ibe_01a', 'ibe_01b', 'ibe_04', 'miacs_01', 'miacs_02'] : ['addressable_ids'],
        );
      }
      expect(takeAlerts()).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('register-staged-tables under its role', () => {
  test(
    'after the split job wrote its output, a Glue Job State Change registers ext_ tables in the catalog',
    async () => {
      for (const ds of [INFOBASE, ADDRESSABLE]) {
        const ledger = JSON.parse(await adminText(`${ds.runsPrefix}snapshot_dt=${SNAPSHOT}/run.json`));
        const split = ledger.stages['split-and-bucket'];
        const plan = await simulateSplitJob(ledger.planUri);
        const result = await invoke<{ outcome: string; tables: string[] }>(
          'registerStagedTables',
          makeRegisterStagedTablesHandler,
          glueStateChange('glue-job-state-change.succeeded.json', { jobName: split.jobName, jobRunId: split.jobRunId }),
        );
        expect(result).toEqual({ outcome: 'registered', tables: plan.tables.map((t) => t.target) });
        for (const t of plan.tables) {
          const { Table } = await admin.glue.send(new GetTableCommand({ DatabaseName: database, Name: `ext_${t.target}` }));
          expect(Table).toMatchObject({ Parameters: { snapshot_dt: SNAPSHOT, run_id: ledger.runId }, StorageDescriptor: { Location: t.outputUri } });
          expect(Table!.StorageDescriptor!.Columns!.map((c) => c.Name)).toEqual([...t.columns.map((c) => c.target), 'id_bucket']);
        }
        const after = JSON.parse(await adminText(`${ds.runsPrefix}snapshot_dt=${SNAPSHOT}/run.json`));
        expect(after.stages['register-staged-tables'].status).toBe('SUCCEEDED');
      }
      const tables = await admin.glue.send(new GetTablesCommand({ DatabaseName: database }));
      expect(
        tables
          .TableList!.map((t) => t.Name)
          .filter((n) => !n!.includes('__r'))
          .sort(),
      ).toEqual(['ext_addressable_ids', 'ext_ibe_01a', 'ext_ibe_01b', 'ext_ibe_04', 'ext_miacs_01', 'ext_miacs_02']);
      expect(takeAlerts()).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});

describe("bucketed-tables under its role (the addressable run; Athena's side effects simulated)", () => {
  test(
    'Stage Completed and each Athena Query State Change: part_ ranges, bucketed_ by server-side copies, live switch, metadata/snapshot_dt.txt',
    async () => {
      const ledgerKey = `${ADDRESSABLE.runsPrefix}snapshot_dt=${SNAPSHOT}/run.json`;
      const { runId } = JSON.parse(await adminText(ledgerKey)) as { runId: string };
      const table = 'addressable_ids';
      await invoke(
        'bucketedTables',
        makeBucketedTablesHandler,
        pipelineEvent('Stage Completed', 'flywheel.pipeline', {
          stage: 'register-staged-tables',
          dataset: ADDRESSABLE.name,
          snapshotDt: SNAPSHOT,
          runId,
          tables: [table],
        }),
      );
      const simulated: string[] = [];
      for (let guard = 0; ; guard++) {
        const ledger = JSON.parse(await adminText(ledgerKey));
        if (ledger.stages['bucketed-tables'].status !== 'RUNNING') break;
        const running = (ledger.tables[table].steps as Array<{ label: string; status: string; queryId?: string }>).filter((s) => s.status === 'RUNNING');
        if (guard > 20 || running.length !== 1 || !running[0]!.queryId) throw new Error(`the build does not advance: ${JSON.stringify(ledger.tables[table])}`);
        const queryId = running[0]!.queryId;
        const { QueryExecution } = await admin.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: queryId }));
        await simulateAthena(QueryExecution!.Query!);
        simulated.push(queryId);
        const detail = {
          ...sample('athena-query-state-change.succeeded.json').detail,
          queryExecutionId: queryId,
          workgroupName: stack.env('bucketedTables').ATHENA_WORKGROUP,
        };
        await invoke('bucketedTables', makeBucketedTablesHandler, pipelineEvent('Athena Query State Change', 'aws.athena', detail));
      }
      const ledger = JSON.parse(await adminText(ledgerKey));
      expect(ledger.tables[table]).toMatchObject({ status: 'SUCCEEDED' });
      expect(ledger).toMatchObject({ status: 'SUCCEEDED', stages: { 'bucketed-tables': { status: 'SUCCEEDED' } } });
      expect(simulated).toHaveLength(6); // three ranges of ≤100 buckets for part_ and for part_…_er

      const part = (await admin.glue.send(new GetTableCommand({ DatabaseName: database, Name: `part_${table}` }))).Table!;
      expect(part.Parameters).toMatchObject({ snapshot_dt: SNAPSHOT, run_id: runId });
      expect(await adminPartitions(`part_${table}`)).toHaveLength(256);
      const bucketed = (await admin.glue.send(new GetTableCommand({ DatabaseName: database, Name: `bucketed_${table}` }))).Table!;
      expect(bucketed.StorageDescriptor).toMatchObject({ BucketColumns: ['customer_user_id'], NumberOfBuckets: 256 });
      const files = await adminKeys(parseS3Uri(bucketed.StorageDescriptor!.Location!).key);
      expect(files).toHaveLength(256);
      expect(files.every((k) => Number(/\/(\d{6})_0_/.exec(k)![1]) === Number(/_(\d+)$/.exec(k)![1]))).toBe(true);
      expect(await adminText(`${ADDRESSABLE.bucketedPrefix}metadata/snapshot_dt.txt`)).toBe(`${SNAPSHOT}\n`);
      const names = (await admin.glue.send(new GetTablesCommand({ DatabaseName: database }))).TableList!.map((t) => t.Name!);
      expect(names.filter((n) => n.includes(table) && n.includes('__r'))).toEqual([]); // staging definitions dropped
      expect(takeAlerts()).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'snapshot-trigger then reads the live marker the stage wrote: an older addressable snapshot is refused; the old statement still denies it',
    async () => {
      const event = objectCreated(`${ADDRESSABLE.rawPrefix}snapshot_dt=${SNAPSHOTS[0]}/${ADDRESSABLE.readyMarker}`);
      const [refused] = await invoke<StartRunResult[]>('snapshotTrigger', makeSnapshotTriggerHandler, event);
      expect(refused).toMatchObject({ outcome: 'failed', snapshotDt: SNAPSHOTS[0] });
      expect((refused as Extract<StartRunResult, { outcome: 'failed' }>).error.message).toBe(
        `snapshot_dt=${SNAPSHOTS[0]} is older than the live snapshot ${SNAPSHOT}; refused`,
      );
      const [denied] = await invoke<StartRunResult[]>('snapshotTrigger', makeSnapshotTriggerHandler, event, oldTriggerRole);
      expect((denied as Extract<StartRunResult, { outcome: 'failed' }>).error.details.cause).toBeInstanceOf(AccessDeniedError);
      expect(takeAlerts().map((a) => a.subject)).toEqual([
        `[Flywheel] snapshot-trigger FAILED addressable snapshot_dt=${SNAPSHOTS[0]}`,
        `[Flywheel] snapshot-trigger FAILED addressable snapshot_dt=${SNAPSHOTS[0]}`,
      ]);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('compaction and chargebacks under their roles', () => {
  test(
    'compaction: a state change of a run Flywheel did not start is ignored; of one it started, its record is read (and a failure alerts)',
    async () => {
      expect(await invoke('compaction', makeCompactionHandler, glueStateChange('glue-job-state-change.compaction-failed.json', {}))).toMatchObject({
        declined: 'ignored',
        reason: 'job run not started by Flywheel',
      });
      expect(takeAlerts()).toEqual([]);

      const landing = sample('s3-object-created.raw-landing.json');
      const created = objectCreated(landing.detail.object.key as string);
      const record = await invoke<{ job: string; jobName: string; jobRunId: string; args: Record<string, string> }>(
        'compaction',
        makeCompactionHandler,
        created,
      );
      expect(record).toMatchObject({
        job: 'compaction',
        jobName: stack.env('compaction').COMPACTION_JOB_NAME,
        args: { DATASET: 'addressable', SNAPSHOT_DT: SNAPSHOT },
      });
      // the same creation delivered again (same sequencer): its claim, put with If-None-Match under the role, holds
      expect(await invoke('compaction', makeCompactionHandler, { ...created, id: randomUUID() })).toMatchObject({
        declined: 'ignored',
        reason: 'this creation of the marker already started its compaction (a repeated delivery)',
      });
      const succeeded = await invoke(
        'compaction',
        makeCompactionHandler,
        glueStateChange('glue-job-state-change.compaction-failed.json', {
          state: 'SUCCEEDED',
          severity: 'INFO',
          message: 'Job run succeeded',
          jobRunId: record.jobRunId,
        }),
      );
      expect(succeeded).toEqual(record);
      expect(takeAlerts()).toEqual([]);

      await invoke('compaction', makeCompactionHandler, glueStateChange('glue-job-state-change.compaction-failed.json', { jobRunId: record.jobRunId }));
      const [alert, ...more] = takeAlerts();
      expect(more).toEqual([]);
      expect(alert!.subject).toBe(`[Flywheel] compaction job FAILED for addressable snapshot_dt=${SNAPSHOT}`);
      expect(alert!.body).toContain('ValueError: no parquet files');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'chargebacks: a state change of a run Flywheel did not start is ignored; of one it started, its record is read (and a failure alerts)',
    async () => {
      expect(await invoke('chargebacks', makeChargebacksHandler, glueStateChange('glue-job-state-change.chargebacks-failed.json', {}))).toMatchObject({
        declined: 'ignored',
        reason: 'job run not started by Flywheel',
      });
      expect(takeAlerts()).toEqual([]);

      const record = await invoke<{ job: string; jobName: string; jobRunId: string }>('chargebacks', makeChargebacksHandler, {
        ...sample('scheduled-event.chargebacks.json'),
        id: randomUUID(),
      });
      expect(record).toMatchObject({ job: 'chargebacks', jobName: stack.env('chargebacks').CHARGEBACKS_JOB_NAME });
      const succeeded = await invoke(
        'chargebacks',
        makeChargebacksHandler,
        glueStateChange('glue-job-state-change.chargebacks-failed.json', {
          state: 'SUCCEEDED',
          severity: 'INFO',
          message: 'Job run succeeded',
          jobRunId: record.jobRunId,
        }),
      );
      expect(succeeded).toEqual(record);
      expect(takeAlerts()).toEqual([]);

      await invoke('chargebacks', makeChargebacksHandler, glueStateChange('glue-job-state-change.chargebacks-failed.json', { jobRunId: record.jobRunId }));
      const [alert, ...more] = takeAlerts();
      expect(more).toEqual([]);
      expect(alert!.subject).toBe('[Flywheel] chargebacks job FAILED for chargebacks 2025-11-10 (execution 2 of 4)');
      expect(alert!.body).toContain('Table or view not found: flywheel_dev.landing_chargebacks');
    },
    TEST_TIMEOUT_MS,
  );
});
