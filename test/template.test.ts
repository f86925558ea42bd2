/**
 * The packaged CloudFormation, not only the code: `osls package` runs offline for dev and prod,
 * and the templates and zips it writes are checked against the TypeScript that defines the
 * routes (patterns.ts), the environment the AWS composition root reads (aws.ts) and the dataset
 * layout (config.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { settingsFromEnv } from '../shared/composition/aws.js';
import { assertScheduleMatches } from '../shared/domain/chargebacks.js';
import { ADDRESSABLE, INFOBASE } from '../shared/domain/config.js';
import { renderAthenaStep } from '../shared/domain/athena-sql.js';
import { buildStepsFor } from '../shared/domain/build-steps.js';
import { routes, SCHEDULES, type Route } from '../shared/events/patterns.js';
import { readZip } from './support/zip.js';
import { packaged as packageOnce, PROD_EMAILS, root, runOsls, type Packaged, type Stage } from './support/packaged.js';

type Json = any; // CloudFormation is untyped JSON; the assertions say what each part must be.

const packaged = {} as Record<Stage, Packaged>;
const workDirs: string[] = [];

beforeAll(() => {
  // one after the other: both use the service's .esbuild work folder (test/support/packaged.ts locks it across workers)
  packaged.dev = packageOnce('dev');
  packaged.prod = packageOnce('prod');
}, 600_000);

afterAll(() => {
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
});

const resources = (t: Json): Record<string, Json> => t.Resources;
const ofType = (t: Json, type: string): Array<[string, Json]> => Object.entries(resources(t)).filter(([, r]) => r.Type === type);
const one = (t: Json, type: string): Json => {
  const found = ofType(t, type);
  expect(found).toHaveLength(1);
  return found[0]![1];
};
const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** The functions, by the name patterns.ts routes to, with the folder of their handler. */
const FUNCTIONS = {
  snapshotTrigger: 'snapshot-trigger',
  registerStagedTables: 'register-staged-tables',
  bucketedTables: 'bucketed-tables',
  dataMonitor: 'data-monitor',
  replay: 'replay',
  reconciler: 'reconciler',
  compaction: 'compaction',
  chargebacks: 'chargebacks',
  cleanroomsReport: 'cleanrooms-report',
} as const;
const logicalId = (fn: string) => `${fn[0]!.toUpperCase()}${fn.slice(1)}LambdaFunction`;

/** The environment variables aws.ts requires: settingsFromEnv names the first one missing, until none is. */
function variablesAwsTsRequires(): string[] {
  const env: NodeJS.ProcessEnv = {};
  for (;;) {
    try {
      settingsFromEnv(env);
      return Object.keys(env).sort();
    } catch (e) {
      const missing = /environment variable (\w+) is not set/.exec(String(e))?.[1];
      if (!missing || missing in env) throw e;
      env[missing] = 'x';
    }
  }
}

