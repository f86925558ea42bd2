/**
 * Ports: the few interfaces through which the domain talks to the world. AWS adapters
 * (shared/adapters/aws) and local adapters (shared/adapters/local) implement them; use cases
 * receive them and never import an adapter.
 */
import type { BuildStep } from './domain/build-steps.js';
import type { ColumnDef, ObjectCopy, ObjectInfo, PartitionDef, TableDef } from './domain/catalog-types.js';
import type { StageName } from './domain/ledger.js';
import type { MonitorQuery } from './domain/monitor/queries.js';

export type { ColumnDef, ObjectCopy, ObjectInfo, PartitionDef, TableDef } from './domain/catalog-types.js';

export interface Listing {
  objects: ObjectInfo[];
  /** Common prefixes (sub-"folders") when listed with a delimiter, each ending in '/'. */
  prefixes: string[];
}

/** Thrown by ObjectStore.put when an If-None-Match / If-Match condition fails. */
export class PreconditionFailedError extends Error {
  constructor(
    readonly bucket: string,
    readonly key: string,
  ) {
    super(`precondition failed for ${bucket}/${key}`);
    this.name = 'PreconditionFailedError';
  }
}

/**
 * A call the caller's permissions do not allow: IAM's AccessDenied in AWS (never taken for a missing
 * object), the access guard's refusal locally. Names the action, the resource and whose permissions
 * to change.
 */
export class AccessDeniedError extends Error {
  constructor(
    readonly action: string,
    readonly resource: string,
    readonly principal: string,
    detail?: string,
  ) {
    super(`access denied: ${principal} may not ${action} on ${resource}${detail ? ` (${detail})` : ''}`);
    this.name = 'AccessDeniedError';
  }
}

export interface ObjectStore {
  /** Lists every object under `prefix` (all pages); with `delimiter` also the sub-prefixes. */
  list(bucket: string, prefix: string, options?: { delimiter?: string }): Promise<Listing>;
  /** Whole object with its ETag, or undefined when absent. */
  get(bucket: string, key: string): Promise<{ body: Uint8Array; etag: string } | undefined>;
  /** Bytes [start, end) of an object (a ranged GET). */
  getRange(bucket: string, key: string, start: number, end: number): Promise<Uint8Array>;
  head(bucket: string, key: string): Promise<ObjectInfo | undefined>;
  /** Writes an object; `ifNoneMatch` creates only, `ifMatch` updates only that ETag (else PreconditionFailedError). */
  put(bucket: string, key: string, body: string | Uint8Array, condition?: { ifNoneMatch?: true; ifMatch?: string }): Promise<{ etag: string }>;
  delete(bucket: string, keys: string[]): Promise<void>;
  /** Server-side copy of one object (S3 CopyObject; a hard link locally). */
  copy(fromBucket: string, fromKey: string, toBucket: string, toKey: string): Promise<void>;
  /** Server-side copies of many objects, a bounded number at a time; each is a `copy` (and needs the same permissions). */
  copyMany(copies: readonly ObjectCopy[]): Promise<void>;
}

export interface Catalog {
  getTable(database: string, name: string): Promise<TableDef | undefined>;
  listTables(database: string, prefix?: string): Promise<TableDef[]>;
  /**
   * Creates the table or replaces its definition. `exists` is the caller's knowledge (a GetTable it
   * already made, a name no one used before): the right call goes first, the other only if it was wrong.
   */
  upsertTable(database: string, table: TableDef, hint?: { exists: boolean }): Promise<void>;
  deleteTable(database: string, name: string): Promise<void>;
  getPartitions(database: string, table: string): Promise<PartitionDef[]>;
  /** Registers partitions (Glue BatchCreatePartition, ≤100 a call); existing ones are left as they are. */
  addPartitions(database: string, table: string, partitions: PartitionDef[]): Promise<void>;
  /**
   * Points live tables at a new snapshot: table definitions and (for partitioned tables) their
   * partitions, with as few calls as the catalog allows.
   */
  switchTables(database: string, switches: TableSwitch[]): Promise<void>;
}

export interface TableSwitch {
  table: TableDef;
  partitions?: PartitionDef[];
}

export type QueryState = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/** What a query engine runs: a build step or a monitor query, rendered per engine. */
export type EngineQuery = BuildStep | MonitorQuery;

