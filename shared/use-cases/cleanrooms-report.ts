/**
 * cleanrooms-report: which part_* tables analysts can query in the collaboration, and how Entity
 * Resolution maps their ids. Daily, on a schedule.
 * 1. List the catalog tables with the prefix (staging definitions `…__r<run>` left out).
 * 2. Read Clean Rooms (configured tables, their analysis rules, the membership's associations and
 *    their collaboration analysis rules) and Entity Resolution (ID namespaces, schema mappings)
 *    through the CleanRoomsDirectory port. A call that fails marks the rows it feeds, never the run.
 * 3. Build the rows (readiness rule in shared/domain/cleanrooms-report.ts) and write
 *    `ACX_Cleanroom_Report_<YYYYMMDD_HHMMSS>.json`, `…_Tables.csv`, `…_IdentityResolution.csv`.
 * 4. When rows failed, send one notification naming them; log and return the summary.
 * A failure of the run itself (catalog unreadable, report not written) is alerted and returned as FAILED.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { catalogGrant, storeGrant, type Grant } from '../domain/access.js';
import { s3Uri } from '../domain/config.js';
import {
  buildReport,
  failedRowLines,
  identityCsv,
  reportFiles,
  tablesCsv,
  type AssociationItem,
  type ConfiguredTableItem,
  type IdNamespaceItem,
  type Listed,
  type SchemaMappingItem,
} from '../domain/cleanrooms-report.js';
import type { DepsOf } from '../deps.js';
import type { CleanroomsReportDefaults, CleanroomsReportParams } from '../domain/cleanrooms-report.js';
export type { CleanroomsReportDefaults, CleanroomsReportParams } from '../domain/cleanrooms-report.js';

/** What the report reads from Clean Rooms and Entity Resolution. Each item carries its data or the error of the call that failed. */
export interface CleanRoomsDirectory {
  /** Every configured table of the account, with its Glue reference and analysis rule. */
  configuredTables(): Promise<Listed<ConfiguredTableItem>>;
  /** The configured table associations of one membership, with their collaboration analysis rules. */
  associations(membershipId: string): Promise<Listed<AssociationItem>>;
  /** Every Entity Resolution ID namespace, with its input sources. */
  idNamespaces(): Promise<Listed<IdNamespaceItem>>;
  /** Every Entity Resolution schema mapping, with its mapped input fields. */
  schemaMappings(): Promise<Listed<SchemaMappingItem>>;
}

export interface CleanroomsReportSummary {
  status: 'SUCCEEDED' | 'SUCCEEDED_WITH_FAILED_ROWS' | 'FAILED';
  membershipId: string;
  reportUri?: string;
  files?: { json: string; tablesCsv: string; identityCsv: string };
  tables?: number;
  ready?: number;
  notReady?: number;
  unknown?: number;
  failedRows?: string[];
  error?: string;
}

/** The catalog's tables of the prefix, Clean Rooms and Entity Resolution (read), the report files, the alert. */
export function cleanroomsReportReach(p: CleanroomsReportDefaults): Grant[] {
  return [
    catalogGrant(['listTables'], p.database, p.tablePrefix),
    { port: 'directory', methods: ['configuredTables', 'associations', 'idNamespaces', 'schemaMappings'] },
    storeGrant(['put'], p.reportBucket, p.reportPrefix),
    { port: 'notifier' },
  ];
}

export type CleanroomsReportDeps = DepsOf<'store' | 'catalog' | 'clock' | 'logger' | 'notifier' | 'metrics'>;

