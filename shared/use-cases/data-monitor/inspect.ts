/**
 * The facts a monitor run checks, gathered when it starts: the processed and newest raw snapshot, and per table
 * its catalog partitions, its id_bucket folders on S3 (one delimiter listing), a sample of its file sizes and the
 * repair of what the catalog lacks (repair.ts).
 */
import { parseS3Uri } from '../../domain/config.js';
import { projectionOf } from '../../domain/monitor/checks.js';
import { sourceDatabaseOf, type MonitorOptions } from '../../domain/monitor/options.js';
import { discoverSnapshots } from '../../domain/snapshot.js';
import type { DepsOf } from '../../deps.js';
import type { TableDef } from '../../ports.js';
import { planRepair, repairMode } from './repair.js';
import type { TableState } from './run.js';

const decoder = new TextDecoder();

export type InspectionDeps = DepsOf<'config' | 'store' | 'catalog'>;

export function makeInspection(deps: InspectionDeps) {
  const { store, catalog, config } = deps;

  /** Catalog, S3 and file facts of one table; glue-mode repairs happen here, athena-mode ones are queued. */
  async function inspect(def: TableDef, o: MonitorOptions): Promise<TableState> {
    const state: TableState = {
      def,
      s3Buckets: [],
      catalog: [],
      files: [],
      repair: repairMode(o),
      queries: { repair: { status: 'SKIPPED' }, scan: { status: 'PENDING' }, count: { status: o.count_check_enabled ? 'PENDING' : 'SKIPPED' } },
      errors: [],
    };
    // the logical table name comes off the part_ prefix, not off --table_prefix (which may narrow it, e.g. part_ibe_)
    const base = def.name.slice(def.name.startsWith(config.prefixes.part) ? config.prefixes.part.length : o.table_prefix.length);
    // an ER table is compared with its part_ table (it has a row per part_ row)
    const source = base.endsWith('_er') ? 'part' : o.compare_source_type;
    state.sourceName = base.endsWith('_er') ? `${config.prefixes.part}${base.slice(0, -3)}` : `${config.prefixes[source]}${base}`;
    state.sourceDatabase = sourceDatabaseOf(o, source, config);
    try {
      const { bucket, key } = parseS3Uri(def.location);
      const listing = await store.list(bucket, key, { delimiter: '/' });
      state.s3Buckets = listing.prefixes
        .map((p) => /id_bucket=(\d+)\/$/.exec(p)?.[1])
        .filter((v): v is string => v !== undefined)
        .map(Number);
      const projection = projectionOf(def, o.bucket_count);
      if (!projection.enabled) state.catalog = await catalog.getPartitions(o.database, def.name);
      if (o.file_size_check) {
        for (const b of state.s3Buckets.slice(0, 5)) {
          const files = await store.list(bucket, `${key}id_bucket=${b}/`);
          state.files.push(...files.objects.map((f) => ({ key: f.key, size: f.size })));
        }
      }
      await planRepair(catalog, def, o, state, projection.enabled);
    } catch (err) {
      state.errors.push(`inspecting ${def.name}: ${(err as Error).message}`);
    }
    return state;
  }

  /** metadata/snapshot_dt.txt under the first dataset's bucketed base. */
  async function readProcessedSnapshot(): Promise<string | undefined> {
    const ds = Object.values(config.datasets)[0]!;
    const got = await store.get(config.dataBucket, `${ds.bucketedPrefix}metadata/snapshot_dt.txt`);
    return got ? decoder.decode(got.body) : undefined;
  }

  /** The newest snapshot_dt= folder of the first dataset's raw input. */
  async function newestRawSnapshot(): Promise<string | undefined> {
    const ds = Object.values(config.datasets)[0]!;
    const listing = await store.list(config.dataBucket, ds.rawPrefix, { delimiter: '/' });
    return discoverSnapshots(listing.prefixes.map((p) => p.slice(ds.rawPrefix.length))).latest;
  }

  return { inspect, readProcessedSnapshot, newestRawSnapshot };
}
