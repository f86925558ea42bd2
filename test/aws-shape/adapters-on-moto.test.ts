/**
 * The adapters of the AWS composition root over HTTP, against moto server (IAM enforcement off).
 *
 * Every adapter here is the one a Lambda gets: `buildAwsDeps(env, { endpoint, credentials, forcePathStyle })`
 * over a function's own environment from the packaged dev template (test/iam/check.ts Stack), so the bucket,
 * database, job, bus, topic and workgroup names are the deployed ones. What the services do is read back
 * with plain SDK clients (and SQS queues subscribed to the bus and the topic), never through the adapter
 * under test.
 *
 * What moto does not model stays on aws-sdk-client-mock in test/aws (Glue batch limits and paging, failed job
 * runs, Athena's idempotency token and result paging, SNS subject limits, DeleteObjects' 1000-key limit);
 * where moto differs from AWS, the test says so next to the assertion that had to accommodate it.
 */
import { AthenaClient, CreateWorkGroupCommand, GetQueryExecutionCommand, GetQueryResultsCommand } from '@aws-sdk/client-athena';
import { CreateEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import {
  CreateDatabaseCommand,
  CreateJobCommand,
  GetJobRunCommand,
  GetJobRunsCommand,
  GetPartitionsCommand,
  GetTableCommand,
  GlueClient,
} from '@aws-sdk/client-glue';
import {
  CreateBucketCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderAthena } from '../../shared/adapters/aws/athena-query-engine.js';
import { buildAwsDeps } from '../../shared/composition/aws.js';
import type { Deps } from '../../shared/deps.js';
import { INFOBASE } from '../../shared/domain/config.js';
import { newLedger, type RunLedger } from '../../shared/domain/ledger.js';
import { parseScanRows, type MonitorQuery } from '../../shared/domain/monitor/queries.js';
import type { FunctionName } from '../../shared/events/patterns.js';
import { generateSampleLake } from '../../shared/local/sample-lake.js';
import { PreconditionFailedError, type ObjectStore, type PartitionDef, type TableDef } from '../../shared/ports.js';
import { alertFailure } from '../../shared/use-cases/alerts.js';
import { ledgerKey, makeLedgerStore } from '../../shared/use-cases/ledger-store.js';
import type { StartRunResult } from '../../shared/use-cases/snapshot-trigger.js';
import { makeSnapshotTriggerHandler } from '../../services/snapshot-trigger/snapshot-trigger.js';
import { sample } from '../aws/lambda-env.js';
import { Stack } from '../iam/check.js';
import { packaged } from '../support/packaged.js';
import { bodies, createQueue, queueAthenaResults, receiveAll, setTransition, unsetTransition, type Queue } from './moto-fixtures.js';
import { MOTO_REGION, sdkConfig, startMoto, type MotoServer } from './moto-server.js';
import { startS3ResponseProxy } from './s3-response-proxy.js';

// packaging the template can take minutes when the service changed; moto starts slowly on a loaded machine
const HOOK_TIMEOUT_MS = 900_000;
const TEST_TIMEOUT_MS = 300_000;
const SNAPSHOT = '2025-10-31';
/** The ledger tests' snapshot (the use-case test runs SNAPSHOT from an empty ledger prefix). */
const LEDGER_SNAPSHOT = '2025-09-30';
/** Any key pair: with enforcement off moto checks no signature. */
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

let stack: Stack;
let moto: MotoServer | undefined;
let admin: { s3: S3Client; glue: GlueClient; athena: AthenaClient; events: EventBridgeClient; sns: SNSClient; sqs: SQSClient };
let dataBucket: string;
let analysisBucket: string;
let database: string;
let lakeDir: string | undefined;
const depsCache = new Map<FunctionName, Deps>();

/** The deps a function's Lambda builds from its environment, pointed at moto. */
function deps(fn: FunctionName = 'snapshotTrigger'): Deps {
  let d = depsCache.get(fn);
  if (!d) {
    d = buildAwsDeps(stack.env(fn), { endpoint: moto!.endpoint, credentials: CREDENTIALS, forcePathStyle: true });
    depsCache.set(fn, d);
  }
  return d;
}

const text = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));

/** Puts many small objects with the admin client, a few at a time (moto is one process on a small machine). */
async function putAll(bucket: string, entries: Array<[string, string | Uint8Array]>, concurrency = 12): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < entries.length; i = next++) {
        const [Key, Body] = entries[i]!;
        await admin.s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body }));
      }
    }),
  );
}

