/**
 * The monitor's report: a row per table from its facts, query results and the last reports (trends), written as
 * JSON, CSV and HTML, and e-mailed when it holds alerts (or always, with notify_when_clean).
 */
import { s3Uri } from '../../domain/config.js';
import {
  alertLine,
  INTEGRITY_ALERTS,
  checkBuckets,
  checkConcentration,
  checkCounts,
  checkFailed,
  checkFileSizes,
  checkFreshness,
  checkKeys,
  checkPartitions,
  checkSchema,
  checkTrend,
  missingButEmpty,
  projectionOf,
  ranges,
  type Alert,
  type TrendPoint,
} from '../../domain/monitor/checks.js';
import type { MonitorOptions } from '../../domain/monitor/options.js';
import { parseScanRows } from '../../domain/monitor/queries.js';
import { renderHtmlReport } from '../../domain/monitor/html-report.js';
import { previousSkew, reportCsv, reportEmail, reportHeader, reportKeys, type MonitorReport, type TableReport } from '../../domain/monitor/report.js';
import type { DepsOf } from '../../deps.js';
import type { MonitorRun, TableState } from './run.js';

const decoder = new TextDecoder();

/** The report of a finished run: every table's checks, the freshness of the live snapshot, trends against the earlier reports. */
/** What building and publishing the report use: the reports' store, the clock, the e-mail and how an operator reaches the report. */
export type ReportDeps = DepsOf<'config' | 'store' | 'clock' | 'logger' | 'notifier' | 'describeLocation'>;

export async function buildReport(deps: ReportDeps, run: MonitorRun): Promise<MonitorReport> {
  const o = run.options;
  const now = deps.clock.now();
  const history = await readHistory(deps, o);
  const freshness = checkFreshness({ metadata: run.metadata, newestRaw: run.newestRaw, now, windowDays: o.freshness_window_days, strict: o.strict_snapshot });
  const tables: TableReport[] = [];
  for (const [name, t] of Object.entries(run.tables).sort(([a], [b]) => a.localeCompare(b)))
    tables.push(tableReport(name, t, run, history, now, deps.config.partitionsPerQuery));
  const alertDetails = [...freshness.alerts, ...tables.flatMap((t) => t.alerts)];
  return {
    ...reportHeader(o, run.runId, now, run.compareDatabase),
    alerts: alertDetails.map(alertLine),
    tables,
    snapshot_dt: freshness.snapshotDt,
    newest_raw_snapshot_dt: run.newestRaw,
    alert_details: alertDetails,
    bytes_scanned_total: tables.reduce((s, t) => s + t.bytes_scanned, 0),
    report_only: tables.flatMap((t) => t.report_only ?? []),
  };
}

