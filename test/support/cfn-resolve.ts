/**
 * Resolves the CloudFormation intrinsics of a packaged template into the concrete values they would
 * have once deployed in one made-up account, so that tools which only read plain JSON (parliament,
 * policy simulators, moto) can be pointed at the stack's IAM policies.
 *
 * Physical names come from each resource's own properties (BucketName, QueueName, TopicName, Glue
 * DatabaseInput.Name, Name, RoleName, ...); a resource that leaves its name to CloudFormation gets
 * `<stackName>-<LogicalId>-GENERATED` (lower-case for S3). A KMS key's id is its logical id:
 * arn:aws:kms:us-east-1:123456789012:key/<LogicalId>.
 *
 * Conditions are evaluated when every input is known (Fn::Equals of literals, parameters with a
 * default, pseudo parameters); an Fn::If whose condition cannot be decided takes its true branch.
 * Anything the resolver cannot turn into a plausible value (an unknown GetAtt, Fn::ImportValue, a Ref
 * to nothing) throws an Error naming the path, rather than producing a string that looks resolved.
 */

/** CloudFormation is untyped JSON. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface Template {
  Parameters?: Record<string, { Default?: Json; Type?: string } | undefined>;
  Mappings?: Record<string, Record<string, Record<string, Json>>>;
  Conditions?: Record<string, Json>;
  Resources: Record<string, { Type: string; Properties?: JsonObject; Condition?: string } | undefined>;
  Outputs?: JsonObject;
  [key: string]: unknown;
}

export interface ResolveOptions {
  partition?: string;
  region?: string;
  accountId?: string;
  /** AWS::StackName, and the prefix of names CloudFormation would generate. */
  stackName?: string;
  /** Values for template Parameters (otherwise their Default). */
  parameters?: Record<string, string>;
}

export const DEFAULTS: Required<Omit<ResolveOptions, 'parameters'>> = {
  partition: 'aws',
  region: 'us-east-1',
  accountId: '123456789012',
  stackName: 'stack',
};

/** Where a policy document comes from in the template, and the document with intrinsics resolved. */
export interface PolicyDocumentEntry {
  /** `<LogicalId>/<property path>`, e.g. `SnapshotTriggerIamRoleLambdaExecution/Policies[0]`, `DataBucketPolicy/PolicyDocument`, `AlertKey/KeyPolicy`. */
  where: string;
  logicalId: string;
  resourceType: string;
  /** identity: attached to a principal (IAM role/user/group inline policy, IAM::Policy, ManagedPolicy); resource: S3/SNS/SQS/KMS resource policy. */
  kind: 'identity' | 'resource';
  /** The inline policy's PolicyName, or the ManagedPolicyName, when there is one. */
  policyName?: string;
  document: JsonObject;
}

/** Thrown for an intrinsic the resolver cannot turn into a plausible value. */
export class ResolveError extends Error {
  override name = 'ResolveError';
}

const NO_VALUE = Symbol('AWS::NoValue');
type Resolved = Json | typeof NO_VALUE;

interface Context {
  template: Template;
  opts: Required<Omit<ResolveOptions, 'parameters'>> & { parameters: Record<string, string> };
  conditionCache: Map<string, boolean | undefined>;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: Json | undefined): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);

function contextOf(template: Template, options: ResolveOptions = {}): Context {
  const { parameters = {}, ...rest } = options;
  return { template, opts: { ...DEFAULTS, ...rest, parameters }, conditionCache: new Map() };
}

/**
 * Returns `value` (any part of `template`) with every intrinsic function replaced by a concrete value:
 * Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If, Fn::Select, Fn::Split, Fn::FindInMap, Fn::Base64, Fn::GetAZs,
 * Fn::Equals/Not/And/Or (inside conditions). `AWS::NoValue` drops the array element or object key.
 */
export function resolveIntrinsics(template: Template, value: unknown, options: ResolveOptions = {}): Json {
  const out = resolve(contextOf(template, options), value as Json, '$');
  if (out === NO_VALUE) throw new ResolveError('$: the value resolves to AWS::NoValue');
  return out;
}

