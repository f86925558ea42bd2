/**
 * data-monitor: checks every part_* table and tells the subscribers what is wrong.
 * 1. Start (schedule, Pipeline Completed, CLI): list the tables; per table read the catalog, list the
 *    id_bucket folders on S3 (one delimiter listing) and sample file sizes; plan the repair of
 *    partitions the catalog lacks (athena: ALTER TABLE ADD PARTITION; glue: BatchCreatePartition; or off / dry run).
 *    (inspect.ts, repair.ts)
 * 2. Per table start one scan of part_<t> (count, NULL keys, duplicates, wrong buckets, histogram) and one
 *    count of its source, after the repair when it is a query. Remember the query ids in the monitor run.
 * 3. Each Athena Query State Change records its result; no polling. A failed query is an alert for its table.
 * 4. When every query is in: evaluate the checks, read the last reports for trends, write JSON, CSV and
 *    HTML reports, e-mail the alerts (report.ts); retention once the live data checked out intact (retention.ts).
 * This module is the state machine; the run document's shape is in run.ts.
 */
import { randomUUID } from 'node:crypto';
import { catalogGrant, storeGrant, union, type DataGrant, type Grant } from '../../domain/access.js';
import type { PipelineConfig } from '../../domain/config.js';
import {
  deploymentRefusals,
  parseMonitorOptions,
  sourceDatabaseOf,
  type MonitorDefaults,
  type MonitorDeployment,
  type MonitorOptions,
} from '../../domain/monitor/options.js';
import type { MonitorQuery } from '../../domain/monitor/queries.js';
import { PIPELINE_SOURCE } from '../../events/patterns.js';
import type { DepsOf } from '../../deps.js';
import { ignore, type Declined } from '../../events/declined.js';
import { claimOnce, updateJson } from '../json-document.js';
import { mapLimit } from '../../domain/map-limit.js';
import { indexReach } from '../ledger-store.js';
import { makeRetention, retentionReach, type RetentionDeps } from '../retention.js';
import { makeInspection, type InspectionDeps } from './inspect.js';
import { firstQueries, recordRepair, repairQuery } from './repair.js';
import { buildReport, publishReport, reportIntact, type ReportDeps } from './report.js';
import { runKey, type MonitorRun, type QueryName, type QueryRecord } from './run.js';

export type { MonitorRun } from './run.js';
export type { MonitorDeployment } from '../../domain/monitor/options.js';

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
  const extData: DataGrant[] = datasets.map((d) => ({ tablePrefix: prefixes.ext, bucket, prefix: d.splitPrefix }));
  // count queries run in the database their source is in (sourceDatabaseOf): --compare_database, or the staged database of ext_
  const [extDb, partDb] = [sourceDatabaseOf(o, 'ext', config), sourceDatabaseOf(o, 'part', config)];
  const sourcesIn = (database: string): DataGrant[] => [...(partDb === database ? partData : []), ...(extDb === database ? extData : [])];
  const countDatabases = [...new Set([extDb, partDb])].filter((d) => d !== o.database);
  return union(
    [storeGrant(['get'], bucket, `${first.bucketedPrefix}metadata/snapshot_dt.txt`), storeGrant(['list'], bucket, first.rawPrefix)],
    [catalogGrant(['listTables', 'getPartitions', 'addPartitions'], o.database, o.table_prefix)],
    datasets.map((d) => storeGrant(['list'], bucket, d.bucketedPrefix)),
    [storeGrant(['get', 'put', 'list'], o.report_bucket, o.report_prefix), indexReach(config, 'monitor')],
    [
      {
        port: 'monitorEngine',
        methods: ['start', 'status', 'results'],
        database: o.database,
        reads: [...new Set([...partData, ...sourcesIn(o.database)])],
        writes: [],
        partitions: partData,
      },
    ],
    countDatabases.map((database): Grant => ({ port: 'monitorEngine', methods: ['start'], database, reads: sourcesIn(database), writes: [] })),
    [{ port: 'notifier' }, { port: 'bus' }],
    retentionReach(config),
  );
}

/**
 * The options of one run: the deployment's defaults (MONITOR_* / the CLI's flags), an invocation's overrides on top.
 * A bad value, an unknown option, or (given the deployment) a value the deployment cannot honour throws, naming
 * the option and the fix: no option is ever ignored.
 */
export function monitorOptionsOf(defaults: MonitorDefaults, overrides: Record<string, unknown> = {}, deployment?: MonitorDeployment): MonitorOptions {
  const options = parseMonitorOptions({ ...defaults, ...overrides });
  const refused = deployment ? deploymentRefusals(options, deployment) : [];
  if (refused.length > 0) throw new Error(`monitor options refused: ${refused.join(' ')}`);
  return options;
}

