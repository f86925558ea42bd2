/**
 * A reach in IAM terms: each grant (shared/domain/access.ts) becomes the IAM requests the AWS adapter
 * behind that port makes, using the actions each adapter declares beside its methods (S3_ACTIONS,
 * GLUE_CATALOG_ACTIONS, ATHENA_ACTIONS, …). A request names one action on one resource ARN, with
 * the condition keys S3 sets. Prefixes become a representative object under them; table prefixes a
 * representative table. test/iam evaluates these against each function's role in the packaged template.
 */
import type { Grant, StoreGrant } from '../../domain/access.js';
import type { JobReach } from '../../domain/job-reach.js';
import { ATHENA_ACTIONS } from './athena-query-engine.js';
import type { AwsResources } from './aws-resources.js';
import { CLEANROOMS_ACTIONS } from './cleanrooms-directory.js';
import { EVENTBRIDGE_ACTIONS } from './eventbridge-bus.js';
import { GLUE_CATALOG_ACTIONS } from './glue-catalog.js';
import { GLUE_JOB_ACTIONS, GLUE_JOB_SCRIPT_ACTIONS } from './glue-job-runner.js';
import { S3_ACTIONS } from './s3-object-store.js';
import { SNS_ACTIONS } from './sns-notifier.js';

export type { AwsResources } from './aws-resources.js';

export interface IamRequest {
  action: string;
  resource: string;
  /** Condition keys the service sets (s3:prefix of a listing). */
  context?: Record<string, string>;
  /** Which grant and port call it serves, for the test's messages. */
  why: string;
}

/** An object standing for every key under a prefix (a key that is not a folder stands for itself). */
export const sampleKey = (prefix: string) => (prefix === '' || prefix.endsWith('/') ? `${prefix}example/object` : prefix);
/** A table standing for every table whose name starts with the prefix. */
export const sampleTable = (prefix: string) => `${prefix}example`;

