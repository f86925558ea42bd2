/**
 * The AWS composition root: SDK clients created once per container, adapters over them, settings
 * from the function's environment (set by serverless.yml). Imports nothing local: no DuckDB, no
 * filesystem adapters, so Lambda bundles stay small.
 */
import { AthenaClient } from '@aws-sdk/client-athena';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { nameAccessDenials } from '../adapters/aws/access-denied.js';
import { AthenaQueryEngine } from '../adapters/aws/athena-query-engine.js';
import { EventBridgeBus } from '../adapters/aws/eventbridge-bus.js';
import { GlueCatalog } from '../adapters/aws/glue-catalog.js';
import { GlueJobRunner } from '../adapters/aws/glue-job-runner.js';
import { S3BucketNotifications } from '../adapters/aws/s3-bucket-notifications.js';
import { S3ObjectStore } from '../adapters/aws/s3-object-store.js';
import { SnsNotifier } from '../adapters/aws/sns-notifier.js';
import { readParquetFooter } from '../adapters/parquet-footer.js';
import { CONSOLIDATED_PREFIX } from '../domain/chargebacks.js';
import { databaseSetting, defaultConfig, s3Uri, withCompaction, withCompactionTarget, type PipelineConfig } from '../domain/config.js';
import { awsReplayCommand } from '../events/replay-command.js';
import type { Deps } from '../deps.js';
import type { BucketEventBridgeDeps } from '../use-cases/bucket-event-bridge.js';
import type { ChargebacksParams } from '../domain/chargebacks.js';
import type { MonitorDefaults } from '../domain/monitor/options.js';
import { bucketCountSetting } from '../domain/bucket.js';

/** Settings every function reads from its environment. */
export interface AwsSettings {
  dataBucket: string;
  analysisBucket: string;
  database: string;
  splitJobName: string;
  addressableJobName: string;
  athenaWorkgroup: string;
  monitorWorkgroup: string;
  /** The result location the monitor's workgroup enforces (MONITOR_WORKGROUP_RESULTS, the data-monitor function's). */
  monitorResults?: string;
  eventBusName: string;
  alertTopicArn: string;
  /** Glue jobs of the compaction stage and the chargebacks consolidation (optional per function). */
  compactionJobName?: string;
  chargebacksJobName?: string;
  /** Datasets whose raw landings are compacted first (COMPACTION_DATASETS, comma-separated). */
  compactionDatasets: string[];
  /** Target size of the split's output files (SPLIT_TARGET_FILE_MB; default 512) and of compacted files (COMPACTION_TARGET_FILE_MB; default 256). */
  splitTargetFileMb?: number;
  compactionTargetFileMb?: number;
  /** The database of the ext_ tables (STAGED_GLUE_DATABASE; absent: `database`). */
  stagedDatabase?: string;
  /** Buckets of every part_ and bucketed_ table (BUCKET_COUNT; default 256; a power of two from 2 to 256). */
  bucketCount?: number;
  region?: string;
}

/** Reads the settings; a missing variable is a deployment error named in full. */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): AwsSettings {
  const need = (name: string): string => {
    const v = env[name];
    if (!v) throw new Error(`environment variable ${name} is not set (it comes from serverless.yml)`);
    return v;
  };
  return {
    dataBucket: need('DATA_BUCKET'),
    analysisBucket: need('ANALYSIS_BUCKET'),
    database: need('GLUE_DATABASE'),
    splitJobName: need('SPLIT_JOB_NAME'),
    addressableJobName: need('ADDRESSABLE_JOB_NAME'),
    athenaWorkgroup: need('ATHENA_WORKGROUP'),
    monitorWorkgroup: env.MONITOR_WORKGROUP ?? need('ATHENA_WORKGROUP'),
    monitorResults: env.MONITOR_WORKGROUP_RESULTS || undefined,
    eventBusName: need('EVENT_BUS_NAME'),
    alertTopicArn: need('ALERT_TOPIC_ARN'),
    compactionJobName: env.COMPACTION_JOB_NAME || undefined,
    chargebacksJobName: env.CHARGEBACKS_JOB_NAME || undefined,
    compactionDatasets: (env.COMPACTION_DATASETS ?? '')
      .split(',')
      .map((d) => d.trim())
      .filter(Boolean),
    splitTargetFileMb: megabytes(env, 'SPLIT_TARGET_FILE_MB'),
    compactionTargetFileMb: megabytes(env, 'COMPACTION_TARGET_FILE_MB'),
    stagedDatabase: databaseSetting(env.STAGED_GLUE_DATABASE, 'environment variable STAGED_GLUE_DATABASE (the stage parameter stagedGlueDatabase)'),
    bucketCount: bucketCountSetting(env.BUCKET_COUNT, 'environment variable BUCKET_COUNT (the stage parameter bucketCount in serverless.yml)'),
    region: env.AWS_REGION,
  };
}