export type DataMonitorDeps = DepsOf<'config' | 'store' | 'catalog' | 'clock' | 'logger' | 'bus' | 'monitorEngine'> &
  InspectionDeps &
  ReportDeps &
  RetentionDeps;

export function makeDataMonitor(deps: DataMonitorDeps) {
  const { store, catalog, clock, logger, config } = deps;
  const engine = deps.monitorEngine;
  const indexKey = (queryId: string) => `${config.indexPrefix}monitor/${encodeURIComponent(queryId)}.json`;
  const { inspect, readProcessedSnapshot, newestRawSnapshot } = makeInspection(deps);

  /** 1.–2. */
  async function start(options: MonitorOptions, trigger: string): Promise<MonitorRun> {
    const runId = `monitor-${clock
      .now()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z')}-${randomUUID().slice(0, 6)}`;
    logger.appendKeys({ run_id: runId, database: options.database, stage: 'data-monitor' });
    const run: MonitorRun = {
      runId,
      startedAt: clock.now().toISOString(),
      options,
      trigger,
      tables: {},
      compareDatabase: sourceDatabaseOf(options, options.compare_source_type, config),
      finished: false,
    };
    const [metadata, newestRaw] = await Promise.all([readProcessedSnapshot(), newestRawSnapshot()]);
    Object.assign(run, { metadata, newestRaw });
    let tables = (await catalog.listTables(options.database, options.table_prefix)).filter(
      (t) => !t.name.includes('__') && (options.include_er_tables || !t.name.endsWith('_er')),
    );
    if (options.max_tables > 0) tables = tables.slice(0, options.max_tables);
    await mapLimit(tables, 4, async (def) => {
      run.tables[def.name] = await inspect(def, options);
    });
    await store.put(options.report_bucket, runKey(options, runId), JSON.stringify(run));
    logger.info('monitor started', { tables: Object.keys(run.tables), trigger });
    for (const [name, t] of Object.entries(run.tables)) await startQueries(run, name, firstQueries(t));
    return finishIfDone(run.runId, options);
  }

  async function startQueries(run: MonitorRun, table: string, names: QueryName[]): Promise<void> {
    const o = run.options;
    const t = run.tables[table]!;
    for (const name of names) {
      if (t.queries[name].status !== 'PENDING') continue;
      const query: MonitorQuery =
        name === 'scan'
          ? { kind: 'monitor-scan', database: o.database, table, pkColumn: o.pk_column, bucketCount: o.bucket_count }
          : name === 'count'
            ? { kind: 'monitor-count', database: t.sourceDatabase ?? o.compare_database ?? o.database, table: t.sourceName! }
            : repairQuery(o, table, t);
      let record: QueryRecord;
      try {
        const id = await engine.start(query, `${run.runId}:${table}:${name}`);
        await store.put(
          config.dataBucket,
          indexKey(id),
          JSON.stringify({ runId: run.runId, reportBucket: o.report_bucket, reportPrefix: o.report_prefix, table, name }),
        );
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
  async function onQueryStateChange(queryId: string, state: string): Promise<MonitorRun | Declined> {
    const got = await store.get(config.dataBucket, indexKey(queryId));
    if (!got) return ignore(logger, 'info', 'query belongs to no monitor run; ignored', { query_execution_id: queryId });
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
      if (q?.status !== 'RUNNING' || q.id !== queryId) return false;
      r.tables[ref.table]!.queries[ref.name] = record;
      if (ref.name === 'repair') recordRepair(r.tables[ref.table]!, record);
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
    const report = await buildReport(deps, run);
    const reportUri = await publishReport(deps, o, report);
    // retention: older snapshots go only once the live data checked out intact
    const intact = reportIntact(report);
    const retention = intact && o.retain_snapshots > 0 && !o.dry_run ? await makeRetention(deps)(o.retain_snapshots) : undefined;
    await deps.bus.put([
      {
        source: PIPELINE_SOURCE,
        detailType: 'Monitor Completed',
        detail: {
          runId,
          database: o.database,
          reportUri,
          alerts: report.alerts.length,
          high: report.alert_details.filter((a) => a.severity === 'High').length,
          tables: report.tables.length,
          intact,
          retention: retention && { deleted: retention.deleted, objectsDeleted: retention.objectsDeleted },
        },
      },
    ]);
    logger.info('monitor completed', { report: reportUri, alerts: report.alerts.length });
    const done = await updateRun(o.report_bucket, key, (r) => {
      r.reportUri = reportUri;
      return true;
    });
    return done.run;
  }

  async function updateRun(bucket: string, key: string, change: (run: MonitorRun) => boolean): Promise<{ run: MonitorRun; changed: boolean }> {
    const { doc, changed } = await updateJson<MonitorRun>(store, bucket, key, change);
    return { run: doc, changed };
  }

  return { start, onQueryStateChange };
}
