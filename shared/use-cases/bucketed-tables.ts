/**
 * bucketed-tables: staged tables registered → part_<t> and bucketed_<t>, then the live switch.
 * 1. On Stage Completed (register): plan each table's steps (part_ ranges of ≤100 buckets, then the bucketed_ copy) and start the first.
 * 2. On each Athena Query State Change: record the step (a duplicate event changes nothing), start the table's next step;
 *    after the last range, assemble bucketed_<t> from part_<t>'s partitions (server-side copies planned in build-steps.ts,
 *    made by ObjectStore.copyMany).
 * 3. A failed step fails its table only; the others go on. Alert with the replay command.
 * 4. When every table is done: write metadata/snapshot_dt.txt under the bucketed base, switch the live tables
 *    to the new snapshot in one catalog step, drop the staging tables (live-switch.ts), emit Pipeline Completed.
 */
import { catalogGrant, storeGrant, union, type Grant } from '../domain/access.js';
import { parseS3Uri, s3Uri, stagingName, type PipelineConfig } from '../domain/config.js';
import {
  BUCKETED_STEP,
  bucketedCopies,
  buildStepsFor,
  filesByFolder,
  recordedRangeSize,
  stepLabel,
  type BuildStep,
  type PartitionFiles,
} from '../domain/build-steps.js';
import { durationMs, setStage, STAGES, type RunLedger } from '../domain/ledger.js';
import { PIPELINE_SOURCE } from '../events/patterns.js';
import type { DepsOf } from '../deps.js';
import { alertFailure, alertsReach, type AlertDeps } from './alerts.js';
import { recordRun } from './run-metrics.js';
import { claimOnce } from './json-document.js';
import { ignore, type Declined } from '../events/declined.js';
import { indexReach, ledgerReach, makeLedgerStore, type RunRef } from './ledger-store.js';
import { makeLiveSwitch, type LiveSwitchDeps } from './live-switch.js';
import { mapLimit } from '../domain/map-limit.js';

interface QueryRef extends RunRef {
  table: string;
  step: number;
}

/**
 * The ledgers and query index; the catalog's ext_, part_ and bucketed_ tables (staging and live, switched and dropped; part_ listed for the marker);
 * range queries reading ext_ (split output) and part_ (for part_<t>_er) and writing part_ under the bucketed base; that base's
 * files (listed, copied into bucketed_) and its metadata/snapshot_dt.txt.
 */
export function buildBucketedTablesReach(config: PipelineConfig): Grant[] {
  const { dataBucket: bucket, database, stagedDatabase, prefixes } = config;
  const datasets = Object.values(config.datasets);
  const partData = datasets.map((d) => ({ tablePrefix: prefixes.part, bucket, prefix: d.bucketedPrefix }));
  return union(
    ledgerReach(config),
    [indexReach(config, 'athena')],
    [
      catalogGrant(['getTable', 'getPartitions', 'switchTables', 'deleteTable'], stagedDatabase, prefixes.ext),
      catalogGrant(['getTable', 'listTables', 'getPartitions', 'switchTables', 'deleteTable'], database, prefixes.part),
      catalogGrant(['getTable', 'upsertTable', 'switchTables', 'deleteTable'], database, prefixes.bucketed),
      {
        port: 'engine',
        methods: ['start', 'status'],
        database,
        reads: [
          ...datasets.map((d) => ({
            tablePrefix: prefixes.ext,
            bucket,
            prefix: d.splitPrefix,
            ...(stagedDatabase !== database ? { database: stagedDatabase } : {}),
          })),
          ...partData,
        ],
        writes: partData,
      },
    ],
    datasets.flatMap((d) => [
      storeGrant(['list', 'get', 'copy'], bucket, d.bucketedPrefix),
      storeGrant(['put'], bucket, `${d.bucketedPrefix}metadata/snapshot_dt.txt`),
    ]),
    alertsReach(),
  );
}

export type BucketedTablesDeps = DepsOf<'config' | 'store' | 'catalog' | 'engine' | 'clock' | 'logger' | 'bus'> & LiveSwitchDeps & AlertDeps;

