/**
 * The event rules of the packaged template in moto's EventBridge, against the local bus's routing.
 *
 * Every AWS::Events::Rule of the dev template that has an EventPattern (resolved with test/iam/check.ts Stack) is
 * installed as it is deployed: its name, its bus (the default bus or the project bus), its pattern and state, with
 * one SQS queue as its target instead of the function. Then real events go through moto:
 *
 * - S3 Object Created events emitted by moto's own S3 (the data bucket has EventBridge notifications on, as in the
 *   template): the ready markers of both datasets, data files, raw-landing markers, a marker in another bucket;
 * - Glue Job State Change and Athena Query State Change events put on the default bus with PutEvents, shaped as
 *   those services send them (events/*.json with the deployed job and workgroup names);
 * - Flywheel's own events put on the project bus by the EventBridgeBus adapter (buildAwsDeps of the function that
 *   emits them) and an operator's Replay Requested put as README's `aws events put-events` does.
 *
 * For each event, the rules whose queues received it are compared with the local bus: LocalBus.targets(event) over
 * routes(…) with the template's own parameters (the same routes serverless.yml was built from), for the event as
 * EventBridge delivered it. Catch-all rules on both buses record every event as delivered.
 *
 * The schedules (rules with a ScheduleExpression) are not here: moto does not fire them; the local bus routes a
 * Scheduled Event by its rule's name (test/patterns.test.ts).
 */
