/** CloudWatch metrics (EMF through Powertools) of each run: per stage duration and failures, per run rows, files and tables. */
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { durationMs, STAGES, type RunLedger, type StageName } from '../domain/ledger.js';
import type { DepsOf } from '../deps.js';

/** One EMF line: these metrics under these dimensions. */
function emit(metrics: Metrics, dimensions: Record<string, string>, values: Array<[string, (typeof MetricUnit)[keyof typeof MetricUnit], number]>): void {
  metrics.addDimensions(dimensions);
  for (const [name, unit, value] of values) metrics.addMetric(name, unit, value);
  metrics.publishStoredMetrics();
}

/** A finished run: StageDuration per stage; RowsPublished, FilesWritten, TablesSucceeded, TablesFailed per dataset. */
export function recordRun(deps: DepsOf<'metrics'>, l: RunLedger): void {
  for (const stage of STAGES) {
    const ms = durationMs(l.stages[stage].startedAt, l.stages[stage].endedAt);
    if (ms !== undefined) emit(deps.metrics, { dataset: l.dataset, stage }, [['StageDuration', MetricUnit.Seconds, ms / 1000]]);
  }
  const tables = Object.values(l.tables);
  const ok = tables.filter((t) => t.status === 'SUCCEEDED');
  emit(deps.metrics, { dataset: l.dataset }, [
    ['RowsPublished', MetricUnit.Count, ok.reduce((s, t) => s + (t.rows ?? 0), 0)],
    ['FilesWritten', MetricUnit.Count, ok.reduce((s, t) => s + (t.files ?? 0), 0)],
    ['TablesSucceeded', MetricUnit.Count, ok.length],
    ['TablesFailed', MetricUnit.Count, tables.length - ok.length + l.skipped.length],
  ]);
}

/** One StageFailures count for a failed stage (or a table of it). */
export function recordFailure(deps: DepsOf<'metrics'>, dataset: string, stage: StageName): void {
  emit(deps.metrics, { dataset, stage }, [['StageFailures', MetricUnit.Count, 1]]);
}
