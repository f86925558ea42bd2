/**
 * Re-runs one snapshot from a later stage, reusing what the earlier stages produced.
 * 1. Load the snapshot's ledger; refuse while a run is in flight, or when the stage's inputs never existed.
 * 2. Start a new run (new run id, the old one kept in history) that inherits the finished stages.
 * 3. Hand off exactly as the missing event would: the split job's success to register-staged-tables,
 *    or the registered tables to bucketed-tables. New data goes to the new run's folders; live tables
 *    keep serving the previous data until the switch.
 */
import { newLedger, newRunId, STAGES, type RunLedger, type StageName } from '../domain/ledger.js';
import { catalogGrant, union, type Grant } from '../domain/access.js';
import { stagingName, type PipelineConfig } from '../domain/config.js';
import { PipelineError } from '../domain/errors.js';
import type { TableDef } from '../ports.js';
import type { DepsOf } from '../deps.js';
import { buildBucketedTablesReach, makeBuildBucketedTables, type BucketedTablesDeps } from './bucketed-tables.js';
import { indexReach, ledgerReach, makeLedgerStore } from './ledger-store.js';
import { makeRegisterStagedTables, registerStagedTablesReach, type RegisterStagedTablesDeps } from './register-staged-tables.js';

export interface ReplayFromStageInput {
  dataset: string;
  snapshotDt: string;
  fromStage: Extract<StageName, 'register-staged-tables' | 'bucketed-tables'>;
  tables?: string[];
}

/** The ledgers and job index, ext_<t> (read, and copied to the new run's staging name), then what the stage it hands off to does. */
export function replayFromStageReach(config: PipelineConfig): Grant[] {
  return union(
    ledgerReach(config),
    [indexReach(config, 'glue', ['put']), catalogGrant(['getTable', 'upsertTable'], config.stagedDatabase, config.prefixes.ext)],
    registerStagedTablesReach(config),
    buildBucketedTablesReach(config),
  );
}

export type ReplayFromStageDeps = DepsOf<'config' | 'store' | 'catalog' | 'clock' | 'logger'> & RegisterStagedTablesDeps & BucketedTablesDeps;

export function makeReplayFromStage(deps: ReplayFromStageDeps) {
  const ledgers = makeLedgerStore(deps.store, deps.config, deps.clock);
  return async function replayFromStage(input: ReplayFromStageInput): Promise<RunLedger> {
    const where = { snapshotDt: input.snapshotDt, stage: input.fromStage };
    const current = await ledgers.load(input.dataset, input.snapshotDt);
    if (!current)
      throw new PipelineError(`no run of ${input.dataset} snapshot_dt=${input.snapshotDt} to replay from ${input.fromStage}`, {
        ...where,
        fix: 'run the snapshot from the start',
      });
    const old = current.ledger;
    if (old.status === 'RUNNING')
      throw new PipelineError(`run ${old.runId} of snapshot_dt=${input.snapshotDt} is still in flight; replay refused`, {
        ...where,
        fix: 'wait for it to finish or fail',
      });
    const split = old.stages['split-and-bucket'];
    if (split.status !== 'SUCCEEDED' || !split.jobRunId || !old.planUri) {
      throw new PipelineError(`the split of run ${old.runId} did not succeed, so there is nothing to ${input.fromStage}`, {
        ...where,
        fix: `replay from split-and-bucket`,
      });
    }
    if (input.fromStage === 'bucketed-tables' && old.stages['register-staged-tables'].status !== 'SUCCEEDED') {
      throw new PipelineError(`the staged tables of run ${old.runId} were not registered`, { ...where, fix: 'replay from register-staged-tables' });
    }
    const planned = Object.keys(old.tables);
    const unknown = (input.tables ?? []).filter((t) => !planned.includes(t));
    if (unknown.length > 0)
      throw new PipelineError(`tables ${unknown.join(', ')} were not split in run ${old.runId}`, {
        ...where,
        fix: `choose among ${planned.join(', ')} or replay from split-and-bucket`,
      });
    const tables = input.tables ?? planned;
    // from bucketed-tables the new run needs its own staged definitions: ext_<t> of this snapshot, as registered
    const extDefs = new Map<string, TableDef>();
    if (input.fromStage === 'bucketed-tables') {
      for (const t of tables) {
        const ext = await deps.catalog.getTable(deps.config.stagedDatabase, `${deps.config.prefixes.ext}${t}`);
        if (ext?.parameters.snapshot_dt !== input.snapshotDt) {
          throw new PipelineError(`${deps.config.prefixes.ext}${t} holds snapshot_dt=${ext?.parameters.snapshot_dt ?? 'nothing'}, not ${input.snapshotDt}`, {
            ...where,
            table: t,
            fix: 'replay from register-staged-tables',
          });
        }
        extDefs.set(t, ext);
      }
    }

    const now = deps.clock.now();
    const ledger = newLedger({ dataset: old.dataset, snapshotDt: old.snapshotDt, runId: newRunId(now), trigger: { kind: 'replay' }, junk: old.junk, now });
    ledger.history = [...old.history, { runId: old.runId, status: old.status, createdAt: old.createdAt }];
    ledger.planUri = old.planUri;
    ledger.droppedColumns = old.droppedColumns;
    for (const s of STAGES.slice(0, STAGES.indexOf(input.fromStage))) ledger.stages[s] = { ...old.stages[s] };
    for (const t of tables)
      ledger.tables[t] = { status: 'PENDING', steps: [], rows: old.tables[t]!.rows, files: old.tables[t]!.files, nullKeys: old.tables[t]!.nullKeys };
    if (!(await ledgers.replace(ledger, current.etag)))
      throw new PipelineError('the run ledger changed while the replay started; nothing done', { ...where, fix: 'retry the replay' });
    const ref = { dataset: ledger.dataset, snapshotDt: ledger.snapshotDt, runId: ledger.runId };
    deps.logger.info('replaying from stage', { ...ref, from_stage: input.fromStage, tables, replaces_run: old.runId });

    if (input.fromStage === 'register-staged-tables') {
      await ledgers.index('glue', split.jobRunId, ref);
      await makeRegisterStagedTables(deps)({ jobName: 'replay', jobRunId: split.jobRunId, state: 'SUCCEEDED' });
    } else {
      for (const [t, ext] of extDefs)
        await deps.catalog.upsertTable(deps.config.stagedDatabase, {
          ...ext,
          name: stagingName(deps.config.prefixes.ext, t, ref.runId),
          parameters: { ...ext.parameters, run_id: ref.runId },
        });
      await makeBuildBucketedTables(deps).onStagedTablesRegistered(ref, tables);
    }
    return ledger;
  };
}