/** A whole number of megabytes from the environment (absent: the default); anything else is a deployment error naming the variable. */
function megabytes(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const mb = Number(v);
  if (!Number.isInteger(mb) || mb < 1 || mb > 5120)
    throw new Error(
      `environment variable ${name}=${v} is not a whole number of megabytes from 1 to 5120 (set it with the stage parameter of the same meaning in serverless.yml)`,
    );
  return mb;
}

/** The chargebacks job's parameters from `CHARGEBACKS_*` (serverless.yml sets them per stage). */
export function chargebacksParamsFromEnv(env: NodeJS.ProcessEnv, s: AwsSettings): ChargebacksParams {
  return {
    sourceDatabase: env.CHARGEBACKS_SOURCE_DATABASE || s.database,
    sourceTable: env.CHARGEBACKS_SOURCE_TABLE || 'chargebacks_landing',
    outputPath: env.CHARGEBACKS_OUTPUT_PATH || s3Uri(s.dataBucket, CONSOLIDATED_PREFIX),
    outputFileCount: Number(env.CHARGEBACKS_OUTPUT_FILE_COUNT || 8),
    codec: env.CHARGEBACKS_COMPRESSION_CODEC || 'snappy',
    totalExecutions: Number(env.CHARGEBACKS_TOTAL_EXECUTIONS || 4),
    partitionFilter: (env.CHARGEBACKS_ENABLE_PARTITION_FILTER ?? 'true') === 'true',
  };
}

/** `MONITOR_` variables that describe the deployment, not an option. */
const MONITOR_SETTINGS = new Set(['MONITOR_WORKGROUP', 'MONITOR_WORKGROUP_RESULTS']);

/**
 * Monitor options from `MONITOR_<OPTION>` variables (e.g. MONITOR_AUTO_REPAIR=glue; an empty one is unset);
 * the database, report bucket, workgroup, its result location, topic and region default to the deployment's own.
 * A variable naming no option is refused at the next run (the options are strict), never ignored.
 */
export function monitorOptionsFromEnv(env: NodeJS.ProcessEnv, s: AwsSettings): MonitorDefaults {
  const options: Record<string, unknown> = {
    database: s.database,
    report_bucket: s.analysisBucket,
    ...(s.bucketCount ? { bucket_count: s.bucketCount } : {}),
    athena_workgroup: s.monitorWorkgroup,
    athena_results: s.monitorResults,
    sns_topic_arn: s.alertTopicArn,
    region: s.region,
  };
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('MONITOR_') && !MONITOR_SETTINGS.has(name) && value !== undefined && value !== '')
      options[name.slice('MONITOR_'.length).toLowerCase()] = value;
  }
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
}

/** The pipeline config of a deployment, from its settings (no client is created). */
export function awsConfig(s: AwsSettings): PipelineConfig {
  return defaultConfig({
    dataBucket: s.dataBucket,
    analysisBucket: s.analysisBucket,
    database: s.database,
    ...(s.splitTargetFileMb ? { targetFileBytes: s.splitTargetFileMb * 1024 * 1024 } : {}),
    ...(s.bucketCount ? { bucketCount: s.bucketCount } : {}),
    ...(s.stagedDatabase ? { stagedDatabase: s.stagedDatabase } : {}),
    datasets: withCompactionTarget(withCompaction(defaultConfig().datasets, s.compactionDatasets), s.compactionTargetFileMb),
  });
}

