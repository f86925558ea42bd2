/**
 * data-monitor: checks every part_* table and tells the subscribers what is wrong.
 * 1. Start (schedule, Pipeline Completed, CLI): list the tables; per table read the catalog, list the
 *    id_bucket folders on S3 (one delimiter listing) and sample file sizes; plan the repair of
 *    partitions the catalog lacks (athena: ALTER TABLE ADD PARTITION; glue: BatchCreatePartition; or off / dry run).
 * 2. Per table start one scan of part_<t> (count, NULL keys, duplicates, wrong buckets, histogram) and one
 *    count of its source, after the repair when it is a query. Remember the query ids in the monitor run.
 * 3. Each Athena Query State Change records its result; no polling. A failed query is an alert for its table.
 * 4. When every query is in: evaluate the checks, read the last reports for trends, write JSON, CSV and
 *    HTML reports, e-mail the alerts.
 */
import { randomUUID } from 'node:crypto';
import { catalogGrant, storeGrant, union, type DataGrant, type Grant } from '../domain/access.js';
import { parseS3Uri, s3Uri, type PipelineConfig } from '../domain/config.js';
import { discoverSnapshots } from '../domain/snapshot.js';
import {
  alertLine, INTEGRITY_ALERTS, checkBuckets, checkConcentration, checkCounts, checkFailed, checkFileSizes, checkFreshness, checkKeys, checkPartitions, checkSchema, checkTrend, missingButEmpty, projectionOf, ranges,
  type Alert, type TrendPoint,
} from '../domain/monitor/checks.js';
import type { MonitorOptions } from '../domain/monitor/options.js';
import { parseScanRows, type MonitorQuery } from '../domain/monitor/queries.js';
import { renderHtmlReport } from '../domain/monitor/html-report.js';
import { previousSkew, reportCsv, reportEmail, reportHeader, reportKeys, type MonitorReport, type TableReport } from '../domain/monitor/report.js';
import { PIPELINE_SOURCE } from '../events/patterns.js';
import type { Deps } from '../deps.js';
import type { PartitionDef, TableDef } from '../ports.js';
import { claimOnce, updateJson } from './json-document.js';
import { mapLimit } from './map-limit.js';
import { indexReach } from './ledger-store.js';
import { makeRetention, retentionReach } from './retention.js';

type QueryName = 'repair' | 'scan' | 'count';

interface QueryRecord {
  id?: string;
  status: 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'SKIPPED';
  rows?: Array<Record<string, string | null>>;
  bytesScanned?: number;
  error?: string;
}

interface TableState {
  def?: TableDef;
  sourceName?: string;
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
  finished: boolean;
  reportUri?: string;
}

const decoder = new TextDecoder();

/**
 * For the deployment's options (an invocation naming another database or report bucket goes beyond it, and is
 * denied): the processed and newest raw snapshot of the first dataset; the tables of the prefix, their partitions
 * and S3 folders (both repair modes: partitions added by the catalog or by a query); scans of part_ and counts of
 * their ext_ or part_ sources; the query index, the run document and reports; the e-mail and Monitor Completed;
 * retention after an intact check.
 */
export function dataMonitorReach(config: PipelineConfig, o: MonitorOptions): Grant[] {
  const { dataBucket: bucket, prefixes } = config;
  const datasets = Object.values(config.datasets);
  const first = datasets[0]!;
  const partData: DataGrant[] = datasets.map((d) => ({ tablePrefix: prefixes.part, bucket, prefix: d.bucketedPrefix }));
  const sources: DataGrant[] = [...partData, ...datasets.map((d) => ({ tablePrefix: prefixes.ext, bucket, prefix: d.splitPrefix }))];
  return union(
    [storeGrant(['get'], bucket, `${first.bucketedPrefix}metadata/snapshot_dt.txt`), storeGrant(['list'], bucket, first.rawPrefix)],
    [catalogGrant(['listTables', 'getPartitions', 'addPartitions'], o.database, o.table_prefix)],
    datasets.map((d) => storeGrant(['list'], bucket, d.bucketedPrefix)),
    [storeGrant(['get', 'put', 'list'], o.report_bucket, o.report_prefix), indexReach(config, 'monitor')],
    [{ port: 'monitorEngine', methods: ['start', 'status', 'results'], database: o.database, reads: sources, writes: [], partitions: partData }],
    o.compare_database ? [{ port: 'monitorEngine', methods: ['start'], database: o.compare_database, reads: sources, writes: [] }] : [],
    [{ port: 'notifier' }, { port: 'bus' }],
    retentionReach(config),
  );
}

