/**
 * register-staged-tables: the split job finished → register ext_<t> over each table it wrote.
 * 1. Find the run by the job run id (Glue's event carries no arguments); ignore events of other jobs' runs.
 * 2. A FAILED / TIMEOUT / STOPPED job fails the stage: ledger, alert with the replay command, done.
 * 3. Discover the tables under the run's output (files directly in the table folder, or one level of sub-folders).
 * 4. Read each table's schema from one parquet footer (a ranged GET) and create or update ext_<t>.
 * 5. Record counts from the job's result, mark the stage done, emit Stage Completed.
 */
import { ignore, type Declined } from '../events/declined.js';
import { catalogGrant, storeGrant, union, type Grant } from '../domain/access.js';
import { parseS3Uri, s3Uri, stagingName, type PipelineConfig } from '../domain/config.js';
import { setStage, type RunLedger } from '../domain/ledger.js';
import type { SplitPlan } from '../domain/split-plan.js';
import { PIPELINE_SOURCE } from '../events/patterns.js';
import type { DepsOf } from '../deps.js';
import type { ColumnDef } from '../ports.js';
import { alertFailure, alertsReach, type AlertDeps } from './alerts.js';
import { indexReach, ledgerReach, makeLedgerStore, type RunRef } from './ledger-store.js';

export interface JobFinished {
  jobName: string;
  jobRunId: string;
  state: string;
  message?: string;
}

export interface SplitResult {
  tables: Record<string, { rows: number; files: number; nullKeys?: number }>;
}

const decoder = new TextDecoder();

/** The job index and ledgers (with plan and result), the split output (listing, one footer a table), ext_<t> and its staging definitions. */
export function registerStagedTablesReach(config: PipelineConfig): Grant[] {
  return union(
    [indexReach(config, 'glue', ['get'])],
    ledgerReach(config),
    Object.values(config.datasets).map((d) => storeGrant(['list', 'getRange'], config.dataBucket, d.splitPrefix)),
    [catalogGrant(['getTable', 'upsertTable', 'switchTables'], config.stagedDatabase, config.prefixes.ext)],
    alertsReach(),
  );
}

export type RegisterStagedTablesDeps = DepsOf<'config' | 'store' | 'catalog' | 'clock' | 'logger' | 'readFooter'> & AlertDeps;