import { S3EventNotificationEventBridgeSchema } from '@aws-lambda-powertools/parser/schemas';
import {
  CreateEventBusCommand,
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { CreateBucketCommand, PutBucketNotificationConfigurationCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { isDeepStrictEqual } from 'node:util';
import { LocalBus } from '../../shared/adapters/local/local-bus.js';
import { buildAwsDeps } from '../../shared/composition/aws.js';
import { ADDRESSABLE, INFOBASE } from '../../shared/domain/config.js';
import { matches, routes, type EventPattern, type FunctionName, type Route, type RouteParams } from '../../shared/events/patterns.js';
import { sample } from '../aws/lambda-env.js';
import { Stack } from '../iam/check.js';
import { packaged } from '../support/packaged.js';
import { bodies, createQueue, receiveAll, type Queue } from './moto-fixtures.js';
import { sdkConfig, startMoto, type MotoServer } from './moto-server.js';

const HOOK_TIMEOUT_MS = 900_000;
const SNAPSHOT = '2025-10-31';
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
const SOURCES = ['aws.s3', 'aws.glue', 'aws.athena', 'flywheel.pipeline', 'flywheel.ops'];

/** An EventBridge event as delivered to a target. */
interface Delivered {
  id: string;
  source: string;
  'detail-type': string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, any>;
  [field: string]: unknown;
}

/** A pattern rule of the template, as deployed. */
interface TemplateRule {
  logicalId: string;
  name: string;
  busName: string;
  pattern: EventPattern;
  state: string;
  fn: FunctionName;
  queue?: Queue;
}

/** One event the test sends, and the name it is known by in the deliveries. */
interface Case {
  name: string;
  bus: 'default' | 'project';
  /** What EventBridge must deliver it to (rule names), written out so that agreement cannot be vacuous. */
  rules: string[];
  /** Put on a bus its producer never uses (the local bus, one bus for all, would still route it). */
  wrongBus?: boolean;
}

let stack: Stack;
let moto: MotoServer | undefined;
let s3: S3Client;
let events: EventBridgeClient;
let sqs: SQSClient;
let params: RouteParams;
let templateRules: TemplateRule[];
let projectBus: string;
let dataBucket: string;
let analysisBucket: string;
const captured = { default: [] as Delivered[], project: [] as Delivered[] };
const captureQueues = {} as Record<'default' | 'project', Queue>;
/** Rule name → the events its queue received. */
const received = new Map<string, Delivered[]>();
const cases: Case[] = [];

/** `SnapshotTriggerLambdaFunction` → `snapshotTrigger`. */
const functionOf = (logicalId: string) => `${logicalId[0]!.toLowerCase()}${logicalId.slice(1).replace(/LambdaFunction$/, '')}` as FunctionName;
const ruleName = (route: Route) => `flywheel-${stack.stage}-${route.name}`;

/** The name a delivered event goes by (set by the test in a field each kind of event carries). */
function caseOf(e: Delivered): string {
  const d = e.detail;
  if (e.source === 'aws.s3') return `s3://${d.bucket.name}/${d.object.key}`;
  return String(d.jobRunId ?? d.queryExecutionId ?? d.runId ?? d.reason);
}

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  stack = new Stack(packaged('dev').template, 'dev');
  const env = stack.env('snapshotTrigger');
  dataBucket = env.DATA_BUCKET!;
  analysisBucket = env.ANALYSIS_BUCKET!;
  projectBus = env.EVENT_BUS_NAME!;
  // the parameters the template's patterns were built from (serverless-patterns.cjs): its names, the datasets' layout
  params = {
    dataBucket,
    athenaWorkgroup: env.ATHENA_WORKGROUP!,
    monitorWorkgroup: stack.env('dataMonitor').MONITOR_WORKGROUP!,
    datasets: [INFOBASE, ADDRESSABLE].map((d) => ({
      rawPrefix: d.rawPrefix,
      readyMarker: d.readyMarker,
      splitJobName: d === INFOBASE ? env.SPLIT_JOB_NAME! : env.ADDRESSABLE_JOB_NAME!,
      compactionPrefix: d.compaction?.sourcePrefix,
    })),
    compactionJobName: stack.env('compaction').COMPACTION_JOB_NAME!,
    chargebacksJobName: stack.env('chargebacks').CHARGEBACKS_JOB_NAME!,
  };
  templateRules = stack
    .resources('AWS::Events::Rule')
    .filter(([, r]) => r.Properties.EventPattern)
    .map(([logicalId, r]) => {
      const p = r.Properties;
      return {
        logicalId,
        name: stack.resolve(p.Name),
        busName: p.EventBusName ? stack.resolve(p.EventBusName) : 'default',
        pattern: stack.resolve(p.EventPattern),
        state: p.State,
        fn: functionOf(p.Targets[0].Arn['Fn::GetAtt'][0]),
      };
    });

  moto = await startMoto();
  const config = sdkConfig(moto.endpoint, CREDENTIALS);
  s3 = new S3Client({ ...config, forcePathStyle: true });
  events = new EventBridgeClient(config);
  sqs = new SQSClient(config);

  // the data bucket as the template makes it (versioned, EventBridge notifications on); the analysis bucket too, for a marker elsewhere
  for (const bucket of [dataBucket, analysisBucket]) {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: bucket, NotificationConfiguration: { EventBridgeConfiguration: {} } }));
  }
  await events.send(new CreateEventBusCommand({ Name: projectBus }));
  for (const rule of templateRules) {
    rule.queue = await createQueue(sqs, `route-${rule.name}`);
    await events.send(
      new PutRuleCommand({ Name: rule.name, EventBusName: rule.busName, EventPattern: JSON.stringify(rule.pattern), State: rule.state as 'ENABLED' }),
    );
    await events.send(new PutTargetsCommand({ Rule: rule.name, EventBusName: rule.busName, Targets: [{ Id: 'function', Arn: rule.queue.arn }] }));
  }
  // catch-all rules record every event as each bus delivers it. moto also hands S3's events to the rules of
  // custom buses (AWS sends them to the default bus only), so the project bus's catch-all leaves aws.s3 out.
  for (const [bus, busName, sources] of [
    ['default', 'default', SOURCES],
    ['project', projectBus, SOURCES.filter((s) => s !== 'aws.s3')],
  ] as const) {
    const queue = await createQueue(sqs, `capture-${busName}`);
    await events.send(
      new PutRuleCommand({ Name: `capture-${busName}`, EventBusName: busName, EventPattern: JSON.stringify({ source: sources }), State: 'ENABLED' }),
    );
    await events.send(new PutTargetsCommand({ Rule: `capture-${busName}`, EventBusName: busName, Targets: [{ Id: 'capture', Arn: queue.arn }] }));
    captureQueues[bus] = queue;
  }

  await sendEverything();
  await collectEverything();
}, HOOK_TIMEOUT_MS);

