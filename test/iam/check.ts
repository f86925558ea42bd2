/**
 * Proves a role of the packaged stack against what its code does, with an IAM policy simulator
 * (@cloud-copilot/iam-simulate, which evaluates policies from AWS's published IAM action data).
 *
 * A function's requests are derived from the code, not listed here: its reach (the union of its use
 * cases' …Reach, shared/composition/function-reach.ts) computed for the deployment's own settings
 * (the function's environment in the template), turned into IAM requests by the actions each AWS adapter
 * declares (shared/adapters/aws/iam.ts); plus what Lambda does with the role (its log group, X-Ray when
 * traced, its onFailure queue). A Glue job's come from shared/domain/job-reach.ts, plus what Glue does
 * (its script and extra files, logs, metrics). Every request is simulated against the role's policies and
 * the resource's own policy (bucket, topic, key, queue), as the role, over TLS.
 *
 * The report: requests denied; (statement, action, resource) grants no request used; statements that are
 * never the only one allowing a request (removing them denies nothing).
 */
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { chargebacksParamsFromEnv, awsConfig, monitorOptionsFromEnv, settingsFromEnv } from '../../shared/composition/aws.js';
import { cleanroomsDefaultsFromEnv } from '../../shared/composition/aws-cleanrooms.js';
import { FUNCTION_REACH } from '../../shared/composition/function-reach.js';
import { iamRequests, jobScriptRequests, type AwsResources, type IamRequest } from '../../shared/adapters/aws/iam.js';
import { jobReaches } from '../../shared/domain/job-reach.js';
import { parseS3Uri } from '../../shared/domain/config.js';
import type { FunctionName } from '../../shared/events/patterns.js';
import { DEFAULTS, resolveIntrinsics, type Json, type Template } from '../support/cfn-resolve.js';

type Any = any; // resolved CloudFormation JSON

export interface Denied {
  action: string;
  resource: string;
  why: string;
  result: string;
}

export interface RoleReport {
  role: string;
  requests: IamRequest[];
  denied: Denied[];
  /** `Sid: action on resource` granted but used by no request. */
  unused: string[];
  /** Sids of statements that are never the only statement allowing a request. */
  redundant: string[];
}

const { partition, region, accountId } = DEFAULTS;
const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const cap = (s: string) => `${s[0]!.toUpperCase()}${s.slice(1)}`;

/** A packaged template, resolved as deployed in one made-up account. */
export class Stack {
  private resources_?: AwsResources;
  private readonly policies = new Map<string, Any | undefined>();

  constructor(
    readonly template: Template,
    readonly stage: string,
  ) {}

  resolve(value: unknown): Any {
    return resolveIntrinsics(this.template, value, { stackName: `flywheel-${this.stage}` });
  }

  resources(type: string): Array<[string, Any]> {
    return Object.entries(this.template.Resources).filter(([, r]) => r?.Type === type) as Array<[string, Any]>;
  }

  /** The function's environment as Lambda gives it (AWS_REGION included). */
  env(fn: FunctionName): NodeJS.ProcessEnv {
    const f = this.template.Resources[`${cap(fn)}LambdaFunction`] as Any;
    return { ...this.resolve(f.Properties.Environment.Variables), AWS_REGION: region, AWS_LAMBDA_FUNCTION_NAME: this.resolve(f.Properties.FunctionName) };
  }

  /** The deployed names and encryption keys the requests refer to (resolved once). */
  awsResources(): AwsResources {
    this.resources_ ??= this.resolveAwsResources();
    return this.resources_;
  }