/** Runs queries (Athena SQL in AWS, DuckDB locally); completion arrives as an Athena Query State Change event. */
export interface QueryEngine {
  /** Starts the query; `token` makes a retried start idempotent. Returns the query execution id. */
  start(query: EngineQuery, token: string): Promise<string>;
  status(queryExecutionId: string): Promise<{ state: QueryState; reason?: string }>;
  /** Result rows (values as strings, as Athena returns them) and bytes scanned of a finished query. */
  results(queryExecutionId: string): Promise<{ rows: Array<Record<string, string | null>>; bytesScanned: number }>;
}

export type JobState = 'STARTING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMEOUT' | 'STOPPED' | 'ERROR' | 'WAITING' | 'STOPPING';

export interface SplitJobArgs {
  /** The dataset, which picks the job (each dataset has its own, e.g. `addressable-bucket`). */
  dataset: string;
  snapshotDt: string;
  runId: string;
  /** URI of the split plan JSON the job executes. */
  planUri: string;
  tablesFilter?: string[];
}

/** The jobs besides the split: a dataset's raw-landing compaction and the chargebacks consolidation. */
export type MaintenanceJob = 'compaction' | 'chargebacks';

/** Starts the split-and-bucket job; completion arrives as a Glue Job State Change event. */
export interface JobRunner {
  startSplitJob(args: SplitJobArgs): Promise<{ jobName: string; jobRunId: string }>;
  /** Starts a maintenance job with its arguments (Glue `--NAME` arguments, named without the dashes). */
  startJob(job: MaintenanceJob, args: Record<string, string>): Promise<{ jobName: string; jobRunId: string }>;
  jobRunState(jobName: string, jobRunId: string): Promise<{ state: JobState; reason?: string }>;
}

export interface BusEvent {
  source: string;
  detailType: string;
  detail: Record<string, unknown>;
}

export interface EventBus {
  put(events: BusEvent[]): Promise<void>;
}

export interface Notifier {
  publish(message: { subject: string; body: string; attributes?: Record<string, string> }): Promise<void>;
}

export interface Clock {
  now(): Date;
}

/** What a parquet file's footer says (read with ranged GETs, never the whole file). */
export interface ParquetFooter {
  columns: ColumnDef[];
  rowCount: number;
  /** Compressed bytes of each top-level column (name as in the file), summed over the row groups. */
  columnBytes: Record<string, number>;
}

/** Reads a parquet file's schema and row count from its footer only. */
export type FooterReader = (bucket: string, key: string, size: number) => Promise<ParquetFooter>;

/** What an operator replays: a dataset's snapshot from a stage on, optionally some tables only. */
export interface ReplayArgs {
  dataset: string;
  snapshotDt: string;
  fromStage: StageName;
  tables?: string[];
}

/** How an operator reaches things named in alerts and reports; each mode says it its own way. */
export interface OperatorHints {
  /** The command an operator runs to replay a stage (an `aws events put-events` in AWS, `npx flywheel replay` locally). */
  replayCommand(args: ReplayArgs): string;
  /**
   * An s3:// URI as an operator reaches it, for messages such as the monitor e-mail's "Report:" line: the URI itself
   * in AWS, the file under the local home (`.flywheel/lake/<bucket>/<key>`) locally. Absent: the URI as it is.
   */
  describeLocation?(uri: string): string;
}

/** Every port a composition root wires (AWS: composition/aws.ts; local: composition/local.ts). */
export interface Ports extends OperatorHints {
  store: ObjectStore;
  catalog: Catalog;
  engine: QueryEngine;
  /** The query engine of the data monitor (its own Athena workgroup, so its events route to it alone). */
  monitorEngine: QueryEngine;
  jobs: JobRunner;
  bus: EventBus;
  notifier: Notifier;
  clock: Clock;
  readFooter: FooterReader;
}

/**
 * A bucket's event notification configuration, as far as Flywheel changes it: whether S3 sends the bucket's
 * events to EventBridge, and everything else (topic, queue and function notifications) carried as it is.
 */
export interface BucketNotificationConfig {
  eventBridge: boolean;
  /** The rest of the configuration, opaque: written back unchanged. */
  others: Record<string, unknown>;
}

/** The event notification configuration of a bucket (S3's Get/PutBucketNotificationConfiguration): a whole document, read then written. */
export interface BucketNotifications {
  get(bucket: string): Promise<BucketNotificationConfig>;
  put(bucket: string, config: BucketNotificationConfig): Promise<void>;
}
