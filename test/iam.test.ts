/**
 * Every AWS call a function's code can make is allowed by its role in the packaged dev and prod
 * templates, and every statement of the role is needed by one; the same for each Glue job's role and
 * what its script does. test/iam/check.ts derives the calls from the code and simulates them.
 */
import { FUNCTION_REACH } from '../shared/composition/function-reach.js';
import type { FunctionName } from '../shared/events/patterns.js';
import { checkRole, functionRequests, jobRequests, Stack, type RoleReport } from './iam/check.js';
import { packaged, type Stage } from './support/packaged.js';

const FUNCTIONS = Object.keys(FUNCTION_REACH) as FunctionName[];
const cap = (s: string) => `${s[0]!.toUpperCase()}${s.slice(1)}`;
const stacks = {} as Record<Stage, Stack>;

beforeAll(() => {
  stacks.dev = new Stack(packaged('dev').template, 'dev');
  stacks.prod = new Stack(packaged('prod').template, 'prod');
}, 600_000);

/** What a report must be: nothing denied, nothing granted in vain, no statement another one covers. */
const clean = (r: RoleReport) => ({ role: r.role, denied: r.denied, unused: r.unused, redundant: r.redundant });
const expectClean = (r: RoleReport) => expect(clean(r)).toEqual({ role: r.role, denied: [], unused: [], redundant: [] });

describe.each(['dev', 'prod'] as const)('%s', (stage) => {
  test.each(FUNCTIONS)('function %s: every call of its code is allowed, every statement of its role is needed', async (fn) => {
    const requests = functionRequests(stacks[stage], fn);
    expect(requests.length).toBeGreaterThan(5);
    expectClean(await checkRole(stacks[stage], `${cap(fn)}IamRoleLambdaExecution`, requests));
  });

  test('each Glue job has a role of its own, and it allows what its script does and nothing more', async () => {
    const jobs = jobRequests(stacks[stage]);
    expect(jobs.map((j) => j.jobId).sort()).toEqual(['AddressableJob', 'ChargebacksJob', 'CompactionJob', 'SplitJob']);
    expect(new Set(jobs.map((j) => j.roleId)).size).toBe(jobs.length);
    for (const j of jobs) expectClean(await checkRole(stacks[stage], j.roleId, j.requests));
  });

  test("the roles are the functions', the jobs' and the crawlers': no unused default role", () => {
    const roles = stacks[stage]
      .resources('AWS::IAM::Role')
      .map(([id]) => id)
      .sort();
    expect(roles).toEqual(
      [
        ...FUNCTIONS.map((fn) => `${cap(fn)}IamRoleLambdaExecution`),
        'AddressableJobRole',
        'ChargebacksJobRole',
        'CompactionJobRole',
        'CrawlerRole',
        'SplitJobRole',
      ].sort(),
    );
  });
});

describe('the defects the review found stay fixed (dev)', () => {
  const stack = () => stacks.dev;
  /** The report of one function with only the requests matching `pick`. */
  const check = async (fn: FunctionName, pick: (action: string, resource: string) => boolean) => {
    const requests = functionRequests(stack(), fn).filter((r) => pick(r.action, r.resource));
    expect(requests.length).toBeGreaterThan(0);
    return checkRole(stack(), `${cap(fn)}IamRoleLambdaExecution`, requests);
  };

  test('1. every traced function may send its X-Ray segments (else Lambda refuses to create it)', async () => {
    for (const fn of FUNCTIONS) expect((await check(fn, (a) => a.startsWith('xray:'))).denied).toEqual([]);
  });

  test("2. the trigger reads the addressable dataset's live snapshot", async () => {
    const r = await check('snapshotTrigger', (a, res) => a === 's3:GetObject' && res.endsWith('/bucketed/addressable/metadata/snapshot_dt.txt'));
    expect(r.denied).toEqual([]);
  });

  test("3. the monitor's retention may delete old snapshots under the split and bucketed bases", async () => {
    const r = await check('dataMonitor', (a) => a === 's3:DeleteObject');
    expect(r.requests.map((q) => q.resource)).toEqual(
      expect.arrayContaining([expect.stringContaining('/split_cluster/'), expect.stringContaining('/cleanroom_tables/bucketed/')]),
    );
    expect(r.denied).toEqual([]);
  });

  test('4. the monitor locates the bucket of its Athena results', async () => {
    const r = await check('dataMonitor', (a, res) => a === 's3:GetBucketLocation' && res.includes('analysis'));
    expect(r.denied).toEqual([]);
  });

  test.each(['replay', 'reconciler'] as const)("5. %s runs the bucketed stage's queries: results location, multipart, delete, partitions", async (fn) => {
    const wanted = [
      's3:GetBucketLocation',
      's3:ListBucketMultipartUploads',
      's3:ListMultipartUploadParts',
      's3:AbortMultipartUpload',
      's3:DeleteObject',
      'glue:GetPartition',
      'glue:CreatePartition',
    ];
    const r = await check(fn, (a) => wanted.includes(a));
    expect(new Set(r.requests.map((q) => q.action))).toEqual(new Set(wanted));
    expect(r.requests.some((q) => q.resource.includes('/athena-results/builds/'))).toBe(true);
    expect(r.denied).toEqual([]);
  });

  test.each(['compaction', 'chargebacks'] as const)('6. %s may list the data bucket, so a missing job record answers 404 (ignored), not 403', async (fn) => {
    const r = await check(fn, (a) => a === 's3:ListBucket');
    expect(r.requests.some((q) => q.context === undefined)).toBe(true); // the check S3 makes before a 404 carries no prefix
    expect(r.denied).toEqual([]);
  });
});

