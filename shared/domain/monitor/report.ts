/**
 * The monitor report: JSON (the current report's fields, then new ones), CSV in the same column order, and the e-mail.
 * `alerts` / `alert_details` are what needs action, and what the e-mail carries; `report_only` holds findings the
 * report shows but the e-mail leaves out (a bucket skew that is the bucket function's own spread of the keys, or no
 * worse than the previous snapshot's).
 */
import { alertLine, type Alert, type SkewBaseline, type SkewVerdict } from './checks.js';
import type { MonitorOptions } from './options.js';

export interface TableReport {
  table: string;
  location: string;
  s3_partitions: number;
  glue_partitions: number;
  missing_glue_count: number;
  table_type_ok: boolean;
  contract_ok: boolean;
  raw_input_snapshot_dt: string;
  count_src: number | '';
  count_part: number | '';
  count_diff_pct: string;
  pk_nulls: number | '';
  pk_dupes: number | '';
  file_issues_sample: string;
  checked_at: string;
  // beyond the current report
  partition_projection: boolean;
  missing_s3_partitions: string;
  stale_partitions: string;
  wrong_bucket_rows: number | '';
  bucket_empty: number;
  bucket_low: number;
  bucket_max_min_ratio: string;
  bucket_cv: string;
  volume_change_pct: string;
  bytes_scanned: number;
  query_ids: string[];
  repaired: string;
  bucket_histogram: number[];
  trend: Array<{ generated_at: string; snapshot_dt?: string; count_part?: number }>;
  alerts: Alert[];
  // the key figures (absent in reports written before them)
  /** Distinct non-NULL keys. */
  distinct_keys?: number | '';
  /** Rows of the most frequent key (its value is named only in an alert). */
  top_key_rows?: number | '';
  /** Max/min ratio and cv of the distinct keys per bucket: the bucket function's own spread of this key population. */
  bucket_keys_max_min_ratio?: string;
  bucket_keys_cv?: string;
  /** What became of the bucket skew (checks.ts SkewVerdict); '' when the scan did not complete. */
  bucket_skew?: SkewVerdict | '';
  /** The previous snapshot's figures the skew was compared with, carried from report to report. */
  skew_previous?: { snapshot_dt: string; max_min_ratio?: number; cv: number };
  /** Findings reported, not e-mailed. */
  report_only?: Alert[];
}

export interface MonitorReport {
  database: string;
  prefix: string;
  bucket_count: number;
  generated_at: string;
  freshness_window_days: number;
  compare: { enabled: boolean; type: string; db: string; tolerance_pct: number };
  pk_column: string;
  file_size_check: boolean;
  alerts: string[];
  tables: TableReport[];
  // beyond the current report
  run_id: string;
  snapshot_dt?: string;
  newest_raw_snapshot_dt?: string;
  auto_repair: string;
  dry_run: boolean;
  alert_details: Alert[];
  bytes_scanned_total: number;
  /** Findings reported, not e-mailed (absent in reports written before them). */
  report_only?: Alert[];
}

/** Columns of the current CSV, in its order, then the new ones. */
export const CSV_COLUMNS: Array<keyof TableReport> = [
  'table',
  'location',
  's3_partitions',
  'glue_partitions',
  'missing_glue_count',
  'table_type_ok',
  'contract_ok',
  'raw_input_snapshot_dt',
  'count_src',
  'count_part',
  'count_diff_pct',
  'pk_nulls',
  'pk_dupes',
  'file_issues_sample',
  'checked_at',
  'partition_projection',
  'missing_s3_partitions',
  'stale_partitions',
  'wrong_bucket_rows',
  'bucket_empty',
  'bucket_low',
  'bucket_max_min_ratio',
  'bucket_cv',
  'volume_change_pct',
  'bytes_scanned',
  'repaired',
  'distinct_keys',
  'top_key_rows',
  'bucket_keys_max_min_ratio',
  'bucket_keys_cv',
  'bucket_skew',
];

