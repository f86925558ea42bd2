/**
 * Repair of the partitions a table's S3 folder has and the catalog lacks (none under partition projection):
 * glue mode registers them during the inspection (BatchCreatePartition), athena mode queues an
 * ALTER TABLE ADD PARTITION query started before the table's scan, off / a dry run only reports them.
 */
import type { MonitorOptions } from '../../domain/monitor/options.js';
import type { MonitorQuery } from '../../domain/monitor/queries.js';
import type { Catalog, PartitionDef, TableDef } from '../../ports.js';
import type { QueryName, QueryRecord, TableState } from './run.js';

/** The id_bucket partitions `buckets` of a table at `location`. */
export function bucketPartitions(location: string, buckets: number[]): PartitionDef[] {
  return buckets.map((b) => ({ values: [String(b)], location: `${location}id_bucket=${b}/` }));
}

/** A table's repair before anything is planned: the mode as the report names it. */
export function repairMode(o: MonitorOptions): TableState['repair'] {
  return { planned: [], done: [], mode: o.dry_run ? `${o.auto_repair} (dry run)` : o.auto_repair };
}

/** Plans the repair of `state` from its S3 folders and catalog partitions; glue-mode repairs happen here, athena-mode ones are queued. */
export async function planRepair(catalog: Catalog, def: TableDef, o: MonitorOptions, state: TableState, projectionEnabled: boolean): Promise<void> {
  const registered = new Set(state.catalog.map((p) => Number(p.values[0])));
  state.repair.planned = projectionEnabled ? [] : state.s3Buckets.filter((b) => !registered.has(b)).sort((a, b) => a - b);
  if (state.repair.planned.length > 0 && o.auto_repair !== 'off' && !o.dry_run) {
    const partitions = bucketPartitions(def.location, state.repair.planned);
    if (o.auto_repair === 'glue') {
      await catalog.addPartitions(o.database, def.name, partitions);
      state.repair.done = state.repair.planned;
    } else state.queries.repair = { status: 'PENDING' };
  }
}

/** The queries a table starts with: its repair query when one is queued (the scan and count follow it), else the scan and the count. */
export function firstQueries(t: TableState): QueryName[] {
  return t.repair.planned.length > 0 && t.queries.repair.status === 'PENDING' ? ['repair'] : ['scan', 'count'];
}

/** The athena-mode repair query of a table: its planned partitions. */
export function repairQuery(o: MonitorOptions, table: string, t: TableState): MonitorQuery {
  return { kind: 'repair-partitions', database: o.database, table, partitions: bucketPartitions(t.def!.location, t.repair.planned) };
}

/** A repair query's outcome on its table: the planned partitions done, or the error the report shows. */
export function recordRepair(t: TableState, record: QueryRecord): void {
  if (record.status === 'SUCCEEDED') t.repair.done = t.repair.planned;
  else t.repair.error = record.error;
}