/** An ObjectStore that counts the If-Match / If-None-Match refusals of the real one (the contention was real). */
function countingRefusals(store: ObjectStore): { store: ObjectStore; refusals: () => number } {
  let refusals = 0;
  const wrapped: ObjectStore = Object.create(store) as ObjectStore;
  wrapped.put = async (bucket, key, body, condition) => {
    try {
      return await store.put(bucket, key, body, condition);
    } catch (err) {
      if (err instanceof PreconditionFailedError) refusals++;
      throw err;
    }
  };
  return { store: wrapped, refusals: () => refusals };
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
  const config = sdkConfig(moto.endpoint, CREDENTIALS);
  admin = {
    s3: new S3Client({ ...config, forcePathStyle: true }),
    glue: new GlueClient(config),
    athena: new AthenaClient(config),
    events: new EventBridgeClient(config),
    sns: new SNSClient(config),
    sqs: new SQSClient(config),
  };
  // the buckets as the template makes them: versioned (ETags, conditional writes and deletes then act on the current version)
  for (const bucket of [dataBucket, analysisBucket]) {
    await admin.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await admin.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  }
  await admin.glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: database } }));
  // the template's Glue jobs, with their own names, arguments and concurrency
  for (const [, job] of stack.resources('AWS::Glue::Job')) {
    const p = stack.resolve(job.Properties);
    await admin.glue.send(
      new CreateJobCommand({
        Name: p.Name,
        Role: p.Role,
        Command: p.Command,
        DefaultArguments: p.DefaultArguments,
        ExecutionProperty: p.ExecutionProperty,
        GlueVersion: p.GlueVersion,
        WorkerType: p.WorkerType,
        NumberOfWorkers: p.NumberOfWorkers,
        Timeout: p.Timeout,
        MaxRetries: p.MaxRetries,
      }),
    );
  }
  for (const name of new Set([env.ATHENA_WORKGROUP!, stack.env('dataMonitor').MONITOR_WORKGROUP!]))
    await admin.athena.send(new CreateWorkGroupCommand({ Name: name }));
  await admin.events.send(new CreateEventBusCommand({ Name: env.EVENT_BUS_NAME! }));
  const topic = await admin.sns.send(new CreateTopicCommand({ Name: env.ALERT_TOPIC_ARN!.split(':').at(-1)! }));
  if (topic.TopicArn !== env.ALERT_TOPIC_ARN) throw new Error(`moto made topic ${topic.TopicArn}, the functions publish to ${env.ALERT_TOPIC_ARN}`);
}, HOOK_TIMEOUT_MS);

afterAll(async () => {
  if (admin) for (const client of Object.values(admin)) client.destroy();
  await moto?.stop();
  if (lakeDir) rmSync(lakeDir, { recursive: true, force: true });
}, HOOK_TIMEOUT_MS);

