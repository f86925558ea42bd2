/**
 * The live switch at the end of the bucketed-tables stage (claimed once by bucketed-tables.ts): a run's
 * part_<t>, part_<t>_er and bucketed_<t> (and ext_<t>, so the four agree per table) pointed at its data in one
 * catalog step, its staging definitions dropped, then metadata/snapshot_dt.txt under the bucketed base set to the
 * newest snapshot its live tables serve.
 */
import { stagingName as staging } from '../domain/config.js';
import type { DepsOf } from '../deps.js';
import type { TableSwitch } from '../ports.js';
import type { RunRef } from './ledger-store.js';
import { advanceSnapshotMarker } from './snapshot-marker.js';

export type LiveSwitchDeps = DepsOf<'config' | 'store' | 'catalog' | 'logger'>;

export function makeLiveSwitch(deps: LiveSwitchDeps) {
  const { config, store, catalog, logger } = deps;

  /** The live tables of one logical table: part_<t>, part_<t>_er, bucketed_<t> (prefix, name). */
  const liveNames = (t: string): Array<readonly [string, string]> => [
    [config.prefixes.part, t],
    [config.prefixes.part, `${t}_er`],
    [config.prefixes.bucketed, t],
  ];

  /**
   * Points part_<t> and bucketed_<t> at this run's data in one catalog step (see Catalog.switchTables
   * for what readers see meanwhile), then drops the staging definitions. Data is never deleted here:
   * the previous snapshot's files stay for rollback. Returns the tables left alone because their live
   * table holds a newer snapshot.
   */
  async function switchLiveTables(ref: RunRef, tables: string[], deliberate: boolean): Promise<string[]> {
    const switches: TableSwitch[] = [];
    const extSwitches: TableSwitch[] = [];
    const comment = `Bucketed table created from snapshot_dt=${ref.snapshotDt}`;
    const parameters = { snapshot_dt: ref.snapshotDt, run_id: ref.runId, classification: 'parquet' };
    const skipped: string[] = [];
    for (const t of tables) {
      // runs of two snapshots may finish in any order: an older one never replaces a newer live table unless replayed on purpose
      const live = await catalog.getTable(config.database, `${config.prefixes.part}${t}`);
      if (!deliberate && live?.parameters.snapshot_dt && live.parameters.snapshot_dt > ref.snapshotDt) {
        logger.warn('live table holds a newer snapshot; not switched', { table: t, live_snapshot_dt: live.parameters.snapshot_dt });
        skipped.push(t);
        continue;
      }
      for (const [prefix, name] of liveNames(t)) {
        const stagingName = staging(prefix, name, ref.runId);
        const def = await catalog.getTable(config.database, stagingName);
        if (!def) throw new Error(`staging table ${stagingName} is missing`);
        const partitions = def.partitionKeys.length > 0 ? await catalog.getPartitions(config.database, stagingName) : undefined;
        switches.push({ table: { ...def, name: `${prefix}${name}`, comment, parameters: { ...def.parameters, ...parameters } }, partitions });
      }
      // ext_<t> follows when registering left it on a newer snapshot (a deliberate rollback): the split output the
      // live tables were built from, so counts compared across them agree
      const extName = `${config.prefixes.ext}${t}`;
      const ext = await catalog.getTable(config.stagedDatabase, extName);
      if (ext?.parameters.snapshot_dt !== ref.snapshotDt) {
        const stagingExt = staging(config.prefixes.ext, t, ref.runId);
        const def = await catalog.getTable(config.stagedDatabase, stagingExt);
        if (def) {
          const partitions = def.partitionKeys.length > 0 ? await catalog.getPartitions(config.stagedDatabase, stagingExt) : undefined;
          extSwitches.push({ table: { ...def, name: extName }, partitions });
        }
      }
    }
    // one catalog step per database (ext_ may live in a separate staged database: its switch follows the final tables')
    const steps: Array<[string, TableSwitch[]]> =
      config.stagedDatabase === config.database
        ? [[config.database, [...switches, ...extSwitches]]]
        : [
            [config.database, switches],
            [config.stagedDatabase, extSwitches],
          ];
    for (const [database, step] of steps) if (step.length > 0) await catalog.switchTables(database, step);
    for (const t of tables) {
      for (const [prefix, name] of liveNames(t)) await catalog.deleteTable(config.database, staging(prefix, name, ref.runId));
      await catalog.deleteTable(config.stagedDatabase, staging(config.prefixes.ext, t, ref.runId));
    }
    return skipped;
  }

  /**
   * metadata/snapshot_dt.txt under the bucketed base: never moved back to an older snapshot (runs of two
   * snapshots may finish in any order) unless a deliberate replay switched the live tables back to it — and then
   * only as far back as the newest snapshot a live table of the dataset still serves (a rollback of some tables
   * leaves the marker on the snapshot the others serve). Conditional on what was read, so a run finishing at the
   * same moment is not overwritten unseen.
   */
  async function writeLiveSnapshot(ref: RunRef, deliberate: boolean): Promise<void> {
    const base = config.datasets[ref.dataset]!.bucketedPrefix;
    let snapshotDt = ref.snapshotDt;
    if (deliberate) {
      // the dataset's live part_ tables are those whose data lies under its bucketed base (e.g. …/bucketed/part_x/, not …/bucketed/addressable/part_y/)
      const own = `s3://${config.dataBucket}/${base}${config.prefixes.part}`;
      const live = (await catalog.listTables(config.database, config.prefixes.part))
        .filter((t) => !t.name.includes('__') && t.location.startsWith(own))
        .map((t) => t.parameters.snapshot_dt ?? '')
        .filter((d) => d > snapshotDt);
      if (live.length > 0) snapshotDt = live.sort().at(-1)!;
    }
    const kept = await advanceSnapshotMarker(store, config.dataBucket, `${base}metadata/snapshot_dt.txt`, snapshotDt, { force: deliberate });
    if (!kept.written) logger.warn('metadata/snapshot_dt.txt names a later snapshot; kept', { metadata_snapshot_dt: kept.kept });
  }

  return { switchLiveTables, writeLiveSnapshot };
}