export function makeCleanroomsReport(deps: CleanroomsReportDeps, directory: CleanRoomsDirectory) {
  const { store, catalog, clock, logger, notifier } = deps;

  return async function cleanroomsReport(p: CleanroomsReportParams, trigger: string): Promise<CleanroomsReportSummary> {
    logger.appendKeys({ stage: 'cleanrooms-report', membership_id: p.membershipId, database: p.database });
    let step = 'listing the catalog tables';
    try {
      // 1.
      const tables = (await catalog.listTables(p.database, p.tablePrefix)).map((t) => t.name).filter((n) => !n.includes('__'));
      // 2.
      step = 'reading Clean Rooms and Entity Resolution';
      const [configuredTables, associations, idNamespaces, schemaMappings] = await Promise.all([
        directory.configuredTables(),
        directory.associations(p.membershipId),
        directory.idNamespaces(),
        directory.schemaMappings(),
      ]);
      // 3.
      const now = clock.now();
      const files = reportFiles(p.reportPrefix, now);
      const report = buildReport({
        database: p.database,
        membershipId: p.membershipId,
        tablePrefix: p.tablePrefix,
        tables,
        configuredTables,
        associations,
        idNamespaces,
        schemaMappings,
        generatedAt: now,
        trigger,
        files,
      });
      step = `writing the report to ${s3Uri(p.reportBucket, p.reportPrefix)}`;
      await store.put(p.reportBucket, files.json, JSON.stringify(report, null, 2));
      await store.put(p.reportBucket, files.tables_csv, tablesCsv(report.tables));
      await store.put(p.reportBucket, files.identity_csv, identityCsv(report.identity_resolution));
      const reportUri = s3Uri(p.reportBucket, files.json);
      // 4.
      const failedRows = failedRowLines(report);
      if (failedRows.length > 0) await notifyFailedRows(p, reportUri, failedRows);
      const s = report.summary;
      recordMetrics(s.ready, s.not_ready, s.unknown, failedRows.length);
      logger.info('cleanrooms report written', { report: reportUri, trigger, ...s, list_errors: report.list_errors, failed_rows: failedRows.length });
      return {
        status: failedRows.length > 0 ? 'SUCCEEDED_WITH_FAILED_ROWS' : 'SUCCEEDED',
        membershipId: p.membershipId,
        reportUri,
        files: {
          json: s3Uri(p.reportBucket, files.json),
          tablesCsv: s3Uri(p.reportBucket, files.tables_csv),
          identityCsv: s3Uri(p.reportBucket, files.identity_csv),
        },
        tables: s.tables,
        ready: s.ready,
        notReady: s.not_ready,
        unknown: s.unknown,
        failedRows,
      };
    } catch (err) {
      const cause = `${step}: ${(err as Error).message}`;
      await alertRunFailure(p, cause);
      return { status: 'FAILED', membershipId: p.membershipId, error: cause };
    }
  };

  async function notifyFailedRows(p: CleanroomsReportParams, reportUri: string, lines: string[]): Promise<void> {
    const shown = lines.slice(0, 50);
    const body = [
      `The Clean Rooms report for membership ${p.membershipId} (${p.database}.${p.tablePrefix}*) was written, but ${lines.length} row(s) could not be read completely:`,
      '',
      ...shown.map((l) => `  ${l}`),
      ...(lines.length > shown.length ? [`  … and ${lines.length - shown.length} more (see the report)`] : []),
      '',
      `Report: ${reportUri}`,
      'Throttling clears by itself; a denied call needs the role to allow it (cleanrooms:Get*/List*, entityresolution:Get*/List*).',
      p.rerunCommand ? `Run again: ${p.rerunCommand}` : undefined,
    ].filter((l) => l !== undefined);
    try {
      await notifier.publish({
        subject: `[Flywheel] cleanrooms-report: ${lines.length} failed row(s) membership=${p.membershipId}`,
        body: body.join('\n'),
        attributes: { stage: 'cleanrooms-report', membership_id: p.membershipId },
      });
    } catch (err) {
      logger.error('could not deliver the failed-rows notification', { error: (err as Error).message });
    }
  }

  /** Like alerts.ts's alertFailure, for a run with no snapshot or pipeline stage: e-mail and log, never throws. */
  async function alertRunFailure(p: CleanroomsReportParams, cause: string): Promise<void> {
    logger.error('cleanrooms report failed', { cause });
    recordMetrics(0, 0, 0, 0, 1);
    const body = [
      'Stage:      cleanrooms-report',
      `Membership: ${p.membershipId}`,
      `Tables:     ${p.database}.${p.tablePrefix}*`,
      `Report to:  ${s3Uri(p.reportBucket, p.reportPrefix)}`,
      `Cause:      ${cause}`,
      '',
      'No report was written for this run; earlier reports are untouched.',
      p.rerunCommand ? `Run again once fixed:\n  ${p.rerunCommand}` : undefined,
    ].filter((l) => l !== undefined);
    try {
      await notifier.publish({
        subject: `[Flywheel] cleanrooms-report FAILED membership=${p.membershipId}`,
        body: body.join('\n'),
        attributes: { stage: 'cleanrooms-report', membership_id: p.membershipId },
      });
    } catch (err) {
      logger.error('could not deliver the failure alert', { error: (err as Error).message });
    }
  }

  function recordMetrics(ready: number, notReady: number, unknown: number, failedRows: number, runFailed = 0): void {
    try {
      deps.metrics.addDimensions({ stage: 'cleanrooms-report' });
      deps.metrics.addMetric('CleanroomsTablesReady', MetricUnit.Count, ready);
      deps.metrics.addMetric('CleanroomsTablesNotReady', MetricUnit.Count, notReady + unknown);
      deps.metrics.addMetric('CleanroomsFailedRows', MetricUnit.Count, failedRows);
      deps.metrics.addMetric('CleanroomsReportFailures', MetricUnit.Count, runFailed);
      deps.metrics.publishStoredMetrics();
    } catch (err) {
      logger.warn('metrics not recorded', { error: (err as Error).message });
    }
  }
}