  private resolveAwsResources(): AwsResources {
    const env = this.env('snapshotTrigger');
    const s = settingsFromEnv(env);
    const keyArn = (k: string | undefined) => (k === undefined ? undefined : k.startsWith('arn:') ? k : `arn:${partition}:kms:${region}:${accountId}:key/${k}`);
    const bucketKeys: Record<string, string | undefined> = {};
    for (const [id, b] of this.resources('AWS::S3::Bucket')) {
      const rule = this.resolve(b.Properties.BucketEncryption ?? {}).ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault;
      bucketKeys[this.resolve({ Ref: id })] = rule?.SSEAlgorithm === 'aws:kms' ? keyArn(rule.KMSMasterKeyID) : undefined;
    }
    const topic = this.resources('AWS::SNS::Topic').find(([id]) => this.resolve({ Ref: id }) === s.alertTopicArn);
    if (!topic) throw new Error(`no SNS topic is ${s.alertTopicArn}`);
    const workgroup = (name: string) => {
      const wg = this.resources('AWS::Athena::WorkGroup').find(([, w]) => this.resolve(w.Properties.Name) === name);
      if (!wg) throw new Error(`no Athena workgroup ${name}`);
      const out = parseS3Uri(this.resolve(wg[1].Properties.WorkGroupConfiguration.ResultConfiguration.OutputLocation));
      return { name, results: { bucket: out.bucket, prefix: out.key } };
    };
    return {
      partition,
      region,
      accountId,
      bucketKeys,
      topic: { arn: s.alertTopicArn, key: keyArn(this.resolve(topic[1].Properties.KmsMasterKeyId ?? null) ?? undefined) },
      busArn: this.resolve({ 'Fn::GetAtt': ['ProjectEventBus', 'Arn'] }),
      jobNames: this.jobNames(),
      workgroups: { engine: workgroup(s.athenaWorkgroup), monitorEngine: workgroup(s.monitorWorkgroup) },
    };
  }

  /** Glue job name of each port job, from the environments of the functions that start them. */
  jobNames(): Record<string, string | undefined> {
    const trigger = settingsFromEnv(this.env('snapshotTrigger'));
    return {
      infobase: trigger.splitJobName,
      addressable: trigger.addressableJobName,
      compaction: this.env('compaction').COMPACTION_JOB_NAME,
      chargebacks: this.env('chargebacks').CHARGEBACKS_JOB_NAME,
    };
  }

