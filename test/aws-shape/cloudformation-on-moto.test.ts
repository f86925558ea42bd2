/**
 * The packaged dev stack deployed into moto's CloudFormation (moto 5.2.1, server mode), as a smoke test of the
 * template, and what moto makes of it: the resource types it does not create, and the properties of the resources
 * it does create that it ignores or gets wrong. Both lists are kept here, so a moto upgrade that changes either fails
 * this test and gets noticed.
 *
 * The deployment is the one `osls deploy` makes of a new stack: CreateStack with
 * cloudformation-template-create-stack.json (the deployment bucket alone), then the packaged zips and the compiled
 * template uploaded under package.artifactDirectoryName in that bucket, then UpdateStack with
 * cloudformation-template-update-stack.json by TemplateURL (about 200 KB, over the 51,200 bytes TemplateBody allows on AWS).
 * A single CreateStack of the update-stack template cannot carry the code: every Code.S3Bucket is
 * {"Ref": "ServerlessDeploymentBucket"}, a bucket of the same stack whose name CloudFormation generates. (moto would
 * still answer CREATE_COMPLETE, with every function created without code: CodeSize 0, CodeSha256 "".)
 *
 * How moto treats a type it has no model for (moto/cloudformation/parsing.py: resource_class_from_type): it logs
 * "No Moto CloudFormation support for <type>" and skips the resource; the stack still completes. The skipped
 * resource still counts in DescribeStackResources and ListStackResources, as one entry with no logical id, no type
 * and no physical id; a Ref to it resolves to nothing, so a property or output that refers to it is left out
 * (the functions' GLUE_DATABASE, SPLIT_JOB_NAME, ... variables, the SplitJobName output), and an Fn::Sub keeps ${X}
 * as text (the Glue and Athena ARNs of the functions' policies). moto records stack-level events only, so
 * DescribeStackEvents tells nothing per resource. The test takes both sides as evidence: the resources of a type are
 * all missing from DescribeStackResources (one anonymous entry each), and each is absent from its service
 * (GetDatabase, GetJob, DescribeAlarms, GetBucketPolicy, ...). A few types are created but reported without a
 * physical id (NO_PHYSICAL_ID); the created resources are then read back property by property (OBSERVERS).
 *
 * moto 5.2.1 comes from the project's venv: `node test/aws-shape/python-env.mjs` first (npm run test:aws does).
 * The CloudFormation, Lambda, IAM, CloudWatch and CloudWatch Logs clients are installed as dependencies of osls.
 * No SQS or KMS client is installed, so those few calls are made as JSON requests (moto checks no signature while
 * IAM enforcement is off).
 */
import { AthenaClient, ListWorkGroupsCommand } from '@aws-sdk/client-athena';
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStackEventsCommand,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
  ListStackResourcesCommand,
  UpdateStackCommand,
  type Stack as CfnStack,
  type StackResource,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeArchiveCommand, DescribeEventBusCommand, DescribeRuleCommand, EventBridgeClient, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge';
import { GetCrawlerCommand, GetDatabaseCommand, GetJobCommand, GlueClient } from '@aws-sdk/client-glue';
import { GetRoleCommand, GetRolePolicyCommand, IAMClient, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { GetFunctionCommand, GetFunctionEventInvokeConfigCommand, GetPolicyCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketNotificationConfigurationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { GetTopicAttributesCommand, ListSubscriptionsByTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { resolveIntrinsics, type Json, type JsonObject, type Template } from '../support/cfn-resolve.js';
import { packaged, root } from '../support/packaged.js';
import { MOTO_ACCOUNT_ID, MOTO_REGION, sdkConfig, startMoto, type MotoServer } from './moto-server.js';

// packaging can take minutes when the service changed; moto starts slowly on a loaded machine
const HOOK_TIMEOUT_MS = 900_000;
const TEST_TIMEOUT_MS = 300_000;
/** moto creates a stack inside the CreateStack/UpdateStack call; the wait is for a moto that changes that. */
const STACK_DEADLINE_MS = 600_000;
const STACK = 'flywheel-dev';

// ---------------------------------------------------------------------------------------------
// What moto 5.2.1 does not create, and what it gets wrong in what it creates

/** Resolved properties of one resource of the template. */
type Props = JsonObject;

interface Skipped {
  /** What the resources of this type are in the dev stack. */
  what: string;
  /** When moto has no trace of the resource in its service, what the call answered; else undefined. */
  absent(props: Props): Promise<string | undefined>;
}

/**
 * The resource types of the dev stack moto 5.2.1's CloudFormation does not create (no model in
 * moto/cloudformation/parsing.py), each with what it is in the stack and the call showing it is absent.
 */
const NOT_CREATED: Record<string, Skipped> = {
  'AWS::Athena::WorkGroup': {
    what: 'the Athena workgroups of the table builds (flywheel-dev) and of the data monitor (flywheel-dev-monitor)',
    absent: async (p) => {
      const names = ((await c().athena.send(new ListWorkGroupsCommand({}))).WorkGroups ?? []).map((w) => w.Name);
      return names.includes(text(p.Name)) ? undefined : `ListWorkGroups: ${names.join(', ')}`;
    },
  },
  'AWS::CloudWatch::Alarm': {
    what: "the alarms on each function's dead-letter queue and on the split job's failures, notifying the alert topic",
    absent: async (p) => {
      const alarms = (await c().cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [text(p.AlarmName)] }))).MetricAlarms ?? [];
      return alarms.length ? undefined : 'DescribeAlarms: none';
    },
  },
  'AWS::Glue::Crawler': {
    what: 'the crawlers of the raw infobase, raw addressable and chargebacks landing prefixes',
    absent: (p) => errorNamed(c().glue.send(new GetCrawlerCommand({ Name: text(p.Name) })), 'EntityNotFoundException', 'GetCrawler'),
  },
  'AWS::Glue::Database': {
    what: 'the Glue database of the Cleanroom tables (flywheel_dev)',
    absent: (p) => errorNamed(c().glue.send(new GetDatabaseCommand({ Name: text(obj(p.DatabaseInput).Name) })), 'EntityNotFoundException', 'GetDatabase'),
  },
  'AWS::Glue::Job': {
    what: 'the Glue jobs: infobase split-and-bucket, addressable bucket, compaction, chargebacks consolidation',
    absent: (p) => errorNamed(c().glue.send(new GetJobCommand({ JobName: text(p.Name) })), 'EntityNotFoundException', 'GetJob'),
  },
  'AWS::Lambda::EventInvokeConfig': {
    what: "each function's asynchronous invocation settings: 2 retries, then its dead-letter queue as on-failure destination",
    absent: (p) =>
      errorNamed(
        c().lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: text(p.FunctionName) })),
        'ResourceNotFoundException',
        'GetFunctionEventInvokeConfig',
      ),
  },
  'AWS::S3::BucketPolicy': {
    what: 'the TLS-only (aws:SecureTransport) policies of the deployment, data and analysis buckets',
    absent: (p) => errorNamed(c().s3.send(new GetBucketPolicyCommand({ Bucket: text(p.Bucket) })), 'NoSuchBucketPolicy', 'GetBucketPolicy'),
  },
  'AWS::SNS::Subscription': {
    what: "the alert topic's email subscription",
    absent: async (p) => {
      const subs = (await c().sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: text(p.TopicArn) }))).Subscriptions ?? [];
      return subs.some((s) => s.Endpoint === p.Endpoint) ? undefined : `ListSubscriptionsByTopic: ${subs.length} subscription(s), none to ${text(p.Endpoint)}`;
    },
  },
  'AWS::SNS::TopicPolicy': {
    what: "the alert topic's policy (CloudWatch alarms may publish; only the project's roles and CloudWatch may)",
    absent: async (p) => {
      const sids = statementSids(p.PolicyDocument);
      for (const topic of list(p.Topics)) {
        const policy = (await c().sns.send(new GetTopicAttributesCommand({ TopicArn: text(topic) }))).Attributes?.Policy;
        const has = statementSids(policy ? (JSON.parse(policy) as Json) : null);
        if (sids.some((sid) => has.includes(sid))) return undefined;
      }
      return `GetTopicAttributes: moto's default policy, none of the statements ${sids.join(', ')}`;
    },
  },
  'AWS::SQS::QueuePolicy': {
    what: "each dead-letter queue's policy letting the project's EventBridge rules send to it",
    absent: async (p) => {
      for (const queue of list(p.Queues)) {
        const attributes = await sqsAttributes(text(queue));
        if (attributes.Policy !== undefined) return undefined;
      }
      return 'GetQueueAttributes All: no Policy';
    },
  },
};