describe('S3ObjectStore and the run ledger on moto S3 (the versioned data bucket)', () => {
  const ledgerOf = (runId: string): RunLedger =>
    newLedger({
      dataset: 'infobase',
      snapshotDt: LEDGER_SNAPSHOT,
      runId,
      trigger: { kind: 'event', eventId: runId },
      junk: [],
      now: new Date('2025-11-01T00:00:00Z'),
    });

  test(
    'a missing key is undefined (get, head); a missing object is an error for a ranged GET and a copy; an empty prefix lists nothing',
    async () => {
      const { store } = deps();
      expect(await store.get(dataBucket, 'missing/run.json')).toBeUndefined();
      expect(await store.head(dataBucket, 'missing/snapshot_dt=2025-10-31/_SUCCESS')).toBeUndefined();
      await expect(store.getRange(dataBucket, 'missing/f.parquet', 0, 8)).rejects.toMatchObject({ name: 'NoSuchKey' });
      await expect(store.copy(dataBucket, 'missing/a', dataBucket, 'missing/b')).rejects.toMatchObject({ name: 'NoSuchKey' });
      expect(await store.list(dataBucket, 'missing/', { delimiter: '/' })).toEqual({ objects: [], prefixes: [] });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    '20 concurrent If-None-Match creates of one key: exactly one is written, the 19 others get PreconditionFailedError naming the object',
    async () => {
      const { store } = deps();
      const key = `_runs/probe/snapshot_dt=${LEDGER_SNAPSHOT}/run.json`;
      const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => store.put(dataBucket, key, `{"writer":${i}}`, { ifNoneMatch: true })));
      const won = settled.flatMap((s, i) => (s.status === 'fulfilled' ? [{ i, etag: s.value.etag }] : []));
      const lost = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(19);
      for (const err of lost) {
        expect(err).toBeInstanceOf(PreconditionFailedError);
        expect(err).toMatchObject({ bucket: dataBucket, key });
      }
      const got = await store.get(dataBucket, key);
      expect(text(got!.body)).toBe(`{"writer":${won[0]!.i}}`);
      expect(got!.etag).toBe(won[0]!.etag);
      // nothing was written by a loser, not even as an older version of the versioned bucket
      const versions = await admin.s3.send(new ListObjectVersionsCommand({ Bucket: dataBucket, Prefix: key }));
      expect(versions.Versions ?? []).toHaveLength(1);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "20 concurrent ledger creates of one (dataset, snapshot): one returns true, 19 false (a failed condition), and the ledger is the winner's",
    async () => {
      const counted = countingRefusals(deps().store);
      const ledgers = makeLedgerStore(counted.store, deps().config, deps().clock);
      const runIds = Array.from({ length: 20 }, (_, i) => `20251101T000000Z-create${String(i).padStart(2, '0')}`);
      const created = await Promise.all(runIds.map((runId) => ledgers.create(ledgerOf(runId))));
      expect(created.filter(Boolean)).toHaveLength(1);
      // each false is S3's refusal of the condition (PreconditionFailedError), not some other failure swallowed
      expect(counted.refusals()).toBe(19);
      const winner = runIds[created.indexOf(true)]!;
      const loaded = await ledgers.load('infobase', LEDGER_SNAPSHOT);
      expect(loaded!.ledger.runId).toBe(winner);
      expect(loaded!.etag).toMatch(/^"[0-9a-f]{32}"$/);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'If-Match updates under contention: 20 concurrent ledger updates (updateJson) each land exactly once; a stale ETag is refused',
    async () => {
      // through s3-response-proxy.ts, which makes moto's conditional writes atomic as S3's are (moto checks the ETag, then
      // stores, in two steps on a threaded server: under load two writers of one ETag both passed and an update was lost)
      const proxy = await startS3ResponseProxy(moto!.endpoint);
      const proxied = buildAwsDeps(stack.env('snapshotTrigger'), { endpoint: proxy.endpoint, credentials: CREDENTIALS, forcePathStyle: true });
      const counted = countingRefusals(proxied.store);
      const ledgers = makeLedgerStore(counted.store, deps().config, deps().clock);
      const { ledger, etag: before } = (await ledgers.load('infobase', LEDGER_SNAPSHOT))!;
      const ref = { dataset: 'infobase', snapshotDt: LEDGER_SNAPSHOT, runId: ledger.runId };
      const names = Array.from({ length: 20 }, (_, i) => `t${String(i).padStart(2, '0')}`);

      // each writer records its table and appends one line: a lost update drops a line, a doubled one adds a line
      const results = await Promise.all(
        names.map((t) =>
          ledgers.update(ref, (l) => {
            l.tables[t] = { status: 'PENDING', steps: [] };
            l.history.push({ runId: t, status: 'RUNNING', createdAt: l.createdAt });
            return true;
          }),
        ),
      );
      expect(results.every((r) => r.changed)).toBe(true);
      const after = (await ledgers.load('infobase', LEDGER_SNAPSHOT))!;
      expect(Object.keys(after.ledger.tables).sort()).toEqual(names);
      expect(after.ledger.history.map((h) => h.runId).sort()).toEqual(names);
      // the writers did collide (each refusal was a re-read and retry), and none of them overwrote another
      expect(counted.refusals()).toBeGreaterThan(0);
      expect(proxy.serialized.count).toBeGreaterThanOrEqual(20);
      // a change that is already there writes nothing
      const noop = await ledgers.update(ref, () => false);
      expect(noop.changed).toBe(false);
      expect((await ledgers.load('infobase', LEDGER_SNAPSHOT))!.etag).toBe(after.etag);
      // a write with an ETag that is no longer current
      const stale = await deps()
        .store.put(dataBucket, ledgerKey(deps().config, 'infobase', LEDGER_SNAPSHOT), '{}', { ifMatch: before })
        .catch((e: unknown) => e);
      expect(stale).toBeInstanceOf(PreconditionFailedError);
      expect(JSON.parse(text((await deps().store.get(dataBucket, ledgerKey(deps().config, 'infobase', LEDGER_SNAPSHOT)))!.body)!).runId).toBe(ledger.runId);
      await proxy.stop();
    },
    TEST_TIMEOUT_MS,
  );

  describe('listing past 1,000 keys, then deleting them in batches', () => {
    const prefix = 'paging/part_ibe_01a/snapshot_dt=2025-10-31/run_id=r1/';
    const folders = Array.from({ length: 1_050 }, (_, i) => `${prefix}id_bucket=${i}/`);
    const files = ['_SUCCESS', 'metadata.json', 'z ü.txt'].map((f) => `${prefix}${f}`);
    const keys = [...folders.map((f) => `${f}20251031_000000_00001_abcde_0`), ...files];
    const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

    beforeAll(
      async () =>
        putAll(
          dataBucket,
          keys.map((k) => [k, k]),
        ),
      HOOK_TIMEOUT_MS,
    );

    test(
      'without a delimiter: every object under the prefix, over more than one page',
      async () => {
        // the listing does need a second page (S3 returns at most 1,000 keys a page)
        const first = await admin.s3.send(new ListObjectsV2Command({ Bucket: dataBucket, Prefix: prefix }));
        expect(first).toMatchObject({ IsTruncated: true, KeyCount: 1000 });

        const listing = await deps().store.list(dataBucket, prefix);
        expect(listing.prefixes).toEqual([]);
        expect(listing.objects.map((o) => o.key)).toEqual([...keys].sort(byteOrder));
        const one = listing.objects.find((o) => o.key === files[0]);
        expect(one).toMatchObject({ size: Buffer.byteLength(files[0]!), etag: expect.stringMatching(/^"[0-9a-f]{32}"$/) });
        expect(one!.lastModified).toBeInstanceOf(Date);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      'with the "/" delimiter: 1,050 sub-prefixes and the 3 files beside them, over more than one page',
      async () => {
        const first = await admin.s3.send(new ListObjectsV2Command({ Bucket: dataBucket, Prefix: prefix, Delimiter: '/' }));
        expect(first.IsTruncated).toBe(true);
        expect((first.CommonPrefixes ?? []).length + (first.Contents ?? []).length).toBe(1000);

        const listing = await deps().store.list(dataBucket, prefix, { delimiter: '/' });
        expect(listing.prefixes).toEqual([...folders].sort(byteOrder));
        expect(listing.objects.map((o) => o.key)).toEqual([...files].sort(byteOrder));
        // a prefix that is not a folder: S3 matches the string, so id_bucket=1 takes 1, 10–19, 100–199, 1000–1049
        const ones = await deps().store.list(dataBucket, `${prefix}id_bucket=1`, { delimiter: '/' });
        expect(ones.prefixes).toHaveLength(1 + 10 + 100 + 50);
        expect(ones.objects).toEqual([]);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      'delete removes 1,053 keys in batches (a key already gone is no error); the listing is then empty and each key reads as missing',
      async () => {
        await deps().store.delete(dataBucket, [...keys, `${prefix}never-existed`]);
        expect(await deps().store.list(dataBucket, prefix)).toEqual({ objects: [], prefixes: [] });
        expect(await deps().store.get(dataBucket, keys[0]!)).toBeUndefined();
        expect(await deps().store.head(dataBucket, files[2]!)).toBeUndefined();
        // the bucket is versioned: a delete leaves a delete marker over the old version, which S3 does not list
        const versions = await admin.s3.send(new ListObjectVersionsCommand({ Bucket: dataBucket, Prefix: files[0] }));
        expect(versions.DeleteMarkers?.map((m) => m.IsLatest)).toEqual([true]);
      },
      TEST_TIMEOUT_MS,
    );
  });

  test(
    'ranged GET: the half-open byte range [start, end), the last bytes of a file (a parquet footer read), nothing for an empty range',
    async () => {
      const { store } = deps();
      const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);
      const key = `ranges/snapshot_dt=${SNAPSHOT}/IBE_01/part-00000.parquet`;
      const { etag } = await store.put(dataBucket, key, bytes);
      const head = await store.head(dataBucket, key);
      expect(head).toMatchObject({ key, size: 300, etag });
      expect(await store.getRange(dataBucket, key, 0, 4)).toEqual(bytes.slice(0, 4));
      expect(await store.getRange(dataBucket, key, 100, 101)).toEqual(bytes.slice(100, 101));
      expect(await store.getRange(dataBucket, key, 292, 300)).toEqual(bytes.slice(292, 300));
      expect(await store.getRange(dataBucket, key, 5, 5)).toEqual(new Uint8Array(0));
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'copy is server-side, within the bucket and across buckets, for keys with "=", a space and non-ASCII',
    async () => {
      const { store } = deps();
      const from = 'copy/part_ibe_01a/id_bucket=3/20251031 x ü.parquet';
      const { etag } = await store.put(dataBucket, from, 'bucket 3 rows');
      await store.copy(dataBucket, from, dataBucket, 'copy/bucketed_ibe_01a/000003_0_20251031 x ü.parquet');
      await store.copy(dataBucket, from, analysisBucket, 'copies/id_bucket=3/x.parquet');
      const inBucket = await store.get(dataBucket, 'copy/bucketed_ibe_01a/000003_0_20251031 x ü.parquet');
      const across = await store.get(analysisBucket, 'copies/id_bucket=3/x.parquet');
      expect(text(inBucket!.body)).toBe('bucket 3 rows');
      expect(text(across!.body)).toBe('bucket 3 rows');
      // a copy of a single-part object keeps its content, so its MD5 ETag
      expect(inBucket!.etag).toBe(etag);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'the use case: 20 deliveries of one ready marker racing to create the ledger start one split job; the 19 others are reported as duplicates of its run',
    async () => {
      // the sample lake's infobase snapshot in the data bucket
      lakeDir = mkdtempSync(path.join(os.tmpdir(), 'moto-adapters-lake-'));
      await generateSampleLake(lakeDir, { rows: 200, snapshots: [SNAPSHOT], addressable: false });
      const root = path.join(lakeDir, 'data');
      const walk = (dir: string): string[] =>
        readdirSync(dir).flatMap((f) => (statSync(path.join(dir, f)).isDirectory() ? walk(path.join(dir, f)) : [path.join(dir, f)]));
      await putAll(
        dataBucket,
        walk(root).map((file) => [path.relative(root, file).split(path.sep).join('/'), readFileSync(file)]),
      );

      /**
       * Holds every If-None-Match write of the ledger until all 20 deliveries have made theirs, then lets them go
       * at once: every delivery has then read "no ledger yet" and planned its run, so the conditional create alone
       * decides (without the hold, late deliveries would stop earlier, at "run … is still in flight").
       */
      const real = deps().store;
      const waiting: Array<() => void> = [];
      const releaseAll = () => {
        for (const go of waiting.splice(0)) go();
      };
      // should a delivery never get there, the others are let go after a while and the assertions below say what happened
      const fallback = setTimeout(releaseAll, 120_000);
      const gated: ObjectStore = Object.create(real) as ObjectStore;
      gated.put = async (bucket, key, body, condition) => {
        if (condition?.ifNoneMatch && key.endsWith('/run.json')) {
          await new Promise<void>((resolve) => {
            waiting.push(resolve);
            if (waiting.length === 20) releaseAll();
          });
        }
        return real.put(bucket, key, body, condition);
      };
      const handler = makeSnapshotTriggerHandler({ ...deps(), store: gated });
      const marker = sample('s3-object-created.eventbridge.json');
      const key = `${INFOBASE.rawPrefix}snapshot_dt=${SNAPSHOT}/${INFOBASE.readyMarker}`;
      const event = () => ({
        ...marker,
        id: randomUUID(),
        resources: [`arn:aws:s3:::${dataBucket}`],
        detail: { ...marker.detail, bucket: { name: dataBucket }, object: { ...marker.detail.object, key } },
      });

      const results = (await Promise.all(Array.from({ length: 20 }, () => handler(event())))).flat() as StartRunResult[];
      clearTimeout(fallback);
      const failed = results.filter((r): r is Extract<StartRunResult, { outcome: 'failed' }> => r.outcome === 'failed');
      expect(failed.map((f) => f.error.message)).toEqual([]);
      const started = results.filter((r): r is Extract<StartRunResult, { outcome: 'started' }> => r.outcome === 'started');
      const duplicates = results.filter((r): r is Extract<StartRunResult, { outcome: 'duplicate' }> => r.outcome === 'duplicate');
      expect(started).toHaveLength(1);
      expect(duplicates).toHaveLength(19);
      for (const d of duplicates)
        expect(d).toEqual({
          outcome: 'duplicate',
          snapshotDt: SNAPSHOT,
          runId: started[0]!.runId,
          declined: 'ignored',
          reason: 'duplicate trigger: the run ledger already exists',
          context: { existing_run: started[0]!.runId },
        });

      // one job run, with the winner's arguments; one plan; the ledger records that run
      const jobName = stack.env('snapshotTrigger').SPLIT_JOB_NAME!;
      const runs = (await admin.glue.send(new GetJobRunsCommand({ JobName: jobName }))).JobRuns ?? [];
      expect(runs.map((r) => r.Id)).toEqual([started[0]!.jobRunId]);
      const ledger = JSON.parse(text((await deps().store.get(dataBucket, `${INFOBASE.runsPrefix}snapshot_dt=${SNAPSHOT}/run.json`))!.body)!) as RunLedger;
      expect(ledger).toMatchObject({
        runId: started[0]!.runId,
        stages: { 'split-and-bucket': { status: 'RUNNING', jobName, jobRunId: started[0]!.jobRunId } },
      });
      const plans = (await deps().store.list(dataBucket, `${INFOBASE.runsPrefix}snapshot_dt=${SNAPSHOT}/`)).objects.map((o) => o.key);
      expect(plans).toEqual([
        `${INFOBASE.runsPrefix}snapshot_dt=${SNAPSHOT}/run.json`,
        `${INFOBASE.runsPrefix}snapshot_dt=${SNAPSHOT}/run_id=${started[0]!.runId}/plan.json`,
      ]);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('GlueCatalog on moto Glue', () => {
  const partDef = (run: string): TableDef => ({
    name: 'part_ibe_01a',
    location: `s3://${dataBucket}/omc_cleanroom_data/cleanroom_tables/bucketed/part_ibe_01a/snapshot_dt=${SNAPSHOT}/run_id=${run}/`,
    columns: [
      { name: 'customer_user_id', type: 'string' },
      { name: 'age', type: 'int' },
    ],
    partitionKeys: [{ name: 'id_bucket', type: 'int' }],
    comment: `Bucketed table created from snapshot_dt=${SNAPSHOT}`,
    parameters: { snapshot_dt: SNAPSHOT, run_id: run },
  });
  const partitions = (run: string, buckets: number[]): PartitionDef[] =>
    buckets.map((b) => ({ values: [String(b)], location: `${partDef(run).location}id_bucket=${b}/` }));
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const byValue = (ps: PartitionDef[]) => [...ps].sort((a, b) => Number(a.values[0]) - Number(b.values[0]));
  const STORAGE = {
    tableType: 'EXTERNAL_TABLE',
    inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
    serde: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
  };

  test(
    'upsertTable creates a missing table, then updates it; either hint, right or wrong, ends with the definition given',
    async () => {
      const { catalog } = deps();
      await catalog.upsertTable(database, partDef('r1'));
      expect(await catalog.getTable(database, 'part_ibe_01a')).toEqual({
        ...partDef('r1'),
        parameters: { classification: 'parquet', EXTERNAL: 'TRUE', snapshot_dt: SNAPSHOT, run_id: 'r1' },
        storage: STORAGE,
      });
      await catalog.upsertTable(database, partDef('r2'));
      expect(await catalog.getTable(database, 'part_ibe_01a')).toMatchObject({ location: partDef('r2').location, parameters: { run_id: 'r2' } });
      // a wrong hint costs one more call, not a wrong result: "absent" for a table that exists, "exists" for one that does not
      await catalog.upsertTable(database, partDef('r3'), { exists: false });
      expect(await catalog.getTable(database, 'part_ibe_01a')).toMatchObject({ location: partDef('r3').location });
      await catalog.upsertTable(database, { ...partDef('r1'), name: 'part_ibe_01b' }, { exists: true });
      expect(await catalog.getTable(database, 'part_ibe_01b')).toMatchObject({ name: 'part_ibe_01b', location: partDef('r1').location });
      // the stored table is what Athena needs: an external parquet table with its SerDe
      const { Table } = await admin.glue.send(new GetTableCommand({ DatabaseName: database, Name: 'part_ibe_01a' }));
      expect(Table).toMatchObject({
        TableType: 'EXTERNAL_TABLE',
        PartitionKeys: [{ Name: 'id_bucket', Type: 'int' }],
        StorageDescriptor: { SerdeInfo: { Parameters: { 'serialization.format': '1' } } },
      });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a bucketed table keeps its bucketing (columns, count, Hive bucketing version 1) through the catalog',
    async () => {
      const { catalog } = deps();
      const bucketed: TableDef = {
        ...partDef('r1'),
        name: 'bucketed_ibe_01a',
        partitionKeys: [],
        bucketing: { columns: ['customer_user_id'], count: 256 },
        parameters: { bucketing_version: '2' },
      };
      await catalog.upsertTable(database, bucketed);
      const back = await catalog.getTable(database, 'bucketed_ibe_01a');
      expect(back).toMatchObject({ bucketing: { columns: ['customer_user_id'], count: 256 }, parameters: { bucketing_version: '1' }, partitionKeys: [] });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "addPartitions registers new partitions with the table's storage and leaves existing ones as they are; getPartitions reads values and locations back",
    async () => {
      const { catalog } = deps();
      await catalog.upsertTable(database, partDef('r1'));
      await catalog.addPartitions(database, 'part_ibe_01a', partitions('r1', range(0, 9)));
      // 5–9 exist (left on r1), 10–11 are new (r2)
      await catalog.addPartitions(database, 'part_ibe_01a', partitions('r2', range(5, 11)));
      expect(byValue(await catalog.getPartitions(database, 'part_ibe_01a'))).toEqual([...partitions('r1', range(0, 9)), ...partitions('r2', [10, 11])]);
      const { Partitions } = await admin.glue.send(new GetPartitionsCommand({ DatabaseName: database, TableName: 'part_ibe_01a' }));
      const p10 = Partitions!.find((p) => p.Values![0] === '10')!;
      expect(p10.StorageDescriptor).toMatchObject({
        Location: partitions('r2', [10])[0]!.location,
        Columns: [
          { Name: 'customer_user_id', Type: 'string' },
          { Name: 'age', Type: 'int' },
        ],
        SerdeInfo: { SerializationLibrary: STORAGE.serde },
      });
      await expect(catalog.addPartitions(database, 'no_such_table', partitions('r1', [0]))).rejects.toThrow(
        `cannot add partitions to ${database}.no_such_table: the table does not exist`,
      );
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'switchTables: the table moves to the new run, new partitions are created, existing ones re-pointed, stale ones deleted; a re-run changes nothing',
    async () => {
      const { catalog } = deps();
      // part_ibe_01a holds 0–11 from the test before (0–9 on r1, 10–11 on r2); the new snapshot has 5–14 on r4
      const bucketed: TableDef = { ...partDef('r4'), name: 'bucketed_ibe_01a', partitionKeys: [], bucketing: { columns: ['customer_user_id'], count: 256 } };
      const switches = [{ table: partDef('r4'), partitions: partitions('r4', range(5, 14)) }, { table: bucketed }];
      await catalog.switchTables(database, switches);
      expect(await catalog.getTable(database, 'part_ibe_01a')).toMatchObject({ location: partDef('r4').location, parameters: { run_id: 'r4' } });
      expect(byValue(await catalog.getPartitions(database, 'part_ibe_01a'))).toEqual(partitions('r4', range(5, 14)));
      expect(await catalog.getTable(database, 'bucketed_ibe_01a')).toMatchObject({ location: bucketed.location, bucketing: { count: 256 } });

      await catalog.switchTables(database, switches);
      expect(byValue(await catalog.getPartitions(database, 'part_ibe_01a'))).toEqual(partitions('r4', range(5, 14)));
      // a switch of a table that does not exist yet creates it with its partitions
      await catalog.switchTables(database, [{ table: { ...partDef('r4'), name: 'part_ibe_04' }, partitions: partitions('r4', [0, 1]) }]);
      expect((await catalog.getPartitions(database, 'part_ibe_04')).map((p) => p.values)).toEqual([['0'], ['1']]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'listTables keeps exactly the prefix (sorted); deleteTable of a missing table is no error; a deleted table reads as missing',
    async () => {
      const { catalog } = deps();
      for (const name of ['ext_ibe_01a', 'partition_notes', 'part_ibe_01a_er']) await catalog.upsertTable(database, { ...partDef('r1'), name });
      expect((await catalog.listTables(database, 'part_')).map((t) => t.name)).toEqual(['part_ibe_01a', 'part_ibe_01a_er', 'part_ibe_01b', 'part_ibe_04']);
      expect((await catalog.listTables(database, 'part_ibe_01a')).map((t) => t.name)).toEqual(['part_ibe_01a', 'part_ibe_01a_er']);
      expect((await catalog.listTables(database, 'bucketed_')).map((t) => t.name)).toEqual(['bucketed_ibe_01a']);
      expect((await catalog.listTables(database)).map((t) => t.name)).toEqual([
        'bucketed_ibe_01a',
        'ext_ibe_01a',
        'part_ibe_01a',
        'part_ibe_01a_er',
        'part_ibe_01b',
        'part_ibe_04',
        'partition_notes',
      ]);
      expect(await catalog.listTables(database, 'zz_')).toEqual([]);

      await catalog.deleteTable(database, 'no_such_table');
      await catalog.deleteTable(database, 'part_ibe_01a_er');
      expect(await catalog.getTable(database, 'part_ibe_01a_er')).toBeUndefined();
      await catalog.deleteTable(database, 'part_ibe_01a_er');
    },
    TEST_TIMEOUT_MS,
  );
});

describe("GlueJobRunner on moto Glue (the template's jobs)", () => {
  afterEach(async () => unsetTransition(moto!.endpoint, 'glue::job_run'));

  test(
    "startSplitJob starts the dataset's job with its arguments; jobRunState reads the run's state back as it advances",
    async () => {
      const { jobs } = deps();
      // moto advances a run one state every two reads (its default jumps straight to SUCCEEDED)
      await setTransition(moto!.endpoint, 'glue::job_run', { progression: 'manual', times: 2 });
      const planUri = `s3://${dataBucket}/_runs/addressable/snapshot_dt=${SNAPSHOT}/run_id=r9/plan.json`;
      const started = await jobs.startSplitJob({ dataset: 'addressable', snapshotDt: SNAPSHOT, runId: 'r9', planUri, tablesFilter: ['addressable_ids'] });
      expect(started.jobName).toBe(stack.env('snapshotTrigger').ADDRESSABLE_JOB_NAME);

      // (every GetJobRun counts as a read for moto's state manager, so the states come first)
      const seen: string[] = [];
      for (let i = 0; i < 10 && seen.at(-1) !== 'SUCCEEDED'; i++) seen.push((await jobs.jobRunState(started.jobName, started.jobRunId)).state);
      expect(seen).toEqual(['STARTING', 'RUNNING', 'RUNNING', 'SUCCEEDED']);

      const { JobRun } = await admin.glue.send(new GetJobRunCommand({ JobName: started.jobName, RunId: started.jobRunId }));
      // moto's JobRun.Arguments are the job's DefaultArguments merged with the run's
      expect(JobRun!.Arguments).toMatchObject({ '--SNAPSHOT_DT': SNAPSHOT, '--RUN_ID': 'r9', '--PLAN_URI': planUri, '--TABLES_FILTER': 'addressable_ids' });
      expect(JobRun!.JobName).toBe(started.jobName);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'startJob starts a maintenance job with each argument as --NAME; a job that is not deployed is an error, not a silent start',
    async () => {
      const runner = deps('compaction').jobs;
      const started = await runner.startJob('compaction', { DATASET: 'addressable', SNAPSHOT_DT: SNAPSHOT });
      expect(started.jobName).toBe(stack.env('compaction').COMPACTION_JOB_NAME);
      const { JobRun } = await admin.glue.send(new GetJobRunCommand({ JobName: started.jobName, RunId: started.jobRunId }));
      expect(JobRun!.Arguments).toMatchObject({ '--DATASET': 'addressable', '--SNAPSHOT_DT': SNAPSHOT, '--TARGET_FILE_MB': '256' });
      expect(await runner.jobRunState(started.jobName, started.jobRunId)).toEqual({ state: 'SUCCEEDED', reason: undefined });

      const undeployed = buildAwsDeps(
        { ...stack.env('compaction'), COMPACTION_JOB_NAME: 'flywheel-dev-not-deployed' },
        { endpoint: moto!.endpoint, credentials: CREDENTIALS, forcePathStyle: true },
      );
      await expect(undeployed.jobs.startJob('compaction', {})).rejects.toMatchObject({ name: 'EntityNotFoundException' });
    },
    TEST_TIMEOUT_MS,
  );
});

describe('EventBridgeBus and SnsNotifier, read back through SQS', () => {
  let projectQueue: Queue;
  let defaultQueue: Queue;
  let alertQueue: Queue;
  const FLYWHEEL = { source: ['flywheel.pipeline', 'flywheel.ops'] };
  type Delivered = {
    id: string;
    source: string;
    'detail-type': string;
    account: string;
    region: string;
    time: string;
    resources: unknown[];
    detail: Record<string, unknown>;
  };

  beforeAll(async () => {
    const env = stack.env('snapshotTrigger');
    projectQueue = await createQueue(admin.sqs, 'adapters-project-bus');
    defaultQueue = await createQueue(admin.sqs, 'adapters-default-bus');
    alertQueue = await createQueue(admin.sqs, 'adapters-alerts');
    // the same rule on both buses: only the project bus's may see Flywheel's events
    for (const [bus, queue] of [
      [env.EVENT_BUS_NAME!, projectQueue],
      ['default', defaultQueue],
    ] as const) {
      await admin.events.send(
        new PutRuleCommand({ Name: `adapters-${queue.name}`, EventBusName: bus, EventPattern: JSON.stringify(FLYWHEEL), State: 'ENABLED' }),
      );
      await admin.events.send(new PutTargetsCommand({ Rule: `adapters-${queue.name}`, EventBusName: bus, Targets: [{ Id: 'queue', Arn: queue.arn }] }));
    }
    await admin.sns.send(new SubscribeCommand({ TopicArn: env.ALERT_TOPIC_ARN!, Protocol: 'sqs', Endpoint: alertQueue.arn }));
  }, HOOK_TIMEOUT_MS);

  test(
    'put: 25 events (three PutEvents of ≤10) reach a rule of the project bus, each as an EventBridge event with its detail intact, and none reaches the default bus',
    async () => {
      const detail = (i: number) => ({
        stage: 'register-staged-tables',
        dataset: 'infobase',
        snapshotDt: SNAPSHOT,
        runId: `r${i}`,
        tables: ['ibe_01a', 'ibe_04'],
        note: 'Zoë 客户 😀',
        i,
        nested: { ok: true, n: null },
      });
      await deps('registerStagedTables').bus.put(
        Array.from({ length: 25 }, (_, i) => ({ source: 'flywheel.pipeline', detailType: 'Stage Completed', detail: detail(i) })),
      );

      const delivered = bodies<Delivered>(await receiveAll(admin.sqs, projectQueue, { expected: 25 }));
      expect(delivered).toHaveLength(25);
      const sorted = [...delivered].sort((a, b) => Number(a.detail.i) - Number(b.detail.i));
      sorted.forEach((e, i) => {
        // moto leaves `account` out of what it delivers to SQS (AWS always sets it): not asserted
        expect(e).toMatchObject({ source: 'flywheel.pipeline', 'detail-type': 'Stage Completed', region: MOTO_REGION, resources: [] });
        expect(e.detail).toEqual(detail(i));
        expect(e.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      });
      expect(new Set(delivered.map((e) => e.id)).size).toBe(25);
      expect(await receiveAll(admin.sqs, defaultQueue, { expected: 0 })).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "publish: subject (made SNS-safe), body and String attributes (empty ones left out) arrive through the topic's SQS subscription",
    async () => {
      const body = 'Stage:    data-monitor\nCause:    3 issue(s)\nZoë 客户 😀\n';
      await deps('dataMonitor').notifier.publish({
        subject: '[DATA MONITOR] flywheel_dev part_* — 3 issue(s)',
        body,
        attributes: { stage: 'data-monitor', snapshot_dt: SNAPSHOT, table: '' },
      });
      const [n, ...more] = bodies<{
        Type: string;
        TopicArn: string;
        Subject: string;
        Message: string;
        MessageAttributes: Record<string, { Type: string; Value: string }>;
      }>(await receiveAll(admin.sqs, alertQueue, { expected: 1 }));
      expect(more).toEqual([]);
      expect(n).toMatchObject({
        Type: 'Notification',
        TopicArn: stack.env('dataMonitor').ALERT_TOPIC_ARN,
        Subject: '[DATA MONITOR] flywheel_dev part_* - 3 issue(s)',
        Message: body,
      });
      expect(n!.MessageAttributes).toEqual({ stage: { Type: 'String', Value: 'data-monitor' }, snapshot_dt: { Type: 'String', Value: SNAPSHOT } });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a failure alert (alertFailure) is one e-mail naming stage, snapshot, table, cause and the replay command, and one Stage Failed event on the project bus',
    async () => {
      await alertFailure(deps('bucketedTables'), {
        dataset: 'infobase',
        snapshotDt: SNAPSHOT,
        runId: 'r1',
        stage: 'bucketed-tables',
        table: 'ibe_04',
        cause: 'HIVE_BAD_DATA: bad parquet',
        fix: 'fix the file',
      });
      const [mail, ...moreMail] = bodies<{ Subject: string; Message: string; MessageAttributes: Record<string, { Value: string }> }>(
        await receiveAll(admin.sqs, alertQueue, { expected: 1 }),
      );
      expect(moreMail).toEqual([]);
      expect(mail!.Subject).toBe(`[Flywheel] bucketed-tables FAILED infobase snapshot_dt=${SNAPSHOT} table=ibe_04`);
      expect(mail!.Message).toContain('Cause:    HIVE_BAD_DATA: bad parquet');
      expect(mail!.Message).toContain(`aws events put-events --entries`);
      expect(mail!.Message).toContain(`"EventBusName":"${stack.env('bucketedTables').EVENT_BUS_NAME}"`);
      expect(Object.fromEntries(Object.entries(mail!.MessageAttributes).map(([k, v]) => [k, v.Value]))).toEqual({
        stage: 'bucketed-tables',
        dataset: 'infobase',
        snapshot_dt: SNAPSHOT,
      });
      const [failed, ...moreEvents] = bodies<Delivered>(await receiveAll(admin.sqs, projectQueue, { expected: 1 }));
      expect(moreEvents).toEqual([]);
      expect(failed).toMatchObject({
        source: 'flywheel.pipeline',
        'detail-type': 'Stage Failed',
        detail: { stage: 'bucketed-tables', table: 'ibe_04', cause: 'HIVE_BAD_DATA: bad parquet' },
      });
    },
    TEST_TIMEOUT_MS,
  );
});

describe('AthenaQueryEngine on moto Athena (results injected: moto runs no SQL)', () => {
  test(
    "start runs the rendered query in the monitor's workgroup and database; results skip the header row, keep NULL cells as null, and read the whole scan",
    async () => {
      const engine = deps('dataMonitor').monitorEngine;
      const scan: MonitorQuery = { kind: 'monitor-scan', database, table: 'part_ibe_01a', pkColumn: 'customer_user_id', bucketCount: 256 };
      const columns = ['id_bucket', 'row_count', 'pk_nulls', 'pk_dupes', 'wrong_bucket'];
      const perBucket = Array.from({ length: 256 }, (_, b) => [String(b), String(1000 + b), b === 0 ? '1' : '0', '0', '0']);
      const total = [undefined, String(perBucket.reduce((s, r) => s + Number(r[1]), 0)), '1', '0', '0'];
      // GetQueryResults of a SELECT: the first row holds the column names, a NULL cell has no VarCharValue
      await queueAthenaResults(moto!.endpoint, [
        {
          column_info: columns.map((Name, i) => ({ Name, Type: i === 0 ? 'integer' : 'bigint', Nullable: 'UNKNOWN' })),
          rows: [columns, ...perBucket, total].map((r) => ({ Data: r.map((v) => (v === undefined ? {} : { VarCharValue: v })) })),
        },
      ]);
      const id = await engine.start(scan, `monitor:${randomUUID()}`);
      const { QueryExecution } = await admin.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
      expect(QueryExecution).toMatchObject({
        Query: renderAthena(scan),
        WorkGroup: stack.env('dataMonitor').MONITOR_WORKGROUP,
        QueryExecutionContext: { Database: database },
      });
      expect(await engine.status(id)).toEqual({ state: 'SUCCEEDED', reason: undefined });

      const { rows, bytesScanned } = await engine.results(id);
      expect(rows).toHaveLength(257);
      expect(rows[0]).toEqual({ id_bucket: '0', row_count: '1000', pk_nulls: '1', pk_dupes: '0', wrong_bucket: '0' });
      expect(rows[256]).toEqual({ id_bucket: null, row_count: total[1], pk_nulls: '1', pk_dupes: '0', wrong_bucket: '0' });
      const parsed = parseScanRows(rows);
      expect(parsed).toMatchObject({ rows: Number(total[1]), pkNulls: 1, pkDupes: 0, wrongBucket: 0 });
      expect(parsed.perBucket.size).toBe(256);
      // moto reports no bytes scanned (Statistics.DataScannedInBytes 0)
      expect(bytesScanned).toBe(0);
      // moto does not page results (AWS pages at 1,000 rows and honours MaxResults): the adapter's paging is proven on the mock
      const page = await admin.athena.send(new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: 10 }));
      expect(page.ResultSet!.Rows).toHaveLength(258);
      expect(page.NextToken).toBeUndefined();
    },
    TEST_TIMEOUT_MS,
  );
});