/** A client whose access-denied answers name the action, the resource and the role (shared/adapters/aws/access-denied.ts). */
function naming<C extends { middlewareStack: Parameters<typeof nameAccessDenials>[0]['middlewareStack'] }>(
  client: C,
  service: string,
  env: NodeJS.ProcessEnv,
): C {
  nameAccessDenials(client, service, env);
  return client;
}

/**
 * What the SDK clients take besides the region: nothing in a Lambda (the function's role, AWS's
 * endpoints); an endpoint and credentials when the same adapters run against an emulator (test/aws-shape).
 */
export interface AwsClientOptions {
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** S3 path-style addressing (emulators on 127.0.0.1 have no bucket sub-domains). */
  forcePathStyle?: boolean;
}

let cached: Deps | undefined;

/** Deps for a Lambda container, built once. */
export function awsDeps(env: NodeJS.ProcessEnv = process.env): Deps {
  cached ??= buildAwsDeps(env);
  return cached;
}

/** Deps over AWS (or an emulator speaking its protocol) from a function's environment. */
export function buildAwsDeps(env: NodeJS.ProcessEnv, clients: AwsClientOptions = {}): Deps {
  const s = settingsFromEnv(env);
  const { forcePathStyle, ...common } = { region: s.region, ...clients };
  // X-Ray traces each invocation (serverless.yml tracing); per-call subsegments through the Powertools
  // tracer were dropped: its X-Ray SDK was 130 KB of every bundle and a third of the cold import
  const s3 = naming(new S3Client({ ...common, forcePathStyle }), 's3', env);
  const athena = naming(new AthenaClient(common), 'athena', env);
  const glue = naming(new GlueClient(common), 'glue', env);
  const store = new S3ObjectStore(s3);
  return {
    config: awsConfig(s),
    store,
    catalog: new GlueCatalog(glue),
    engine: new AthenaQueryEngine(athena, { workgroup: s.athenaWorkgroup }),
    monitorEngine: new AthenaQueryEngine(athena, { workgroup: s.monitorWorkgroup }),
    monitorDefaults: monitorOptionsFromEnv(env, s),
    chargebacks: chargebacksParamsFromEnv(env, s),
    jobs: new GlueJobRunner(glue, {
      jobNames: { infobase: s.splitJobName, addressable: s.addressableJobName },
      maintenanceJobNames: { compaction: s.compactionJobName, chargebacks: s.chargebacksJobName },
    }),
    bus: new EventBridgeBus(naming(new EventBridgeClient(common), 'events', env), { busName: s.eventBusName }),
    notifier: new SnsNotifier(naming(new SNSClient(common), 'sns', env), { topicArn: s.alertTopicArn }),
    clock: { now: () => new Date() },
    logger: new Logger({ serviceName: 'flywheel' }),
    metrics: new Metrics({ namespace: 'Flywheel', serviceName: 'flywheel' }),
    readFooter: (bucket, key, size) => readParquetFooter(store, bucket, key, size),
    replayCommand: (a) => awsReplayCommand(s.eventBusName, a),
    describeLocation: (uri) => uri,
  };
}

/**
 * The deps of the bucketEventBridge custom resource (an adopted data bucket's EventBridge delivery): S3's
 * notification configuration and a logger, nothing of the pipeline's settings.
 */
export function awsBucketEventBridgeDeps(env: NodeJS.ProcessEnv = process.env, clients: AwsClientOptions = {}): BucketEventBridgeDeps {
  const { forcePathStyle, ...common } = { region: env.AWS_REGION, ...clients };
  const s3 = naming(new S3Client({ ...common, forcePathStyle }), 's3', env);
  return { notifications: new S3BucketNotifications(s3), logger: new Logger({ serviceName: 'flywheel' }) };
}