/**
 * Types moto creates (the objects exist in their services) but reports in DescribeStackResources without a
 * PhysicalResourceId (their moto models have none), so a lookup of them through the stack finds no name.
 */
const NO_PHYSICAL_ID: Record<string, string> = {
  'AWS::Events::Archive': 'the project bus archive (flywheel-dev-archive): created, found by its ArchiveName',
  'AWS::Events::EventBus': 'the project bus (flywheel-dev): created, found by its Name',
  'AWS::Lambda::Permission': "the rules' permissions to invoke the functions: created, as statements of the function policies",
};

type Verdict = 'ignored' | 'unresolved' | 'wrong' | 'differs' | 'unseen';

interface Difference {
  verdict: Verdict;
  note: string;
}

/**
 * The properties of created resources that moto does not apply as the template says, by "<type> <property>":
 * ignored (the service's default is left), unresolved (what refers to a resource moto does not create: moto drops a
 * Ref to it, and leaves ${X} as text in an Fn::Sub), wrong (kept in a form moto's own API cannot serve), unseen (moto's
 * API cannot show it). Any other difference is "differs" and fails the test.
 */
const DIFFERENCES: Record<string, Difference> = {
  'AWS::IAM::Role Policies': {
    verdict: 'unresolved',
    note:
      "the ARNs of the functions' policies that name a Glue job, the Glue database or an Athena workgroup keep ${SplitJob}, ${GlueDatabase}, ${AthenaWorkGroup}, ... as text; " +
      "a statement that is AWS::NoValue (the monitor role's compare-database statements when none is set) stays in the document as null",
  },
  'AWS::IAM::Role Policies.PolicyDocument': {
    verdict: 'wrong',
    note: "the inline policies are kept as Python objects: GetRolePolicy returns their repr ({'Version': ...}), not JSON",
  },
  'AWS::KMS::Key Description': { verdict: 'unseen', note: 'DescribeKey answers HTTP 500 for the keys the stack creates (see KeyPolicy)' },
  'AWS::KMS::Key KeyPolicy': {
    verdict: 'wrong',
    note: 'kept as an object, not a JSON string: GetKeyPolicy returns it as an object (the SDK cannot read it) and DescribeKey fails with HTTP 500 (json.loads on a dict)',
  },
  'AWS::Lambda::Function Architectures': { verdict: 'ignored', note: 'x86_64 instead of arm64' },
  'AWS::Lambda::Function Environment': {
    verdict: 'unresolved',
    note: 'the variables naming a resource moto does not create are left out: GLUE_DATABASE, SPLIT_JOB_NAME, ADDRESSABLE_JOB_NAME, ATHENA_WORKGROUP, MONITOR_WORKGROUP, ...',
  },
  'AWS::Lambda::Function TracingConfig': { verdict: 'ignored', note: 'PassThrough instead of Active' },
  'AWS::S3::Bucket BucketEncryption.BucketKeyEnabled': {
    verdict: 'ignored',
    note: 'the default encryption is applied (SSE-KMS with the data key) but without the bucket key',
  },
  'AWS::S3::Bucket LifecycleConfiguration': {
    verdict: 'ignored',
    note: 'no lifecycle rules (noncurrent versions, Athena results, incomplete uploads never expire)',
  },
  'AWS::S3::Bucket NotificationConfiguration': {
    verdict: 'ignored',
    note: 'EventBridge notifications stay off: moto sends no Object Created event for the data bucket, so the ready-marker rules never fire from an upload',
  },
  'AWS::S3::Bucket OwnershipControls': { verdict: 'ignored', note: 'no ownership controls (BucketOwnerEnforced)' },
  'AWS::S3::Bucket PublicAccessBlockConfiguration': { verdict: 'ignored', note: 'no public access block' },
  'AWS::S3::Bucket VersioningConfiguration': { verdict: 'ignored', note: 'versioning stays off (no VersionId on writes)' },
};

// ---------------------------------------------------------------------------------------------
// Helpers

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
function obj(v: Json | undefined): JsonObject {
  if (!isObject(v)) throw new Error(`expected an object, got ${JSON.stringify(v)}`);
  return v;
}
function text(v: Json | undefined): string {
  if (typeof v !== 'string') throw new Error(`expected a string, got ${JSON.stringify(v)}`);
  return v;
}
function list(v: Json | undefined): Json[] {
  if (!Array.isArray(v)) throw new Error(`expected a list, got ${JSON.stringify(v)}`);
  return v;
}

/** JSON with object keys sorted and undefined dropped, for comparing documents whatever their key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
const sameJson = (a: unknown, b: unknown) => canonical(a) === canonical(b);

/** What differs between two policy documents, statement by statement (by Sid, else by position). */
function statementDifferences(want: Json | undefined, got: Json | undefined): string[] {
  const statements = (d: Json | undefined) => {
    const s = isObject(d) ? d.Statement : undefined;
    return (Array.isArray(s) ? s : s === undefined ? [] : [s]).map((x, i) => [isObject(x) && typeof x.Sid === 'string' ? x.Sid : `#${i}`, x] as const);
  };
  const have = new Map(statements(got));
  const out: string[] = [];
  for (const [sid, statement] of statements(want)) {
    const other = have.get(sid);
    if (!sameJson(statement, other)) out.push(`${sid}: template ${canonical(statement)}, moto ${canonical(other)}`);
  }
  if (isObject(want) && isObject(got) && want.Version !== got.Version) out.push(`Version ${String(want.Version)} / ${String(got.Version)}`);
  return out;
}