export function makeDataMonitor(deps: Deps) {
  const { store, catalog, clock, logger, config } = deps;
  const engine = deps.monitorEngine;
  const runKey = (o: MonitorOptions, runId: string) => `${o.report_prefix}_runs/${runId}.json`;
  const indexKey = (queryId: string) => `${config.indexPrefix}monitor/${encodeURIComponent(queryId)}.json`;

  /** 1.–2. */
  async function start(options: MonitorOptions, trigger: string): Promise<MonitorRun> {
    const runId = `monitor-${clock.now().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomUUID().slice(0, 6)}`;
    logger.appendKeys({ run_id: runId, database: options.database, stage: 'data-monitor' });
    const run: MonitorRun = { runId, startedAt: clock.now().toISOString(), options, trigger, tables: {}, finished: false };
    const [metadata, newestRaw] = await Promise.all([readProcessedSnapshot(), newestRawSnapshot()]);
    Object.assign(run, { metadata, newestRaw });
    let tables = (await catalog.listTables(options.database, options.table_prefix)).filter((t) => !t.name.includes('__') && (options.include_er_tables || !t.name.endsWith('_er')));
    if (options.max_tables > 0) tables = tables.slice(0, options.max_tables);
    await mapLimit(tables, 4, async (def) => {
      run.tables[def.name] = await inspect(def, options);
    });
    await store.put(options.report_bucket, runKey(options, runId), JSON.stringify(run));
    logger.info('monitor started', { tables: Object.keys(run.tables), trigger });
    for (const [name, t] of Object.entries(run.tables)) await startQueries(run, name, t.repair.planned.length > 0 && t.queries.repair.status === 'PENDING' ? ['repair'] : ['scan', 'count']);
    return finishIfDone(run.runId, options);
  }

  /** Catalog, S3 and file facts of one table; glue-mode repairs happen here, athena-mode ones are queued. */
  async function inspect(def: TableDef, o: MonitorOptions): Promise<TableState> {
    const state: TableState = {
      def,
      s3Buckets: [],
      catalog: [],
      files: [],
      repair: { planned: [], done: [], mode: o.dry_run ? `${o.auto_repair} (dry run)` : o.auto_repair },
      queries: { repair: { status: 'SKIPPED' }, scan: { status: 'PENDING' }, count: { status: o.count_check_enabled ? 'PENDING' : 'SKIPPED' } },
      errors: [],
    };
    // the logical table name comes off the part_ prefix, not off --table_prefix (which may narrow it, e.g. part_ibe_)
    const base = def.name.slice(def.name.startsWith(config.prefixes.part) ? config.prefixes.part.length : o.table_prefix.length);
    // an ER table is compared with its part_ table (it has a row per part_ row)
    state.sourceName = base.endsWith('_er') ? `${config.prefixes.part}${base.slice(0, -3)}` : o.compare_source_type === 'ext' ? `${config.prefixes.ext}${base}` : `${config.prefixes.part}${base}`;
    try {
      const { bucket, key } = parseS3Uri(def.location);
      const listing = await store.list(bucket, key, { delimiter: '/' });
      state.s3Buckets = listing.prefixes.map((p) => /id_bucket=(\d+)\/$/.exec(p)?.[1]).filter((v): v is string => v !== undefined).map(Number);
      const projection = projectionOf(def, o.bucket_count);
      if (!projection.enabled) state.catalog = await catalog.getPartitions(o.database, def.name);
      if (o.file_size_check) {
        for (const b of state.s3Buckets.slice(0, 5)) {
          const files = await store.list(bucket, `${key}id_bucket=${b}/`);
          state.files.push(...files.objects.map((f) => ({ key: f.key, size: f.size })));
        }
      }
      const registered = new Set(state.catalog.map((p) => Number(p.values[0])));
      state.repair.planned = projection.enabled ? [] : state.s3Buckets.filter((b) => !registered.has(b)).sort((a, b) => a - b);
      if (state.repair.planned.length > 0 && o.auto_repair !== 'off' && !o.dry_run) {
        const partitions = state.repair.planned.map((b) => ({ values: [String(b)], location: `${def.location}id_bucket=${b}/` }));
        if (o.auto_repair === 'glue') {
          await catalog.addPartitions(o.database, def.name, partitions);
          state.repair.done = state.repair.planned;
        } else state.queries.repair = { status: 'PENDING' };
      }
    } catch (err) {
      state.errors.push(`inspecting ${def.name}: ${(err as Error).message}`);
    }
    return state;
  }

  async function startQueries(run: MonitorRun, table: string, names: QueryName[]): Promise<void> {
    const o = run.options;
    const t = run.tables[table]!;
    for (const name of names) {
      if (t.queries[name].status !== 'PENDING') continue;
      const query: MonitorQuery =
        name === 'scan'
          ? { kind: 'monitor-scan', database: o.database, table, pkColumn: o.pk_column }
          : name === 'count'
            ? { kind: 'monitor-count', database: o.compare_database ?? o.database, table: t.sourceName! }
            : { kind: 'repair-partitions', database: o.database, table, partitions: t.repair.planned.map((b) => ({ values: [String(b)], location: `${t.def!.location}id_bucket=${b}/` })) };
      let record: QueryRecord;
      try {
        const id = await engine.start(query, `${run.runId}:${table}:${name}`);
        await store.put(config.dataBucket, indexKey(id), JSON.stringify({ runId: run.runId, reportBucket: o.report_bucket, reportPrefix: o.report_prefix, table, name }));
        record = { id, status: 'RUNNING' };
      } catch (err) {
        record = { status: 'FAILED', error: (err as Error).message };
      }
      await updateRun(o.report_bucket, runKey(o, run.runId), (r) => {
        r.tables[table]!.queries[name] = { ...r.tables[table]!.queries[name], ...record };
        return true;
      });
      logger.info('monitor query started', { table, query: name, query_execution_id: record.id, error: record.error });
    }
  }

  /** 3. */
  async function onQueryStateChange(queryId: string, state: string): Promise<MonitorRun | undefined> {
    const got = await store.get(config.dataBucket, indexKey(queryId));
    if (!got) {
      logger.info('query belongs to no monitor run; ignored', { query_execution_id: queryId });
      return undefined;
    }
    const ref = JSON.parse(decoder.decode(got.body)) as { runId: string; reportBucket: string; reportPrefix: string; table: string; name: QueryName };
    logger.appendKeys({ run_id: ref.runId, stage: 'data-monitor' });
    let record: QueryRecord;
    if (state === 'SUCCEEDED') {
      try {
        const res = await engine.results(queryId);
        record = { id: queryId, status: 'SUCCEEDED', rows: res.rows, bytesScanned: res.bytesScanned };
      } catch (err) {
        record = { id: queryId, status: 'FAILED', error: `reading results: ${(err as Error).message}` };
      }
    } else {
      record = { id: queryId, status: 'FAILED', error: (await engine.status(queryId)).reason ?? state };
    }
    const key = `${ref.reportPrefix}_runs/${ref.runId}.json`;
    const { run, changed } = await updateRun(ref.reportBucket, key, (r) => {
      const q = r.tables[ref.table]?.queries[ref.name];
      if (!q || q.status !== 'RUNNING' || q.id !== queryId) return false;
      r.tables[ref.table]!.queries[ref.name] = record;
      if (ref.name === 'repair') {
        const t = r.tables[ref.table]!;
        if (record.status === 'SUCCEEDED') t.repair.done = t.repair.planned;
        else t.repair.error = record.error;
      }
      return true;
    });
    if (!changed) return run;
    if (ref.name === 'repair') await startQueries(run, ref.table, ['scan', 'count']);
    return finishIfDone(ref.runId, run.options);
  }

  /** 4., once: the run that flips `finished` writes the reports. */
  async function finishIfDone(runId: string, o: MonitorOptions): Promise<MonitorRun> {
    const key = runKey(o, runId);
    const { claimed, doc: run } = await claimOnce<MonitorRun>((change) => updateJson(store, o.report_bucket, key, change), {
      busy: (r) => Object.values(r.tables).some((t) => Object.values(t.queries).some((q) => q.status === 'PENDING' || q.status === 'RUNNING')),
      claimed: (r) => r.finished,
      claim: (r) => {
        r.finished = true;
      },
    });
    if (!claimed) return run;
    const report = await buildReport(run);
    const now = clock.now();
    const keys = reportKeys(o.report_prefix, now);
    await store.put(o.report_bucket, keys.json, JSON.stringify(report, null, 2));
    await store.put(o.report_bucket, keys.csv, reportCsv(report));
    await store.put(o.report_bucket, keys.html, renderHtmlReport(report));
    const reportUri = s3Uri(o.report_bucket, keys.json);
    if (report.alerts.length > 0 || o.notify_when_clean) {
      // the report as the reader reaches it: the s3:// URI in AWS, the file under the home locally
      const mail = reportEmail(report, deps.describeLocation?.(reportUri) ?? reportUri);
      await deps.notifier.publish({ subject: mail.subject, body: mail.body, attributes: { stage: 'data-monitor', database: o.database } });
    }
    // retention: older snapshots go only once the live data checked out intact
    const intact = !report.alert_details.some((a) => INTEGRITY_ALERTS.has(a.code) || (a.code === 'PARTITION_MISSING_CATALOG' && !/repaired/.test(a.message)));
    const retention = intact && o.retain_snapshots > 0 && !o.dry_run ? await makeRetention(deps)(o.retain_snapshots) : undefined;
    await deps.bus.put([{ source: PIPELINE_SOURCE, detailType: 'Monitor Completed', detail: { runId, database: o.database, reportUri, alerts: report.alerts.length, high: report.alert_details.filter((a) => a.severity === 'High').length, tables: report.tables.length, intact, retention: retention && { deleted: retention.deleted, objectsDeleted: retention.objectsDeleted } } }]);
    logger.info('monitor completed', { report: reportUri, alerts: report.alerts.length });
    const done = await updateRun(o.report_bucket, key, (r) => ((r.reportUri = reportUri), true));
    return done.run;
  }

  async function buildReport(run: MonitorRun): Promise<MonitorReport> {
    const o = run.options;
    const now = clock.now();
    const history = await readHistory(o);
    const freshness = checkFreshness({ metadata: run.metadata, newestRaw: run.newestRaw, now, windowDays: o.freshness_window_days, strict: o.strict_snapshot });
    const tables: TableReport[] = [];
    for (const [name, t] of Object.entries(run.tables).sort(([a], [b]) => a.localeCompare(b))) {
      const alerts: Alert[] = t.errors.map((e) => checkFailed(name, 'inspection', e));
      const def = t.def!;
      const projection = projectionOf(def, o.bucket_count);
      const catalogAfter = t.repair.done.length > 0 ? [...t.catalog, ...t.repair.done.map((b) => ({ values: [String(b)], location: '' }))] : t.catalog;
      const parts = checkPartitions(name, { s3: t.s3Buckets, catalog: t.catalog }, o.bucket_count, projection);
      alerts.push(...parts.alerts.map((a) => (a.code === 'PARTITION_MISSING_CATALOG' && t.repair.done.length > 0 ? { ...a, message: `${a.message} — repaired (${t.repair.mode})` } : a)));
      const schema = checkSchema(def, def.storage ?? {}, o.pk_column);
      alerts.push(...schema.alerts);
      const scanQ = t.queries.scan;
      const countQ = t.queries.count;
      const scan = scanQ.status === 'SUCCEEDED' ? parseScanRows(scanQ.rows ?? []) : undefined;
      if (scanQ.status === 'FAILED') alerts.push(checkFailed(name, 'scan query', scanQ.error ?? 'unknown'));
      if (countQ.status === 'FAILED') alerts.push(checkFailed(name, `count of ${t.sourceName}`, countQ.error ?? 'unknown'));
      const countSrc = countQ.status === 'SUCCEEDED' ? Number(countQ.rows?.[0]?.row_count ?? NaN) : undefined;
      const counts = scan ? checkCounts(name, scan.rows, countSrc === undefined ? undefined : { count: countSrc, name: `${o.compare_database ?? o.database}.${t.sourceName}`, partName: `${o.database}.${name}` }, o.count_tolerance_pct) : { alerts: [] as Alert[], diffPct: undefined };
      alerts.push(...counts.alerts);
      // buckets no key falls in (a small table's) are reported, not e-mailed; the count against another table proves nothing is lost
      // (named without its database: the message is the same in every deployment)
      const countedAgainst = t.sourceName !== name || (o.compare_database ?? o.database) !== o.database ? t.sourceName : undefined;
      const emptyBuckets = missingButEmpty(parts, { diffPct: counts.diffPct, source: countedAgainst });
      if (emptyBuckets) alerts.splice(alerts.findIndex((a) => a.code === 'PARTITION_MISSING_S3'), 1);
      if (scan) alerts.push(...checkKeys(name, scan, o.pk_column));
      const concentration = scan ? checkConcentration(name, scan, o) : undefined;
      if (concentration) alerts.push(...concentration.alerts);
      const snapshotDt = def.parameters.snapshot_dt;
      const skewPrevious = previousSkew(history, name, snapshotDt ?? run.metadata ?? '');
      const health = scan ? checkBuckets(name, scan, o, { previous: skewPrevious, explained: (concentration?.alerts.length ?? 0) > 0 }) : undefined;
      if (health) alerts.push(...health.alerts);
      const files = o.file_size_check ? checkFileSizes(name, t.files, o.file_size_min_mb, o.file_size_max_mb) : { issues: [], alerts: [] };
      alerts.push(...files.alerts);
      const points: TrendPoint[] = history.map((h) => ({ generatedAt: h.generated_at, snapshotDt: h.tables.find((x) => x.table === name)?.raw_input_snapshot_dt, countPart: numberOr(h.tables.find((x) => x.table === name)?.count_part) }));
      const trend = checkTrend(name, scan?.rows, snapshotDt, points, o.volume_change_pct);
      alerts.push(...trend.alerts);
      tables.push({
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
        repaired: t.repair.planned.length === 0 ? '' : `${t.repair.done.length > 0 ? 'repaired' : `planned (${t.repair.mode})`}: ${ranges(t.repair.planned)}${t.repair.error ? ` — failed: ${t.repair.error}` : ''}`,
        bucket_histogram: health?.histogram ?? [],
        trend: [...points.filter((p) => p.countPart !== undefined).map((p) => ({ generated_at: p.generatedAt, snapshot_dt: p.snapshotDt, count_part: p.countPart })), ...(scan ? [{ generated_at: now.toISOString(), snapshot_dt: snapshotDt, count_part: scan.rows }] : [])],
        alerts,
        distinct_keys: scan?.keys?.distinct ?? '',
        top_key_rows: scan?.keys?.top?.rows ?? '',
        bucket_keys_max_min_ratio: health?.keyMaxMinRatio?.toFixed(3) ?? '',
        bucket_keys_cv: health?.keyCv?.toFixed(4) ?? '',
        bucket_skew: health?.verdict ?? '',
        ...(skewPrevious ? { skew_previous: { snapshot_dt: skewPrevious.snapshotDt, max_min_ratio: skewPrevious.maxMinRatio, cv: skewPrevious.cv } } : {}),
        report_only: [...(emptyBuckets ? [emptyBuckets] : []), ...(health?.reportOnly ?? [])],
      });
    }
    const alertDetails = [...freshness.alerts, ...tables.flatMap((t) => t.alerts)];
    return {
      ...reportHeader(o, run.runId, now),
      alerts: alertDetails.map(alertLine),
      tables,
      snapshot_dt: freshness.snapshotDt,
      newest_raw_snapshot_dt: run.newestRaw,
      alert_details: alertDetails,
      bytes_scanned_total: tables.reduce((s, t) => s + t.bytes_scanned, 0),
      report_only: tables.flatMap((t) => t.report_only ?? []),
    };
  }

  /** The last `trend_reports` JSON reports before today's. */
  async function readHistory(o: MonitorOptions): Promise<MonitorReport[]> {
    if (o.trend_reports === 0) return [];
    const today = reportKeys(o.report_prefix, clock.now()).json;
    const { objects } = await store.list(o.report_bucket, `${o.report_prefix}omc_monitor_report_`);
    const keys = objects.map((x) => x.key).filter((k) => k.endsWith('.json') && k !== today).sort().slice(-o.trend_reports);
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

  async function readProcessedSnapshot(): Promise<string | undefined> {
    const ds = Object.values(config.datasets)[0]!;
    const got = await store.get(config.dataBucket, `${ds.bucketedPrefix}metadata/snapshot_dt.txt`);
    return got ? decoder.decode(got.body) : undefined;
  }

  async function newestRawSnapshot(): Promise<string | undefined> {
    const ds = Object.values(config.datasets)[0]!;
    const listing = await store.list(config.dataBucket, ds.rawPrefix, { delimiter: '/' });
    return discoverSnapshots(listing.prefixes.map((p) => p.slice(ds.rawPrefix.length))).latest;
  }

  async function updateRun(bucket: string, key: string, change: (run: MonitorRun) => boolean): Promise<{ run: MonitorRun; changed: boolean }> {
    const { doc, changed } = await updateJson<MonitorRun>(store, bucket, key, change);
    return { run: doc, changed };
  }

  return { start, onQueryStateChange };
}

function numberOr(v: unknown): number | undefined {
  return typeof v === 'number' ? v : v === '' || v === undefined || v === null ? undefined : Number(v);
}
