/** Everything a use case may touch, wired by one composition root per mode (aws.ts, local.ts). */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { PipelineConfig } from './domain/config.js';
import type { StageName } from './domain/ledger.js';
import type { ChargebacksParams } from './domain/chargebacks.js';
import type { CleanroomsReportDefaults } from './domain/cleanrooms-report.js';
import type { Catalog, Clock, ColumnDef, EventBus, JobRunner, Notifier, ObjectStore, QueryEngine } from './ports.js';

export interface ParquetFooter {
  columns: ColumnDef[];
  rowCount: number;
  /** Compressed bytes of each top-level column (name as in the file), summed over the row groups. */
  columnBytes: Record<string, number>;
}

export interface ReplayArgs {
  dataset: string;
  snapshotDt: string;
  fromStage: StageName;
  tables?: string[];
}

export interface Deps {
  config: PipelineConfig;
  store: ObjectStore;
  catalog: Catalog;
  engine: QueryEngine;
  jobs: JobRunner;
  bus: EventBus;
  notifier: Notifier;
  clock: Clock;
  logger: Logger;
  /** CloudWatch metrics as EMF lines (published by the Lambda middleware; locally into the log file). */
  metrics: Metrics;
  /** The query engine of the data monitor (its own Athena workgroup, so its events route to it alone). */
  monitorEngine: QueryEngine;
  /** Monitor options of this deployment (environment in AWS, flags locally); an invocation may override them. */
  monitorDefaults: Record<string, unknown>;
  /** Parameters of the chargebacks consolidation job (CHARGEBACKS_* in AWS). */
  chargebacks: ChargebacksParams;
  /** Reads a parquet file's schema and row count from its footer only. */
  readFooter(bucket: string, key: string, size: number): Promise<ParquetFooter>;
  /** The command an operator runs to replay a stage (an `aws events put-events` in AWS, `npx flywheel replay` locally). */
  replayCommand(args: ReplayArgs): string;
  /**
   * An s3:// URI as an operator reaches it, for messages such as the monitor e-mail's "Report:" line: the URI itself
   * in AWS, the file under the local home (`.flywheel/lake/<bucket>/<key>`) locally. Absent: the URI as it is.
   */
  describeLocation?(uri: string): string;
}

/** What a function's reach is computed from: the deployment's config and option defaults (no adapter needed). */
export interface ReachInputs {
  config: PipelineConfig;
  monitorDefaults: Record<string, unknown>;
  cleanrooms: CleanroomsReportDefaults;
}