function statementSids(document: Json | undefined): string[] {
  if (!isObject(document)) return [];
  const statements = document.Statement;
  return (Array.isArray(statements) ? statements : [statements]).flatMap((s) => (isObject(s) && typeof s.Sid === 'string' ? [s.Sid] : []));
}

/** undefined when the call fails with the error named (what the probe says is absent), else a description of what it found. */
async function errorNamed(call: Promise<unknown>, name: string, what: string): Promise<string | undefined> {
  try {
    await call;
    return undefined;
  } catch (error) {
    const e = error as Error;
    if (e.name === name) return `${what}: ${e.name}`;
    throw error;
  }
}

/** Logical ids a value refers to (Ref, Fn::GetAtt, ${X} and ${X.Attr} in Fn::Sub), pseudo parameters left out. */
function referencedIds(value: Json | undefined, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) referencedIds(v, into);
  else if (isObject(value)) {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'Ref' && typeof v === 'string') into.add(v);
      else if (key === 'Fn::GetAtt') into.add(Array.isArray(v) ? text(v[0]) : text(v).split('.')[0]!);
      else if (key === 'Fn::Sub') {
        const [template, vars] = Array.isArray(v) ? [text(v[0]), v[1]] : [text(v), undefined];
        for (const m of template.matchAll(/\$\{([^!}][^}]*)\}/g)) into.add(m[1]!.split('.')[0]!);
        referencedIds(vars, into);
      } else referencedIds(v, into);
    }
  }
  for (const id of into) if (id.startsWith('AWS::')) into.delete(id);
  return into;
}

/** The Python the moto server runs (same choice as startMoto), for reading the Python reprs moto returns. */
function python(): string {
  const venv = path.join(root, '.venv', 'bin', 'python');
  return process.env.FLYWHEEL_PYTHON || (existsSync(venv) ? venv : 'python3');
}