/** The report header from the options. */
export function reportHeader(
  o: MonitorOptions,
  runId: string,
  generatedAt: Date,
  compareDatabase = o.compare_database ?? o.database,
): Omit<MonitorReport, 'alerts' | 'tables' | 'alert_details' | 'bytes_scanned_total' | 'snapshot_dt' | 'newest_raw_snapshot_dt' | 'report_only'> {
  return {
    database: o.database,
    prefix: o.table_prefix,
    bucket_count: o.bucket_count,
    generated_at: generatedAt.toISOString().replace(/\.\d+Z$/, 'Z'),
    freshness_window_days: o.freshness_window_days,
    compare: { enabled: o.count_check_enabled, type: o.compare_source_type, db: compareDatabase, tolerance_pct: o.count_tolerance_pct },
    pk_column: o.pk_column,
    file_size_check: o.file_size_check,
    run_id: runId,
    auto_repair: o.auto_repair,
    dry_run: o.dry_run,
  };
}

/** CSV of the table rows. */
export function reportCsv(report: MonitorReport): string {
  const cell = (v: unknown) => {
    const s = Array.isArray(v) ? v.join(' ') : v === undefined || v === null ? '' : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return `${[CSV_COLUMNS.join(','), ...report.tables.map((t) => CSV_COLUMNS.map((c) => cell(t[c])).join(','))].join('\n')}\n`;
}

/** Object keys of the report files for a date: `<prefix>omc_monitor_report_<YYYY-MM-DD>.{json,csv,html}`. */
export function reportKeys(prefix: string, generatedAt: Date): { json: string; csv: string; html: string } {
  const base = `${prefix}omc_monitor_report_${generatedAt.toISOString().slice(0, 10)}`;
  return { json: `${base}.json`, csv: `${base}.csv`, html: `${base}.html` };
}

/**
 * The e-mail: subject `[DATA MONITOR] {db} {prefix}* — N issue(s)` (≤100 chars), every alert line, how many findings
 * only the report holds, and where the report is (`location`: the deployment's way to name it, an s3:// URI in AWS).
 */
export function reportEmail(report: MonitorReport, location: string): { subject: string; body: string } {
  const n = report.alerts.length;
  const subject = `[DATA MONITOR] ${report.database} ${report.prefix}* — ${n} issue(s)`;
  const notes = report.report_only ?? [];
  const byCode = [...new Set(notes.map((a) => a.code))].map((c) => `${c} ×${notes.filter((a) => a.code === c).length}`);
  const body = [
    `[DATA MONITOR] ${n} issue(s) in ${report.database} (${report.prefix}*)`,
    '',
    ...report.alert_details.map((a) => `${a.severity.padEnd(6)} ${alertLine(a)}`),
    ...(notes.length > 0 ? ['', `In the report only (inherent or unchanged, no action needed): ${byCode.join(', ')}`] : []),
    '',
    `Report: ${location}`,
  ].join('\n');
  return { subject: subject.length <= 100 ? subject : `${subject.slice(0, 97)}...`, body };
}

/**
 * The bucket figures of the table's previous snapshot, from the latest earlier report that has them: a report of
 * another snapshot gives its own figures, a report of this snapshot the baseline it carried (so the comparison
 * outlives the `trend_reports` window of a month of daily runs on one snapshot).
 */
export function previousSkew(history: MonitorReport[], table: string, snapshotDt: string): SkewBaseline | undefined {
  for (const report of [...history].reverse()) {
    const t = report.tables?.find((x) => x.table === table);
    if (!t) continue;
    const cv = toNumber(t.bucket_cv);
    if (t.raw_input_snapshot_dt && t.raw_input_snapshot_dt !== snapshotDt && cv !== undefined && Number.isFinite(cv)) {
      return { snapshotDt: t.raw_input_snapshot_dt, maxMinRatio: toNumber(t.bucket_max_min_ratio), cv };
    }
    const carried = t.skew_previous;
    if (carried && carried.snapshot_dt !== snapshotDt && Number.isFinite(carried.cv))
      return { snapshotDt: carried.snapshot_dt, maxMinRatio: carried.max_min_ratio, cv: carried.cv };
  }
  return undefined;
}

const toNumber = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : undefined);