describe.each(['dev', 'prod'] as const)('packaged %s stack', (stage) => {
  const t = () => packaged[stage].template;

  test('arm64 nodejs24.x functions, each with the environment aws.ts requires, bound to this stack', () => {
    const wanted = variablesAwsTsRequires();
    expect(wanted).toEqual(
      expect.arrayContaining(['ALERT_TOPIC_ARN', 'ANALYSIS_BUCKET', 'ATHENA_WORKGROUP', 'DATA_BUCKET', 'EVENT_BUS_NAME', 'GLUE_DATABASE', 'SPLIT_JOB_NAME']),
    );
    expect(ofType(t(), 'AWS::Lambda::Function')).toHaveLength(Object.keys(FUNCTIONS).length);
    for (const [fn, folder] of Object.entries(FUNCTIONS)) {
      const f = resources(t())[logicalId(fn)];
      expect(f.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], MemorySize: 512, Handler: `services/${folder}/handler.handler` });
      const vars = f.Properties.Environment.Variables;
      expect(Object.keys(vars)).toEqual(expect.arrayContaining([...wanted, 'POWERTOOLS_SERVICE_NAME']));
      expect(vars).toMatchObject({
        DATA_BUCKET: { Ref: 'DataBucket' },
        ANALYSIS_BUCKET: { Ref: 'AnalysisBucket' },
        GLUE_DATABASE: { Ref: 'GlueDatabase' },
        SPLIT_JOB_NAME: { Ref: 'SplitJob' },
        ATHENA_WORKGROUP: { Ref: 'AthenaWorkGroup' },
        EVENT_BUS_NAME: { 'Fn::GetAtt': ['ProjectEventBus', 'Name'] },
        ALERT_TOPIC_ARN: { Ref: 'AlertTopic' },
      });
      // Its own role (shared/composition/serverless-function-roles.cjs); test/iam.test.ts proves what it holds.
      expect(f.Properties.Role).toEqual({ 'Fn::GetAtt': [`${fn[0]!.toUpperCase()}${fn.slice(1)}IamRoleLambdaExecution`, 'Arn'] });
    }
    expect(resources(t()).SnapshotTriggerLambdaFunction.Properties.Timeout).toBe(300);
    expect(resources(t()).BucketedTablesLambdaFunction.Properties.Timeout).toBe(120);
  });

  test('every route of patterns.ts is one rule with exactly its pattern, on its bus, invoking its function', () => {
    const r = resources(t());
    // Route params from the resources the template creates and the dataset layout the code uses.
    const expected = routes({
      dataBucket: r.DataBucket.Properties.BucketName,
      athenaWorkgroup: r.AthenaWorkGroup.Properties.Name,
      monitorWorkgroup: r.MonitorWorkGroup.Properties.Name,
      datasets: [
        {
          rawPrefix: INFOBASE.rawPrefix,
          readyMarker: INFOBASE.readyMarker,
          splitJobName: r.SplitJob.Properties.Name,
          compactionPrefix: INFOBASE.compaction!.sourcePrefix,
        },
        {
          rawPrefix: ADDRESSABLE.rawPrefix,
          readyMarker: ADDRESSABLE.readyMarker,
          splitJobName: r.AddressableJob.Properties.Name,
          compactionPrefix: ADDRESSABLE.compaction!.sourcePrefix,
        },
      ],
      compactionJobName: r.CompactionJob.Properties.Name,
      chargebacksJobName: r.ChargebacksJob.Properties.Name,
    });
    expect(r.DataBucket.Properties.BucketName).toBe(`flywheel-${stage}-data-us-east-1`);
    const patternRules = ofType(t(), 'AWS::Events::Rule').filter(([, rule]) => rule.Properties.EventPattern);
    expect(patternRules).toHaveLength(expected.length);
    for (const route of expected) {
      const matching = patternRules.filter(([, rule]) => isDeepStrictEqual(rule.Properties.EventPattern, route.pattern));
      expect(matching.map(([, rule]) => rule.Properties.Name)).toEqual([`flywheel-${stage}-${route.name}`]);
      const rule = matching[0]![1].Properties;
      expect(rule.State).toBe('ENABLED');
      expect(rule.Targets).toEqual([expect.objectContaining({ Arn: { 'Fn::GetAtt': [logicalId(route.fn), 'Arn'] } })]);
      expect(rule.EventBusName).toEqual(busOf(route));
    }
    // The AWS service events (S3, Glue, Athena) only ever arrive on the default bus.
    const onDefault = expected.filter((route) => route.bus === 'default').map((route) => route.pattern.source);
    expect(onDefault).toEqual([['aws.s3'], ['aws.s3'], ['aws.glue'], ['aws.glue'], ['aws.glue'], ['aws.athena'], ['aws.athena']]);
  });

  test('the project bus has an archive; the daily discovery schedule follows the stage; the monitor runs daily', () => {
    const bus = one(t(), 'AWS::Events::EventBus');
    expect(bus.Properties.Name).toBe(`flywheel-${stage}`);
    const archive = one(t(), 'AWS::Events::Archive');
    expect(archive.Properties).toMatchObject({ SourceArn: { 'Fn::GetAtt': ['ProjectEventBus', 'Arn'] }, RetentionDays: 90 });
    const schedules = ofType(t(), 'AWS::Events::Rule').filter(([, rule]) => rule.Properties.ScheduleExpression);
    expect(
      schedules.map(([, rule]) => [
        rule.Properties.ScheduleExpression,
        rule.Properties.State,
        rule.Properties.EventBusName,
        rule.Properties.Targets[0].Arn['Fn::GetAtt'][0],
      ]),
    ).toEqual([
      ['cron(0 6 * * ? *)', stage === 'prod' ? 'ENABLED' : 'DISABLED', undefined, 'SnapshotTriggerLambdaFunction'],
      ['rate(15 minutes)', 'ENABLED', undefined, 'ReconcilerLambdaFunction'],
      ['cron(0 7 * * ? *)', 'ENABLED', undefined, 'DataMonitorLambdaFunction'],
      ['cron(30 0,6,12,18 * * ? *)', 'ENABLED', undefined, 'ChargebacksLambdaFunction'],
      ['cron(0 8 * * ? *)', 'ENABLED', undefined, 'CleanroomsReportLambdaFunction'],
    ]);
    // the schedules the local bus routes by (patterns.ts SCHEDULES) are these rules, by name and rate
    for (const s of SCHEDULES.filter((x) => x.fn in FUNCTIONS)) {
      const rule = schedules.find(([, r]) => r.Properties.Name === `flywheel-${stage}-${s.name}`)?.[1];
      expect([s.name, rule?.Properties.ScheduleExpression, rule?.Properties.Targets[0].Arn['Fn::GetAtt'][0]]).toEqual([s.name, s.rate, logicalId(s.fn)]);
    }
  });

  test.each([
    ['SplitJob', 'infobase-split-and-bucket'],
    ['AddressableJob', 'addressable-bucket'],
  ])('the %s: Glue 5.0 running glue-scripts/ from the data bucket, sized by the stage, on a role of its own', (id, name) => {
    expect(ofType(t(), 'AWS::Glue::Job')).toHaveLength(4);
    const job = resources(t())[id].Properties;
    expect(job).toMatchObject({
      Name: `flywheel-${stage}-${name}`,
      GlueVersion: '5.0',
      Command: { Name: 'glueetl', ScriptLocation: { 'Fn::Sub': 's3://${DataBucket}/glue-scripts/split_and_bucket.py' } },
      DefaultArguments: {
        '--job-language': 'python',
        '--extra-py-files': { 'Fn::Sub': 's3://${DataBucket}/glue-scripts/flywheel_split.py' },
        '--enable-continuous-cloudwatch-log': 'true',
      },
      MaxRetries: 0,
      ExecutionProperty: { MaxConcurrentRuns: 4 },
      Role: { 'Fn::GetAtt': [`${id}Role`, 'Arn'] },
    });
    expect(job.DefaultArguments).toHaveProperty(['--enable-metrics']);
    // What the job loads from s3://<data bucket>/glue-scripts/ is what deploy:scripts uploads from here.
    for (const uri of [job.Command.ScriptLocation['Fn::Sub'], job.DefaultArguments['--extra-py-files']['Fn::Sub']] as string[]) {
      expect(existsSync(path.join(root, uri.slice(uri.indexOf('glue-scripts/'))))).toBe(true);
    }
    expect([job.WorkerType, job.NumberOfWorkers, job.Timeout]).toEqual(stage === 'prod' ? ['G.4X', 24, 600] : ['G.1X', 4, 120]);
    expect(one(t(), 'AWS::Glue::Database').Properties.DatabaseInput.Name).toBe(`flywheel_${stage}`);
  });

  test('compaction and chargebacks: their Glue jobs share flywheel_compaction.py; crawlers on the raw inputs with the current prefixes', () => {
    const r = resources(t());
    const sub = (v: Json) => String(v['Fn::Sub']);
    expect(r.CompactionJob.Properties.Name).toBe(`flywheel-${stage}-compaction`);
    expect(sub(r.CompactionJob.Properties.Command.ScriptLocation)).toMatch(/glue-scripts\/compact_raw\.py$/);
    expect(sub(r.ChargebacksJob.Properties.Command.ScriptLocation)).toMatch(/glue-scripts\/consolidate_chargebacks\.py$/);
    for (const job of [r.CompactionJob, r.ChargebacksJob]) {
      const files = sub(job.Properties.DefaultArguments['--extra-py-files']).split(',');
      expect(files.some((f) => f.endsWith('glue-scripts/flywheel_compaction.py'))).toBe(true);
      for (const uri of [sub(job.Properties.Command.ScriptLocation), ...files])
        expect(existsSync(path.join(root, uri.slice(uri.indexOf('glue-scripts/'))))).toBe(true);
    }
    const crawlers = Object.fromEntries(ofType(t(), 'AWS::Glue::Crawler').map(([id, c]) => [id, c.Properties]));
    expect(Object.keys(crawlers).sort()).toEqual([
      'AddressableCompactedCrawler',
      'AddressableRawCrawler',
      'ChargebacksLandingCrawler',
      'InfobaseCompactedCrawler',
      'InfobaseRawCrawler',
    ]);
    // the current infrastructure's two …_compaction_cr crawlers: over the compacted inputs the splits read
    expect([crawlers.InfobaseCompactedCrawler.Name, crawlers.AddressableCompactedCrawler.Name]).toEqual([
      expect.stringMatching(/^flywheel-\w+-infobase-attributes-compaction$/),
      expect.stringMatching(/^flywheel-\w+-addressable-ids-compaction$/),
    ]);
    expect(sub(crawlers.InfobaseCompactedCrawler.Targets.S3Targets[0].Path)).toMatch(new RegExp(`${INFOBASE.rawPrefix}$`));
    expect(sub(crawlers.AddressableCompactedCrawler.Targets.S3Targets[0].Path)).toMatch(new RegExp(`${ADDRESSABLE.rawPrefix}$`));
    expect([crawlers.InfobaseCompactedCrawler.Schedule, crawlers.AddressableCompactedCrawler.Schedule]).toEqual([undefined, undefined]);
    expect([crawlers.InfobaseRawCrawler.TablePrefix, crawlers.AddressableRawCrawler.TablePrefix]).toEqual(['infobase_attributes_', 'addressable_']);
    expect(sub(crawlers.InfobaseRawCrawler.Targets.S3Targets[0].Path)).toContain(INFOBASE.compaction!.sourcePrefix);
    expect(sub(crawlers.AddressableRawCrawler.Targets.S3Targets[0].Path)).toContain(ADDRESSABLE.compaction!.sourcePrefix);
    for (const c of Object.values(crawlers)) expect(c.SchemaChangePolicy).toEqual({ UpdateBehavior: 'UPDATE_IN_DATABASE', DeleteBehavior: 'LOG' });
    // no stage waits for a crawler: the raw crawlers have no schedule and no function may start one
    expect([crawlers.InfobaseRawCrawler.Schedule, crawlers.AddressableRawCrawler.Schedule]).toEqual([undefined, undefined]);
    expect(JSON.stringify(Object.values(FUNCTIONS).length && ofType(t(), 'AWS::IAM::Role').map(([, role]) => role.Properties.Policies))).not.toContain(
      'glue:StartCrawler',
    );
    const env = (fn: string) => r[logicalId(fn)].Properties.Environment.Variables;
    expect(env('compaction')).toMatchObject({ COMPACTION_JOB_NAME: { Ref: 'CompactionJob' }, COMPACTION_DATASETS: 'infobase,addressable' });
    // the file sizes are stage parameters every function reads (the compaction job's default argument is the same one)
    for (const fn of Object.keys(FUNCTIONS))
      expect(env(fn)).toMatchObject({ SPLIT_TARGET_FILE_MB: '512', COMPACTION_TARGET_FILE_MB: '256', BUCKET_COUNT: '256' });
    expect(env('chargebacks')).toMatchObject({
      CHARGEBACKS_JOB_NAME: { Ref: 'ChargebacksJob' },
      CHARGEBACKS_SOURCE_TABLE: 'landing_chargebacks',
      CHARGEBACKS_TOTAL_EXECUTIONS: '4',
    });
  });

  test("chargebacks: TOTAL_EXECUTIONS, the schedule (agreeing with it), and the job's worker type and count are stage parameters", () => {
    const r = resources(t());
    const job = r.ChargebacksJob.Properties;
    expect([job.WorkerType, job.NumberOfWorkers]).toEqual(stage === 'prod' ? ['G.1X', 10] : ['G.1X', 4]);
    const total = Number(r.ChargebacksLambdaFunction.Properties.Environment.Variables.CHARGEBACKS_TOTAL_EXECUTIONS);
    expect(total).toBe(4);
    const rule = ofType(t(), 'AWS::Events::Rule').find(([, x]) => x.Properties.Name === `flywheel-${stage}-chargebacks`)![1].Properties;
    expect(assertScheduleMatches(rule.ScheduleExpression, total)).toBe('cron(30 0,6,12,18 * * ? *)');
    expect(rule.Description).toBe('Chargebacks consolidation, 4 executions a day (the 1st covers the previous day)');
  });

  test('alerts: a topic under the project KMS key, published only by this stack, one e-mail subscription per address', () => {
    expect(one(t(), 'AWS::SNS::Topic').Properties.KmsMasterKeyId).toEqual({ Ref: 'AlertKey' });
    expect(resources(t()).AlertKey.Properties.EnableKeyRotation).toBe(true);
    const statements = one(t(), 'AWS::SNS::TopicPolicy').Properties.PolicyDocument.Statement;
    expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Principal: '*', Action: 'sns:Publish' }));
    expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish' }));
    const subscriptions = ofType(t(), 'AWS::SNS::Subscription').map(([, s]) => s.Properties);
    expect(subscriptions.every((s) => s.Protocol === 'email' && isDeepStrictEqual(s.TopicArn, { Ref: 'AlertTopic' }))).toBe(true);
    expect(subscriptions.map((s) => s.Endpoint).sort()).toEqual(stage === 'prod' ? PROD_EMAILS : ['data-team@example.com']);
  });

  test('failures land somewhere: retries, a dead-letter queue per function, an alarm on each and on the split job', () => {
    const r = resources(t());
    for (const fn of Object.keys(FUNCTIONS)) {
      const queue = `${fn[0]!.toUpperCase()}${fn.slice(1)}DeadLetterQueue`;
      expect(r[queue]).toMatchObject({ Type: 'AWS::SQS::Queue', Properties: { SqsManagedSseEnabled: true } });
      const config = ofType(t(), 'AWS::Lambda::EventInvokeConfig').find(([, c]) => isDeepStrictEqual(c.Properties.FunctionName, { Ref: logicalId(fn) }));
      expect(config?.[1].Properties).toMatchObject({
        MaximumRetryAttempts: 2,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queue, 'Arn'] } } },
      });
      const alarm = ofType(t(), 'AWS::CloudWatch::Alarm').find(([, a]) =>
        isDeepStrictEqual(a.Properties.Dimensions[0].Value, { 'Fn::GetAtt': [queue, 'QueueName'] }),
      );
      expect(alarm?.[1].Properties.AlarmActions).toEqual([{ Ref: 'AlertTopic' }]);
    }
    for (const [, rule] of ofType(t(), 'AWS::Events::Rule').filter(([, x]) => x.Properties.EventPattern)) {
      const target = rule.Properties.Targets[0];
      expect(target.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 20 });
      expect(target.DeadLetterConfig.Arn['Fn::GetAtt'][0]).toMatch(/DeadLetterQueue$/);
    }
    expect(ofType(t(), 'AWS::CloudWatch::Alarm').find(([, a]) => a.Properties.Namespace === 'Glue')?.[1].Properties).toMatchObject({
      MetricName: 'glue.driver.aggregate.numFailedTasks',
      Dimensions: expect.arrayContaining([{ Name: 'JobName', Value: { Ref: 'SplitJob' } }]),
      AlarmActions: [{ Ref: 'AlertTopic' }],
    });
  });

  test('the Athena workgroups (builds, monitor) have a results location and a per-query scan limit; the monitor enforces its own, builds may name table folders', () => {
    const groups = ofType(t(), 'AWS::Athena::WorkGroup');
    expect(groups.map(([, g]) => g.Properties.Name)).toEqual([`flywheel-${stage}`, `flywheel-${stage}-monitor`]);
    // Athena fails a CTAS with external_location in a workgroup that enforces its settings (workgroups-troubleshooting);
    // every build step's CTAS names one, so the builds workgroup must not enforce (test/aws-shape runs this on Trino)
    const ctas = renderAthenaStep(
      buildStepsFor({
        database: 'db',
        table: 't',
        extTable: 'ext_t',
        partStaging: 'part_t__r1',
        columns: [{ name: 'customer_user_id', type: 'string' }],
        partLocation: 's3://data/part_t/',
        bucketCount: 256,
        partitionsPerQuery: 100,
      })[0]!,
    );
    expect(ctas).toMatch(/external_location = /);
    expect(groups.map(([, g]) => g.Properties.WorkGroupConfiguration.EnforceWorkGroupConfiguration)).toEqual([false, true]);
    for (const [, g] of groups) {
      expect(g.Properties.WorkGroupConfiguration).toMatchObject({
        PublishCloudWatchMetricsEnabled: true,
        BytesScannedCutoffPerQuery: stage === 'prod' ? 1024 ** 4 : 100 * 1024 ** 3,
      });
      expect(g.Properties.WorkGroupConfiguration.ResultConfiguration.OutputLocation['Fn::Sub']).toMatch(/^s3:\/\/\$\{AnalysisBucket\}\/athena-results\//);
    }
    const rules = resources(t()).AnalysisBucket.Properties.LifecycleConfiguration.Rules;
    expect(rules).toContainEqual(expect.objectContaining({ Prefix: 'athena-results/', ExpirationInDays: 7, Status: 'Enabled' }));
  });

  test('buckets: private, encrypted, TLS-only; the data bucket sends its events to EventBridge', () => {
    const r = resources(t());
    expect(packaged[stage].template.Conditions.EncryptWithProjectKey).toEqual({ 'Fn::Equals': ['SSE-KMS', 'SSE-KMS'] });
    expect(r.DataKey.Properties.EnableKeyRotation).toBe(true);
    expect(r.DataBucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    for (const name of ['DataBucket', 'AnalysisBucket', 'ServerlessDeploymentBucket']) {
      const props = r[name].Properties;
      expect(props.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      const rule = props.BucketEncryption.ServerSideEncryptionConfiguration[0];
      if (name === 'ServerlessDeploymentBucket') expect(rule.ServerSideEncryptionByDefault.SSEAlgorithm).toBeDefined();
      else {
        // SSE-KMS under the project key, or SSE-S3 when the stage parameter says so
        expect(rule['Fn::If'][0]).toBe('EncryptWithProjectKey');
        expect(rule['Fn::If'][1].ServerSideEncryptionByDefault).toEqual({ SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': ['DataKey', 'Arn'] } });
        expect(rule['Fn::If'][2].ServerSideEncryptionByDefault).toEqual({ SSEAlgorithm: 'AES256' });
      }
      const policy = ofType(t(), 'AWS::S3::BucketPolicy').find(([, p]) => isDeepStrictEqual(p.Properties.Bucket, { Ref: name }));
      expect(policy?.[1].Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': false } } }),
      );
    }
    expect(r.DataBucket.Properties.NotificationConfiguration).toEqual({ EventBridgeConfiguration: { EventBridgeEnabled: true } });
    expect(r.DataBucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
  });

  test('IAM: no wildcard action, no Resource "*" (except where AWS requires it: Glue PutMetricData held to its namespace, X-Ray segments)', () => {
    const statements: Array<{ where: string; s: Json }> = [];
    for (const [id, res] of Object.entries(resources(t()))) {
      const docs: Json[] =
        res.Type === 'AWS::IAM::Role'
          ? (res.Properties.Policies ?? []).map((p: Json) => p.PolicyDocument)
          : ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::S3::BucketPolicy'].includes(res.Type)
            ? [res.Properties.PolicyDocument]
            : [];
      for (const doc of docs) for (const s of asList(doc.Statement)) statements.push({ where: id, s });
      if (res.Type === 'AWS::IAM::Role') expect(res.Properties.ManagedPolicyArns ?? []).toEqual([]);
    }
    const allows = statements.filter(({ s }) => s.Effect === 'Allow');
    expect(allows.length).toBeGreaterThan(10);
    for (const { where, s } of allows) {
      for (const action of asList<string>(s.Action)) expect({ where, action, wildcard: action.includes('*') }).toEqual({ where, action, wildcard: false });
      expect(s.NotAction).toBeUndefined();
      expect(s.NotResource).toBeUndefined();
      if (asList(s.Resource).includes('*')) {
        // X-Ray's PutTraceSegments/PutTelemetryRecords have no resource-level permissions: AWS requires "*"
        const xray = isDeepStrictEqual([...asList<string>(s.Action)].sort(), ['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
        // Clean Rooms / Entity Resolution List calls have no resource-level permissions
        const lists = asList<string>(s.Action).every((a) => /^(cleanrooms|entityresolution):List[A-Za-z]+$/.test(a));
        if (!xray && !lists)
          expect({ where, s }).toEqual({
            where,
            s: expect.objectContaining({ Action: 'cloudwatch:PutMetricData', Condition: { StringEquals: { 'cloudwatch:namespace': 'Glue' } } }),
          });
      }
    }
  });

  test('log groups keep the stage retention', () => {
    const groups = ofType(t(), 'AWS::Logs::LogGroup');
    expect(groups).toHaveLength(Object.keys(FUNCTIONS).length);
    for (const [, g] of groups) expect(g.Properties.RetentionInDays).toBe(stage === 'prod' ? 90 : 14);
  });

  test('each zip is one small ESM bundle without DuckDB', () => {
    for (const [fn, folder] of Object.entries(FUNCTIONS)) {
      const zip = path.join(packaged[stage].dir, `${fn}.zip`);
      expect(statSync(zip).size).toBeLessThan(1024 * 1024);
      const entries = readZip(readFileSync(zip));
      expect(entries.map((e) => e.name)).toEqual([`services/${folder}/handler.mjs`]);
      const code = entries[0]!.data.toString('utf8');
      // The DuckDB module (or the local adapters that import it) would show up as these names.
      expect(code).not.toMatch(/@duckdb\/|DuckDB(Instance|Connection)|node-api\.node/);
      expect(code).toContain('createRequire'); // the banner CommonJS dependencies rely on
      expect(entries[0]!.data.length).toBeLessThan(1_000_000); // issue #6: ≤ 1 MB minified
    }
  });

  test('each bundle runs: it loads, and rejects an invalid event with English zod messages (zod reduced to its en locale)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'flywheel-bundles-'));
    workDirs.push(dir);
    const runner = path.join(dir, 'run.mjs');
    writeFileSync(
      runner,
      "const { handler } = await import(process.argv[2]);\nawait handler({ bogus: 1 }, { functionName: 'f', awsRequestId: 'r', getRemainingTimeInMillis: () => 1000 });\n",
    );
    // every variable a composition root reads; AWS calls (the alert) go to a closed local port and fail fast
    const env = {
      PATH: process.env.PATH,
      ...Object.fromEntries(variablesAwsTsRequires().map((v) => [v, v === 'ALERT_TOPIC_ARN' ? 'arn:aws:sns:us-east-1:111122223333:t' : 'x'])),
      GLUE_DATABASE: 'g',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'y',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      AWS_MAX_ATTEMPTS: '1',
      CLEANROOMS_MEMBERSHIP_ID: 'm',
    };
    for (const [fn] of Object.entries(FUNCTIONS)) {
      const [entry] = readZip(readFileSync(path.join(packaged[stage].dir, `${fn}.zip`)));
      const file = path.join(dir, `${fn}.mjs`);
      writeFileSync(file, entry!.data);
      const run = spawnSync(process.execPath, [runner, file], { env, encoding: 'utf8', timeout: 20_000 });
      expect({ fn, status: run.status }).toEqual({ fn, status: 0 });
      const logs = `${run.stdout}${run.stderr}`; // Powertools writes ERROR lines to stderr
      expect({ fn, rejected: /"invalid event rejected"/.test(logs), english: /Invalid input|Unrecognized key/.test(logs) }).toEqual({
        fn,
        rejected: true,
        english: true,
      });
    }
  });
});

test('the chargebacks schedule is checked against TOTAL_EXECUTIONS while packaging (serverless-chargebacks.cjs)', () => {
  const schedule = (params: Record<string, string>) =>
    execFileSync(
      process.execPath,
      [
        '-e',
        `require('./shared/composition/serverless-chargebacks.cjs').schedule({ resolveVariable: async (v) => (${JSON.stringify(params)})[v.slice('param:'.length)] })` +
          '.then((s) => process.stdout.write(s), (e) => process.stdout.write(`ERROR ${e.message}`))',
      ],
      { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } },
    );
  expect(schedule({ chargebacksSchedule: 'cron(30 0,6,12,18 * * ? *)', chargebacksTotalExecutions: '4' })).toBe('cron(30 0,6,12,18 * * ? *)');
  expect(schedule({ chargebacksSchedule: 'cron(30 * * * ? *)', chargebacksTotalExecutions: '24' })).toBe('cron(30 * * * ? *)');
  expect(schedule({ chargebacksSchedule: 'cron(30 0,6,12,18 * * ? *)', chargebacksTotalExecutions: '6' })).toMatch(
    /^ERROR the chargebacks schedule cron\(30 0,6,12,18 \* \* \? \*\) does not agree with TOTAL_EXECUTIONS=6/,
  );
  // and osls stops on it: a stage whose parameters disagree does not package
  const dir = mkdtempSync(path.join(tmpdir(), 'flywheel-chargebacks-schedule-'));
  workDirs.push(dir);
  expect(() => runOsls(['package', '--stage', 'dev', '--package', dir, '--param=chargebacksTotalExecutions=6'])).toThrow(
    /does not agree with TOTAL_EXECUTIONS=6/,
  );
});

test('the bucket count is checked while packaging (serverless-settings.cjs): a power of two from 2 to 256', () => {
  const bucketCount = (value: string) =>
    execFileSync(
      process.execPath,
      [
        '-e',
        `require('./shared/composition/serverless-settings.cjs').bucketCount({ resolveVariable: async () => ${JSON.stringify(value)} })` +
          '.then((s) => process.stdout.write(s), (e) => process.stdout.write(`ERROR ${e.message}`))',
      ],
      { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } },
    );
  for (const good of ['2', '16', '256']) expect(bucketCount(good)).toBe(good);
  for (const bad of ['0', '1', '100', '512', 'many'])
    expect(bucketCount(bad)).toMatch(/^ERROR stage parameter bucketCount must be a power of two from 2 to 256 \(2, 4, 8, 16, 32, 64, 128, 256\)/);
  const dir = mkdtempSync(path.join(tmpdir(), 'flywheel-bucket-count-'));
  workDirs.push(dir);
  expect(() => runOsls(['package', '--stage', 'dev', '--package', dir, '--param=bucketCount=100'])).toThrow(
    /stage parameter bucketCount must be a power of two/,
  );
});

test('prod packages only with explicit alert recipients', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'flywheel-prod-noalerts-'));
  workDirs.push(dir);
  expect(() => runOsls(['package', '--stage', 'prod', '--package', dir])).toThrow(/alertEmails is not set for stage prod/);
});

