/**
 * Chargebacks consolidation: what each of the day's executions covers, and the dedupe rule.
 *
 * Executions run every 24/TOTAL_EXECUTIONS hours (4 a day: 00:30, 06:30, 12:30, 18:30 UTC).
 * Execution 1 consolidates the whole previous day, now complete; executions 2..N consolidate the
 * current day so far. Every execution rewrites its day's partition completely (written aside, then
 * switched), so whatever order they run in, or if one is re-run, the day ends complete, deduplicated
 * and never half-written.
 */

import { LAYOUT } from './layout.js';

/** Parameters of the chargebacks consolidation job (CHARGEBACKS_* in AWS, options locally). */
export interface ChargebacksParams {
  sourceDatabase: string;
  sourceTable: string;
  outputPath: string;
  outputFileCount: number;
  codec: string;
  totalExecutions: number;
  partitionFilter: boolean;
}

/** Where chargebacks land, partitioned year=/month=/day= (the landing table's location, crawled in AWS; layout.ts). */
export const LANDING_PREFIX = LAYOUT.chargebacks.landingPrefix;
/** Where the consolidation writes its days in the data bucket (CHARGEBACKS_OUTPUT_PATH's default; layout.ts). */
export const CONSOLIDATED_PREFIX = LAYOUT.chargebacks.outputPrefix;

export interface ConsolidationWindow {
  executionSequence: number;
  /** YYYY-MM-DD of the day this execution consolidates. */
  partitionDate: string;
}

/** Sequence (1..total) and partition date of an execution at `executionTime`. */
export function consolidationWindow(executionTime: Date, totalExecutions = 4): ConsolidationWindow {
  if (!Number.isInteger(totalExecutions) || totalExecutions < 1 || 24 % totalExecutions !== 0)
    throw new Error(`TOTAL_EXECUTIONS must divide 24, got ${totalExecutions}`);
  const executionSequence = Math.floor(executionTime.getUTCHours() / (24 / totalExecutions)) + 1;
  const day = new Date(Date.UTC(executionTime.getUTCFullYear(), executionTime.getUTCMonth(), executionTime.getUTCDate() - (executionSequence === 1 ? 1 : 0)));
  return { executionSequence, partitionDate: day.toISOString().slice(0, 10) };
}

/** `year=YYYY/month=MM/day=DD/` of a date. */
export function dayPartition(date: string): string {
  const [y, m, d] = date.split('-');
  return `year=${y}/month=${m}/day=${d}/`;
}

/**
 * SQL keeping one row per chargeback_id: the latest `updated_at`, or `event_timestamp` where
 * `updated_at` is NULL (ties broken by event_timestamp). Rows without a chargeback_id cannot be
 * deduplicated and are kept as they are (and counted). Works in DuckDB and Spark SQL.
 */
export function dedupeSql(source: string, columns: string[]): string {
  const cols = columns.map((c) => `"${c.replace(/"/g, '""')}"`).join(', ');
  return (
    `SELECT ${cols} FROM (SELECT *, row_number() OVER (PARTITION BY chargeback_id ORDER BY coalesce(updated_at, event_timestamp) DESC NULLS LAST, event_timestamp DESC NULLS LAST) AS rn FROM ${source}) ` +
    'WHERE rn = 1 OR chargeback_id IS NULL'
  );
}

/** The metrics line the job logs, exactly. */
/** What the consolidation says when the day has no landing rows (the Glue job's words, flywheel_chargebacks.py). */
export function nothingToConsolidateLine(date: string, source: string, output: string): string {
  return `NOTHING TO CONSOLIDATE: no landing rows for ${date} in ${source} (no crawled partition ${dayPartition(date).replace(/\/$/, '')}, or an empty one); ${output} left as it was`;
}

export function metricsLine(m: { recordsProcessed: number; duplicatesRemoved: number; outputFiles: number; durationSeconds: number }): string {
  return `METRICS: records_processed=${m.recordsProcessed}, duplicates_removed=${m.duplicatesRemoved}, output_files=${m.outputFiles}, duration_seconds=${m.durationSeconds.toFixed(2)}`;
}