function resolve(ctx: Context, value: Json, at: string): Resolved {
  if (Array.isArray(value)) {
    const items: Json[] = [];
    value.forEach((item, i) => {
      const r = resolve(ctx, item, `${at}[${i}]`);
      if (r !== NO_VALUE) items.push(r);
    });
    return items;
  }
  if (!isObject(value)) return value;
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const key = keys[0]!;
    const arg = value[key]!;
    const where = `${at}.${key}`;
    switch (key) {
      case 'Ref':
        return ref(ctx, arg, where);
      case 'Fn::GetAtt':
        return getAtt(ctx, arg, where);
      case 'Fn::Sub':
        return sub(ctx, arg, where);
      case 'Fn::Join': {
        if (!Array.isArray(arg) || arg.length !== 2 || typeof arg[0] !== 'string') throw new ResolveError(`${where}: expected [delimiter, list]`);
        const list = resolve(ctx, arg[1]!, `${where}[1]`);
        if (!Array.isArray(list)) throw new ResolveError(`${where}: the list does not resolve to an array`);
        return list.map((part, i) => scalar(part, `${where}[1][${i}]`)).join(arg[0]);
      }
      case 'Fn::If': {
        if (!Array.isArray(arg) || arg.length !== 3 || typeof arg[0] !== 'string') throw new ResolveError(`${where}: expected [condition, then, else]`);
        const holds = condition(ctx, arg[0], where) ?? true; // undecidable: the true branch
        return holds ? resolve(ctx, arg[1]!, `${where}[1]`) : resolve(ctx, arg[2]!, `${where}[2]`);
      }
      case 'Fn::Select': {
        if (!Array.isArray(arg) || arg.length !== 2) throw new ResolveError(`${where}: expected [index, list]`);
        const index = Number(scalar(resolve(ctx, arg[0]!, `${where}[0]`), `${where}[0]`));
        const list = resolve(ctx, arg[1]!, `${where}[1]`);
        if (!Array.isArray(list) || !Number.isInteger(index) || index < 0 || index >= list.length)
          throw new ResolveError(`${where}: index ${index} is outside the list`);
        return list[index]!;
      }
      case 'Fn::Split': {
        if (!Array.isArray(arg) || arg.length !== 2 || typeof arg[0] !== 'string') throw new ResolveError(`${where}: expected [delimiter, string]`);
        return scalar(resolve(ctx, arg[1]!, `${where}[1]`), `${where}[1]`).split(arg[0]);
      }
      case 'Fn::FindInMap': {
        if (!Array.isArray(arg) || arg.length < 3) throw new ResolveError(`${where}: expected [map, top key, second key]`);
        const [map, top, second] = arg.slice(0, 3).map((a, i) => scalar(resolve(ctx, a, `${where}[${i}]`), `${where}[${i}]`));
        const found = ctx.template.Mappings?.[map!]?.[top!]?.[second!];
        if (found === undefined) throw new ResolveError(`${where}: Mappings.${map}.${top}.${second} does not exist`);
        return found;
      }
      case 'Fn::Base64':
        return Buffer.from(scalar(resolve(ctx, arg, where), where)).toString('base64');
      case 'Fn::GetAZs': {
        const region = str(resolve(ctx, arg, where) as Json) || ctx.opts.region;
        return ['a', 'b', 'c'].map((z) => `${region}${z}`);
      }
      case 'Fn::ImportValue':
      case 'Fn::Transform':
      case 'Fn::Cidr':
      case 'Fn::GetStackOutput':
        throw new ResolveError(`${where}: ${key} has no value inside one template`);
      default:
        if (key.startsWith('Fn::')) throw new ResolveError(`${where}: unknown intrinsic ${key}`);
    }
  }
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    const r = resolve(ctx, v, `${at}.${k}`);
    if (r !== NO_VALUE) out[k] = r;
  }
  return out;
}

function scalar(v: Resolved, at: string): string {
  const s = v === NO_VALUE ? undefined : (str(v) ?? (typeof v === 'boolean' ? String(v) : undefined));
  if (s === undefined) throw new ResolveError(`${at}: expected a string, got ${v === NO_VALUE ? 'AWS::NoValue' : JSON.stringify(v)}`);
  return s;
}

