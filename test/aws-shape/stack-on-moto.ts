/**
 * The packaged dev stack's resources in a moto server, and the real Lambda entries (services/<name>/handler.ts, the
 * AWS composition root, unchanged) loaded as Lambda loads them, each driven by what the template's rules deliver.
 *
 * - moto gets the stack's buckets (versioned; the data bucket sends its events to EventBridge), the Glue database, the
 *   template's Glue jobs, the project bus, the alert topic (an SQS queue subscribed, to read the e-mails), and every
 *   pattern rule of the template with an SQS queue as its target (the rule's name and pattern unchanged).
 * - Each entry is imported with process.env set to its function's environment from the packaged template plus
 *   AWS_ENDPOINT_URL (moto behind s3-response-proxy.ts), any service endpoints given (AWS_ENDPOINT_URL_<SERVICE>) and
 *   dummy credentials, each in its own module registry (one container per function).
 * - `deliver()` reads every rule queue once and invokes each delivered event's function, as the rule's Lambda target
 *   would. moto drops `account` from the events a rule delivers when they were put with PutEvents (events/utils.py's
 *   default input template); the harness puts the stack's account back, and only that.
 */
import { jest } from '@jest/globals';
import { CreateEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateDatabaseCommand, CreateJobCommand, GlueClient } from '@aws-sdk/client-glue';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketNotificationConfigurationCommand,
  PutBucketVersioningCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { routes, type FunctionName } from '../../shared/events/patterns.js';
import { Stack } from '../iam/check.js';
import { packaged } from '../support/packaged.js';
import { createQueue, type Queue } from './moto-fixtures.js';
import { MOTO_ACCOUNT_ID, sdkConfig, startMoto, type MotoServer } from './moto-server.js';
import { startS3ResponseProxy, type S3ResponseProxy } from './s3-response-proxy.js';

export const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

/** An EventBridge event as a rule's SQS target receives it. */
export interface Delivered {
  id: string;
  source: string;
  'detail-type': string;
  time: string;
  region: string;
  account: string;
  resources: string[];
  detail: Record<string, any>;
}

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

/** One event a rule delivered and what its function made of it. */
export interface Invocation {
  rule: string;
  fn: FunctionName;
  event: Delivered;
  /** The event came without `account` (restored; see the header). */
  restoredAccount: boolean;
  result?: unknown;
  error?: string;
}

/** An alert topic message (the e-mail SNS would send), as the subscribed queue received it. */
export interface Mail {
  subject: string;
  body: string;
  attributes: Record<string, string>;
}

export interface StackOnMoto {
  stack: Stack;
  moto: MotoServer;
  /** moto behind the proxy that drops the Content-MD5 moto adds to GETs (s3-response-proxy.ts). */
  proxy: S3ResponseProxy;
  s3: S3Client;
  glue: GlueClient;
  events: EventBridgeClient;
  sqs: SQSClient;
  sns: SNSClient;
  dataBucket: string;
  analysisBucket: string;
  database: string;
  /** Template rule name → its queue. */
  ruleQueues: Map<string, Queue>;
  alertQueue: Queue;
  /** `flywheel-dev-<route>` */
  ruleName(route: string): string;
  /** Every invocation so far, in order. */
  invocations: Invocation[];
  /** Every alert e-mail read so far. */
  mails: Mail[];
  /** Imports the entries of `fns`, each in its own module registry with its function's environment. */
  load(fns: FunctionName[]): Promise<void>;
  /** Invokes one loaded entry with an event, as Lambda would (its environment set first). */
  invoke(fn: FunctionName, event: unknown): Promise<unknown>;
  /** Reads every rule queue and the alert queue once; invokes the function of each delivered event. Returns how many were delivered. */
  deliver(): Promise<number>;
  keysUnder(bucket: string, prefix: string): Promise<string[]>;
  getText(bucket: string, key: string): Promise<string>;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Extra variables of every function's environment, e.g. { AWS_ENDPOINT_URL_ATHENA: facade.endpoint }. */
  env?: Record<string, string>;
}

/** Route name → the function its rule targets (the template's rules are `<service>-<stage>-<route>`). */
const ROUTE_FUNCTIONS = new Map(
  routes({ dataBucket: 'b', athenaWorkgroup: 'w', monitorWorkgroup: 'm', datasets: [], compactionJobName: 'c', chargebacksJobName: 'cb' }).map(
    (r) => [r.name, r.fn] as const,
  ),
);