/** The IAM requests of a reach. */
export function iamRequests(grants: readonly Grant[], r: AwsResources): IamRequest[] {
  const s3Bucket = (bucket: string) => `arn:${r.partition}:s3:::${bucket}`;
  const s3Object = (bucket: string, key: string) => `arn:${r.partition}:s3:::${bucket}/${key}`;
  const glue = (kind: string) => `arn:${r.partition}:glue:${r.region}:${r.accountId}:${kind}`;
  /** A Glue action's resources: the catalog and the database, and the table unless it acts on the database alone. */
  const glueTable = (database: string, table: string, action?: string) => [
    glue('catalog'),
    glue(`database/${database}`),
    ...(action === 'glue:GetDatabase' ? [] : [glue(`table/${database}/${table}`)]),
  ];
  const out: IamRequest[] = [];
  const add = (actions: string[], resources: string[], why: string, context?: Record<string, string>) => {
    for (const action of actions) for (const resource of resources) out.push({ action, resource, why, ...(context ? { context } : {}) });
  };
  const addGlue = (actions: string[], database: string, table: string, why: string) => {
    for (const action of actions) add([action], glueTable(database, table, action), why);
  };
  const key = (bucket: string, actions: string[], why: string) => {
    const k = r.bucketKeys[bucket];
    if (k) add(actions, [k], `${why} (the bucket's SSE-KMS key)`);
  };
  /** S3 access of a data location by Athena (read or write), with the bucket's key. */
  const data = (d: { bucket: string; prefix: string }, a: { bucket: string[]; objects: string[]; key: string[] }, why: string) => {
    add(
      a.bucket.filter((x) => x !== 's3:ListBucket'),
      [s3Bucket(d.bucket)],
      why,
    );
    if (a.bucket.includes('s3:ListBucket')) add(['s3:ListBucket'], [s3Bucket(d.bucket)], why, { 's3:prefix': d.prefix });
    add(a.objects, [s3Object(d.bucket, sampleKey(d.prefix))], why);
    key(d.bucket, a.key, why);
  };

  for (const g of grants) {
    switch (g.port) {
      case 'store':
        for (const m of g.methods) storeRequests(g, m);
        break;
      case 'catalog':
        for (const m of g.methods) addGlue(GLUE_CATALOG_ACTIONS[m], g.database, sampleTable(g.tablePrefix), `catalog.${m} ${g.database}.${g.tablePrefix}*`);
        break;
      case 'engine':
      case 'monitorEngine': {
        const wg = r.workgroups[g.port];
        const workgroup = `arn:${r.partition}:athena:${r.region}:${r.accountId}:workgroup/${wg.name}`;
        for (const m of g.methods) add(ATHENA_ACTIONS.calls[m], [workgroup], `${g.port}.${m} in ${wg.name}`);
        if (g.methods.includes('start'))
          data(wg.results, { ...ATHENA_ACTIONS.results, key: [] }, `${g.port} query results under s3://${wg.results.bucket}/${wg.results.prefix}`);
        else if (g.methods.includes('results'))
          add(['s3:GetObject'], [s3Object(wg.results.bucket, sampleKey(wg.results.prefix))], `${g.port}.results reads the result file`);
        for (const d of g.reads) {
          addGlue(
            ATHENA_ACTIONS.read.glue,
            d.database ?? g.database,
            sampleTable(d.tablePrefix),
            `${g.port} query reads ${d.database ?? g.database}.${d.tablePrefix}*`,
          );
          data(d, ATHENA_ACTIONS.read, `${g.port} query reads ${d.tablePrefix}* data`);
        }
        for (const d of g.writes) {
          addGlue(ATHENA_ACTIONS.write.glue, g.database, sampleTable(d.tablePrefix), `${g.port} query writes ${g.database}.${d.tablePrefix}*`);
          data(d, ATHENA_ACTIONS.write, `${g.port} query writes ${d.tablePrefix}* data`);
        }
        for (const d of g.partitions ?? [])
          addGlue(ATHENA_ACTIONS.partitions.glue, g.database, sampleTable(d.tablePrefix), `${g.port} DDL adds partitions to ${g.database}.${d.tablePrefix}*`);
        break;
      }
      case 'jobs':
        for (const m of g.methods) {
          for (const job of g.jobs) {
            const name = r.jobNames[job];
            if (!name) throw new Error(`no Glue job is deployed for ${job} (jobs.${m})`);
            add(GLUE_JOB_ACTIONS[m], [glue(`job/${name}`)], `jobs.${m} ${job}`);
          }
        }
        break;
      case 'bus':
        add(EVENTBRIDGE_ACTIONS, [r.busArn], 'bus.put');
        break;
      case 'notifier':
        add(SNS_ACTIONS.topic, [r.topic.arn], 'notifier.publish');
        if (r.topic.key) add(SNS_ACTIONS.key, [r.topic.key], 'notifier.publish (the topic is encrypted with this key)');
        break;
      case 'directory':
        for (const m of g.methods) for (const [action, resource] of CLEANROOMS_ACTIONS[m]) add([action], [resource(r)], `directory.${m}`);
        break;
    }
  }
  return out;

  function storeRequests(g: StoreGrant, m: StoreGrant['methods'][number]) {
    const a = S3_ACTIONS[m];
    const why = `store.${m} s3://${g.bucket}/${g.prefix}`;
    add(a.object, [s3Object(g.bucket, sampleKey(g.prefix))], why);
    // a listing carries its prefix; the check S3 makes to answer 404 for a missing key carries none
    for (const action of a.bucket) add([action], [s3Bucket(g.bucket)], why, m === 'list' ? { 's3:prefix': g.prefix } : undefined);
    key(g.bucket, a.key, why);
  }
}

/** The IAM requests a Glue job's script makes with the job's role (its reach: shared/domain/job-reach.ts). */
export function jobScriptRequests(reach: JobReach, r: Pick<AwsResources, 'partition' | 'region' | 'accountId' | 'bucketKeys'>): IamRequest[] {
  const out: IamRequest[] = [];
  for (const d of reach.data) {
    const a = GLUE_JOB_SCRIPT_ACTIONS[d.access];
    const why = `script ${d.access}s s3://${d.bucket}/${d.prefix}`;
    for (const action of a.bucket) out.push({ action, resource: `arn:${r.partition}:s3:::${d.bucket}`, context: { 's3:prefix': d.prefix }, why });
    for (const action of a.objects) out.push({ action, resource: `arn:${r.partition}:s3:::${d.bucket}/${sampleKey(d.prefix)}`, why });
    const key = r.bucketKeys[d.bucket];
    if (key) for (const action of a.key) out.push({ action, resource: key, why: `${why} (the bucket's SSE-KMS key)` });
  }
  const glue = (kind: string) => `arn:${r.partition}:glue:${r.region}:${r.accountId}:${kind}`;
  for (const t of reach.tables) {
    const why = `script reads ${t.database}.${t.table} through the catalog`;
    for (const action of GLUE_JOB_SCRIPT_ACTIONS.catalog.database)
      for (const resource of [glue('catalog'), glue(`database/${t.database}`)]) out.push({ action, resource, why });
    for (const action of GLUE_JOB_SCRIPT_ACTIONS.catalog.table)
      for (const resource of [glue('catalog'), glue(`database/${t.database}`), glue(`table/${t.database}/${t.table}`)]) out.push({ action, resource, why });
  }
  return out;
}
