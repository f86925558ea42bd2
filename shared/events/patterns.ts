/**
 * EventBridge event patterns, defined once: serverless.yml reads them (through
 * serverless-patterns.cjs) and the local bus routes with them, so a local run routes exactly as
 * the deployed stack does.
 */
export type EventPattern = { [field: string]: EventPattern | PatternValue[] };
type PatternValue =
  | string
  | number
  | boolean
  | null
  | { prefix: string }
  | { suffix: string }
  | { wildcard: string }
  | { 'anything-but': Array<string | number> }
  | { exists: boolean };

export interface RouteParams {
  dataBucket: string;
  athenaWorkgroup: string;
  /** Workgroup of the data monitor's queries (kept apart so their events reach the monitor alone). */
  monitorWorkgroup: string;
  /** Each dataset's raw prefix (e.g. `omc_cleanroom_data/infobase_attributes/raw_input/`), ready marker and split job. */
  datasets: Array<{ rawPrefix: string; readyMarker: string; splitJobName: string; compactionPrefix?: string }>;
  /** Glue jobs of the raw-landing compaction and the chargebacks consolidation. */
  compactionJobName: string;
  chargebacksJobName: string;
}

/** The functions that consume events and the bus each listens on. */
export type FunctionName =
  | 'snapshotTrigger'
  | 'registerStagedTables'
  | 'bucketedTables'
  | 'dataMonitor'
  | 'replay'
  | 'compaction'
  | 'chargebacks'
  | 'reconciler'
  | 'cleanroomsReport';

/** Glue job states that end a run. */
const JOB_ENDED = ['SUCCEEDED', 'FAILED', 'TIMEOUT', 'STOPPED'];

/**
 * The schedules (EventBridge Scheduler-style rules named `<service>-<stage>-<name>`): serverless.yml
 * declares them with these rates (a template test holds them equal), and the local bus routes a
 * Scheduled Event to the function whose rule name it carries.
 */
export const SCHEDULES: Array<{ name: string; fn: FunctionName; rate: string }> = [
  { name: 'snapshot-discovery', fn: 'snapshotTrigger', rate: 'cron(0 6 * * ? *)' },
  { name: 'reconciler', fn: 'reconciler', rate: 'rate(15 minutes)' },
  { name: 'data-monitor', fn: 'dataMonitor', rate: 'cron(0 7 * * ? *)' },
  // 4 executions a day, every 6 hours (shared/domain/chargebacks.ts says what each covers): the default of the stage
  // parameter chargebacksSchedule; the local bus routes by name only, so a deployment's own schedule changes nothing here
  { name: 'chargebacks', fn: 'chargebacks', rate: 'cron(30 0,6,12,18 * * ? *)' },
  { name: 'cleanrooms-report', fn: 'cleanroomsReport', rate: 'cron(0 8 * * ? *)' },
];

/** The function a Scheduled Event is for, from its rule ARN (`…:rule/<service>-<stage>-<name>`). */
export function scheduledFunction(event: unknown): FunctionName | undefined {
  const e = event as { source?: unknown; 'detail-type'?: unknown; resources?: unknown };
  if (e?.source !== 'aws.events' || e['detail-type'] !== 'Scheduled Event' || !Array.isArray(e.resources)) return undefined;
  const rules = e.resources.filter((r): r is string => typeof r === 'string').map((r) => r.slice(r.lastIndexOf('/') + 1));
  return SCHEDULES.find((s) => rules.some((rule) => rule.endsWith(`-${s.name}`)))?.fn;
}

export interface Route {
  name: string;
  fn: FunctionName;
  /** `default` = the account's default bus (AWS service events); `project` = Flywheel's own bus. */
  bus: 'default' | 'project';
  pattern: EventPattern;
}

export const PIPELINE_SOURCE = 'flywheel.pipeline';
export const OPS_SOURCE = 'flywheel.ops';

/** S3 Object Created (via EventBridge) of a key matching one of `wildcards` in `bucket`. */
const objectCreated = (bucket: string, wildcards: string[]): EventPattern => ({
  source: ['aws.s3'],
  'detail-type': ['Object Created'],
  detail: { bucket: { name: [bucket] }, object: { key: wildcards.map((wildcard) => ({ wildcard })) } },
});

/** A run of one of `jobNames` ended (SUCCEEDED, FAILED, TIMEOUT or STOPPED). */
const jobEnded = (jobNames: string[]): EventPattern => ({
  source: ['aws.glue'],
  'detail-type': ['Glue Job State Change'],
  detail: { jobName: jobNames, state: JOB_ENDED },
});