describe('the check fails when a statement is removed', () => {
  /** The dev stack with one statement (by Sid) taken out of one role. */
  const without = (roleId: string, sid: string): Stack => {
    const template = structuredClone(stacks.dev.template) as any; // CloudFormation is untyped JSON
    const policy = template.Resources[roleId].Properties.Policies[0].PolicyDocument;
    const before = policy.Statement.length;
    policy.Statement = policy.Statement.filter((s: { Sid?: string }) => s.Sid !== sid);
    expect(policy.Statement.length).toBe(before - 1);
    return new Stack(template, 'dev');
  };

  test.each([
    ['dataMonitor', 'RetainSnapshots', 's3:DeleteObject'],
    ['snapshotTrigger', 'ReadSnapshots', 's3:GetObject'],
    ['compaction', 'ListJobRecords', 's3:ListBucket'],
    ['bucketedTables', 'XRayTraces', 'xray:PutTraceSegments'],
    ['replay', 'AthenaResults', 's3:PutObject'],
  ] as const)('%s without %s: %s is denied', async (fn, sid, action) => {
    const roleId = `${cap(fn)}IamRoleLambdaExecution`;
    const stack = without(roleId, sid);
    const r = await checkRole(stack, roleId, functionRequests(stack, fn));
    expect(r.denied.map((d) => d.action)).toContain(action);
  });

  test('a grant no call uses, and a statement another one covers, are reported', async () => {
    const roleId = 'SnapshotTriggerIamRoleLambdaExecution';
    const template = structuredClone(stacks.dev.template) as any; // CloudFormation is untyped JSON
    const statements = template.Resources[roleId].Properties.Policies[0].PolicyDocument.Statement;
    statements.find((s: { Sid?: string }) => s.Sid === 'RunLedgers').Action.push('s3:DeleteObject');
    statements.push({ ...statements.find((s: { Sid?: string }) => s.Sid === 'JobIndex'), Sid: 'JobIndexAgain' });
    const stack = new Stack(template, 'dev');
    const r = await checkRole(stack, roleId, functionRequests(stack, 'snapshotTrigger'));
    expect(r.denied).toEqual([]);
    expect(r.unused).toEqual([
      expect.stringMatching(/^RunLedgers: s3:DeleteObject on .*\/_runs\/infobase\/\*$/),
      expect.stringMatching(/^RunLedgers: s3:DeleteObject on .*\/_runs\/addressable\/\*$/),
    ]);
    expect(r.redundant.sort()).toEqual(['JobIndex', 'JobIndexAgain']);
  });

  test("a Glue job role without its write statement denies the script's writes", async () => {
    const stack = without('CompactionJobRole', 'WriteSplitInput');
    const job = jobRequests(stack).find((j) => j.jobId === 'CompactionJob')!;
    const r = await checkRole(stack, job.roleId, job.requests);
    expect(r.denied.map((d) => d.action)).toEqual(expect.arrayContaining(['s3:PutObject', 's3:DeleteObject']));
  });
});

describe('the data monitor with a compare database (stage param monitorCompareDatabase)', () => {
  const COMPARE = 'omc_flywheel_staged';
  let compare: Stack;
  beforeAll(() => {
    compare = new Stack(packaged('dev', { monitorCompareDatabase: COMPARE }).template, 'dev');
  }, 600_000);
  const role = 'DataMonitorIamRoleLambdaExecution';
  const sids = (stack: Stack) => stack.role(role).statements.map((s: { Sid: string }) => s.Sid);
  const compareRequests = (stack: Stack) => functionRequests(stack, 'dataMonitor').filter((r) => r.resource.includes(`/${COMPARE}`));

  test('the role reads the sources in that database: every call allowed, every statement needed', async () => {
    expect(compare.env('dataMonitor').MONITOR_COMPARE_DATABASE).toBe(COMPARE);
    const requests = compareRequests(compare);
    expect(new Set(requests.map((r) => r.action))).toEqual(new Set(['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions']));
    expect(requests.map((r) => r.resource)).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`:table/${COMPARE}/ext_example$`))]));
    expectClean(await checkRole(compare, role, functionRequests(compare, 'dataMonitor')));
  });

  test('without its statements the reads of that database are denied; without the param the stack holds none', async () => {
    const template = structuredClone(compare.template) as any; // CloudFormation is untyped JSON
    template.Conditions.MonitorComparesDatabase = { 'Fn::Equals': ['a', 'b'] };
    const stripped = new Stack(template, 'dev');
    expect(sids(stripped)).not.toContain('CompareSources');
    const r = await checkRole(stripped, role, compareRequests(compare));
    expect(new Set(r.denied.map((d) => d.action))).toEqual(new Set(['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions']));
    expect(sids(stacks.dev)).not.toEqual(expect.arrayContaining(['CompareDatabase']));
    expect(sids(compare)).toEqual(expect.arrayContaining(['CompareDatabase', 'CompareSources']));
    expect(stacks.dev.env('dataMonitor').MONITOR_COMPARE_DATABASE).toBe('');
  });

  test('the monitor knows the result location its workgroup enforces (an --athena_results naming another is refused)', () => {
    const { results } = compare.awsResources().workgroups.monitorEngine;
    expect(compare.env('dataMonitor').MONITOR_WORKGROUP_RESULTS).toBe(`s3://${results.bucket}/${results.prefix}`);
  });
});