/** A Python literal (what moto returns for a policy it kept as a Python object) read as JSON. */
function pythonLiteral(repr: string): Json {
  const r = spawnSync(python(), ['-c', 'import ast, json, sys; print(json.dumps(ast.literal_eval(sys.stdin.read())))'], {
    input: repr,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`not a Python literal either (${r.stderr.trim()}): ${repr.slice(0, 200)}`);
  return JSON.parse(r.stdout) as Json;
}

const sha256Base64 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('base64');

// ---------------------------------------------------------------------------------------------
// The deployment

interface Clients {
  cfn: CloudFormationClient;
  s3: S3Client;
  lambda: LambdaClient;
  iam: IAMClient;
  events: EventBridgeClient;
  sns: SNSClient;
  logs: CloudWatchLogsClient;
  cloudwatch: CloudWatchClient;
  glue: GlueClient;
  athena: AthenaClient;
}

let moto: MotoServer | undefined;
let clients: Clients | undefined;
const c = (): Clients => {
  if (!clients) throw new Error('moto is not started');
  return clients;
};

let dir: string;
let template: Template;
let afterCreate: CfnStack;
let afterUpdate: CfnStack;
let stackResources: StackResource[];
let listedResources: StackResourceSummary[];
const timings: Record<string, number> = {};

/** A JSON-protocol call (SQS, KMS: no client installed) as moto reads it with enforcement off. */
async function jsonCall(service: 'sqs' | 'kms', target: string, body: object): Promise<{ status: number; body: unknown; text: string }> {
  const response = await fetch(`${moto!.endpoint}/`, {
    method: 'POST',
    headers: {
      'content-type': service === 'sqs' ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1',
      'x-amz-target': target,
      authorization: `AWS4-HMAC-SHA256 Credential=test/20250101/${MOTO_REGION}/${service}/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const raw = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed, text: raw };
}

async function sqsAttributes(queueUrl: string): Promise<Record<string, string>> {
  const r = await jsonCall('sqs', 'AmazonSQS.GetQueueAttributes', { QueueUrl: queueUrl, AttributeNames: ['All'] });
  if (r.status !== 200) throw new Error(`sqs GetQueueAttributes ${queueUrl}: ${r.status} ${r.text.slice(0, 300)}`);
  return (r.body as { Attributes?: Record<string, string> }).Attributes ?? {};
}

async function stackNow(): Promise<CfnStack> {
  const stack = (await c().cfn.send(new DescribeStacksCommand({ StackName: STACK }))).Stacks?.[0];
  if (!stack) throw new Error(`DescribeStacks ${STACK}: no stack`);
  return stack;
}

/** Polls until the stack leaves *_IN_PROGRESS / *_PENDING. */
async function settled(): Promise<CfnStack> {
  const deadline = Date.now() + STACK_DEADLINE_MS;
  for (;;) {
    const stack = await stackNow();
    if (!/_IN_PROGRESS$|_PENDING$/.test(stack.StackStatus ?? '')) return stack;
    if (Date.now() > deadline) throw new Error(`${STACK} still ${stack.StackStatus} after ${STACK_DEADLINE_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

beforeAll(async () => {
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = Math.round(now - t);
    t = now;
  };
  ({ dir, template } = packaged('dev') as { dir: string; template: Template });
  lap('package');
  moto = await startMoto();
  lap('moto start');
  const config = sdkConfig(moto.endpoint, { accessKeyId: 'test', secretAccessKey: 'test' });
  clients = {
    cfn: new CloudFormationClient(config),
    s3: new S3Client({ ...config, forcePathStyle: true }),
    lambda: new LambdaClient(config),
    iam: new IAMClient(config),
    events: new EventBridgeClient(config),
    sns: new SNSClient(config),
    logs: new CloudWatchLogsClient(config),
    cloudwatch: new CloudWatchClient(config),
    glue: new GlueClient(config),
    athena: new AthenaClient(config),
  };

  // 1. the create-stack template: the deployment bucket alone
  await c().cfn.send(
    new CreateStackCommand({ StackName: STACK, TemplateBody: readFileSync(path.join(dir, 'cloudformation-template-create-stack.json'), 'utf8') }),
  );
  afterCreate = await settled();
  lap('create stack');
  const bucket = (await c().cfn.send(new DescribeStackResourcesCommand({ StackName: STACK, LogicalResourceId: 'ServerlessDeploymentBucket' })))
    .StackResources?.[0]?.PhysicalResourceId;
  if (!bucket)
    throw new Error(`the create-stack template left no ServerlessDeploymentBucket: ${afterCreate.StackStatus} ${afterCreate.StackStatusReason ?? ''}`);

  // 2. the artifacts where the functions' Code points, and the compiled template beside them (as osls uploads them)
  const state = JSON.parse(readFileSync(path.join(dir, 'serverless-state.json'), 'utf8')) as { package: { artifactDirectoryName: string } };
  for (const resource of Object.values(template.Resources)) {
    if (resource?.Type !== 'AWS::Lambda::Function') continue;
    const code = obj(resource.Properties?.Code);
    if (!sameJson(code.S3Bucket, { Ref: 'ServerlessDeploymentBucket' })) throw new Error(`unexpected Code.S3Bucket ${JSON.stringify(code.S3Bucket)}`);
    const key = text(code.S3Key);
    await c().s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(path.join(dir, path.basename(key))) }));
  }
  const templateKey = `${state.package.artifactDirectoryName}/compiled-cloudformation-template.json`;
  await c().s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: templateKey, Body: readFileSync(path.join(dir, 'cloudformation-template-update-stack.json')) }),
  );
  lap('upload');

  // 3. the update-stack template, by URL
  await c().cfn.send(
    new UpdateStackCommand({
      StackName: STACK,
      TemplateURL: `https://s3.amazonaws.com/${bucket}/${templateKey}`,
      Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM'],
    }),
  );
  afterUpdate = await settled();
  lap('update stack');

  stackResources = (await c().cfn.send(new DescribeStackResourcesCommand({ StackName: STACK }))).StackResources ?? [];
  listedResources = [];
  let NextToken: string | undefined;
  do {
    const page = await c().cfn.send(new ListStackResourcesCommand({ StackName: STACK, NextToken }));
    listedResources.push(...(page.StackResourceSummaries ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  console.info(`cloudformation-on-moto timings (ms): ${JSON.stringify(timings)}`);
}, HOOK_TIMEOUT_MS);

afterAll(async () => {
  await moto?.stop();
}, HOOK_TIMEOUT_MS);

// ---------------------------------------------------------------------------------------------
// What the template says, resolved against what moto named

const physicalIds = () =>
  new Map(stackResources.flatMap((r) => (r.LogicalResourceId && r.PhysicalResourceId ? [[r.LogicalResourceId, r.PhysicalResourceId] as const] : [])));

/**
 * Literal {Ref, Arn} of the resources whose names CloudFormation makes up (the KMS keys, the deployment bucket),
 * as moto made them, to replace their intrinsics before cfn-resolve resolves the rest by the names in the template.
 */
function madeUpNames(): Map<string, { ref: string; arn: string }> {
  const ids = physicalIds();
  const names = new Map<string, { ref: string; arn: string }>();
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const id = ids.get(logicalId);
    if (!resource || !id) continue;
    if (resource.Type === 'AWS::KMS::Key') names.set(logicalId, { ref: id, arn: `arn:aws:kms:${MOTO_REGION}:${MOTO_ACCOUNT_ID}:key/${id}` });
    if (resource.Type === 'AWS::S3::Bucket' && resource.Properties?.BucketName === undefined) names.set(logicalId, { ref: id, arn: `arn:aws:s3:::${id}` });
  }
  return names;
}

/**
 * `value` with the intrinsics naming a made-up resource replaced by moto's names; with `skipped`, also as moto
 * resolves what refers to a resource it did not create: a Ref or GetAtt to it is nothing (AWS::NoValue), and its
 * ${X} in an Fn::Sub stays as text.
 */
function pinNames(value: Json, names: Map<string, { ref: string; arn: string }>, skipped?: Set<string>): Json {
  if (Array.isArray(value)) return value.map((v) => pinNames(v, names, skipped));
  if (!isObject(value)) return value;
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const arg = value[keys[0]!]!;
    if (keys[0] === 'Ref' && typeof arg === 'string' && names.has(arg)) return names.get(arg)!.ref;
    if (keys[0] === 'Ref' && typeof arg === 'string' && skipped?.has(arg)) return { Ref: 'AWS::NoValue' };
    if (keys[0] === 'Fn::GetAtt') {
      const [id, attribute] = Array.isArray(arg) ? [text(arg[0]), text(arg[1])] : (text(arg).split('.') as [string, string]);
      if (skipped?.has(id)) return { Ref: 'AWS::NoValue' };
      const named = names.get(id);
      if (named) {
        if (attribute !== 'Arn') throw new Error(`no value known for ${id}.${attribute}`);
        return named.arn;
      }
    }
    if (keys[0] === 'Fn::Sub') {
      const sub = (s: string) =>
        s
          .replace(/\$\{([^!}.]+)(\.Arn)?\}/g, (whole, id: string, arn?: string) => {
            const named = names.get(id);
            return named ? (arn ? named.arn : named.ref) : whole;
          })
          .replace(/\$\{([^!}.]+)((?:\.[^}]*)?)\}/g, (whole, id: string, rest: string) => (skipped?.has(id) ? `\${!${id}${rest}}` : whole));
      return { 'Fn::Sub': Array.isArray(arg) ? [sub(text(arg[0])), pinNames(arg[1]!, names, skipped)] : sub(text(arg)) };
    }
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, pinNames(v, names, skipped)]));
}

let names: Map<string, { ref: string; arn: string }> | undefined;
/** A part of the template with every intrinsic resolved to the value it has once deployed (with moto's made-up names). */
function resolved(value: Json): Json {
  names ??= madeUpNames();
  return resolveIntrinsics(template, pinNames(value, names), { stackName: STACK, region: MOTO_REGION, accountId: MOTO_ACCOUNT_ID });
}
/**
 * The same, as moto resolves it: what refers to a resource moto did not create is left out, or left as ${X} text;
 * and AWS::NoValue is kept as null where CloudFormation drops the element (the data monitor's compare-database
 * statements, `!If [MonitorComparesDatabase, …, !Ref AWS::NoValue]`, are null items of its policy when none is set).
 */
function resolvedAsMoto(value: Json): Json {
  names ??= madeUpNames();
  return resolveIntrinsics(template, pinNames(ifNoValueAsNull(value), names, skippedIds()), {
    stackName: STACK,
    region: MOTO_REGION,
    accountId: MOTO_ACCOUNT_ID,
  });
}

/** An Fn::If branch that is AWS::NoValue, as moto takes it: null. */
function ifNoValueAsNull(value: Json): Json {
  if (Array.isArray(value)) return value.map(ifNoValueAsNull);
  if (!value || typeof value !== 'object') return value;
  const branches = value['Fn::If'];
  if (Array.isArray(branches) && branches.length === 3 && Object.keys(value).length === 1) {
    const noValue = (b: Json) => (b && typeof b === 'object' && !Array.isArray(b) && b.Ref === 'AWS::NoValue' ? null : ifNoValueAsNull(b));
    return { 'Fn::If': [branches[0]!, noValue(branches[1]!), noValue(branches[2]!)] };
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, ifNoValueAsNull(v as Json)]));
}

