/**
 * The bucketed stage as a list of steps per table. Each step is one Athena query in AWS (rendered
 * by athena-sql.ts) and one DuckDB statement locally; none writes more than `partitionsPerQuery`
 * partitions, so Athena's 100-open-writers limit never applies to part_* tables.
 */
import type { ColumnDef } from '../ports.js';

interface StepBase {
  database: string;
  /** Logical table, e.g. `ibe_02a`. */
  table: string;
}

/** CTAS (first range) or INSERT INTO (later ranges) of part_<t> staging, partitioned by id_bucket. */
export interface PartRangeStep extends StepBase {
  kind: 'part-range';
  first: boolean;
  stagingTable: string;
  sourceTable: string;
  columns: ColumnDef[];
  location: string;
  fromBucket: number;
  toBucket: number;
}

/** CTAS of bucketed_<t> staging: Hive-bucketed by the key into `bucketCount` buckets. */
export interface BucketedStep extends StepBase {
  kind: 'bucketed';
  stagingTable: string;
  sourceTable: string;
  columns: ColumnDef[];
  location: string;
  keyColumn: string;
  bucketCount: number;
}

export type BuildStep = PartRangeStep | BucketedStep;

/** Inclusive id_bucket ranges of at most `size` buckets covering 0..count-1. */
export function bucketRanges(count: number, size: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (let from = 0; from < count; from += size) ranges.push([from, Math.min(count, from + size) - 1]);
  return ranges;
}

export interface TableBuildInput {
  database: string;
  table: string;
  extTable: string;
  partStaging: string;
  bucketedStaging: string;
  /** Data columns of ext_<t> without id_bucket. */
  columns: ColumnDef[];
  partLocation: string;
  bucketedLocation: string;
  keyColumn: string;
  bucketCount: number;
  partitionsPerQuery: number;
}

/** The ordered steps building one table's part_ and bucketed_ staging tables. */
export function buildStepsFor(t: TableBuildInput): BuildStep[] {
  const common = { database: t.database, table: t.table };
  const parts: BuildStep[] = bucketRanges(t.bucketCount, t.partitionsPerQuery).map(([fromBucket, toBucket], i) => ({
    ...common,
    kind: 'part-range',
    first: i === 0,
    stagingTable: t.partStaging,
    sourceTable: t.extTable,
    columns: t.columns,
    location: t.partLocation,
    fromBucket,
    toBucket,
  }));
  const bucketed: BuildStep = {
    ...common,
    kind: 'bucketed',
    stagingTable: t.bucketedStaging,
    sourceTable: t.partStaging,
    columns: t.columns,
    location: t.bucketedLocation,
    keyColumn: t.keyColumn,
    bucketCount: t.bucketCount,
  };
  return [...parts, bucketed];
}

/** Short label for logs and ledgers, e.g. `part 100-199` or `bucketed`. */
export function stepLabel(step: BuildStep): string {
  return step.kind === 'part-range' ? `part ${step.fromBucket}-${step.toBucket}` : 'bucketed';
}