const kebab = (fn: FunctionName) => fn.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export async function startStackOnMoto(options: StackOptions = {}): Promise<StackOnMoto> {
  const savedEnv = { ...process.env };
  const stack = new Stack(packaged('dev').template, 'dev');
  const triggerEnv = stack.env('snapshotTrigger');
  const dataBucket = triggerEnv.DATA_BUCKET!;
  const analysisBucket = triggerEnv.ANALYSIS_BUCKET!;
  const database = triggerEnv.GLUE_DATABASE!;
  // nothing from the machine may redirect or sign the entries' clients otherwise than the function's environment says
  for (const name of Object.keys(process.env)) {
    if (/^AWS_(ENDPOINT_URL_.+|IGNORE_CONFIGURED_ENDPOINT_URLS|SESSION_TOKEN|PROFILE|CONFIG_FILE|SHARED_CREDENTIALS_FILE|DEFAULT_REGION)$/.test(name))
      delete process.env[name];
  }
  const moto = await startMoto();
  const proxy = await startS3ResponseProxy(moto.endpoint);
  const config = sdkConfig(moto.endpoint, CREDENTIALS);
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const glue = new GlueClient(config);
  const events = new EventBridgeClient(config);
  const sqs = new SQSClient(config);
  const sns = new SNSClient(config);
  for (const bucket of [dataBucket, analysisBucket]) {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  }
  await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: dataBucket, NotificationConfiguration: { EventBridgeConfiguration: {} } }));
  await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: database } }));
  for (const [, job] of stack.resources('AWS::Glue::Job')) {
    const p = stack.resolve(job.Properties);
    await glue.send(
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
  await events.send(new CreateEventBusCommand({ Name: triggerEnv.EVENT_BUS_NAME! }));
  const topic = await sns.send(new CreateTopicCommand({ Name: triggerEnv.ALERT_TOPIC_ARN!.split(':').at(-1)! }));
  if (topic.TopicArn !== triggerEnv.ALERT_TOPIC_ARN)
    throw new Error(`moto made topic ${topic.TopicArn}, the functions publish to ${triggerEnv.ALERT_TOPIC_ARN}`);
  const alertQueue = await createQueue(sqs, 'alerts');
  await sns.send(new SubscribeCommand({ TopicArn: topic.TopicArn, Protocol: 'sqs', Endpoint: alertQueue.arn }));
  const ruleQueues = new Map<string, Queue>();
  for (const [, rule] of stack.resources('AWS::Events::Rule')) {
    const p = rule.Properties;
    if (!p.EventPattern) continue;
    const name = stack.resolve(p.Name) as string;
    const busName = p.EventBusName ? (stack.resolve(p.EventBusName) as string) : 'default';
    const queue = await createQueue(sqs, `route-${name}`);
    await events.send(new PutRuleCommand({ Name: name, EventBusName: busName, EventPattern: JSON.stringify(stack.resolve(p.EventPattern)), State: p.State }));
    await events.send(new PutTargetsCommand({ Rule: name, EventBusName: busName, Targets: [{ Id: 'function', Arn: queue.arn }] }));
    ruleQueues.set(name, queue);
  }

  const entries = new Map<FunctionName, Handler>();
  const invocations: Invocation[] = [];
  const mails: Mail[] = [];
  const rulePrefix = `flywheel-${stack.stage}-`;

  const lambdaEnv = (fn: FunctionName): NodeJS.ProcessEnv => ({
    ...stack.env(fn),
    AWS_ENDPOINT_URL: proxy.endpoint,
    ...options.env,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    // the template says INFO; the handlers' JSON logs would flood the test output (warnings and errors still show)
    POWERTOOLS_LOG_LEVEL: 'WARN',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  const enterEnv = (fn: FunctionName) => Object.assign(process.env, lambdaEnv(fn));
  const lambdaContext = (fn: FunctionName) => {
    const name = stack.env(fn).AWS_LAMBDA_FUNCTION_NAME!;
    return {
      functionName: name,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:us-east-1:${MOTO_ACCOUNT_ID}:function:${name}`,
      memoryLimitInMB: '1024',
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${name}`,
      logStreamName: 'stack-on-moto',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => 900_000,
    };
  };

  const invoke = async (fn: FunctionName, event: unknown) => {
    const entry = entries.get(fn);
    if (!entry) throw new Error(`the entry of ${fn} is not loaded`);
    enterEnv(fn);
    return entry(event, lambdaContext(fn));
  };

  const receive = async (queue: Queue) => {
    const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    const messages = res.Messages ?? [];
    if (messages.length)
      await sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: queue.url, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
      );
    return messages.map((m) => m.Body ?? '');
  };

  const keysUnder = async (bucket: string, prefix: string) => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    return keys.sort();
  };

  return {
    stack,
    moto,
    proxy,
    s3,
    glue,
    events,
    sqs,
    sns,
    dataBucket,
    analysisBucket,
    database,
    ruleQueues,
    alertQueue,
    invocations,
    mails,
    ruleName: (route) => `${rulePrefix}${route}`,
    load: async (fns) => {
      for (const fn of fns) {
        enterEnv(fn);
        await jest.isolateModulesAsync(async () => {
          entries.set(fn, (await import(`../../services/${kebab(fn)}/handler.js`)).handler as Handler);
        });
      }
    },
    invoke,
    deliver: async () => {
      let count = 0;
      for (const body of await receive(alertQueue)) {
        const note = JSON.parse(body) as { Subject?: string; Message: string; MessageAttributes?: Record<string, { Value: string }> };
        mails.push({
          subject: note.Subject ?? '',
          body: note.Message,
          attributes: Object.fromEntries(Object.entries(note.MessageAttributes ?? {}).map(([k, v]) => [k, v.Value])),
        });
      }
      for (const [rule, queue] of ruleQueues) {
        for (const body of await receive(queue)) {
          count++;
          const raw = JSON.parse(body) as Delivered;
          const fn = ROUTE_FUNCTIONS.get(rule.slice(rulePrefix.length));
          if (!fn) throw new Error(`rule ${rule} has no route in shared/events/patterns.ts`);
          const invocation: Invocation = { rule, fn, event: { ...raw, account: raw.account ?? MOTO_ACCOUNT_ID }, restoredAccount: !('account' in raw) };
          invocations.push(invocation);
          try {
            invocation.result = await invoke(fn, invocation.event);
          } catch (error) {
            invocation.error = error instanceof Error ? error.message : String(error);
          }
        }
      }
      return count;
    },
    keysUnder,
    getText: async (bucket, key) => (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString(),
    stop: async () => {
      for (const client of [s3, glue, events, sqs, sns]) client.destroy();
      await proxy.stop();
      await moto.stop();
      for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
      Object.assign(process.env, savedEnv);
    },
  };
}