const skippedIds = () => new Set(Object.entries(template.Resources).flatMap(([id, r]) => (r && NOT_CREATED[r.Type] ? [id] : [])));

// ---------------------------------------------------------------------------------------------
// Observers: what moto has for each property of each created resource

type Seen = { verdict: 'same' } | { verdict: Verdict; evidence: string };
const same: Seen = { verdict: 'same' };
const seen = (ok: boolean, verdict: Verdict, evidence: string): Seen => (ok ? same : { verdict, evidence });
/** Same when equal; `ignoredWhen` says what moto's value is when it left the service's default. */
function compare(want: unknown, got: unknown, ignoredWhen?: (got: unknown) => boolean): Seen {
  if (sameJson(want, got)) return same;
  return { verdict: ignoredWhen?.(got) ? 'ignored' : 'differs', evidence: `template ${canonical(want)}, moto ${canonical(got)}` };
}

type Observer = (p: Props, physicalId: string | undefined, logicalId: string) => Promise<Record<string, Seen>>;

const lambdaPolicies = new Map<string, Promise<Array<Record<string, unknown>>>>();
function lambdaPolicy(functionName: string): Promise<Array<Record<string, unknown>>> {
  if (!lambdaPolicies.has(functionName)) {
    lambdaPolicies.set(
      functionName,
      c()
        .lambda.send(new GetPolicyCommand({ FunctionName: functionName }))
        .then((r) => (JSON.parse(r.Policy ?? '{}') as { Statement?: Array<Record<string, unknown>> }).Statement ?? []),
    );
  }
  return lambdaPolicies.get(functionName)!;
}

/** The answer of a call, or the name of its error (S3 answers a missing configuration with an error). */
async function outcome<T>(call: Promise<T>): Promise<{ value: T; error?: undefined } | { value?: undefined; error: string }> {
  try {
    return { value: await call };
  } catch (error) {
    return { error: (error as Error).name };
  }
}

function need(physicalId: string | undefined): string {
  if (!physicalId) throw new Error('moto reported no physical id');
  return physicalId;
}