afterAll(async () => {
  s3?.destroy();
  events?.destroy();
  sqs?.destroy();
  await moto?.stop();
}, HOOK_TIMEOUT_MS);

/** Every case: objects written to moto's S3, service events and Flywheel's events put on their buses. */
async function sendEverything(): Promise<void> {
  const R = (name: string) => `flywheel-${stack.stage}-${name}`;
  const snap = `snapshot_dt=${SNAPSHOT}/`;

  // S3 emits Object Created for each PutObject
  const objects: Array<[string, string, string[]]> = [
    [dataBucket, `${INFOBASE.rawPrefix}${snap}${INFOBASE.readyMarker}`, [R('ready-marker-landed')]],
    [dataBucket, `${ADDRESSABLE.rawPrefix}${snap}${ADDRESSABLE.readyMarker}`, [R('ready-marker-landed')]],
    [dataBucket, `${INFOBASE.rawPrefix}${snap}IBE_01/part-00000.snappy.parquet`, []],
    [dataBucket, `${ADDRESSABLE.rawPrefix}${snap}part-00000.snappy.parquet`, []],
    // a marker inside a table folder: the pattern's * spans '/', so the rule fires (and the handler ignores it:
    // ready markers count only at <prefix>snapshot_dt=D/<marker>); a junk folder's marker fires too
    [dataBucket, `${INFOBASE.rawPrefix}${snap}IBE_01/_SUCCESS`, [R('ready-marker-landed')]],
    [dataBucket, `${INFOBASE.rawPrefix}snapshot_dt=not-a-date/_SUCCESS`, [R('ready-marker-landed')]],
    // the raw landings of the compaction stage
    [dataBucket, `${ADDRESSABLE.compaction!.sourcePrefix}${snap}${ADDRESSABLE.compaction!.readyMarker}`, [R('raw-landing-completed')]],
    [dataBucket, `${INFOBASE.compaction!.sourcePrefix}${snap}${INFOBASE.compaction!.readyMarker}`, [R('raw-landing-completed')]],
    [dataBucket, `${ADDRESSABLE.compaction!.sourcePrefix}${snap}part-00017.parquet`, []],
    // the split job's own _SUCCESS, the live-snapshot marker, a ledger: nothing
    [dataBucket, `${INFOBASE.splitPrefix}ibe_01a/${snap}run_id=r1/_SUCCESS`, []],
    [dataBucket, `${INFOBASE.bucketedPrefix}metadata/snapshot_dt.txt`, []],
    [dataBucket, `${INFOBASE.runsPrefix}${snap}run.json`, []],
    // the same ready marker in another bucket
    [analysisBucket, `${INFOBASE.rawPrefix}${snap}${INFOBASE.readyMarker}`, []],
  ];
  for (const [bucket, key, rules] of objects) {
    cases.push({ name: `s3://${bucket}/${key}`, bus: 'default', rules });
    // markers are empty objects (a stated length keeps the SDK from taking '' for a stream of unknown length)
    const body = key.endsWith('.txt') ? `${SNAPSHOT}\n` : '';
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: Buffer.byteLength(body) }));
  }

  // AWS service events on the default bus, as Glue and Athena send them (moto accepts aws.* sources from PutEvents; AWS does not)
  const glue = sample('glue-job-state-change.succeeded.json');
  const athena = sample('athena-query-state-change.succeeded.json');
  const service: Array<[string, PutEventsRequestEntry, string[]]> = [];
  const glueEvent = (name: string, jobName: string, state: string, bus = 'default'): PutEventsRequestEntry => ({
    EventBusName: bus,
    Source: glue.source,
    DetailType: glue['detail-type'],
    Detail: JSON.stringify({ ...glue.detail, jobName, state, jobRunId: name }),
  });
  const athenaEvent = (name: string, workgroupName: string, currentState: string): PutEventsRequestEntry => ({
    EventBusName: 'default',
    Source: athena.source,
    DetailType: athena['detail-type'],
    Detail: JSON.stringify({ ...athena.detail, workgroupName, currentState, queryExecutionId: name }),
  });
  const [infobaseJob, addressableJob] = params.datasets.map((d) => d.splitJobName) as [string, string];
  service.push(
    ['glue-split-succeeded', glueEvent('glue-split-succeeded', infobaseJob, 'SUCCEEDED'), [R('split-job-finished')]],
    ['glue-addressable-failed', glueEvent('glue-addressable-failed', addressableJob, 'FAILED'), [R('split-job-finished')]],
    ['glue-split-timeout', glueEvent('glue-split-timeout', infobaseJob, 'TIMEOUT'), [R('split-job-finished')]],
    ['glue-split-running', glueEvent('glue-split-running', infobaseJob, 'RUNNING'), []],
    ['glue-compaction-failed', glueEvent('glue-compaction-failed', params.compactionJobName, 'FAILED'), [R('compaction-job-finished')]],
    ['glue-chargebacks-stopped', glueEvent('glue-chargebacks-stopped', params.chargebacksJobName, 'STOPPED'), [R('chargebacks-job-finished')]],
    ['glue-other-job', glueEvent('glue-other-job', 'someone-elses-job', 'SUCCEEDED'), []],
    ['athena-build-succeeded', athenaEvent('athena-build-succeeded', params.athenaWorkgroup, 'SUCCEEDED'), [R('bucketed-query-finished')]],
    ['athena-build-cancelled', athenaEvent('athena-build-cancelled', params.athenaWorkgroup, 'CANCELLED'), [R('bucketed-query-finished')]],
    ['athena-build-running', athenaEvent('athena-build-running', params.athenaWorkgroup, 'RUNNING'), []],
    ['athena-monitor-failed', athenaEvent('athena-monitor-failed', params.monitorWorkgroup, 'FAILED'), [R('monitor-query-finished')]],
    ['athena-primary', athenaEvent('athena-primary', 'primary', 'SUCCEEDED'), []],
    // an AWS service event never arrives on the project bus; one put there reaches nothing
    ['glue-on-project-bus', glueEvent('glue-on-project-bus', infobaseJob, 'SUCCEEDED', projectBus), []],
  );
  for (const [name, entry, rules] of service)
    cases.push({ name, bus: entry.EventBusName === 'default' ? 'default' : 'project', rules, wrongBus: entry.EventBusName !== 'default' });
  for (let i = 0; i < service.length; i += 10) {
    const res = await events.send(new PutEventsCommand({ Entries: service.slice(i, i + 10).map(([, e]) => e) }));
    if (res.FailedEntryCount) throw new Error(`PutEvents failed: ${JSON.stringify(res.Entries)}`);
  }

  // Flywheel's events, put by the EventBridgeBus adapter of the function that emits them
  const clients = { endpoint: moto!.endpoint, credentials: CREDENTIALS, forcePathStyle: true };
  const stage = sample('stage-completed.register-staged-tables.json');
  const pipeline: Array<[FunctionName, string, string, Record<string, unknown>, string[]]> = [
    ['registerStagedTables', 'Stage Completed', 'stage-registered', { ...stage.detail, runId: 'stage-registered' }, [R('staged-tables-registered')]],
    ['bucketedTables', 'Stage Completed', 'stage-bucketed', { ...stage.detail, stage: 'bucketed-tables', runId: 'stage-bucketed' }, []],
    [
      'bucketedTables',
      'Pipeline Completed',
      'pipeline-completed',
      { dataset: 'infobase', snapshotDt: SNAPSHOT, runId: 'pipeline-completed', tables: ['ibe_01a'] },
      [R('pipeline-completed')],
    ],
    [
      'bucketedTables',
      'Stage Failed',
      'stage-failed',
      { dataset: 'infobase', snapshotDt: SNAPSHOT, runId: 'stage-failed', stage: 'bucketed-tables', cause: 'x' },
      [],
    ],
  ];
  for (const [fn, detailType, name, detail, rules] of pipeline) {
    cases.push({ name, bus: 'project', rules });
    await buildAwsDeps(stack.env(fn), clients).bus.put([{ source: 'flywheel.pipeline', detailType, detail }]);
  }

  // an operator's replay request (README: aws events put-events onto the project bus), and the same on the default bus by mistake
  const replay = (reason: string, bus: string): PutEventsRequestEntry => ({
    EventBusName: bus,
    Source: 'flywheel.ops',
    DetailType: 'Replay Requested',
    Detail: JSON.stringify({ dataset: 'infobase', snapshotDt: SNAPSHOT, fromStage: 'bucketed-tables', tables: ['ibe_04'], reason }),
  });
  cases.push(
    { name: 'replay-on-project-bus', bus: 'project', rules: [R('replay-requested')] },
    { name: 'replay-on-default-bus', bus: 'default', rules: [], wrongBus: true },
  );
  const res = await events.send(new PutEventsCommand({ Entries: [replay('replay-on-project-bus', projectBus), replay('replay-on-default-bus', 'default')] }));
  if (res.FailedEntryCount) throw new Error(`PutEvents failed: ${JSON.stringify(res.Entries)}`);
}