export function makeRegisterStagedTables(deps: RegisterStagedTablesDeps) {
  const { config, store, catalog, clock, logger } = deps;
  const ledgers = makeLedgerStore(store, config, clock);

  return async function registerStagedTables(event: JobFinished): Promise<{ outcome: 'registered' | 'failed'; tables: string[] } | Declined> {
    // 1. which run
    const ref = await ledgers.lookup('glue', event.jobRunId);
    if (!ref) return ignore(logger, 'warn', 'job run belongs to no Flywheel run; ignored', { job_run_id: event.jobRunId, job_name: event.jobName });
    logger.appendKeys({ dataset: ref.dataset, snapshot_dt: ref.snapshotDt, run_id: ref.runId, stage: 'register-staged-tables' });
    const claimed = await ledgers.update(ref, (l) => {
      const stage = l.stages['register-staged-tables'];
      if (l.stages['split-and-bucket'].jobRunId !== event.jobRunId || stage.status !== 'PENDING') return false;
      const now = clock.now();
      if (event.state !== 'SUCCEEDED') {
        setStage(l, 'split-and-bucket', 'FAILED', now, { error: `Glue job ${event.state}: ${event.message ?? 'no message'}` });
        return true;
      }
      if (l.stages['split-and-bucket'].status !== 'SUCCEEDED') setStage(l, 'split-and-bucket', 'SUCCEEDED', now);
      setStage(l, 'register-staged-tables', 'RUNNING', now);
      return true;
    });
    if (!claimed.changed) return ignore(logger, 'info', 'duplicate job state event ignored', { job_run_id: event.jobRunId, state: event.state });

    // 2. job failed
    if (event.state !== 'SUCCEEDED') {
      await alertFailure(deps, {
        ...ref,
        stage: 'split-and-bucket',
        cause: `Glue job ${event.jobName} run ${event.jobRunId} ${event.state}: ${event.message ?? 'no message'}`,
      });
      return { outcome: 'failed', tables: [] };
    }

    try {
      const plan = await readJson<SplitPlan>(claimed.ledger.planUri!);
      plan.tables = plan.tables.filter((t) => t.target in claimed.ledger.tables);
      const result = await readJson<SplitResult>(claimed.ledger.planUri!.replace(/plan\.json$/, 'result.json')).catch(() => undefined);
      const registered: string[] = [];
      const failures: Array<{ table: string; cause: string }> = [];
      for (const t of plan.tables) {
        try {
          // 3. discover
          const location = await discoverTableFolder(t.outputUri);
          // 4. schema from one footer
          const columns = await schemaOf(location.firstFile, location.firstSize);
          const ext = {
            name: `${config.prefixes.ext}${t.target}`,
            location: location.uri,
            columns,
            partitionKeys: location.partitionKeys,
            comment: `Bucketed table created from snapshot_dt=${ref.snapshotDt}`,
            parameters: { snapshot_dt: ref.snapshotDt, run_id: ref.runId, classification: 'parquet' },
          };
          // the run's own definition (the bucketed stage reads it), and ext_<t> itself unless a newer snapshot holds it
          const live = await catalog.getTable(config.stagedDatabase, ext.name);
          const names = [
            stagingName(config.prefixes.ext, t.target, ref.runId),
            ...(live?.parameters.snapshot_dt && live.parameters.snapshot_dt > ref.snapshotDt ? [] : [ext.name]),
          ];
          for (const name of names) {
            if (location.partitionKeys.length > 0)
              await catalog.switchTables(config.stagedDatabase, [{ table: { ...ext, name }, partitions: location.partitions }]);
            // the run's staging name is new; ext_<t> exists exactly when the GetTable above found it
            else await catalog.upsertTable(config.stagedDatabase, { ...ext, name }, { exists: name === ext.name && live !== undefined });
          }
          registered.push(t.target);
        } catch (err) {
          failures.push({ table: t.target, cause: (err as Error).message });
        }
      }

      // 5. ledger and next stage
      await ledgers.update(ref, (l) => {
        const now = clock.now();
        for (const t of registered) {
          const rec = l.tables[t]!;
          rec.rows = result?.tables[t]?.rows;
          rec.files = result?.tables[t]?.files;
          rec.nullKeys = result?.tables[t]?.nullKeys;
        }
        for (const f of failures) Object.assign(l.tables[f.table]!, { status: 'FAILED', error: f.cause });
        setStage(
          l,
          'register-staged-tables',
          registered.length > 0 ? 'SUCCEEDED' : 'FAILED',
          now,
          failures.length ? { error: failures.map((f) => `${f.table}: ${f.cause}`).join('; ') } : {},
        );
        return true;
      });
      for (const f of failures) await alertFailure(deps, { ...ref, stage: 'register-staged-tables', table: f.table, cause: f.cause });
      if (registered.length > 0) {
        await deps.bus.put([
          { source: PIPELINE_SOURCE, detailType: 'Stage Completed', detail: { stage: 'register-staged-tables', ...ref, tables: registered } },
        ]);
      }
      const withNulls = Object.entries(result?.tables ?? {}).filter(([, r]) => (r.nullKeys ?? 0) > 0);
      if (withNulls.length > 0)
        logger.warn(`rows with a NULL ${config.keyColumn} kept in bucket 0`, { tables: Object.fromEntries(withNulls.map(([t, r]) => [t, r.nullKeys])) });
      logger.info('staged tables registered', { tables: registered, failed: failures.map((f) => f.table) });
      return { outcome: registered.length > 0 ? 'registered' : 'failed', tables: registered };
    } catch (err) {
      await failStage(ref, (err as Error).message);
      return { outcome: 'failed', tables: [] };
    }
  };

  async function failStage(ref: RunRef, cause: string) {
    await ledgers.update(ref, (l: RunLedger) => (setStage(l, 'register-staged-tables', 'FAILED', clock.now(), { error: cause }), true));
    await alertFailure(deps, { ...ref, stage: 'register-staged-tables', cause });
  }

  async function readJson<T>(uri: string): Promise<T> {
    const { bucket, key } = parseS3Uri(uri);
    const got = await store.get(bucket, key);
    if (!got) throw new Error(`${uri} is missing`);
    return JSON.parse(decoder.decode(got.body)) as T;
  }

  async function schemaOf(key: string, size: number): Promise<ColumnDef[]> {
    const { columns } = await deps.readFooter(config.dataBucket, key, size);
    return columns.map((c) => ({ name: c.name.toLowerCase(), type: c.type }));
  }

  /**
   * The exact folder of a table's data files (Clean Rooms reads a location as that folder): files
   * directly under the output folder, or `key=value` sub-folders registered as partitions.
   */
  async function discoverTableFolder(outputUri: string) {
    const { bucket, key } = parseS3Uri(outputUri);
    const { objects } = await store.list(bucket, key);
    const files = objects.filter((o) => o.key.endsWith('.parquet') && o.size > 0);
    if (files.length === 0) throw new Error(`the split job wrote no parquet files under ${outputUri}`);
    const direct = files.filter((o) => !o.key.slice(key.length).includes('/'));
    if (direct.length > 0) return { uri: outputUri, firstFile: direct[0]!.key, firstSize: direct[0]!.size, partitionKeys: [], partitions: [] };
    const folders = new Map<string, string>();
    for (const f of files) {
      const sub = f.key.slice(key.length).split('/')[0]!;
      if (!/^[a-z_][a-z0-9_]*=[^/]+$/.test(sub)) throw new Error(`unexpected sub-folder ${sub} under ${outputUri}`);
      folders.set(sub, s3Uri(bucket, `${key}${sub}/`));
    }
    const partKey = [...folders.keys()][0]!.split('=')[0]!;
    return {
      uri: outputUri,
      firstFile: files[0]!.key,
      firstSize: files[0]!.size,
      partitionKeys: [{ name: partKey, type: 'string' }],
      partitions: [...folders.entries()].map(([sub, uri]) => ({ values: [sub.split('=')[1]!], location: uri })),
    };
  }
}
