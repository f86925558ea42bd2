/** The monitor run document (`<report_prefix>_runs/<runId>.json`): each table's facts, repair and queries, updated with If-Match. */
import type { MonitorOptions } from '../../domain/monitor/options.js';
import type { PartitionDef, TableDef } from '../../ports.js';

export type QueryName = 'repair' | 'scan' | 'count';

export interface QueryRecord {
  id?: string;
  status: 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'SKIPPED';
  rows?: Array<Record<string, string | null>>;
  bytesScanned?: number;
  error?: string;
}

export interface TableState {
  def?: TableDef;
  sourceName?: string;
  /** The database sourceName is counted in (sourceDatabaseOf). */
  sourceDatabase?: string;
  s3Buckets: number[];
  catalog: PartitionDef[];
  files: Array<{ key: string; size: number }>;
  repair: { planned: number[]; done: number[]; mode: string; error?: string };
  queries: Record<QueryName, QueryRecord>;
  errors: string[];
}

export interface MonitorRun {
  runId: string;
  startedAt: string;
  options: MonitorOptions;
  trigger: string;
  metadata?: string;
  newestRaw?: string;
  tables: Record<string, TableState>;
  /** The database the count check reads its sources in, for the report (sourceDatabaseOf of compare_source_type). */
  compareDatabase?: string;
  finished: boolean;
  reportUri?: string;
}

/** Where a monitor run's document lives in the report bucket. */
export const runKey = (o: MonitorOptions, runId: string): string => `${o.report_prefix}_runs/${runId}.json`;