/** One table's row: the checks of its facts and query results, its alerts (`writeBatch`: partitions per build query). */
function tableReport(name: string, t: TableState, run: MonitorRun, history: MonitorReport[], now: Date, writeBatch: number): TableReport {
  const o = run.options;
  const alerts: Alert[] = t.errors.map((e) => checkFailed(name, 'inspection', e));
  const def = t.def!;
  const projection = projectionOf(def, o.bucket_count);
  const catalogAfter = t.repair.done.length > 0 ? [...t.catalog, ...t.repair.done.map((b) => ({ values: [String(b)], location: '' }))] : t.catalog;
  const parts = checkPartitions(name, { s3: t.s3Buckets, catalog: t.catalog }, o.bucket_count, projection, writeBatch);
  alerts.push(
    ...parts.alerts.map((a) =>
      a.code === 'PARTITION_MISSING_CATALOG' && t.repair.done.length > 0 ? { ...a, message: `${a.message} — repaired (${t.repair.mode})` } : a,
    ),
  );
  const schema = checkSchema(def, def.storage ?? {}, o.pk_column);
  alerts.push(...schema.alerts);
  const scanQ = t.queries.scan;
  const countQ = t.queries.count;
  const scan = scanQ.status === 'SUCCEEDED' ? parseScanRows(scanQ.rows ?? []) : undefined;
  if (scanQ.status === 'FAILED') alerts.push(checkFailed(name, 'scan query', scanQ.error ?? 'unknown'));
  if (countQ.status === 'FAILED') alerts.push(checkFailed(name, `count of ${t.sourceName}`, countQ.error ?? 'unknown'));
  const countSrc = countQ.status === 'SUCCEEDED' ? Number(countQ.rows?.[0]?.row_count ?? NaN) : undefined;
  const counts = scan
    ? checkCounts(
        name,
        scan.rows,
        countSrc === undefined
          ? undefined
          : { count: countSrc, name: `${t.sourceDatabase ?? o.compare_database ?? o.database}.${t.sourceName}`, partName: `${o.database}.${name}` },
        o.count_tolerance_pct,
      )
    : { alerts: [] as Alert[], diffPct: undefined };
  alerts.push(...counts.alerts);
  // buckets no key falls in (a small table's) are reported, not e-mailed; the count against another table proves nothing is lost
  // (named without its database: the message is the same in every deployment)
  const countedAgainst = t.sourceName !== name || (t.sourceDatabase ?? o.compare_database ?? o.database) !== o.database ? t.sourceName : undefined;
  const emptyBuckets = missingButEmpty(parts, { diffPct: counts.diffPct, source: countedAgainst });
  if (emptyBuckets)
    alerts.splice(
      alerts.findIndex((a) => a.code === 'PARTITION_MISSING_S3'),
      1,
    );
  if (scan) alerts.push(...checkKeys(name, scan, o.pk_column));
  const concentration = scan ? checkConcentration(name, scan, o) : undefined;
  if (concentration) alerts.push(...concentration.alerts);
  const snapshotDt = def.parameters.snapshot_dt;
  const skewPrevious = previousSkew(history, name, snapshotDt ?? run.metadata ?? '');
  const health = scan ? checkBuckets(name, scan, o, { previous: skewPrevious, explained: (concentration?.alerts.length ?? 0) > 0 }) : undefined;
  if (health) alerts.push(...health.alerts);
  const files = o.file_size_check ? checkFileSizes(name, t.files, o.file_size_min_mb, o.file_size_max_mb) : { issues: [], alerts: [] };
  alerts.push(...files.alerts);
  const points: TrendPoint[] = history.map((h) => ({
    generatedAt: h.generated_at,
    snapshotDt: h.tables.find((x) => x.table === name)?.raw_input_snapshot_dt,
    countPart: numberOr(h.tables.find((x) => x.table === name)?.count_part),
  }));
  const trend = checkTrend(name, scan?.rows, snapshotDt, points, o.volume_change_pct);
  alerts.push(...trend.alerts);
  return {
    table: name,
    location: def.location,
    s3_partitions: t.s3Buckets.length,
    glue_partitions: projection.enabled ? 0 : new Set(catalogAfter.map((p) => p.values[0])).size,
    missing_glue_count: parts.missingCatalog.length,
    table_type_ok: schema.tableTypeOk,
    contract_ok: schema.contractOk,
    raw_input_snapshot_dt: snapshotDt ?? run.metadata ?? '',
    count_src: countSrc ?? '',
    count_part: scan?.rows ?? '',
    count_diff_pct: counts.diffPct === undefined ? '' : counts.diffPct.toFixed(6),
    pk_nulls: scan?.pkNulls ?? '',
    pk_dupes: scan?.pkDupes ?? '',
    file_issues_sample: files.issues.map((i) => `${i.key} (${i.sizeMb.toFixed(1)} MB)`).join('; '),
    checked_at: now.toISOString().replace(/\.\d+Z$/, 'Z'),
    partition_projection: projection.enabled,
    missing_s3_partitions: ranges(parts.missingS3),
    stale_partitions: ranges(parts.stale),
    wrong_bucket_rows: scan?.wrongBucket ?? '',
    bucket_empty: health?.empty.length ?? 0,
    bucket_low: health?.low.length ?? 0,
    bucket_max_min_ratio: health?.maxMinRatio?.toFixed(3) ?? '',
    bucket_cv: health ? health.cv.toFixed(4) : '',
    volume_change_pct: trend.changePct === undefined ? '' : trend.changePct.toFixed(2),
    bytes_scanned: (scanQ.bytesScanned ?? 0) + (countQ.bytesScanned ?? 0),
    query_ids: [t.queries.repair.id, scanQ.id, countQ.id].filter((x): x is string => !!x),
    repaired:
      t.repair.planned.length === 0
        ? ''
        : `${t.repair.done.length > 0 ? 'repaired' : `planned (${t.repair.mode})`}: ${ranges(t.repair.planned)}${t.repair.error ? ` — failed: ${t.repair.error}` : ''}`,
    bucket_histogram: health?.histogram ?? [],
    trend: [
      ...points.filter((p) => p.countPart !== undefined).map((p) => ({ generated_at: p.generatedAt, snapshot_dt: p.snapshotDt, count_part: p.countPart })),
      ...(scan ? [{ generated_at: now.toISOString(), snapshot_dt: snapshotDt, count_part: scan.rows }] : []),
    ],
    alerts,
    distinct_keys: scan?.keys?.distinct ?? '',
    top_key_rows: scan?.keys?.top?.rows ?? '',
    bucket_keys_max_min_ratio: health?.keyMaxMinRatio?.toFixed(3) ?? '',
    bucket_keys_cv: health?.keyCv?.toFixed(4) ?? '',
    bucket_skew: health?.verdict ?? '',
    ...(skewPrevious ? { skew_previous: { snapshot_dt: skewPrevious.snapshotDt, max_min_ratio: skewPrevious.maxMinRatio, cv: skewPrevious.cv } } : {}),
    report_only: [...(emptyBuckets ? [emptyBuckets] : []), ...(health?.reportOnly ?? [])],
  };
}