  /** The role's identity statements (resolved) and its ARN. */
  role(roleId: string): { arn: string; statements: Any[] } {
    const r = this.template.Resources[roleId] as Any;
    if (r?.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is not a role of the stack`);
    const statements = asList<Any>(r.Properties.Policies).flatMap((p) => asList(this.resolve(p.PolicyDocument).Statement));
    return { arn: `arn:${partition}:iam::${accountId}:role/${this.resolve(r.Properties.RoleName)}`, statements };
  }

  /** The resource policy a request's resource carries (bucket, topic, key, queue), if any (resolved once per resource). */
  resourcePolicy(resource: string): Any | undefined {
    if (!this.policies.has(resource)) this.policies.set(resource, this.findResourcePolicy(resource));
    return this.policies.get(resource);
  }

  private findResourcePolicy(resource: string): Any | undefined {
    const s3 = /^arn:[^:]+:s3:::([^/]+)/.exec(resource);
    if (s3) return this.policyOf('AWS::S3::BucketPolicy', (p) => this.resolve({ Ref: p.Bucket.Ref }) === s3[1], 'PolicyDocument');
    if (resource.includes(':sns:'))
      return this.policyOf('AWS::SNS::TopicPolicy', (p) => asList(p.Topics).some((t: Any) => this.resolve(t) === resource), 'PolicyDocument');
    if (resource.includes(':kms:')) {
      const key = this.resources('AWS::KMS::Key').find(([id]) => this.resolve({ 'Fn::GetAtt': [id, 'Arn'] }) === resource);
      return key && this.resolve(key[1].Properties.KeyPolicy);
    }
    if (resource.includes(':sqs:'))
      return this.policyOf(
        'AWS::SQS::QueuePolicy',
        (p) => asList(p.Queues).some((q: Any) => this.resolve({ 'Fn::GetAtt': [q.Ref, 'Arn'] }) === resource),
        'PolicyDocument',
      );
    return undefined;
  }

  private policyOf(type: string, matches: (props: Any) => boolean, property: string): Any | undefined {
    const found = this.resources(type).find(([, p]) => matches(p.Properties));
    return found && this.resolve(found[1].Properties[property]);
  }
}

/** What Lambda itself does with a function's role: its log streams, X-Ray when traced, its onFailure queue. */
function lambdaRequests(stack: Stack, fn: FunctionName): IamRequest[] {
  const f = stack.template.Resources[`${cap(fn)}LambdaFunction`] as Any;
  const name = stack.resolve(f.Properties.FunctionName);
  const stream = `arn:${partition}:logs:${region}:${accountId}:log-group:/aws/lambda/${name}:log-stream:2026/11/28/[$LATEST]0123456789abcdef`;
  const out: IamRequest[] = ['logs:CreateLogStream', 'logs:PutLogEvents'].map((action) => ({
    action,
    resource: stream,
    why: "Lambda writes the function's logs",
  }));
  if (f.Properties.TracingConfig?.Mode === 'Active')
    for (const action of ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'])
      out.push({ action, resource: '*', why: "Lambda sends the traced function's segments" });
  for (const [, c] of stack.resources('AWS::Lambda::EventInvokeConfig')) {
    if (c.Properties.FunctionName?.Ref !== `${cap(fn)}LambdaFunction`) continue;
    const queue = c.Properties.DestinationConfig?.OnFailure?.Destination;
    if (queue)
      out.push({ action: 'sqs:SendMessage', resource: stack.resolve(queue), why: 'Lambda sends a failed asynchronous invocation to its onFailure queue' });
  }
  return out;
}

/** What Glue itself does with a job's role: reads its script and extra files, writes its logs and metrics. */
function glueRequests(stack: Stack, job: Any, bucketKeys: AwsResources['bucketKeys']): IamRequest[] {
  const p = stack.resolve(job.Properties);
  const args: Record<string, string> = p.DefaultArguments ?? {};
  const files = [p.Command.ScriptLocation, ...(args['--extra-py-files'] ?? '').split(',').filter(Boolean)].map((u: string) => parseS3Uri(u));
  const out: IamRequest[] = [];
  for (const f of files) {
    out.push({ action: 's3:GetObject', resource: `arn:${partition}:s3:::${f.bucket}/${f.key}`, why: "Glue reads the job's script" });
    const key = bucketKeys[f.bucket];
    if (key) out.push({ action: 'kms:Decrypt', resource: key, why: "Glue reads the job's script (the bucket's SSE-KMS key)" });
  }
  if (args['--enable-continuous-cloudwatch-log'] === 'true') {
    const group = `arn:${partition}:logs:${region}:${accountId}:log-group:/aws-glue/jobs/logs-v2`;
    out.push({ action: 'logs:CreateLogGroup', resource: group, why: 'continuous logging' });
    for (const action of ['logs:CreateLogStream', 'logs:PutLogEvents'])
      out.push({ action, resource: `${group}:log-stream:jr_0123456789abcdef`, why: 'continuous logging' });
  }
  if (args['--enable-metrics'] === 'true')
    out.push({ action: 'cloudwatch:PutMetricData', resource: '*', context: { 'cloudwatch:namespace': 'Glue' }, why: 'job metrics' });
  return out;
}

/** The requests of one function: its code's reach for the deployment's settings, and Lambda's own. */
export function functionRequests(stack: Stack, fn: FunctionName): IamRequest[] {
  const env = stack.env(fn);
  const s = settingsFromEnv(env);
  const grants = FUNCTION_REACH[fn]({ config: awsConfig(s), monitorDefaults: monitorOptionsFromEnv(env, s), cleanrooms: cleanroomsDefaultsFromEnv(env) });
  return [...iamRequests(grants, stack.awsResources()), ...lambdaRequests(stack, fn)];
}

/** The requests of every Glue job of the stack, by the job's logical id. */
export function jobRequests(stack: Stack): Array<{ jobId: string; roleId: string; requests: IamRequest[] }> {
  const resources = stack.awsResources();
  const trigger = stack.env('snapshotTrigger');
  const s = settingsFromEnv(trigger);
  const reaches = jobReaches(awsConfig(s), chargebacksParamsFromEnv(stack.env('chargebacks'), s));
  const byName = Object.fromEntries(Object.entries(stack.jobNames()).map(([port, name]) => [name, port]));
  return stack.resources('AWS::Glue::Job').map(([jobId, job]) => {
    const port = byName[stack.resolve(job.Properties.Name)];
    const reach = port ? reaches[port] : undefined;
    if (!reach) throw new Error(`Glue job ${jobId} is started by no Flywheel function (no job reach)`);
    return {
      jobId,
      roleId: job.Properties.Role['Fn::GetAtt'][0],
      requests: [...jobScriptRequests(reach, resources), ...glueRequests(stack, job, resources.bucketKeys)],
    };
  });
}

/** Simulates `requests` against the role; see the module comment for what the report holds. */
export async function checkRole(stack: Stack, roleId: string, requests: IamRequest[]): Promise<RoleReport> {
  const role = stack.role(roleId);
  const sidOf = (s: Any): string => {
    if (!s.Sid) throw new Error(`${roleId} has a statement without a Sid: ${JSON.stringify(s)}`);
    return s.Sid;
  };
  const used = new Set<string>();
  const soleAllower = new Set<string>();
  const denied: Denied[] = [];
  for (const r of requests) {
    const simulation: Simulation = {
      identityPolicies: [{ name: roleId, policy: { Version: '2012-10-17', Statement: role.statements } }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: stack.resourcePolicy(r.resource),
      request: {
        principal: role.arn,
        action: r.action,
        resource: { resource: r.resource, accountId },
        contextVariables: { 'aws:PrincipalArn': role.arn, 'aws:PrincipalAccount': accountId, 'aws:SecureTransport': 'true', ...r.context },
      },
    };
    const res = await runSimulation(simulation, {});
    if (res.resultType === 'error') throw new Error(`simulating ${r.action} on ${r.resource} (${r.why}): ${JSON.stringify(res.errors)}`);
    // an action with no resource type (cloudwatch:PutMetricData) is simulated as a wildcard: one analysis per statement resource
    if (res.resultType === 'wildcard' && r.resource !== '*') throw new Error(`a wildcard simulation for ${r.action} on ${r.resource}`);
    if (res.overallResult !== 'Allowed') {
      denied.push({ action: r.action, resource: r.resource, why: r.why, result: res.overallResult });
      continue;
    }
    const analyses = (res.resultType === 'single' ? [res.result.analysis] : res.results.map((x: Any) => x.analysis)) as Any[];
    const allows = analyses.flatMap((a) => a?.identityAnalysis?.allowStatements ?? []) as Any[];
    // the simulator's statement objects name their Sid through sid()
    for (const a of allows) {
      for (const m of asList<Any>(a.explain?.resources).filter((x) => x.matches)) used.add(`${a.statement.sid()}: ${r.action} on ${m.resource}`);
    }
    if (allows.length === 1) soleAllower.add(allows[0].statement.sid());
  }
  const unused: string[] = [];
  for (const s of role.statements.filter((x) => x.Effect === 'Allow')) {
    for (const action of asList<string>(s.Action))
      for (const resource of asList<string>(s.Resource)) {
        const grant = `${sidOf(s)}: ${action} on ${resource}`;
        if (!used.has(grant)) unused.push(grant);
      }
  }
  const redundant = role.statements.filter((s) => s.Effect === 'Allow' && !soleAllower.has(sidOf(s))).map(sidOf);
  return { role: roleId, requests, denied, unused, redundant };
}

export type { Json };