/** Every route of the pipeline. */
export function routes(p: RouteParams): Route[] {
  return [
    {
      name: 'ready-marker-landed',
      fn: 'snapshotTrigger',
      bus: 'default',
      pattern: objectCreated(
        p.dataBucket,
        p.datasets.map((d) => `${d.rawPrefix}snapshot_dt=*/${d.readyMarker}`),
      ),
    },
    {
      name: 'raw-landing-completed',
      fn: 'compaction',
      bus: 'default',
      pattern: objectCreated(
        p.dataBucket,
        p.datasets.filter((d) => d.compactionPrefix).map((d) => `${d.compactionPrefix}snapshot_dt=*/${d.readyMarker}`),
      ),
    },
    {
      name: 'compaction-job-finished',
      fn: 'compaction',
      bus: 'default',
      pattern: jobEnded([p.compactionJobName]),
    },
    {
      name: 'chargebacks-job-finished',
      fn: 'chargebacks',
      bus: 'default',
      pattern: jobEnded([p.chargebacksJobName]),
    },
    {
      name: 'split-job-finished',
      fn: 'registerStagedTables',
      bus: 'default',
      pattern: jobEnded(p.datasets.map((d) => d.splitJobName)),
    },
    {
      name: 'staged-tables-registered',
      fn: 'bucketedTables',
      bus: 'project',
      pattern: {
        source: [PIPELINE_SOURCE],
        'detail-type': ['Stage Completed'],
        detail: { stage: ['register-staged-tables'] },
      },
    },
    {
      name: 'bucketed-query-finished',
      fn: 'bucketedTables',
      bus: 'default',
      pattern: {
        source: ['aws.athena'],
        'detail-type': ['Athena Query State Change'],
        detail: { workgroupName: [p.athenaWorkgroup], currentState: ['SUCCEEDED', 'FAILED', 'CANCELLED'] },
      },
    },
    {
      name: 'pipeline-completed',
      fn: 'dataMonitor',
      bus: 'project',
      pattern: { source: [PIPELINE_SOURCE], 'detail-type': ['Pipeline Completed'] },
    },
    {
      name: 'replay-requested',
      fn: 'replay',
      bus: 'project',
      pattern: { source: [OPS_SOURCE], 'detail-type': ['Replay Requested'] },
    },
    {
      name: 'monitor-query-finished',
      fn: 'dataMonitor',
      bus: 'default',
      pattern: {
        source: ['aws.athena'],
        'detail-type': ['Athena Query State Change'],
        detail: { workgroupName: [p.monitorWorkgroup], currentState: ['SUCCEEDED', 'FAILED', 'CANCELLED'] },
      },
    },
  ];
}

/**
 * EventBridge pattern matching for the operators the routes use (exact values, prefix, suffix,
 * wildcard, anything-but, exists). Hand-written: no maintained npm package implements it offline.
 */
export function matches(pattern: EventPattern, event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const record = event as Record<string, unknown>;
  return Object.entries(pattern).every(([field, expected]) => {
    const actual = record[field];
    if (!Array.isArray(expected)) return matches(expected, actual);
    const values = Array.isArray(actual) ? actual : [actual];
    return expected.some((rule) => matchesValue(rule, actual === undefined ? [] : values, actual !== undefined));
  });
}

function matchesValue(rule: PatternValue, values: unknown[], present: boolean): boolean {
  if (rule === null || typeof rule !== 'object') return values.some((v) => v === rule);
  if ('exists' in rule) return rule.exists === present;
  if ('prefix' in rule) return values.some((v) => typeof v === 'string' && v.startsWith(rule.prefix));
  if ('suffix' in rule) return values.some((v) => typeof v === 'string' && v.endsWith(rule.suffix));
  if ('wildcard' in rule) return values.some((v) => typeof v === 'string' && wildcardRegex(rule.wildcard).test(v));
  return present && values.every((v) => !rule['anything-but'].includes(v as string | number));
}

function wildcardRegex(wildcard: string): RegExp {
  const body = wildcard
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 's');
}

/**
 * The object key of an S3 notification record (`Records[].s3.object.key`), which S3 URL-encodes as a
 * form value: `+` is a space, `%XX` an escaped byte (`=` arrives as `%3D`, a `+` as `%2B`). Undefined
 * for a malformed escape (such a key names no object Flywheel knows, so it routes nowhere).
 */
export function s3RecordKey(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** The fields of an S3 notification record (`Records[]` of the S3 → Lambda form) that routing reads. */
export interface S3NotificationRecord {
  eventSource?: string;
  eventName?: string;
  s3: { bucket: { name: string }; object: { key: string } };
}

/**
 * An S3 notification record as the EventBridge `Object Created` event of the same object (key
 * decoded), so that both forms are routed by the same rules; undefined for anything else (another
 * source, a removal, an undecodable key), which no rule takes.
 */
export function s3RecordAsObjectCreated(
  record: S3NotificationRecord,
): { source: string; 'detail-type': string; detail: { bucket: { name: string }; object: { key: string } } } | undefined {
  if (record?.eventSource !== 'aws:s3' || !record.eventName?.startsWith('ObjectCreated:')) return undefined;
  const key = typeof record.s3?.object?.key === 'string' ? s3RecordKey(record.s3.object.key) : undefined;
  if (key === undefined || typeof record.s3.bucket?.name !== 'string') return undefined;
  return { source: 'aws.s3', 'detail-type': 'Object Created', detail: { bucket: { name: record.s3.bucket.name }, object: { key } } };
}