export function makeBuildBucketedTables(deps: BucketedTablesDeps) {
  const { config, store, catalog, engine, clock, logger } = deps;
  const ledgers = makeLedgerStore(store, config, clock);
  const { switchLiveTables, writeLiveSnapshot } = makeLiveSwitch(deps);
  const ds = (dataset: string) => config.datasets[dataset]!;
  const staging = stagingName;

  /** This run's data folder of one final table. */
  function folder(ref: RunRef, prefix: string, table: string): string {
    return s3Uri(config.dataBucket, `${ds(ref.dataset).bucketedPrefix}${prefix}${table}/snapshot_dt=${ref.snapshotDt}/run_id=${ref.runId}/`);
  }

  /**
   * The steps of one table of one run; deterministic, so every event handler derives the same list. Once
   * planned, the ranges are the ledger's (`recorded` labels): a process resuming the run with another
   * partitionsPerQuery (local mode builds in one step, AWS in ≤100-partition steps) goes on with the same steps.
   */
  async function stepsFor(ref: RunRef, table: string, recorded: string[] = []): Promise<BuildStep[]> {
    // the run's own staged definition: another snapshot registering ext_<t> meanwhile changes nothing here
    const extName = staging(config.prefixes.ext, table, ref.runId);
    const ext = await catalog.getTable(config.stagedDatabase, extName);
    if (!ext) throw new Error(`staged table ${config.stagedDatabase}.${extName} is not in the catalog`);
    return buildStepsFor({
      database: config.database,
      table,
      extTable: ext.name,
      extDatabase: config.stagedDatabase,
      partStaging: staging(config.prefixes.part, table, ref.runId),
      columns: ext.columns.filter((c) => c.name !== 'id_bucket'),
      partLocation: folder(ref, config.prefixes.part, table),
      er: {
        staging: staging(config.prefixes.part, `${table}_er`, ref.runId),
        location: folder(ref, config.prefixes.part, `${table}_er`),
        snapshotDt: ref.snapshotDt,
        keyColumn: config.keyColumn,
      },
      bucketCount: config.bucketCount,
      partitionsPerQuery: recordedRangeSize(recorded) ?? config.partitionsPerQuery,
    });
  }

  /** Starts step `index` of a table: a query for a part_ range, the inline bucketed_ assembly after the last. */
  async function startStep(ref: RunRef, table: string, steps: BuildStep[], index: number): Promise<void> {
    const step = steps[index];
    if (!step) {
      let failure: string | undefined;
      try {
        await assembleBucketed(ref, table);
      } catch (err) {
        failure = (err as Error).message;
      }
      await onStepFinished({ ...ref, table, step: index }, undefined, failure ? 'FAILED' : 'SUCCEEDED', failure ?? '');
      return;
    }
    const queryId = await engine.start(step, `${ref.runId}:${table}:${index}`);
    await ledgers.index('athena', queryId, { ...ref, table, step: index });
    await ledgers.update(ref, (l) => {
      const rec = l.tables[table]!.steps[index]!;
      if (rec.queryId === queryId) return false;
      rec.queryId = queryId;
      return true;
    });
    logger.info('query started', { table, step: stepLabel(step), query_execution_id: queryId });
  }

  /**
   * bucketed_<t> from part_<t>'s partitions: partition id_bucket=N holds exactly Hive bucket N, so
   * its files are copied server-side as `0000NN_k_<name>` into one folder and the table is
   * registered with Hive bucketing. Copies are idempotent (same source, same name), so a retried
   * step rewrites the same objects.
   */
  async function assembleBucketed(ref: RunRef, table: string): Promise<void> {
    const partStaging = staging(config.prefixes.part, table, ref.runId);
    const def = await catalog.getTable(config.database, partStaging);
    if (!def) throw new Error(`staging table ${partStaging} is missing`);
    const target = parseS3Uri(folder(ref, config.prefixes.bucketed, table));
    const partitions = await catalog.getPartitions(config.database, partStaging);
    // one recursive LIST of the table's folder (1 request per 1,000 files), not one per partition
    const root = parseS3Uri(def.location.endsWith('/') ? def.location : `${def.location}/`);
    const inRoot = filesByFolder((await store.list(root.bucket, root.key)).objects.map((o) => o.key));
    const located = await mapLimit(partitions, 16, async (p): Promise<PartitionFiles> => {
      const { bucket, key } = parseS3Uri(p.location.endsWith('/') ? p.location : `${p.location}/`);
      // a partition outside the table's folder (not written by Flywheel, but legal in Glue) is listed on its own
      const files = bucket === root.bucket && key.startsWith(root.key) ? inRoot : filesByFolder((await store.list(bucket, key)).objects.map((o) => o.key));
      return { idBucket: Number(p.values[0]), bucket, folder: key, keys: files.get(key) ?? [] };
    });
    const copies = bucketedCopies(located, target);
    await store.copyMany(copies);
    await catalog.upsertTable(config.database, {
      name: staging(config.prefixes.bucketed, table, ref.runId),
      location: s3Uri(target.bucket, target.key),
      columns: def.columns,
      partitionKeys: [],
      parameters: { bucketing_version: '1', classification: 'parquet' },
      bucketing: { columns: [config.keyColumn], count: config.bucketCount },
    });
    logger.info('bucketed table assembled', { table, files: copies.length, partitions: partitions.length });
  }

  async function failTable(ref: RunRef, table: string, cause: string): Promise<void> {
    await alertFailure(deps, { ...ref, stage: 'bucketed-tables', table, cause });
  }

  /** 1. Start every registered table's first step. */
  async function onStagedTablesRegistered(ref: RunRef, tables: string[]): Promise<Declined | undefined> {
    logger.appendKeys({ dataset: ref.dataset, snapshot_dt: ref.snapshotDt, run_id: ref.runId, stage: 'bucketed-tables' });
    const current = await ledgers.load(ref.dataset, ref.snapshotDt);
    if (current?.ledger.runId !== ref.runId) {
      return ignore(logger, 'warn', 'Stage Completed for a run that is not the current run of its snapshot; ignored', { current_run: current?.ledger.runId });
    }
    const planned = new Map<string, BuildStep[]>();
    for (const t of tables) {
      try {
        planned.set(t, await stepsFor(ref, t));
      } catch (err) {
        await failTable(ref, t, (err as Error).message);
      }
    }
    const { changed, ledger } = await ledgers.update(ref, (l) => {
      if (l.stages['bucketed-tables'].status !== 'PENDING') return false;
      const now = clock.now();
      setStage(l, 'bucketed-tables', 'RUNNING', now);
      for (const t of tables) {
        const rec = l.tables[t]!;
        const steps = planned.get(t);
        if (!steps) {
          Object.assign(rec, { status: 'FAILED', error: 'could not plan the table build' });
          continue;
        }
        rec.status = 'RUNNING';
        rec.startedAt = now.toISOString();
        rec.steps = [...steps.map(stepLabel), BUCKETED_STEP].map((label, i) => ({
          label,
          status: i === 0 ? 'RUNNING' : 'PENDING',
          startedAt: i === 0 ? now.toISOString() : undefined,
        }));
      }
      return true;
    });
    if (!changed) {
      return ignore(logger, 'info', 'duplicate Stage Completed ignored');
    }
    for (const [t, steps] of planned)
      await startStep(ref, t, steps, 0).catch((err: Error) => onStepFinished({ ...ref, table: t, step: 0 }, undefined, 'FAILED', err.message));
    await finishIfDone(ref, ledger);
    return undefined;
  }

  /** 2./3. One query finished. */
  async function onQueryStateChange(queryId: string, state: string, reason?: string): Promise<Declined | undefined> {
    const ref = await ledgers.lookup<QueryRef>('athena', queryId);
    if (!ref) {
      return ignore(logger, 'info', 'query belongs to no Flywheel run; ignored', { query_execution_id: queryId });
    }
    logger.appendKeys({ dataset: ref.dataset, snapshot_dt: ref.snapshotDt, run_id: ref.runId, stage: 'bucketed-tables' });
    if (state !== 'SUCCEEDED' && reason === undefined) reason = (await engine.status(queryId)).reason;
    return onStepFinished(ref, queryId, state === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED', reason ?? state);
  }

  async function onStepFinished(ref: QueryRef, queryId: string | undefined, status: 'SUCCEEDED' | 'FAILED', reason: string): Promise<Declined | undefined> {
    const { table, step } = ref;
    const { changed, ledger } = await ledgers.update(ref, (l) => {
      const rec = l.tables[ref.table];
      const s = rec?.steps[step];
      if (!rec || !s || s.status !== 'RUNNING' || (queryId && s.queryId && s.queryId !== queryId)) return false;
      const now = clock.now().toISOString();
      Object.assign(s, { status, endedAt: now }, status === 'FAILED' ? { error: reason } : {});
      if (status === 'FAILED') Object.assign(rec, { status: 'FAILED', error: `${s.label}: ${reason}`, endedAt: now });
      else if (step + 1 < rec.steps.length) Object.assign(rec.steps[step + 1]!, { status: 'RUNNING', startedAt: now });
      else Object.assign(rec, { status: 'SUCCEEDED', endedAt: now });
      return true;
    });
    if (!changed) {
      return ignore(logger, 'info', 'duplicate query event ignored', { query_execution_id: queryId, table });
    }
    const rec = ledger.tables[table]!;
    if (status === 'FAILED') await failTable(ref, table, `${rec.steps[step]!.label} query ${queryId ?? '(not started)'}: ${reason}`);
    else if (rec.status === 'RUNNING') {
      const steps = await stepsFor(
        ref,
        table,
        rec.steps.map((s) => s.label),
      );
      await startStep(ref, table, steps, step + 1).catch((err: Error) => onStepFinished({ ...ref, step: step + 1 }, undefined, 'FAILED', err.message));
    }
    await finishIfDone(ref, ledger);
    return undefined;
  }

  /** 4. Metadata, live switch and Pipeline Completed, once, when no table is still building. */
  async function finishIfDone(ref: RunRef, seen: RunLedger): Promise<void> {
    const building = (l: RunLedger) => Object.values(l.tables).some((t) => t.status === 'RUNNING' || t.status === 'PENDING');
    if (building(seen)) return;
    const { claimed, doc: ledger } = await claimOnce<RunLedger>((change) => ledgers.update(ref, change).then((r) => ({ doc: r.ledger, changed: r.changed })), {
      busy: building,
      claimed: (l) => l.stages['bucketed-tables'].status !== 'RUNNING',
      claim: (l) => {
        l.stages['bucketed-tables'].status = 'SUCCEEDED'; // claimed: only this handler switches; corrected below if the switch fails
      },
    });
    if (!claimed) return;
    const done = Object.entries(ledger.tables)
      .filter(([, t]) => t.status === 'SUCCEEDED')
      .map(([name]) => name);
    const failed = Object.entries(ledger.tables)
      .filter(([, t]) => t.status === 'FAILED')
      .map(([name]) => name);
    try {
      const deliberate = ledger.trigger.kind === 'replay' || ledger.trigger.kind === 'cli';
      const notSwitched = done.length > 0 ? await switchLiveTables(ref, done, deliberate) : [];
      if (failed.length === 0 && ledger.skipped.length === 0 && notSwitched.length === 0) {
        await writeLiveSnapshot(ref, deliberate);
      }
    } catch (err) {
      await ledgers.update(ref, (l) => (setStage(l, 'bucketed-tables', 'FAILED', clock.now(), { error: (err as Error).message }), true));
      await alertFailure(deps, { ...ref, stage: 'bucketed-tables', cause: `switching the live tables failed: ${(err as Error).message}` });
      return;
    }
    const final = await ledgers.update(ref, (l) => {
      const ok = failed.length === 0 && l.skipped.length === 0;
      setStage(
        l,
        'bucketed-tables',
        done.length > 0 ? 'SUCCEEDED' : 'FAILED',
        clock.now(),
        failed.length ? { error: `tables failed: ${failed.join(', ')}` } : {},
      );
      l.status = ok ? 'SUCCEEDED' : 'FAILED';
      return true;
    });
    const l = final.ledger;
    recordRun(deps, l);
    await deps.bus.put([
      {
        source: PIPELINE_SOURCE,
        detailType: 'Pipeline Completed',
        detail: {
          ...ref,
          status: l.status,
          tables: Object.entries(l.tables).map(([table, t]) => ({
            table,
            status: t.status,
            rows: t.rows,
            files: t.files,
            nullKeys: t.nullKeys,
            durationMs: durationMs(t.startedAt, t.endedAt),
            error: t.error,
          })),
          skipped: l.skipped,
          stages: Object.fromEntries(
            STAGES.map((s) => [s, { status: l.stages[s].status, durationMs: durationMs(l.stages[s].startedAt, l.stages[s].endedAt) }]),
          ),
          durationMs: durationMs(l.createdAt, l.stages['bucketed-tables'].endedAt),
        },
      },
    ]);
    logger.info('pipeline completed', { status: l.status, tables: done, failed });
  }

  return { onStagedTablesRegistered, onQueryStateChange };
}