function pseudo(ctx: Context, name: string): Resolved | undefined {
  const { partition, region, accountId, stackName } = ctx.opts;
  switch (name) {
    case 'AWS::Partition':
      return partition;
    case 'AWS::Region':
      return region;
    case 'AWS::AccountId':
      return accountId;
    case 'AWS::StackName':
      return stackName;
    case 'AWS::StackId':
      return `arn:${partition}:cloudformation:${region}:${accountId}:stack/${stackName}/00000000-0000-0000-0000-000000000000`;
    case 'AWS::URLSuffix':
      return partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
    case 'AWS::NotificationARNs':
      return [];
    case 'AWS::NoValue':
      return NO_VALUE;
    default:
      return undefined;
  }
}

function ref(ctx: Context, arg: Json, at: string): Resolved {
  if (typeof arg !== 'string') throw new ResolveError(`${at}: Ref takes a name`);
  const p = pseudo(ctx, arg);
  if (p !== undefined) return p;
  const param = ctx.template.Parameters?.[arg];
  if (param) {
    const v = ctx.opts.parameters[arg] ?? param.Default;
    if (v === undefined) throw new ResolveError(`${at}: parameter ${arg} has no default and no value in options.parameters`);
    return String(param.Type ?? '').startsWith('List<') || param.Type === 'CommaDelimitedList' ? String(v).split(',') : v;
  }
  const resource = ctx.template.Resources[arg];
  if (!resource) throw new ResolveError(`${at}: Ref to ${arg}, which is no resource, parameter or pseudo parameter`);
  return refOf(ctx, arg, at);
}

function getAtt(ctx: Context, arg: Json, at: string): Resolved {
  let logicalId: string;
  let attribute: string;
  if (typeof arg === 'string') {
    const dot = arg.indexOf('.');
    if (dot < 0) throw new ResolveError(`${at}: Fn::GetAtt "${arg}" has no attribute`);
    [logicalId, attribute] = [arg.slice(0, dot), arg.slice(dot + 1)];
  } else if (Array.isArray(arg) && arg.length === 2 && typeof arg[0] === 'string') {
    logicalId = arg[0];
    attribute = scalar(resolve(ctx, arg[1]!, `${at}[1]`), `${at}[1]`);
  } else {
    throw new ResolveError(`${at}: expected [logicalId, attribute]`);
  }
  if (!ctx.template.Resources[logicalId]) throw new ResolveError(`${at}: Fn::GetAtt of ${logicalId}, which is no resource`);
  return attributeOf(ctx, logicalId, attribute, at);
}

/** Fn::Sub: `${AWS::Region}`, `${Param}`, `${Resource}`, `${Resource.Attribute}`, `${!Literal}`, and the [string, variables] form. */
function sub(ctx: Context, arg: Json, at: string): string {
  let text: string;
  const variables: Record<string, string> = {};
  if (typeof arg === 'string') text = arg;
  else if (Array.isArray(arg) && arg.length === 2 && typeof arg[0] === 'string' && isObject(arg[1])) {
    text = arg[0];
    for (const [name, v] of Object.entries(arg[1])) variables[name] = scalar(resolve(ctx, v, `${at}[1].${name}`), `${at}[1].${name}`);
  } else throw new ResolveError(`${at}: expected a string or [string, variables]`);
  return text.replace(/\$\{([^}]*)\}/g, (_whole, inner: string) => {
    if (inner.startsWith('!')) return `\${${inner.slice(1)}}`;
    const name = inner.trim();
    if (name in variables) return variables[name]!;
    const p = pseudo(ctx, name);
    if (p !== undefined) return scalar(p, `${at} \${${name}}`);
    if (ctx.template.Parameters?.[name] || ctx.template.Resources[name]) return scalar(ref(ctx, name, `${at} \${${name}}`), `${at} \${${name}}`);
    const dot = name.indexOf('.');
    if (dot > 0 && ctx.template.Resources[name.slice(0, dot)]) {
      return scalar(attributeOf(ctx, name.slice(0, dot), name.slice(dot + 1), `${at} \${${name}}`), `${at} \${${name}}`);
    }
    throw new ResolveError(`${at}: \${${name}} names no variable, parameter, resource or pseudo parameter`);
  });
}