const OBSERVERS: Record<string, Observer> = {
  'AWS::S3::Bucket': async (p, physicalId) => {
    const bucket = need(physicalId);
    await c().s3.send(new HeadBucketCommand({ Bucket: bucket }));
    const out: Record<string, Seen> = {};
    if (p.BucketName !== undefined) out.BucketName = compare(p.BucketName, bucket);
    if (p.BucketEncryption !== undefined) {
      const rules = list(obj(p.BucketEncryption).ServerSideEncryptionConfiguration).map(obj);
      const got = await outcome(c().s3.send(new GetBucketEncryptionCommand({ Bucket: bucket })));
      const gotRules = got.value?.ServerSideEncryptionConfiguration?.Rules ?? [];
      out.BucketEncryption = compare(
        rules.map((r) => r.ServerSideEncryptionByDefault),
        gotRules.map((r) => r.ApplyServerSideEncryptionByDefault),
        (g) => Array.isArray(g) && g.length === 0,
      );
      if (rules.some((r) => r.BucketKeyEnabled !== undefined)) {
        out['BucketEncryption.BucketKeyEnabled'] = compare(
          rules.map((r) => r.BucketKeyEnabled ?? false),
          gotRules.map((r) => r.BucketKeyEnabled ?? false),
          (g) => Array.isArray(g) && g.every((x) => x === false),
        );
      }
    }
    if (p.VersioningConfiguration !== undefined) {
      const got = await c().s3.send(new GetBucketVersioningCommand({ Bucket: bucket }));
      out.VersioningConfiguration = compare(obj(p.VersioningConfiguration).Status, got.Status, (g) => g === undefined);
    }
    if (p.OwnershipControls !== undefined) {
      const got = await outcome(c().s3.send(new GetBucketOwnershipControlsCommand({ Bucket: bucket })));
      out.OwnershipControls =
        got.error !== undefined
          ? seen(false, 'ignored', `GetBucketOwnershipControls: ${got.error}`)
          : compare(obj(p.OwnershipControls).Rules, got.value.OwnershipControls?.Rules);
    }
    if (p.PublicAccessBlockConfiguration !== undefined) {
      const got = await outcome(c().s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket })));
      out.PublicAccessBlockConfiguration =
        got.error !== undefined
          ? seen(false, 'ignored', `GetPublicAccessBlock: ${got.error}`)
          : compare(p.PublicAccessBlockConfiguration, got.value.PublicAccessBlockConfiguration);
    }
    if (p.NotificationConfiguration !== undefined) {
      const want = obj(p.NotificationConfiguration);
      const unknown = Object.keys(want).filter((k) => k !== 'EventBridgeConfiguration');
      if (unknown.length) throw new Error(`no check for NotificationConfiguration ${unknown.join(', ')}`);
      const got = await c().s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
      const on = obj(want.EventBridgeConfiguration).EventBridgeEnabled === true;
      out.NotificationConfiguration = seen(
        (got.EventBridgeConfiguration !== undefined) === on,
        'ignored',
        `GetBucketNotificationConfiguration: ${canonical({ ...got, $metadata: undefined })}`,
      );
    }
    if (p.LifecycleConfiguration !== undefined) {
      const got = await outcome(c().s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket })));
      const wantIds = list(obj(p.LifecycleConfiguration).Rules).map((r) => obj(r).Id);
      out.LifecycleConfiguration =
        got.error !== undefined
          ? seen(false, 'ignored', `GetBucketLifecycleConfiguration: ${got.error}`)
          : compare(
              wantIds,
              (got.value.Rules ?? []).map((r) => r.ID),
            );
    }
    return out;
  },

  'AWS::SQS::Queue': async (p, url) => {
    const a = await sqsAttributes(need(url));
    const out: Record<string, Seen> = {};
    if (p.QueueName !== undefined) out.QueueName = compare(p.QueueName, a.QueueArn?.split(':').pop());
    for (const name of [
      'MessageRetentionPeriod',
      'SqsManagedSseEnabled',
      'VisibilityTimeout',
      'DelaySeconds',
      'MaximumMessageSize',
      'ReceiveMessageWaitTimeSeconds',
    ]) {
      if (p[name] !== undefined) out[name] = compare(String(p[name]), a[name]);
    }
    return out;
  },

  'AWS::SNS::Topic': async (p, arn) => {
    const a = (await c().sns.send(new GetTopicAttributesCommand({ TopicArn: need(arn) }))).Attributes ?? {};
    const out: Record<string, Seen> = {};
    if (p.TopicName !== undefined) out.TopicName = compare(p.TopicName, a.TopicArn?.split(':').pop());
    if (p.DisplayName !== undefined) out.DisplayName = compare(p.DisplayName, a.DisplayName);
    if (p.KmsMasterKeyId !== undefined) out.KmsMasterKeyId = compare(p.KmsMasterKeyId, a.KmsMasterKeyId, (g) => g === undefined);
    return out;
  },

  'AWS::KMS::Key': async (p, physicalId) => {
    const keyId = need(physicalId);
    const out: Record<string, Seen> = {};
    const described = await jsonCall('kms', 'TrentService.DescribeKey', { KeyId: keyId });
    if (p.Description !== undefined) {
      out.Description =
        described.status === 200
          ? compare(p.Description, (described.body as { KeyMetadata?: { Description?: string } }).KeyMetadata?.Description)
          : { verdict: 'unseen', evidence: `DescribeKey answered ${described.status}` };
    }
    if (p.EnableKeyRotation !== undefined) {
      const r = await jsonCall('kms', 'TrentService.GetKeyRotationStatus', { KeyId: keyId });
      out.EnableKeyRotation = compare(p.EnableKeyRotation, (r.body as { KeyRotationEnabled?: boolean } | undefined)?.KeyRotationEnabled);
    }
    if (p.KeyPolicy !== undefined) {
      const r = await jsonCall('kms', 'TrentService.GetKeyPolicy', { KeyId: keyId, PolicyName: 'default' });
      const policy = (r.body as { Policy?: unknown } | undefined)?.Policy;
      if (typeof policy === 'string') out.KeyPolicy = compare(p.KeyPolicy, JSON.parse(policy));
      else if (sameJson(p.KeyPolicy, policy) && described.status === 500) {
        out.KeyPolicy = { verdict: 'wrong', evidence: `GetKeyPolicy returns Policy as an object, not a JSON string; DescribeKey answers ${described.status}` };
      } else out.KeyPolicy = { verdict: 'differs', evidence: `GetKeyPolicy ${r.status}: ${r.text.slice(0, 300)}` };
    }
    return out;
  },

  'AWS::Logs::LogGroup': async (p, physicalId) => {
    const name = need(physicalId);
    const group = ((await c().logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }))).logGroups ?? []).find((g) => g.logGroupName === name);
    if (!group) throw new Error(`log group ${name} is missing`);
    const out: Record<string, Seen> = {};
    if (p.LogGroupName !== undefined) out.LogGroupName = compare(p.LogGroupName, group.logGroupName);
    if (p.RetentionInDays !== undefined) out.RetentionInDays = compare(p.RetentionInDays, group.retentionInDays, (g) => g === undefined);
    return out;
  },

  'AWS::Lambda::Function': async (p, name) => {
    const fn = await c().lambda.send(new GetFunctionCommand({ FunctionName: need(name) }));
    const conf = fn.Configuration ?? {};
    const out: Record<string, Seen> = {};
    const zip = path.join(dir, path.basename(text(obj(p.Code).S3Key)));
    out.Code = compare(sha256Base64(zip), conf.CodeSha256, (g) => g === '' || conf.CodeSize === 0);
    for (const key of ['Handler', 'Runtime', 'FunctionName', 'MemorySize', 'Timeout', 'Description', 'Role'] as const) {
      if (p[key] !== undefined) out[key] = compare(p[key], conf[key]);
    }
    if (p.Architectures !== undefined) out.Architectures = compare(p.Architectures, conf.Architectures, (g) => sameJson(g, ['x86_64']));
    if (p.TracingConfig !== undefined) out.TracingConfig = compare(obj(p.TracingConfig).Mode, conf.TracingConfig?.Mode, (g) => g === 'PassThrough');
    if (p.Environment !== undefined) out.Environment = compare(obj(p.Environment).Variables, conf.Environment?.Variables);
    return out;
  },

  'AWS::Lambda::Permission': async (p) => {
    const statements = await lambdaPolicy(text(p.FunctionName));
    const statement = statements.find((s) =>
      sameJson((s.Condition as { ArnLike?: Record<string, unknown> } | undefined)?.ArnLike?.['AWS:SourceArn'], p.SourceArn),
    );
    const evidence = `GetPolicy: ${canonical(statements).slice(0, 400)}`;
    if (!statement) return Object.fromEntries(Object.keys(p).map((k) => [k, { verdict: 'ignored', evidence } as Seen]));
    return {
      FunctionName: compare(p.FunctionName, statement.Resource),
      Action: compare(p.Action, statement.Action),
      Principal: compare(p.Principal, (statement.Principal as { Service?: string } | undefined)?.Service),
      SourceArn: same,
    };
  },

  'AWS::IAM::Role': async (p, physicalId) => {
    const roleName = need(physicalId);
    const role = (await c().iam.send(new GetRoleCommand({ RoleName: roleName }))).Role;
    if (!role) throw new Error(`role ${roleName} is missing`);
    const out: Record<string, Seen> = {};
    if (p.RoleName !== undefined) out.RoleName = compare(p.RoleName, role.RoleName);
    if (p.Path !== undefined) out.Path = compare(p.Path, role.Path);
    if (p.AssumeRolePolicyDocument !== undefined)
      out.AssumeRolePolicyDocument = compare(p.AssumeRolePolicyDocument, JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument ?? '')));
    if (p.Policies !== undefined) {
      const want = list(p.Policies).map(obj);
      const names = (await c().iam.send(new ListRolePoliciesCommand({ RoleName: roleName }))).PolicyNames ?? [];
      if (!sameJson([...names].sort(), want.map((w) => text(w.PolicyName)).sort())) {
        out.Policies = { verdict: 'differs', evidence: `inline policies ${names.join(', ')}` };
      } else {
        let notJson = 0;
        const differing: string[] = [];
        const format = (document: string) => (document.startsWith('{') ? document : decodeURIComponent(document)).slice(0, 60);
        let sample = '';
        for (const w of want) {
          const document = (await c().iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: text(w.PolicyName) }))).PolicyDocument ?? '';
          const body = /^%7B/i.test(document) ? decodeURIComponent(document) : document;
          sample ||= format(document);
          let got: Json;
          try {
            got = JSON.parse(body) as Json;
          } catch {
            notJson++;
            got = pythonLiteral(body);
          }
          if (!sameJson(w.PolicyDocument, got)) differing.push(`${text(w.PolicyName)} ${statementDifferences(w.PolicyDocument, got).join('; ')}`);
        }
        out.Policies = differing.length ? { verdict: 'differs', evidence: `documents differ: ${differing.join(', ')}` } : same;
        out['Policies.PolicyDocument'] = notJson ? { verdict: 'wrong', evidence: `${notJson} of ${want.length} documents are not JSON: ${sample}...` } : same;
      }
    }
    return out;
  },

  // no physical id (NO_PHYSICAL_ID): found by the name in the template
  'AWS::Events::EventBus': async (p) => {
    const bus = await c().events.send(new DescribeEventBusCommand({ Name: text(p.Name) }));
    return { Name: compare(p.Name, bus.Name) };
  },

  'AWS::Events::Rule': async (p, physicalId) => {
    const name = need(physicalId);
    const EventBusName = p.EventBusName === undefined ? undefined : text(p.EventBusName);
    const rule = await c().events.send(new DescribeRuleCommand({ Name: name, EventBusName }));
    const out: Record<string, Seen> = {};
    for (const key of ['Name', 'Description', 'ScheduleExpression', 'State'] as const) if (p[key] !== undefined) out[key] = compare(p[key], rule[key]);
    if (p.EventBusName !== undefined) out.EventBusName = compare(p.EventBusName, rule.EventBusName);
    if (p.EventPattern !== undefined) out.EventPattern = compare(p.EventPattern, rule.EventPattern === undefined ? undefined : JSON.parse(rule.EventPattern));
    if (p.Targets !== undefined) {
      const targets = (await c().events.send(new ListTargetsByRuleCommand({ Rule: name, EventBusName }))).Targets ?? [];
      out.Targets = compare(p.Targets, targets);
    }
    return out;
  },

  // no physical id (NO_PHYSICAL_ID): found by the name in the template
  'AWS::Events::Archive': async (p) => {
    const archive = await c().events.send(new DescribeArchiveCommand({ ArchiveName: text(p.ArchiveName) }));
    const out: Record<string, Seen> = {};
    if (p.ArchiveName !== undefined) out.ArchiveName = compare(p.ArchiveName, archive.ArchiveName);
    if (p.Description !== undefined) out.Description = compare(p.Description, archive.Description);
    if (p.SourceArn !== undefined) out.SourceArn = compare(p.SourceArn, archive.EventSourceArn);
    if (p.RetentionDays !== undefined) out.RetentionDays = compare(p.RetentionDays, archive.RetentionDays);
    if (p.EventPattern !== undefined)
      out.EventPattern = compare(p.EventPattern, archive.EventPattern === undefined ? undefined : JSON.parse(archive.EventPattern));
    return out;
  },
};

