/**
 * retention: previous snapshots' data is kept for `retainSnapshots` snapshots and removed only
 * after the newest is live and the monitor found it intact.
 * 1. Protect every folder a catalog table points at (table locations and partition locations) and every run in flight.
 * 2. Per table folder (`part_<t>/`, `bucketed_<t>/` under the bucketed base, `<t>/` under the split output):
 *    keep the newest `retainSnapshots` snapshots (the newest run of each, and any protected run).
 * 3. Delete the objects of every other `snapshot_dt=D/run_id=R/` folder.
 */
import { catalogGrant, storeGrant, union, type Grant } from '../domain/access.js';
import { parseS3Uri, pipelineDatabases, type PipelineConfig } from '../domain/config.js';
import type { DepsOf } from '../deps.js';
import { ledgerReach, makeLedgerStore } from './ledger-store.js';
import { mapLimit } from '../domain/map-limit.js';

export interface RetentionResult {
  kept: string[];
  deleted: string[];
  objectsDeleted: number;
}

/** Every catalog table and partition location (protected), the ledgers (runs in flight), and the run folders under each dataset's split and bucketed bases (listed, deleted). */
export function retentionReach(config: PipelineConfig): Grant[] {
  return union(
    pipelineDatabases(config).map((database) => catalogGrant(['listTables', 'getPartitions'], database, '')),
    ledgerReach(config, ['get', 'list']),
    Object.values(config.datasets).flatMap((d) => [
      storeGrant(['list', 'delete'], config.dataBucket, d.bucketedPrefix),
      storeGrant(['list', 'delete'], config.dataBucket, d.splitPrefix),
    ]),
  );
}

export type RetentionDeps = DepsOf<'config' | 'store' | 'catalog' | 'clock' | 'logger'>;

export function makeRetention(deps: RetentionDeps) {
  const { config, store, catalog, logger } = deps;
  const ledgers = makeLedgerStore(store, config, deps.clock);

  return async function applyRetention(retainSnapshots: number, options: { dryRun?: boolean } = {}): Promise<RetentionResult> {
    if (!(retainSnapshots >= 1)) throw new Error(`retain_snapshots must be at least 1, got ${retainSnapshots}`);
    const bucket = config.dataBucket;
    // 1. protected: what the catalog points at, and runs in flight
    const protectedFolders = new Set<string>();
    const runFolder = (key: string) => /^(.*\/snapshot_dt=[^/]+\/run_id=[^/]+\/)/.exec(key)?.[1];
    for (const database of pipelineDatabases(config))
      for (const t of await catalog.listTables(database)) {
        const locations = [t.location, ...(t.partitionKeys.length ? (await catalog.getPartitions(database, t.name)).map((p) => p.location) : [])];
        for (const l of locations) {
          const folder = l && runFolder(parseS3Uri(l).key);
          if (folder) protectedFolders.add(folder);
        }
      }
    const inFlight = new Set<string>();
    for (const dataset of Object.keys(config.datasets)) for (const l of await ledgers.list(dataset)) if (l.status === 'RUNNING') inFlight.add(l.runId);

    // 2. table folders and their snapshot/run folders
    const kept: string[] = [];
    const doomed: string[] = [];
    const bases = [...new Set(Object.values(config.datasets).flatMap((d) => [d.bucketedPrefix, d.splitPrefix]))];
    for (const base of bases) {
      for (const tableFolder of (await store.list(bucket, base, { delimiter: '/' })).prefixes) {
        const snapshots = (await store.list(bucket, tableFolder, { delimiter: '/' })).prefixes
          .filter((p) => /snapshot_dt=\d{4}-\d{2}-\d{2}\/$/.test(p))
          .sort()
          .reverse();
        for (const [i, snap] of snapshots.entries()) {
          const runs = (await store.list(bucket, snap, { delimiter: '/' })).prefixes
            .filter((p) => /run_id=[^/]+\/$/.test(p))
            .sort()
            .reverse();
          for (const [j, run] of runs.entries()) {
            const runId = /run_id=([^/]+)\/$/.exec(run)![1]!;
            const keep = protectedFolders.has(run) || inFlight.has(runId) || (i < retainSnapshots && j === 0);
            (keep ? kept : doomed).push(run);
          }
        }
      }
    }
    // 3. delete
    let objectsDeleted = 0;
    if (!options.dryRun) {
      await mapLimit(doomed, 4, async (folder) => {
        const { objects } = await store.list(bucket, folder);
        await store.delete(
          bucket,
          objects.map((o) => o.key),
        );
        objectsDeleted += objects.length;
      });
    }
    logger.info('retention applied', {
      retain_snapshots: retainSnapshots,
      deleted: doomed,
      kept: kept.length,
      objects_deleted: objectsDeleted,
      dry_run: !!options.dryRun,
    });
    return { kept, deleted: doomed, objectsDeleted };
  };
}