function condition(ctx: Context, name: string, at: string): boolean | undefined {
  if (ctx.conditionCache.has(name)) return ctx.conditionCache.get(name);
  const body = ctx.template.Conditions?.[name];
  if (body === undefined) throw new ResolveError(`${at}: condition ${name} is not defined`);
  ctx.conditionCache.set(name, undefined); // a cycle is undecidable
  const result = evaluate(ctx, body, `Conditions.${name}`);
  ctx.conditionCache.set(name, result);
  return result;
}

/** A condition's truth, or undefined when an input cannot be known from the template alone. */
function evaluate(ctx: Context, body: Json, at: string): boolean | undefined {
  if (typeof body === 'boolean') return body;
  if (!isObject(body) || Object.keys(body).length !== 1) return undefined;
  const [key, arg] = Object.entries(body)[0]!;
  const args = Array.isArray(arg) ? arg : [arg];
  switch (key) {
    case 'Condition':
      return typeof arg === 'string' ? condition(ctx, arg, at) : undefined;
    case 'Fn::Not': {
      const v = evaluate(ctx, args[0]!, at);
      return v === undefined ? undefined : !v;
    }
    case 'Fn::And':
    case 'Fn::Or': {
      const values = args.map((a) => evaluate(ctx, a, at));
      if (key === 'Fn::And') return values.includes(false) ? false : values.includes(undefined) ? undefined : true;
      return values.includes(true) ? true : values.includes(undefined) ? undefined : false;
    }
    case 'Fn::Equals': {
      try {
        const [a, b] = args.map((x, i) => resolve(ctx, x, `${at}[${i}]`));
        return JSON.stringify(a) === JSON.stringify(b);
      } catch {
        return undefined;
      }
    }
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Physical names, Ref values and attributes, by resource type

function prop(ctx: Context, logicalId: string, path: string[]): string | undefined {
  let v: Json | undefined = ctx.template.Resources[logicalId]?.Properties;
  for (const p of path) v = isObject(v) ? v[p] : undefined;
  if (v === undefined) return undefined;
  const r = resolve(ctx, v, `Resources.${logicalId}.Properties.${path.join('.')}`);
  return r === NO_VALUE ? undefined : str(r);
}

function generatedName(ctx: Context, logicalId: string, lower = false): string {
  const name = `${ctx.opts.stackName}-${logicalId}-GENERATED`;
  return lower ? name.toLowerCase() : name;
}

/** The resource's physical name from its own properties, or the one CloudFormation would generate. */
export function physicalName(template: Template, logicalId: string, options: ResolveOptions = {}): string {
  return nameOf(contextOf(template, options), logicalId);
}

const NAME_PROPERTY: Record<string, string[]> = {
  'AWS::S3::Bucket': ['BucketName'],
  'AWS::SQS::Queue': ['QueueName'],
  'AWS::SNS::Topic': ['TopicName'],
  'AWS::Glue::Database': ['DatabaseInput', 'Name'],
  'AWS::Glue::Job': ['Name'],
  'AWS::Glue::Crawler': ['Name'],
  'AWS::Glue::Trigger': ['Name'],
  'AWS::Glue::Workflow': ['Name'],
  'AWS::Glue::Table': ['TableInput', 'Name'],
  'AWS::Athena::WorkGroup': ['Name'],
  'AWS::Events::EventBus': ['Name'],
  'AWS::Events::Rule': ['Name'],
  'AWS::Events::Archive': ['ArchiveName'],
  'AWS::IAM::Role': ['RoleName'],
  'AWS::IAM::User': ['UserName'],
  'AWS::IAM::Group': ['GroupName'],
  'AWS::IAM::ManagedPolicy': ['ManagedPolicyName'],
  'AWS::IAM::Policy': ['PolicyName'],
  'AWS::Lambda::Function': ['FunctionName'],
  'AWS::Logs::LogGroup': ['LogGroupName'],
  'AWS::CloudWatch::Alarm': ['AlarmName'],
  'AWS::StepFunctions::StateMachine': ['StateMachineName'],
  'AWS::DynamoDB::Table': ['TableName'],
  'AWS::SecretsManager::Secret': ['Name'],
  'AWS::KMS::Alias': ['AliasName'],
};

function typeOf(ctx: Context, logicalId: string): string {
  return ctx.template.Resources[logicalId]!.Type;
}

function nameOf(ctx: Context, logicalId: string): string {
  const type = typeOf(ctx, logicalId);
  if (type === 'AWS::KMS::Key') return logicalId;
  const path = NAME_PROPERTY[type];
  const named = path ? prop(ctx, logicalId, path) : undefined;
  const fifo = type === 'AWS::SQS::Queue' && String(ctx.template.Resources[logicalId]?.Properties?.FifoQueue) === 'true';
  const name = named ?? generatedName(ctx, logicalId, type === 'AWS::S3::Bucket');
  return fifo && !name.endsWith('.fifo') ? `${name}.fifo` : name;
}

function arnOf(ctx: Context, logicalId: string, at: string): string {
  const { partition: p, region: r, accountId: a } = ctx.opts;
  const type = typeOf(ctx, logicalId);
  const name = nameOf(ctx, logicalId);
  switch (type) {
    case 'AWS::S3::Bucket':
      return `arn:${p}:s3:::${name}`;
    case 'AWS::SQS::Queue':
      return `arn:${p}:sqs:${r}:${a}:${name}`;
    case 'AWS::SNS::Topic':
      return `arn:${p}:sns:${r}:${a}:${name}`;
    case 'AWS::KMS::Key':
      return `arn:${p}:kms:${r}:${a}:key/${name}`;
    case 'AWS::KMS::Alias':
      return `arn:${p}:kms:${r}:${a}:${name}`;
    case 'AWS::Glue::Database':
      return `arn:${p}:glue:${r}:${a}:database/${name}`;
    case 'AWS::Glue::Job':
      return `arn:${p}:glue:${r}:${a}:job/${name}`;
    case 'AWS::Glue::Crawler':
      return `arn:${p}:glue:${r}:${a}:crawler/${name}`;
    case 'AWS::Glue::Trigger':
      return `arn:${p}:glue:${r}:${a}:trigger/${name}`;
    case 'AWS::Glue::Workflow':
      return `arn:${p}:glue:${r}:${a}:workflow/${name}`;
    case 'AWS::Athena::WorkGroup':
      return `arn:${p}:athena:${r}:${a}:workgroup/${name}`;
    case 'AWS::Events::EventBus':
      return `arn:${p}:events:${r}:${a}:event-bus/${name}`;
    case 'AWS::Events::Rule': {
      const bus = prop(ctx, logicalId, ['EventBusName']);
      const busName = bus?.startsWith('arn:') ? bus.slice(bus.lastIndexOf('/') + 1) : bus;
      return busName && busName !== 'default' ? `arn:${p}:events:${r}:${a}:rule/${busName}/${name}` : `arn:${p}:events:${r}:${a}:rule/${name}`;
    }
    case 'AWS::Events::Archive':
      return `arn:${p}:events:${r}:${a}:archive/${name}`;
    case 'AWS::IAM::Role':
      return `arn:${p}:iam::${a}:role${prop(ctx, logicalId, ['Path']) ?? '/'}${name}`;
    case 'AWS::IAM::User':
      return `arn:${p}:iam::${a}:user${prop(ctx, logicalId, ['Path']) ?? '/'}${name}`;
    case 'AWS::IAM::Group':
      return `arn:${p}:iam::${a}:group${prop(ctx, logicalId, ['Path']) ?? '/'}${name}`;
    case 'AWS::IAM::ManagedPolicy':
      return `arn:${p}:iam::${a}:policy${prop(ctx, logicalId, ['Path']) ?? '/'}${name}`;
    case 'AWS::IAM::InstanceProfile':
      return `arn:${p}:iam::${a}:instance-profile/${name}`;
    case 'AWS::Lambda::Function':
      return `arn:${p}:lambda:${r}:${a}:function:${name}`;
    case 'AWS::Logs::LogGroup':
      return `arn:${p}:logs:${r}:${a}:log-group:${name}:*`;
    case 'AWS::CloudWatch::Alarm':
      return `arn:${p}:cloudwatch:${r}:${a}:alarm:${name}`;
    case 'AWS::StepFunctions::StateMachine':
      return `arn:${p}:states:${r}:${a}:stateMachine:${name}`;
    case 'AWS::DynamoDB::Table':
      return `arn:${p}:dynamodb:${r}:${a}:table/${name}`;
    case 'AWS::SecretsManager::Secret':
      return `arn:${p}:secretsmanager:${r}:${a}:secret:${name}-AbCdEf`;
    default:
      throw new ResolveError(`${at}: no ARN format known for ${type} (${logicalId})`);
  }
}

function refOf(ctx: Context, logicalId: string, at: string): string {
  const { region: r, accountId: a } = ctx.opts;
  const type = typeOf(ctx, logicalId);
  switch (type) {
    // Ref is the ARN
    case 'AWS::SNS::Topic':
    case 'AWS::IAM::ManagedPolicy':
    case 'AWS::StepFunctions::StateMachine':
    case 'AWS::SecretsManager::Secret':
      return arnOf(ctx, logicalId, at);
    case 'AWS::SQS::Queue':
      return `https://sqs.${r}.${pseudo(ctx, 'AWS::URLSuffix') as string}/${a}/${nameOf(ctx, logicalId)}`;
    case 'AWS::SNS::Subscription':
      return `${refOf(ctx, topicOf(ctx, logicalId, at), at)}:00000000-0000-0000-0000-000000000000`;
    default:
      // Ref is the physical name (buckets, Glue, Athena, IAM, Lambda, log groups, buses, keys: the key id, ...)
      return nameOf(ctx, logicalId);
  }
}

function topicOf(ctx: Context, logicalId: string, at: string): string {
  const topic = ctx.template.Resources[logicalId]?.Properties?.TopicArn;
  if (isObject(topic) && typeof topic.Ref === 'string') return topic.Ref;
  throw new ResolveError(`${at}: cannot tell the topic of subscription ${logicalId}`);
}

function attributeOf(ctx: Context, logicalId: string, attribute: string, at: string): string {
  const type = typeOf(ctx, logicalId);
  const { region: r } = ctx.opts;
  const name = () => nameOf(ctx, logicalId);
  switch (`${type}.${attribute}`) {
    case 'AWS::S3::Bucket.DomainName':
      return `${name()}.s3.${pseudo(ctx, 'AWS::URLSuffix') as string}`;
    case 'AWS::S3::Bucket.RegionalDomainName':
      return `${name()}.s3.${r}.${pseudo(ctx, 'AWS::URLSuffix') as string}`;
    case 'AWS::SQS::Queue.QueueName':
    case 'AWS::SNS::Topic.TopicName':
    case 'AWS::Events::EventBus.Name':
    case 'AWS::KMS::Key.KeyId':
      return name();
    case 'AWS::SQS::Queue.QueueUrl':
      return refOf(ctx, logicalId, at);
    case 'AWS::SNS::Topic.TopicArn':
      return arnOf(ctx, logicalId, at);
    case 'AWS::IAM::Role.RoleId':
      return `AROA${logicalId
        .toUpperCase()
        .replace(/[^A-Z0-9]/g, '')
        .slice(0, 17)
        .padEnd(17, 'X')}`;
    case 'AWS::Athena::WorkGroup.Name':
      return name();
    case 'AWS::Lambda::Function.FunctionName':
      return name();
    default:
      if (attribute === 'Arn') return arnOf(ctx, logicalId, at);
      if (attribute === 'Name') return name();
      throw new ResolveError(`${at}: no value known for ${logicalId}.${attribute} (${type})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Policy documents

function asDocument(v: Json, at: string): JsonObject {
  const doc = typeof v === 'string' ? (JSON.parse(v) as Json) : v;
  if (!isObject(doc)) throw new ResolveError(`${at}: the policy document is not an object`);
  return doc;
}

/**
 * Every IAM policy document of the template, resolved: inline Policies of AWS::IAM::Role/User/Group,
 * AWS::IAM::Policy and AWS::IAM::ManagedPolicy (identity); AWS::S3::BucketPolicy, AWS::SNS::TopicPolicy,
 * AWS::SQS::QueuePolicy and AWS::KMS::Key KeyPolicy (resource). Trust policies (AssumeRolePolicyDocument)
 * are not included. Resources whose Condition is known to be false are skipped.
 */
export function listPolicyDocuments(template: Template, options: ResolveOptions = {}): PolicyDocumentEntry[] {
  const ctx = contextOf(template, options);
  const entries: PolicyDocumentEntry[] = [];
  const res = (v: Json, at: string): Json => {
    const r = resolve(ctx, v, at);
    if (r === NO_VALUE) throw new ResolveError(`${at}: resolves to AWS::NoValue`);
    return r;
  };
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (!resource) continue;
    if (resource.Condition && condition(ctx, resource.Condition, `Resources.${logicalId}.Condition`) === false) continue;
    const props = resource.Properties ?? {};
    const base = { logicalId, resourceType: resource.Type };
    const at = (path: string) => `Resources.${logicalId}.Properties.${path}`;
    switch (resource.Type) {
      case 'AWS::IAM::Role':
      case 'AWS::IAM::User':
      case 'AWS::IAM::Group': {
        if (props.Policies === undefined) break;
        // Resolved as a whole so that an Fn::If around one policy (or AWS::NoValue) counts like CloudFormation.
        const policies = res(props.Policies, at('Policies'));
        if (!Array.isArray(policies)) throw new ResolveError(`${at('Policies')}: not a list`);
        policies.forEach((policy, i) => {
          if (!isObject(policy)) throw new ResolveError(`${at(`Policies[${i}]`)}: not an object`);
          entries.push({
            ...base,
            where: `${logicalId}/Policies[${i}]`,
            kind: 'identity',
            ...(typeof policy.PolicyName === 'string' ? { policyName: policy.PolicyName } : {}),
            document: asDocument(policy.PolicyDocument ?? null, at(`Policies[${i}].PolicyDocument`)),
          });
        });
        break;
      }
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy': {
        const nameKey = resource.Type === 'AWS::IAM::Policy' ? 'PolicyName' : 'ManagedPolicyName';
        const policyName = props[nameKey] === undefined ? undefined : res(props[nameKey]!, at(nameKey));
        entries.push({
          ...base,
          where: `${logicalId}/PolicyDocument`,
          kind: 'identity',
          ...(typeof policyName === 'string' ? { policyName } : {}),
          document: asDocument(res(props.PolicyDocument ?? null, at('PolicyDocument')), at('PolicyDocument')),
        });
        break;
      }
      case 'AWS::S3::BucketPolicy':
      case 'AWS::SNS::TopicPolicy':
      case 'AWS::SQS::QueuePolicy':
        entries.push({
          ...base,
          where: `${logicalId}/PolicyDocument`,
          kind: 'resource',
          document: asDocument(res(props.PolicyDocument ?? null, at('PolicyDocument')), at('PolicyDocument')),
        });
        break;
      case 'AWS::KMS::Key':
        if (props.KeyPolicy === undefined) break; // the default key policy
        entries.push({
          ...base,
          where: `${logicalId}/KeyPolicy`,
          kind: 'resource',
          document: asDocument(res(props.KeyPolicy, at('KeyPolicy')), at('KeyPolicy')),
        });
        break;
      default:
        break;
    }
  }
  return entries;
}

/** Paths inside `value` where something is not plain JSON data: an intrinsic left over or a `${...}` not substituted. */
export function unresolvedParts(value: Json, at = '$'): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => unresolvedParts(v, `${at}[${i}]`));
  if (isObject(value)) {
    return Object.entries(value).flatMap(([k, v]) => (k === 'Ref' || k.startsWith('Fn::') ? [`${at}.${k}`] : unresolvedParts(v, `${at}.${k}`)));
  }
  // ${aws:username}, ${s3:prefix}, ${*} ... are IAM policy variables, not CloudFormation's (AWS::Region has two colons)
  if (typeof value === 'string' && /\$\{(?![a-z0-9-]+:(?!:))(?![*?$]\})[^}]*\}/i.test(value)) return [`${at}: ${value}`];
  return [];
}
