/**
 * Adopting existing resources (issue 18, shared/composition/serverless-adopt.cjs): the package made with
 * existingDataBucket, existingAnalysisBucket and existingGlueDatabase creates none of them, names them wherever the
 * created ones were named (IAM, environment, routes, jobs, crawlers, workgroups), and turns on the adopted data
 * bucket's EventBridge delivery with a custom resource; the package without them has none of that.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FUNCTION_REACH } from '../shared/composition/function-reach.js';
import type { FunctionName } from '../shared/events/patterns.js';
import { checkRole, functionRequests, jobRequests, Stack } from './iam/check.js';
import { resolveIntrinsics, type Template } from './support/cfn-resolve.js';
import { ADOPTED, packaged } from './support/packaged.js';
import { readZip } from './support/zip.js';

type Json = any; // CloudFormation is untyped JSON; the assertions say what each part must be.

const adopt = createRequire(import.meta.url)('../shared/composition/serverless-adopt.cjs');
const FUNCTIONS = Object.keys(FUNCTION_REACH) as FunctionName[];
const cap = (s: string) => `${s[0]!.toUpperCase()}${s.slice(1)}`;
const REMOVED = ['DataBucket', 'DataBucketPolicy', 'AnalysisBucket', 'AnalysisBucketPolicy', 'GlueDatabase'];
const NOTIFICATION = ['BucketEventBridgeLambdaFunction', 'BucketEventBridgeLogGroup', 'BucketEventBridgeIamRoleLambdaExecution', 'DataBucketEventBridge'];

let created: Template;
let adopting: Template;
beforeAll(() => {
  created = packaged('dev').template;
  adopting = packaged('dev', 'adopt').template;
}, 600_000);

const ofType = (t: Template, type: string) => Object.entries(t.Resources).filter(([, r]) => r?.Type === type);

describe('the package adopting an existing data bucket, analysis bucket and Glue database', () => {
  test('creates none of them (nor their bucket policies), and every other resource keeps its logical id', () => {
    const ids = (t: Template) => Object.keys(t.Resources).sort();
    expect(ids(adopting)).toEqual([...ids(created).filter((id) => !REMOVED.includes(id)), ...NOTIFICATION].sort());
    expect(ofType(adopting, 'AWS::S3::Bucket').map(([id]) => id)).toEqual(['ServerlessDeploymentBucket']);
    expect(ofType(adopting, 'AWS::Glue::Database')).toEqual([]);
  });

  test('no reference to a resource it adopts is left, and the whole template resolves', () => {
    const text = JSON.stringify({ ...adopting, Outputs: adopting.Outputs });
    for (const id of ['DataBucket', 'AnalysisBucket', 'GlueDatabase']) {
      expect({ id, ref: text.includes(`{"Ref":"${id}"}`) }).toEqual({ id, ref: false });
      expect({ id, getAtt: text.includes(`"Fn::GetAtt":["${id}"`) }).toEqual({ id, getAtt: false });
      expect({ id, sub: new RegExp(`\\$\\{${id}[.}]`).test(text) }).toEqual({ id, sub: false });
    }
    expect(() => resolveIntrinsics(adopting, { Resources: adopting.Resources, Outputs: adopting.Outputs ?? {} })).not.toThrow();
  });

  test('every policy, environment, route, job, crawler and workgroup names the adopted resources where the created ones were named', () => {
    const resolved = (t: Template) => resolveIntrinsics(t, t.Resources, { stackName: 'flywheel-dev' }) as Record<string, Json>;
    const c = resolved(created);
    // the created names, as the same resolver gives them, become the adopted ones
    const names: Array<[string, string]> = [
      [c.AnalysisBucket.Properties.BucketName, ADOPTED.analysisBucket],
      [c.DataBucket.Properties.BucketName, ADOPTED.dataBucket],
      [c.GlueDatabase.Properties.DatabaseInput.Name, ADOPTED.glueDatabase],
    ];
    const renamed = (v: Json) => JSON.parse(names.reduce((s, [from, to]) => s.split(from).join(to), JSON.stringify(v)));
    const a = resolved(adopting);
    const compared: Record<string, (r: Json) => Json> = {
      'AWS::IAM::Role': (r) => r.Properties.Policies,
      'AWS::Lambda::Function': (r) => r.Properties.Environment,
      'AWS::Events::Rule': (r) => r.Properties.EventPattern ?? null,
      'AWS::Glue::Job': (r) => r.Properties,
      'AWS::Glue::Crawler': (r) => r.Properties,
      'AWS::Athena::WorkGroup': (r) => r.Properties,
    };
    let count = 0;
    for (const [id, r] of Object.entries(c)) {
      const part = compared[r.Type];
      if (!part) continue;
      expect({ id, value: part(a[id]) }).toEqual({ id, value: renamed(part(r)) });
      count++;
    }
    expect(count).toBeGreaterThan(40);
    // and no created name is left anywhere
    const text = JSON.stringify(a);
    for (const [from] of names) expect({ from, left: text.includes(from) }).toEqual({ from, left: false });
    expect(resolveIntrinsics(adopting, adopting.Outputs ?? {})).toMatchObject({
      DataBucketName: { Value: ADOPTED.dataBucket },
      AnalysisBucketName: { Value: ADOPTED.analysisBucket },
    });
  });

  test("the adopted data bucket's EventBridge delivery is the custom resource's, whose function may only read and write that bucket's notifications", () => {
    const r = adopting.Resources as Record<string, Json>;
    expect(r.DataBucketEventBridge).toEqual({
      Type: 'Custom::BucketEventBridge',
      Properties: { ServiceToken: { 'Fn::GetAtt': ['BucketEventBridgeLambdaFunction', 'Arn'] }, BucketName: ADOPTED.dataBucket },
    });
    expect(r.BucketEventBridgeLambdaFunction.Properties.Handler).toBe('services/bucket-event-bridge/handler.handler');
    const stack = new Stack(adopting, 'dev');
    const { statements } = stack.role('BucketEventBridgeIamRoleLambdaExecution');
    const own = statements.filter((s: Json) => !['OwnLogGroup', 'XRayTraces'].includes(s.Sid));
    expect(own).toEqual([
      {
        Sid: 'BucketNotifications',
        Effect: 'Allow',
        Action: ['s3:GetBucketNotification', 's3:PutBucketNotification'],
        Resource: `arn:aws:s3:::${ADOPTED.dataBucket}`,
      },
    ]);
    // invoked by CloudFormation alone: no schedule, no rule, no asynchronous retries
    const targets = JSON.stringify(ofType(adopting, 'AWS::Events::Rule'));
    expect(targets).not.toContain('BucketEventBridgeLambdaFunction');
  });

  test('the bucketEventBridge bundle is one small ESM file without DuckDB; it loads, and drops an event that is no CloudFormation request', () => {
    const [entry, ...more] = readZip(readFileSync(path.join(packaged('dev', 'adopt').dir, 'bucketEventBridge.zip')));
    expect([entry!.name, more]).toEqual(['services/bucket-event-bridge/handler.mjs', []]);
    expect(entry!.data.length).toBeLessThan(1_000_000);
    expect(entry!.data.toString('utf8')).not.toMatch(/@duckdb\/|DuckDB(Instance|Connection)|node-api\.node/);
    const dir = mkdtempSync(path.join(tmpdir(), 'flywheel-bucket-event-bridge-'));
    try {
      const file = path.join(dir, 'handler.mjs');
      writeFileSync(file, entry!.data);
      const run = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { handler } = await import(${JSON.stringify(file)}); console.log(JSON.stringify(await handler({ bogus: 1 }, { functionName: 'f', awsRequestId: 'r', getRemainingTimeInMillis: () => 1000 }) ?? null));`,
        ],
        { env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' }, encoding: 'utf8', timeout: 20_000 },
      );
      expect({ status: run.status, stderr: run.status === 0 ? '' : run.stderr }).toEqual({ status: 0, stderr: '' });
      expect(run.stdout.trim().split('\n').at(-1)).toBe('null');
      expect(`${run.stdout}${run.stderr}`).toMatch(/"invalid event rejected"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.each(FUNCTIONS)('function %s: every call of its code is allowed on the adopted resources', async (fn) => {
    const stack = new Stack(adopting, 'dev');
    const requests = functionRequests(stack, fn);
    expect(requests.some((q) => Object.values(ADOPTED).some((name) => q.resource.includes(name)))).toBe(true);
    const r = await checkRole(stack, `${cap(fn)}IamRoleLambdaExecution`, requests);
    expect(r.denied).toEqual([]);
    // the project key encrypts no adopted bucket: its grants are the only ones left unused (README: an adopted bucket's own KMS key)
    expect(r.unused.filter((u) => !/^DataKey: kms:/.test(u))).toEqual([]);
    expect(r.redundant.filter((sid) => sid !== 'DataKey')).toEqual([]);
  });

  test('each Glue job may do what its script does in the adopted bucket and database', async () => {
    const stack = new Stack(adopting, 'dev');
    for (const j of jobRequests(stack)) {
      const r = await checkRole(stack, j.roleId, j.requests);
      expect({ job: j.jobId, denied: r.denied }).toEqual({ job: j.jobId, denied: [] });
      expect({ job: j.jobId, unused: r.unused.filter((u) => !/^DataKey: kms:/.test(u)) }).toEqual({ job: j.jobId, unused: [] });
    }
  });
});

describe('the package that creates its resources', () => {
  test('has no notification function and no custom resource: S3 → EventBridge is the data bucket own setting', () => {
    const r = created.Resources as Record<string, Json>;
    for (const id of NOTIFICATION) expect({ id, present: id in r }).toEqual({ id, present: false });
    expect(Object.values(r).filter((x) => x.Type.startsWith('Custom::'))).toEqual([]);
    expect(r.DataBucket.Properties.NotificationConfiguration).toEqual({ EventBridgeConfiguration: { EventBridgeEnabled: true } });
    expect([r.DataBucket.DeletionPolicy, r.AnalysisBucket.DeletionPolicy, r.GlueDatabase.DeletionPolicy]).toEqual(['Retain', 'Retain', undefined]);
  });
});

describe('the package with a separate staged database (stagedGlueDatabase, the current STAGED_DB)', () => {
  const STAGED = 'existing_staged_example';
  let staging: Template;
  beforeAll(() => {
    staging = packaged('dev', { stagedGlueDatabase: STAGED }).template;
  }, 600_000);

  test('every function reads it from STAGED_GLUE_DATABASE; the default package sets it empty and names no StagedGlueDatabase', () => {
    const env = (t: Template, fn: string): Record<string, Json> => (t.Resources[`${cap(fn)}LambdaFunction`] as Json).Properties.Environment.Variables;
    for (const fn of FUNCTIONS) {
      expect({ fn, staged: env(staging, fn).STAGED_GLUE_DATABASE }).toEqual({ fn, staged: STAGED });
      expect({ fn, staged: env(created, fn).STAGED_GLUE_DATABASE }).toEqual({ fn, staged: '' });
    }
    expect(JSON.stringify(created)).not.toContain('StagedGlueDatabase');
    expect(JSON.stringify(staging)).not.toContain('StagedGlueDatabase');
    // nothing created for it: it exists already
    expect(ofType(staging, 'AWS::Glue::Database')).toHaveLength(1);
  });

  test('the ext_ tables are granted in the staged database only, the final tables in the created one only', () => {
    const resolved = resolveIntrinsics(staging, staging.Resources, { stackName: 'flywheel-dev' }) as Record<string, Json>;
    const resources = JSON.stringify(
      Object.values(resolved)
        .filter((r) => r.Type === 'AWS::IAM::Role')
        .map((r) => r.Properties.Policies),
    );
    const arns = [...resources.matchAll(/arn:aws:glue:[^"]*:table\/([a-z0-9_]+)\/([a-z_]*)\*/g)].map(([, db, prefix]) => `${db}/${prefix}*`);
    expect(arns.filter((a) => a.includes('/ext_'))).not.toHaveLength(0);
    expect([...new Set(arns.filter((a) => a.includes('/ext_')))]).toEqual([`${STAGED}/ext_*`]);
    expect(arns.filter((a) => /\/(part|bucketed)_/.test(a)).every((a) => !a.startsWith(`${STAGED}/`))).toBe(true);
  });

  test.each(FUNCTIONS)('function %s: every call of its code is allowed, and nothing more', async (fn) => {
    const stack = new Stack(staging, 'dev');
    const r = await checkRole(stack, `${cap(fn)}IamRoleLambdaExecution`, functionRequests(stack, fn));
    expect(r.denied).toEqual([]);
    expect(r.unused).toEqual([]);
  });
});