test('prod and dev define the same resources; stage-independent ones are identical but for the stage name', () => {
  const neutral = (t: Json): Record<string, Json> =>
    JSON.parse(
      JSON.stringify(t.Resources)
        .replace(/([Ff]lywheel[-_ ]?)(dev|prod)/g, '$1STAGE')
        .replace(/"(dev|prod)"/g, '"STAGE"'),
    );
  const [dev, prod] = [neutral(packaged.dev.template), neutral(packaged.prod.template)];
  const ids = (r: Record<string, Json>) =>
    Object.keys(r)
      .filter((k) => !k.startsWith('AlertSubscription'))
      .sort();
  expect(ids(prod)).toEqual(ids(dev));
  for (const id of [
    'DataBucket',
    'AnalysisBucket',
    'GlueDatabase',
    'SplitJobRole',
    'AddressableJobRole',
    'CompactionJobRole',
    'ChargebacksJobRole',
    'ProjectEventBus',
    'ProjectEventBusArchive',
    'AlertTopic',
  ]) {
    expect(prod[id]).toEqual(dev[id]);
  }
  for (const fn of Object.keys(FUNCTIONS)) {
    const role = `${fn[0]!.toUpperCase()}${fn.slice(1)}IamRoleLambdaExecution`;
    expect(prod[role]).toEqual(dev[role]); // the same permissions in every stage
  }
  expect(prod.SplitJob).not.toEqual(dev.SplitJob); // sized per stage (checked above)
});

function busOf(route: Route): unknown {
  return route.bus === 'project' ? { 'Fn::GetAtt': ['ProjectEventBus', 'Name'] } : undefined;
}
