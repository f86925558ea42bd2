/**
 * Adopting existing resources (README: "First deploy onto existing buckets and an existing database").
 *
 * The stage params `existingDataBucket`, `existingAnalysisBucket` and `existingGlueDatabase` name a bucket or a
 * Glue database the stack uses instead of creating its own ('' = create it, as always). Their values are known
 * while packaging, like every name the template uses, so adoption is decided then, not by CloudFormation:
 * - this file's variables (`${file(./shared/composition/serverless-adopt.cjs):dataBucketName}`, `glueDatabase`)
 *   give serverless.yml the names the event patterns and custom values use;
 * - the plugin (the same file, listed under `plugins:`) rewrites the finished template when something is adopted:
 *   the adopted resource (`DataBucket`, `AnalysisBucket`, `GlueDatabase`) and its bucket policy are left out, and
 *   every reference to it (`Ref`, `Fn::GetAtt …Arn`, `${X}` / `${X.Arn}` in an `Fn::Sub`, `DependsOn`) becomes the
 *   adopted name or its ARN. The statements of serverless.yml keep naming the logical ids, so they are scoped to the
 *   adopted names with no second copy; an attribute this file cannot write (anything but a bucket's Arn) fails the
 *   package rather than reach CloudFormation;
 * - an adopted data bucket gets its S3 → EventBridge delivery from the custom resource `DataBucketEventBridge`,
 *   served by the `bucketEventBridge` function (services/bucket-event-bridge/), which exists only then: without an
 *   adopted data bucket the plugin removes that function before anything is compiled, and the template is the one
 *   a stack that creates its buckets always had.
 * Nothing adopted is in the template, so nothing adopted is deleted or changed by `osls remove` or by an update.
 *
 * The stage param `stagedGlueDatabase` names an existing Glue database for the ext_ tables (the current system's
 * STAGED_DB; '' = the one database). serverless.yml names it `${StagedGlueDatabase}` in the statements of the ext_
 * tables; the plugin makes that the staged database's name, or `${GlueDatabase}` when there is none (then adopted
 * or created like every reference to it), and drops the resources a statement then lists twice.
 * CommonJS because osls `require`s plugins and variable files.
 */
'use strict';

/** The adoptable resources: their logical ids, their stage param, what depends on them alone, and how they are named. */
const ADOPTABLE = {
  DataBucket: { param: 'existingDataBucket', kind: 'bucket', alsoRemoved: ['DataBucketPolicy'] },
  AnalysisBucket: { param: 'existingAnalysisBucket', kind: 'bucket', alsoRemoved: ['AnalysisBucketPolicy'] },
  GlueDatabase: { param: 'existingGlueDatabase', kind: 'database', alsoRemoved: [] },
};

/** The function serving the custom resource, and the custom resource's logical id. */
const NOTIFICATION_FUNCTION = 'bucketEventBridge';
const NOTIFICATION_RESOURCE = 'DataBucketEventBridge';

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const DATABASE_NAME = /^[a-z0-9_]{1,255}$/;

/** The adopted name of one param, checked ('' or absent: not adopted). */
function adopted(kind, param, value) {
  const name = String(value ?? '').trim();
  if (!name) return undefined;
  const ok = kind === 'bucket' ? BUCKET_NAME.test(name) && !name.includes('..') : DATABASE_NAME.test(name);
  if (!ok)
    throw new Error(`${param}=${name} is not a valid ${kind === 'bucket' ? 'S3 bucket name' : 'Glue database name (lower-case letters, digits, underscores)'}`);
  return name;
}

/** The adopted names by logical id, from the resolved `custom.adopt` (`{ DataBucket: '<existingDataBucket>', … }`). */
function adoptedNames(values) {
  const out = {};
  for (const [id, a] of Object.entries(ADOPTABLE)) {
    const name = adopted(a.kind, a.param, values[id]);
    if (name) out[id] = name;
  }
  return out;
}

/** What a reference to an adopted resource becomes: its name (Ref, `${X}`) or its ARN (`X.Arn`), as a value and inside an Fn::Sub string. */
function replacements(names) {
  const out = {};
  for (const [id, name] of Object.entries(names)) {
    const arnSub = `arn:\${AWS::Partition}:s3:::${name}`;
    out[id] = {
      ref: name,
      attributes: ADOPTABLE[id].kind === 'bucket' ? { Arn: { value: { 'Fn::Sub': arnSub }, sub: arnSub } } : {},
    };
  }
  return out;
}