// ---------------------------------------------------------------------------------------------
// The tests

describe("the packaged dev stack on moto's CloudFormation", () => {
  test('deploys as osls deploy does: the create-stack template CREATE_COMPLETE, then the update-stack template by URL UPDATE_COMPLETE', async () => {
    expect(afterCreate.StackStatus).toBe('CREATE_COMPLETE');
    expect(afterUpdate.StackStatus).toBe('UPDATE_COMPLETE');
    // moto creates inside the call and records stack events only: nothing per resource to learn from them
    const events = (await c().cfn.send(new DescribeStackEventsCommand({ StackName: STACK }))).StackEvents ?? [];
    expect([...new Set(events.map((e) => e.ResourceType))]).toEqual(['AWS::CloudFormation::Stack']);
    expect(events.map((e) => e.ResourceStatus).reverse()).toEqual(['CREATE_IN_PROGRESS', 'CREATE_COMPLETE', 'UPDATE_IN_PROGRESS', 'UPDATE_COMPLETE']);
  });

  test('moto creates every resource of the types it supports and none of NOT_CREATED (the anonymous entries are the skipped ones)', () => {
    const reported = new Map(stackResources.filter((r) => r.LogicalResourceId).map((r) => [r.LogicalResourceId!, r]));
    const idsByType = new Map<string, string[]>();
    for (const [id, resource] of Object.entries(template.Resources)) if (resource) idsByType.set(resource.Type, [...(idsByType.get(resource.Type) ?? []), id]);

    const created: string[] = [];
    const notCreated: string[] = [];
    const partly: string[] = [];
    for (const [type, ids] of idsByType) {
      const made = ids.filter((id) => reported.get(id)?.ResourceType === type);
      if (made.length === ids.length) created.push(type);
      else if (made.length === 0) notCreated.push(type);
      else partly.push(`${type}: ${ids.filter((id) => !made.includes(id)).join(', ')} missing`);
    }
    expect(partly).toEqual([]);
    expect(notCreated.sort()).toEqual(Object.keys(NOT_CREATED).sort());
    // reported, but some without a physical id: all of a type or none
    const withoutId = created.filter((type) => idsByType.get(type)!.some((id) => !reported.get(id)!.PhysicalResourceId));
    expect(withoutId.filter((type) => idsByType.get(type)!.some((id) => reported.get(id)!.PhysicalResourceId))).toEqual([]);
    expect(withoutId.sort()).toEqual(Object.keys(NO_PHYSICAL_ID).sort());
    expect([...reported.keys()].filter((id) => !template.Resources[id])).toEqual([]);

    // every skipped resource is still counted, as an entry with no logical id, type or physical id
    const skippedCount = notCreated.reduce((n, type) => n + idsByType.get(type)!.length, 0);
    expect(stackResources).toHaveLength(Object.keys(template.Resources).length);
    const anonymous = stackResources.filter((r) => !r.LogicalResourceId);
    expect(anonymous).toHaveLength(skippedCount);
    expect(anonymous.every((r) => !r.ResourceType && !r.PhysicalResourceId)).toBe(true);
    expect(listedResources).toHaveLength(Object.keys(template.Resources).length);
    expect(listedResources.filter((r) => !r.LogicalResourceId && !r.ResourceType && !r.PhysicalResourceId)).toHaveLength(skippedCount);

    const count = (types: string[]) => Object.fromEntries(types.sort().map((t) => [t, idsByType.get(t)!.length]));
    console.info(`created by moto: ${JSON.stringify(count(created))}\nnot created: ${JSON.stringify(count(notCreated))}`);
  });

  test(
    'no resource of the types moto skips exists in its service',
    async () => {
      const present: string[] = [];
      for (const [id, resource] of Object.entries(template.Resources)) {
        const skipped = resource && NOT_CREATED[resource.Type];
        if (!skipped) continue;
        const absent = await skipped.absent(obj(resolved(resource.Properties ?? {})));
        if (!absent) present.push(`${id} (${resource.Type}) exists in moto`);
      }
      expect(present).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "every resource moto creates has the template's properties, except DIFFERENCES",
    async () => {
      const ids = physicalIds();
      const skipped = skippedIds();
      const verdicts = new Map<string, Map<Verdict, string[]>>();
      const unobserved: string[] = [];
      for (const [id, resource] of Object.entries(template.Resources)) {
        if (!resource || skipped.has(id)) continue;
        const observe = OBSERVERS[resource.Type];
        if (!observe) {
          unobserved.push(`${resource.Type} (no observer)`);
          continue;
        }
        const raw = resource.Properties ?? {};
        const props = obj(resolved(raw));
        const asMoto = obj(resolvedAsMoto(raw));
        const seenProps = await observe(props, ids.get(id), id);
        // a property that differs only as moto resolves references to the resources it skipped is "unresolved"
        const seenAsMoto = sameJson(props, asMoto) ? seenProps : await observe(asMoto, ids.get(id), id);
        for (const key of Object.keys(props))
          if (!Object.keys(seenProps).some((k) => k === key || k.startsWith(`${key}.`))) unobserved.push(`${resource.Type} ${key}`);
        for (const [key, first] of Object.entries(seenProps)) {
          const refs = [...referencedIds(raw[key.split('.')[0]!])].filter((ref) => skipped.has(ref));
          const s: Seen =
            first.verdict !== 'same' && refs.length && seenAsMoto[key]?.verdict === 'same'
              ? { verdict: 'unresolved', evidence: `refers to ${refs.join(', ')}` }
              : first;
          if (s.verdict === 'same') continue;
          const byVerdict = verdicts.get(`${resource.Type} ${key}`) ?? new Map<Verdict, string[]>();
          byVerdict.set(s.verdict, [...(byVerdict.get(s.verdict) ?? []), `${id}: ${s.evidence}`]);
          verdicts.set(`${resource.Type} ${key}`, byVerdict);
        }
      }
      expect([...new Set(unobserved)]).toEqual([]);
      const found = Object.fromEntries([...verdicts].map(([key, byVerdict]) => [key, [...byVerdict.keys()].join(' and ')]));
      const evidence = [...verdicts]
        .map(([key, byVerdict]) => `${key}:\n${[...byVerdict].map(([v, e]) => `  ${v}: ${e.slice(0, 3).join('\n    ')}`).join('\n')}`)
        .join('\n');
      try {
        expect(found).toEqual(Object.fromEntries(Object.entries(DIFFERENCES).map(([key, d]) => [key, d.verdict])));
      } catch (error) {
        (error as Error).message += `\n\nWhat moto has (up to 3 resources each):\n${evidence}`;
        throw error;
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'the objects the pipeline relies on, as moto made them (a readable sample of what the test above checks everywhere)',
    async () => {
      const ids = physicalIds();
      const props = (id: string) => obj(resolved(template.Resources[id]?.Properties ?? {}));
      // the data bucket: encrypted with the data key, but neither versioned nor sending EventBridge notifications
      const bucket = text(props('DataBucket').BucketName);
      const encryption = await c().s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
      expect(encryption.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault).toEqual({
        SSEAlgorithm: 'aws:kms',
        KMSMasterKeyID: `arn:aws:kms:${MOTO_REGION}:${MOTO_ACCOUNT_ID}:key/${ids.get('DataKey')}`,
      });
      expect((await c().s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status).toBeUndefined();
      expect((await c().s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }))).EventBridgeConfiguration).toBeUndefined();

      // the alert topic, encrypted with the alert key, with no subscription
      const topicArn = ids.get('AlertTopic')!;
      expect((await c().sns.send(new GetTopicAttributesCommand({ TopicArn: topicArn }))).Attributes).toMatchObject({
        DisplayName: 'Flywheel dev',
        KmsMasterKeyId: ids.get('AlertKey'),
      });
      expect((await c().sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn }))).Subscriptions).toEqual([]);

      // the project bus and a rule on it: its pattern, and its target with retries and dead letters
      const busName = text(props('ProjectEventBus').Name);
      expect((await c().events.send(new DescribeEventBusCommand({ Name: busName }))).Name).toBe(busName);
      const busRule = Object.keys(template.Resources).find((id) => template.Resources[id]?.Type === 'AWS::Events::Rule' && props(id).EventBusName === busName)!;
      const rule = await c().events.send(new DescribeRuleCommand({ Name: ids.get(busRule), EventBusName: busName }));
      expect(JSON.parse(rule.EventPattern ?? 'null')).toEqual(props(busRule).EventPattern);
      const [target] = (await c().events.send(new ListTargetsByRuleCommand({ Rule: ids.get(busRule), EventBusName: busName }))).Targets ?? [];
      expect(target).toMatchObject({
        Arn: expect.stringMatching(/^arn:aws:lambda:.*:function:flywheel-dev-/),
        DeadLetterConfig: { Arn: expect.stringMatching(/-dlq$/) },
      });

      // a function: its code, its own role, its environment without the names of the Glue jobs, database and workgroups
      const fn = props('SnapshotTriggerLambdaFunction');
      const conf = (await c().lambda.send(new GetFunctionCommand({ FunctionName: ids.get('SnapshotTriggerLambdaFunction') }))).Configuration!;
      expect(conf.CodeSha256).toBe(sha256Base64(path.join(dir, path.basename(text(obj(fn.Code).S3Key)))));
      expect(conf.Role).toBe(`arn:aws:iam::${MOTO_ACCOUNT_ID}:role/${ids.get('SnapshotTriggerIamRoleLambdaExecution')}`);
      expect(conf.Environment?.Variables).toMatchObject({ DATA_BUCKET: bucket, EVENT_BUS_NAME: busName, ALERT_TOPIC_ARN: topicArn });
      expect(Object.keys(obj(obj(fn.Environment).Variables)).filter((k) => conf.Environment?.Variables?.[k] === undefined)).toEqual([
        'GLUE_DATABASE',
        'SPLIT_JOB_NAME',
        'ADDRESSABLE_JOB_NAME',
        'ATHENA_WORKGROUP',
        'MONITOR_WORKGROUP',
      ]);

      // every dead-letter queue, and every role with its inline policies
      const queues = await jsonCall('sqs', 'AmazonSQS.ListQueues', {});
      const queueNames = ((queues.body as { QueueUrls?: string[] }).QueueUrls ?? []).map((url) => url.split('/').pop()).sort();
      const templateQueues = Object.keys(template.Resources).filter((id) => template.Resources[id]?.Type === 'AWS::SQS::Queue');
      expect(queueNames).toEqual(templateQueues.map((id) => text(props(id).QueueName)).sort());
      for (const id of Object.keys(template.Resources).filter((id) => template.Resources[id]?.Type === 'AWS::IAM::Role')) {
        const policies = (await c().iam.send(new ListRolePoliciesCommand({ RoleName: ids.get(id) }))).PolicyNames ?? [];
        expect({ id, policies: policies.sort() }).toEqual({
          id,
          policies: list(props(id).Policies)
            .map((p) => text(obj(p).PolicyName))
            .sort(),
        });
      }
    },
    TEST_TIMEOUT_MS,
  );

  test("the stack's outputs, less those that refer to a resource moto does not create", () => {
    const skipped = skippedIds();
    const outputs = obj(template.Outputs as Json);
    const want = Object.entries(outputs)
      .filter(([, o]) => ![...referencedIds(obj(o).Value)].some((id) => skipped.has(id)))
      .map(([key, o]) => ({ key, value: resolved(obj(o).Value!) }));
    const got = (afterUpdate.Outputs ?? []).map((o) => ({ key: o.OutputKey, value: o.OutputValue }));
    expect(canonical(got.sort((a, b) => String(a.key).localeCompare(String(b.key))))).toBe(canonical(want.sort((a, b) => a.key.localeCompare(b.key))));
    expect(Object.keys(outputs).filter((k) => !want.some((w) => w.key === k))).toEqual(['SplitJobName', 'AthenaWorkGroupName']);
  });
});