/** Drains the catch-all queues (every case once) and then each rule's queue (as many as the local routes predict, and a settling poll). */
async function collectEverything(): Promise<void> {
  for (const bus of ['default', 'project'] as const) {
    const all = bodies<Delivered>(await receiveAll(sqs, captureQueues[bus], { expected: cases.filter((c) => c.bus === bus).length }));
    // moto's S3 also emits "Object Tags Added" for every PutObject (AWS: only for PutObjectTagging); no Flywheel rule
    // takes it (each wants Object Created; a rule that did would show as a duplicate below), so it is set aside here
    captured[bus] = all.filter((e) => !(e.source === 'aws.s3' && e['detail-type'] === 'Object Tags Added'));
  }
  await Promise.all(
    templateRules.map(async (rule) => {
      const expected = cases.filter((c) => c.rules.includes(rule.name)).length;
      received.set(rule.name, bodies<Delivered>(await receiveAll(sqs, rule.queue!, { expected, settleSeconds: 2 })));
    }),
  );
}

/** The routes of the local bus (the same routes(…) as the template's patterns). */
const localRoutes = () => routes(params);

describe("the template's rules are the local routes", () => {
  test('each pattern rule is one route of patterns.ts, on the same bus, targeting the same function', () => {
    expect(templateRules.map((r) => r.name).sort()).toEqual(localRoutes().map(ruleName).sort());
    for (const route of localRoutes()) {
      const rule = templateRules.find((r) => r.name === ruleName(route))!;
      expect(isDeepStrictEqual(rule.pattern, route.pattern)).toBe(true);
      expect(rule).toMatchObject({ busName: route.bus === 'default' ? 'default' : projectBus, fn: route.fn, state: 'ENABLED' });
    }
  });
});