describe('the template rewrite (serverless-adopt.cjs)', () => {
  const template = {
    Conditions: { OnlyTheBucket: { 'Fn::Equals': ['a', 'a'] }, AlsoTheJob: { 'Fn::Equals': ['a', 'b'] } },
    Resources: {
      DataBucket: { Type: 'AWS::S3::Bucket', Properties: { X: { 'Fn::If': ['OnlyTheBucket', 1, 2] } } },
      DataBucketPolicy: { Type: 'AWS::S3::BucketPolicy', Properties: { Bucket: { Ref: 'DataBucket' } } },
      GlueDatabase: { Type: 'AWS::Glue::Database' },
      Job: {
        Type: 'AWS::Glue::Job',
        DependsOn: ['DataBucket', 'Other'],
        Properties: {
          A: { 'Fn::Sub': 's3://${DataBucket}/x ${DataBucket.Arn}/y ${GlueDatabase} ${AWS::Region}' },
          B: { 'Fn::Sub': ['${DataBucket}/${Local}', { Local: { Ref: 'GlueDatabase' }, DataBucket: 'shadowed' }] },
          C: { 'Fn::GetAtt': ['DataBucket', 'Arn'] },
          D: { 'Fn::GetAtt': 'DataBucket.Arn' },
          E: { 'Fn::Sub': 's3://${DataBucket}/glue-scripts/' },
          F: { 'Fn::If': ['AlsoTheJob', 1, 2] },
        },
      },
      Other: { Type: 'AWS::SNS::Topic' },
    },
  };

  test('replaces Ref, GetAtt Arn, ${X} and ${X.Arn} (not a Sub variable of the same name; a Sub left with no variable becomes a string), drops the resource, its policy, DependsOn on it and the conditions only it used', () => {
    const out = adopt.adoptInTemplate(template, { DataBucket: 'b', GlueDatabase: 'd' });
    expect(Object.keys(out.Resources)).toEqual(['Job', 'Other']);
    expect(out.Resources.Job).toEqual({
      Type: 'AWS::Glue::Job',
      DependsOn: ['Other'],
      Properties: {
        A: { 'Fn::Sub': 's3://b/x arn:${AWS::Partition}:s3:::b/y d ${AWS::Region}' },
        B: { 'Fn::Sub': ['${DataBucket}/${Local}', { Local: 'd', DataBucket: 'shadowed' }] },
        C: { 'Fn::Sub': 'arn:${AWS::Partition}:s3:::b' },
        D: { 'Fn::Sub': 'arn:${AWS::Partition}:s3:::b' },
        E: 's3://b/glue-scripts/',
        F: { 'Fn::If': ['AlsoTheJob', 1, 2] },
      },
    });
    // a condition only the adopted resource used goes with it
    expect(out.Conditions).toEqual({ AlsoTheJob: template.Conditions.AlsoTheJob });
    // only what is adopted changes
    expect(adopt.adoptInTemplate(template, { GlueDatabase: 'd' }).Resources.DataBucketPolicy).toEqual(template.Resources.DataBucketPolicy);
  });

  test('fails on an attribute it has no value for, and on names AWS would refuse', () => {
    const withDomain = { Resources: { X: { Type: 'T', Properties: { P: { 'Fn::GetAtt': ['DataBucket', 'RegionalDomainName'] } } } } };
    expect(() => adopt.adoptInTemplate(withDomain, { DataBucket: 'b' })).toThrow(/Resources\.X\.Properties\.P: DataBucket\.RegionalDomainName/);
    expect(() => adopt.adoptedNames({ DataBucket: 'Not_A_Bucket' })).toThrow(/existingDataBucket=Not_A_Bucket is not a valid S3 bucket name/);
    expect(() => adopt.adoptedNames({ GlueDatabase: 'has-dash' })).toThrow(/existingGlueDatabase/);
    expect(adopt.adoptedNames({ DataBucket: '', AnalysisBucket: ' ', GlueDatabase: 'db_1' })).toEqual({ GlueDatabase: 'db_1' });
  });
});
