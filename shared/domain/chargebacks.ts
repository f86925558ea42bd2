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

/**
 * Where chargebacks land (the landing table's location, crawled in AWS; layout.ts): a day's files are under
 * `year=YYYY/month=MM/day=DD/` or, as the current system lands them, `YYYY/MM/DD/` (landingDayFolders).
 */
export const LANDING_PREFIX = LAYOUT.chargebacks.landingPrefix;
/** Where the consolidation writes its days in the data bucket (CHARGEBACKS_OUTPUT_PATH's default; layout.ts). */
export const CONSOLIDATED_PREFIX = LAYOUT.chargebacks.outputPrefix;

export interface ConsolidationWindow {
  executionSequence: number;
  /** YYYY-MM-DD of the day this execution consolidates. */
  partitionDate: string;
}

/**
 * Sequence (1..total) and partition date of an execution at `executionTime`. An explicit `executionSequence`
 * (EXECUTION_SEQUENCE) wins over the one the time gives: sequence 1 consolidates the previous day of the execution
 * time's (UTC) date, any other sequence that date itself.
 */
export function consolidationWindow(executionTime: Date, totalExecutions = 4, executionSequence?: number): ConsolidationWindow {
  if (!Number.isInteger(totalExecutions) || totalExecutions < 1 || 24 % totalExecutions !== 0)
    throw new Error(`TOTAL_EXECUTIONS must divide 24, got ${totalExecutions}`);
  if (executionSequence !== undefined && (!Number.isInteger(executionSequence) || executionSequence < 1 || executionSequence > totalExecutions))
    throw new Error(`EXECUTION_SEQUENCE must be 1..${totalExecutions} (TOTAL_EXECUTIONS), got ${executionSequence}`);
  const sequence = executionSequence ?? Math.floor(executionTime.getUTCHours() / (24 / totalExecutions)) + 1;
  const day = new Date(Date.UTC(executionTime.getUTCFullYear(), executionTime.getUTCMonth(), executionTime.getUTCDate() - (sequence === 1 ? 1 : 0)));
  return { executionSequence: sequence, partitionDate: day.toISOString().slice(0, 10) };
}

/**
 * Checks that a schedule (an EventBridge `cron(…)` or `rate(N hours)` expression) runs TOTAL_EXECUTIONS times a day,
 * one execution in each of the day's windows of 24/TOTAL_EXECUTIONS hours, so that every sequence runs once: a cron
 * with one minute, every day, and exactly one hour in each window (`cron(30 0,6,12,18 * * ? *)` for 4), or
 * `rate(24/N hours)`. Throws naming the disagreement; returns the expression.
 */
export function assertScheduleMatches(expression: string, totalExecutions: number): string {
  if (!Number.isInteger(totalExecutions) || totalExecutions < 1 || 24 % totalExecutions !== 0)
    throw new Error(`TOTAL_EXECUTIONS must divide 24, got ${totalExecutions}`);
  const every = 24 / totalExecutions;
  const fail = (why: string): never => {
    throw new Error(`the chargebacks schedule ${expression} does not agree with TOTAL_EXECUTIONS=${totalExecutions}: ${why}`);
  };
  const rate = /^rate\((\d+) hours?\)$/.exec(expression.trim());
  if (rate) {
    if (Number(rate[1]) !== every) fail(`a rate must be every ${every} hour(s)`);
    return expression;
  }
  const cron = /^cron\((.+)\)$/.exec(expression.trim());
  if (!cron) return fail('expected cron(…) or rate(N hours)');
  const fields = cron[1]!.trim().split(/\s+/);
  if (fields.length !== 6) fail('a cron expression has 6 fields');
  const [minute, hours, dayOfMonth, month, dayOfWeek] = fields as [string, string, string, string, string];
  if (!/^\d{1,2}$/.test(minute) || Number(minute) > 59) fail('one minute of the hour expected');
  if (![dayOfMonth, month, dayOfWeek].every((f) => f === '*' || f === '?')) fail('it must run every day');
  const hourList = cronHours(hours) ?? fail(`hours ${hours} not understood`);
  const perWindow = Array.from({ length: totalExecutions }, (_, w) => hourList.filter((h) => Math.floor(h / every) === w).length);
  if (hourList.length !== totalExecutions || perWindow.some((n) => n !== 1))
    fail(`${hourList.length} run(s) a day at hour(s) ${hourList.join(',')}; expected one in each ${every}-hour window (execution 1 at 0..${every - 1} UTC)`);
  return expression;
}

/** The hours (0..23, sorted, distinct) a cron hours field names: `*`, `H`, `A-B`, `A/S`, `*\/S`, `A-B/S`, comma lists; undefined if not understood. */
function cronHours(field: string): number[] | undefined {
  const hours = new Set<number>();
  for (const part of field.split(',')) {
    const m = /^(\*|\d{1,2})(?:-(\d{1,2}))?(?:\/(\d{1,2}))?$/.exec(part);
    if (!m) return undefined;
    const from = m[1] === '*' ? 0 : Number(m[1]);
    const to = m[2] !== undefined ? Number(m[2]) : m[1] === '*' || m[3] !== undefined ? 23 : from;
    const step = m[3] !== undefined ? Number(m[3]) : 1;
    if (from > 23 || to > 23 || step < 1 || from > to) return undefined;
    for (let h = from; h <= to; h += step) hours.add(h);
  }
  return [...hours].sort((a, b) => a - b);
}

/** `year=YYYY/month=MM/day=DD/` of a date (the consolidated output's folder, and one landing form). */
export function dayPartition(date: string): string {
  const [y, m, d] = date.split('-');
  return `year=${y}/month=${m}/day=${d}/`;
}

/** `YYYY/MM/DD/` of a date: the day's landing folder as the current system lands it. */
export function dayPath(date: string): string {
  const [y, m, d] = date.split('-');
  return `${y}/${m}/${d}/`;
}

/**
 * The day's landing folders under LANDING_PREFIX, both accepted: `year=YYYY/month=MM/day=DD/` and `YYYY/MM/DD/`.
 * A day is what landed in either (both read when both exist; the dedupe keeps each chargeback's latest version).
 */
export function landingDayFolders(date: string): [string, string] {
  return [dayPartition(date), dayPath(date)];
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

/** What the consolidation says when the day has no landing rows (the Glue job's words, flywheel_chargebacks.py). */
export function nothingToConsolidateLine(date: string, source: string, output: string): string {
  return `NOTHING TO CONSOLIDATE: no landing rows for ${date} in ${source} (no crawled partition ${dayPartition(date).replace(/\/$/, '')}, or an empty one); ${output} left as it was`;
}

/** The metrics line the job logs, exactly. */
export function metricsLine(m: { recordsProcessed: number; duplicatesRemoved: number; outputFiles: number; durationSeconds: number }): string {
  return `METRICS: records_processed=${m.recordsProcessed}, duplicates_removed=${m.duplicatesRemoved}, output_files=${m.outputFiles}, duration_seconds=${m.durationSeconds.toFixed(2)}`;
}

/**
 * The data-quality line the job logs before its METRICS line (rows without a chargeback_id cannot be deduplicated:
 * they are kept, and counted here). The Glue job prints the same line (flywheel_chargebacks.py quality_line).
 */
export function qualityLine(q: { nullIds: number; recordsProcessed: number }): string {
  return `DATA QUALITY: null_chargeback_ids=${q.nullIds}, records_processed=${q.recordsProcessed}`;
}