describe('moto EventBridge routes each event as the local bus does', () => {
  test('every event sent was delivered once on its bus (the catch-all rules saw each case)', () => {
    for (const bus of ['default', 'project'] as const) {
      expect(captured[bus].map(caseOf).sort()).toEqual(
        cases
          .filter((c) => c.bus === bus)
          .map((c) => c.name)
          .sort(),
      );
    }
  });

  test('rule → target per event: the rules that received it are the local routes of its bus that match it, and their functions are LocalBus.targets(event)', () => {
    const bus = new LocalBus(localRoutes(), { now: () => new Date() });
    const observed: Record<string, { rules: string[]; functions: FunctionName[] }> = {};
    const predicted: Record<string, { rules: string[]; functions: FunctionName[] }> = {};
    for (const c of cases) {
      const event = delivered(c);
      const rules = templateRules.filter((r) => (received.get(r.name) ?? []).some((e) => caseOf(e) === c.name));
      observed[c.name] = { rules: rules.map((r) => r.name).sort(), functions: [...new Set(rules.map((r) => r.fn))].sort() };
      predicted[c.name] = {
        rules: localRoutes()
          .filter((r) => r.bus === c.bus && matches(r.pattern, event))
          .map(ruleName)
          .sort(),
        functions: c.wrongBus ? [] : bus.targets(event).sort(),
      };
    }
    expect(observed).toEqual(predicted);
    // the answer written next to each case, so that agreement on "nothing" everywhere could not pass
    expect(Object.fromEntries(Object.entries(observed).map(([name, o]) => [name, o.rules]))).toEqual(
      Object.fromEntries(cases.map((c) => [c.name, [...c.rules].sort()])),
    );
    expect(new Set(Object.values(observed).flatMap((o) => o.rules))).toEqual(new Set(templateRules.map((r) => r.name)));
  });

  test('an event put on the wrong bus reaches nothing on EventBridge, where the local bus (one bus for all) would route it', () => {
    const bus = new LocalBus(localRoutes(), { now: () => new Date() });
    expect(cases.filter((c) => c.wrongBus).map((c) => c.name)).toEqual(['glue-on-project-bus', 'replay-on-default-bus']);
    for (const name of ['glue-on-project-bus', 'replay-on-default-bus']) {
      const event = delivered(cases.find((x) => x.name === name)!);
      expect(templateRules.filter((r) => (received.get(r.name) ?? []).some((e) => caseOf(e) === name))).toEqual([]);
      expect(bus.targets(event)).toEqual(name.startsWith('glue') ? ['registerStagedTables'] : ['replay']);
    }
  });

  test('no rule received an event twice or an event that was not sent', () => {
    const names = new Set(cases.map((c) => c.name));
    for (const rule of templateRules) {
      const got = (received.get(rule.name) ?? []).map(caseOf);
      expect({ rule: rule.name, duplicates: got.filter((n, i) => got.indexOf(n) !== i), unknown: got.filter((n) => !names.has(n)) }).toEqual({
        rule: rule.name,
        duplicates: [],
        unknown: [],
      });
    }
  });

  test("the S3 events moto emitted are S3 Object Created events as Powertools parses them (what the handlers' schemas build on)", () => {
    const s3Events = captured.default.filter((e) => e.source === 'aws.s3');
    expect(s3Events.length).toBe(cases.filter((c) => c.name.startsWith('s3://')).length);
    for (const e of s3Events) {
      const parsed = S3EventNotificationEventBridgeSchema.safeParse(e);
      expect({ key: e.detail.object.key, issues: parsed.success ? [] : parsed.error.issues }).toEqual({ key: e.detail.object.key, issues: [] });
      expect(e).toMatchObject({ 'detail-type': 'Object Created', resources: [`arn:aws:s3:::${e.detail.bucket.name}`] });
    }
  });
});

/** The event of a case as its bus delivered it (the catch-all rule's copy). */
function delivered(c: Case): Delivered {
  const event = captured[c.bus].find((e) => caseOf(e) === c.name);
  if (!event) throw new Error(`${c.name} was never delivered on the ${c.bus} bus`);
  return event;
}