/** The last `trend_reports` JSON reports before today's. */
async function readHistory(deps: ReportDeps, o: MonitorOptions): Promise<MonitorReport[]> {
  const { store, clock, logger } = deps;
  if (o.trend_reports === 0) return [];
  const today = reportKeys(o.report_prefix, clock.now()).json;
  const { objects } = await store.list(o.report_bucket, `${o.report_prefix}omc_monitor_report_`);
  const keys = objects
    .map((x) => x.key)
    .filter((k) => k.endsWith('.json') && k !== today)
    .sort()
    .slice(-o.trend_reports);
  const reports: MonitorReport[] = [];
  for (const k of keys) {
    try {
      const got = await store.get(o.report_bucket, k);
      if (got) reports.push(JSON.parse(decoder.decode(got.body)) as MonitorReport);
    } catch (err) {
      logger.warn('unreadable earlier report skipped', { key: k, error: (err as Error).message });
    }
  }
  return reports;
}

/** Writes the report as JSON, CSV and HTML and e-mails it when it needs a person; returns the JSON report's URI. */
export async function publishReport(deps: ReportDeps, o: MonitorOptions, report: MonitorReport): Promise<string> {
  const { store, clock } = deps;
  const keys = reportKeys(o.report_prefix, clock.now());
  await store.put(o.report_bucket, keys.json, JSON.stringify(report, null, 2));
  await store.put(o.report_bucket, keys.csv, reportCsv(report));
  await store.put(o.report_bucket, keys.html, renderHtmlReport(report));
  const reportUri = s3Uri(o.report_bucket, keys.json);
  if (report.alerts.length > 0 || o.notify_when_clean) {
    // the report as the reader reaches it: the s3:// URI in AWS, the file under the home locally
    const mail = reportEmail(report, deps.describeLocation?.(reportUri) ?? reportUri);
    await deps.notifier.publish({ subject: mail.subject, body: mail.body, attributes: { stage: 'data-monitor', database: o.database } });
  }
  return reportUri;
}

/** Whether the live data checked out intact: no integrity alert, and every partition the catalog lacked repaired. */
export function reportIntact(report: MonitorReport): boolean {
  return !report.alert_details.some((a) => INTEGRITY_ALERTS.has(a.code) || (a.code === 'PARTITION_MISSING_CATALOG' && !/repaired/.test(a.message)));
}

function numberOr(v: unknown): number | undefined {
  return typeof v === 'number' ? v : v === '' || v === undefined || v === null ? undefined : Number(v);
}