/**
 * The template with the adopted resources left out and every reference to them replaced. Throws on a reference it
 * cannot replace (an attribute other than a bucket's Arn), naming where it is.
 */
function adoptInTemplate(template, names) {
  const repl = replacements(names);
  const removed = new Set(Object.keys(names).flatMap((id) => [id, ...ADOPTABLE[id].alsoRemoved]));
  const attribute = (id, attr, at) => {
    const a = repl[id].attributes[attr];
    if (!a) throw new Error(`${at}: ${id}.${attr} has no value when ${id} is adopted (serverless-adopt.cjs)`);
    return a;
  };
  const subString = (s, locals, at) =>
    s.replace(/\$\{([A-Za-z0-9]+)(?:\.([A-Za-z0-9]+))?\}/g, (whole, id, attr) => {
      if (!repl[id] || locals.has(id)) return whole;
      return attr ? attribute(id, attr, at).sub : repl[id].ref;
    });
  const walk = (v, at) => {
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${at}[${i}]`));
    if (v === null || typeof v !== 'object') return v;
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === 'Ref' && repl[v.Ref]) return repl[v.Ref].ref;
    if (keys.length === 1 && keys[0] === 'Fn::GetAtt') {
      const [id, attr] = Array.isArray(v['Fn::GetAtt']) ? v['Fn::GetAtt'] : String(v['Fn::GetAtt']).split(/\.(.*)/s);
      if (repl[id]) return attribute(id, attr, at).value;
    }
    if (keys.length === 1 && keys[0] === 'Fn::Sub') {
      const arg = v['Fn::Sub'];
      if (typeof arg === 'string') {
        const out = subString(arg, new Set(), at);
        // nothing left to substitute: a plain string (cfn-lint W1020)
        return out === arg || out.includes('${') ? { 'Fn::Sub': out } : out;
      }
      const [s, vars = {}] = arg;
      return { 'Fn::Sub': [subString(s, new Set(Object.keys(vars)), at), walk(vars, `${at}.Fn::Sub[1]`)] };
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, `${at}.${k}`)]));
  };
  const Resources = {};
  for (const [id, r] of Object.entries(template.Resources ?? {})) {
    if (removed.has(id)) continue;
    const out = walk(r, `Resources.${id}`);
    if (out.DependsOn !== undefined) {
      const deps = (Array.isArray(out.DependsOn) ? out.DependsOn : [out.DependsOn]).filter((d) => !removed.has(d));
      if (deps.length) out.DependsOn = deps;
      else delete out.DependsOn;
    }
    Resources[id] = out;
  }
  const result = { ...template, Resources };
  for (const section of ['Outputs', 'Conditions']) if (template[section]) result[section] = walk(template[section], section);
  // a condition only the adopted resources used (the buckets' EncryptWithProjectKey) goes with them (cfn-lint W8001)
  if (result.Conditions) {
    const used = conditionsUsed({ Resources, Outputs: result.Outputs, Conditions: result.Conditions });
    result.Conditions = Object.fromEntries(Object.entries(result.Conditions).filter(([name]) => used.has(name)));
    if (Object.keys(result.Conditions).length === 0) delete result.Conditions;
  }
  return result;
}

/** The condition names a template part uses: resources' and outputs' `Condition`, `Fn::If`, `{ Condition: X }` in conditions. */
function conditionsUsed(v, used = new Set()) {
  if (Array.isArray(v)) for (const x of v) conditionsUsed(x, used);
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === 'Condition' && typeof x === 'string') used.add(x);
      else if (k === 'Fn::If' && Array.isArray(x) && typeof x[0] === 'string') used.add(x[0]);
      conditionsUsed(x, used);
    }
  }
  return used;
}

/** The custom resource that turns on EventBridge delivery of an adopted data bucket (services/bucket-event-bridge/). */
function notificationResource(functionLogicalId, bucket) {
  return {
    Type: 'Custom::BucketEventBridge',
    Properties: { ServiceToken: { 'Fn::GetAtt': [functionLogicalId, 'Arn'] }, BucketName: bucket },
  };
}

/** The pseudo logical id serverless.yml names the staged database by (never a resource). */
const STAGED_DATABASE = 'StagedGlueDatabase';

/**
 * The template with every `StagedGlueDatabase` reference made the staged database's name (`staged`), or the
 * GlueDatabase resource when there is none; then every IAM statement's resource list without repeats.
 */
function stagedInTemplate(template, staged) {
  // the Fn::Sub placeholders `${StagedGlueDatabase}` and `${GlueDatabase}`, written as template strings
  const sub = (s) => s.split(`\${${STAGED_DATABASE}}`).join(staged ?? `\${GlueDatabase}`);
  const walk = (v) => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === 'Ref' && v.Ref === STAGED_DATABASE) return staged ?? { Ref: 'GlueDatabase' };
    if (keys.length === 1 && keys[0] === 'Fn::Sub') {
      const arg = v['Fn::Sub'];
      if (typeof arg === 'string') return { 'Fn::Sub': sub(arg) };
      return { 'Fn::Sub': [sub(arg[0]), walk(arg[1] ?? {})] };
    }
    const out = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    // a statement naming both databases names one twice when they are the same
    if (Array.isArray(out.Resource) && out.Effect) {
      const seen = new Set();
      out.Resource = out.Resource.filter((r) => {
        const key = JSON.stringify(r);
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    }
    return out;
  };
  return walk(template);
}

class AdoptExisting {
  constructor(serverless) {
    this.serverless = serverless;
    this.provider = serverless.getProvider('aws');
    this.hooks = {
      // before the function roles are assigned and anything is built
      initialize: () => this.dropNotificationFunction(),
      'before:aws:package:finalize:saveServiceState': () => this.adopt(),
    };
  }

  names() {
    return adoptedNames(this.serverless.service.custom?.adopt ?? {});
  }

  /** The notification function serves an adopted data bucket only. */
  dropNotificationFunction() {
    const service = this.serverless.service;
    if (!this.names().DataBucket && service.functions?.[NOTIFICATION_FUNCTION]) delete service.functions[NOTIFICATION_FUNCTION];
  }

  adopt() {
    const names = this.names();
    const provider = this.serverless.service.provider;
    let staged;
    try {
      staged = adopted('database', 'stagedGlueDatabase', this.serverless.service.custom?.stagedGlueDatabase);
    } catch (e) {
      throw new this.serverless.classes.Error(String(e.message ?? e));
    }
    provider.compiledCloudFormationTemplate = stagedInTemplate(provider.compiledCloudFormationTemplate, staged);
    if (Object.keys(names).length === 0) return;
    const template = provider.compiledCloudFormationTemplate;
    if (names.DataBucket) {
      const fnId = this.provider.naming.getLambdaLogicalId(NOTIFICATION_FUNCTION);
      if (!template.Resources[fnId]) throw new this.serverless.classes.Error(`${NOTIFICATION_FUNCTION} is missing: an adopted data bucket needs it`);
      template.Resources[NOTIFICATION_RESOURCE] = notificationResource(fnId, { Ref: 'DataBucket' });
    }
    let adoptedTemplate;
    try {
      adoptedTemplate = adoptInTemplate(template, names);
    } catch (e) {
      throw new this.serverless.classes.Error(String(e.message ?? e));
    }
    provider.compiledCloudFormationTemplate = adoptedTemplate;
  }
}

/** serverless.yml variables: the names the template uses, adopted or created. */
const param = async (resolveVariable, name) => (await resolveVariable(`param:${name}, ''`)) ?? '';
AdoptExisting.dataBucketName = async ({ resolveVariable }) =>
  adopted('bucket', 'existingDataBucket', await param(resolveVariable, 'existingDataBucket')) ?? (await resolveVariable('param:dataBucketName'));
AdoptExisting.glueDatabase = async ({ resolveVariable }) =>
  adopted('database', 'existingGlueDatabase', await param(resolveVariable, 'existingGlueDatabase')) ?? (await resolveVariable('param:glueDatabase'));

AdoptExisting.stagedGlueDatabase = async ({ resolveVariable }) =>
  adopted('database', 'stagedGlueDatabase', await param(resolveVariable, 'stagedGlueDatabase')) ?? '';

AdoptExisting.adoptInTemplate = adoptInTemplate;
AdoptExisting.stagedInTemplate = stagedInTemplate;
AdoptExisting.adoptedNames = adoptedNames;
AdoptExisting.ADOPTABLE = ADOPTABLE;
AdoptExisting.NOTIFICATION_FUNCTION = NOTIFICATION_FUNCTION;
AdoptExisting.NOTIFICATION_RESOURCE = NOTIFICATION_RESOURCE;

module.exports = AdoptExisting;
