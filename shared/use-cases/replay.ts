/**
 * replay: an operator's Replay Requested (or `npx flywheel replay`) re-runs one snapshot from a stage.
 * 1. Validate (done at the edge); a plain duplicate delivery of the same request starts nothing, a
 *    re-send from the bus archive (it carries replay-name) is a deliberate re-run.
 *    Tables the request names must be tables of the snapshot (the mapping's targets, or the run's tables when
 *    replaying a later stage): an unknown one refuses the whole request with an alert, dry run or not.
 * 2. Refuse while a run of that snapshot is in flight (the operator waits or lets the reconciler finish it).
 * 3. Plan: from the given stage, or the first failed or unfinished one; the tables asked for, or all.
 * 4. A dry run returns the plan (stages, tables, jobs and queries) and changes nothing.
 * 5. Otherwise start it: from the split, a new run of the whole snapshot; from a later stage, a new run
 *    that reuses what the earlier stages produced.
 */
import { ignore, type Declined } from '../events/declined.js';
import { union, type Grant } from '../domain/access.js';
import { bucketRanges } from '../domain/build-steps.js';
import type { PipelineConfig } from '../domain/config.js';
import { PipelineError } from '../domain/errors.js';
import { STAGES, type RunLedger, type StageName } from '../domain/ledger.js';
import type { DepsOf } from '../deps.js';
import { putIfAbsent } from './json-document.js';
import { alertInvalidEvent, alertReplayRefused, alertsReach, type AlertDeps } from './alerts.js';
import { indexReach, ledgerReach, makeLedgerStore } from './ledger-store.js';
import { makeReplayFromStage, replayFromStageReach, type ReplayFromStageDeps } from './replay-from-stage.js';
import { datasetTables, makeStartSnapshotRun, startSnapshotRunReach, type StartSnapshotRunDeps } from './snapshot-trigger.js';

export interface ReplayRequest {
  dataset: string;
  snapshotDt: string;
  fromStage?: StageName;
  tables?: string[];
  dryRun?: boolean;
  reason: string;
  /** Event id: a plain duplicate delivery of the same request is ignored. */
  requestId: string;
  /** Set when EventBridge re-sent the request from its archive: a deliberate re-run. */
  replayName?: string;
}

export interface ReplayPlan {
  dataset: string;
  snapshotDt: string;
  fromStage: StageName;
  stages: StageName[];
  tables: string[] | 'all';
  jobs: string[];
  queries: string[];
  replacesRun?: string;
}

export type ReplayOutcome =
  | { outcome: 'planned'; plan: ReplayPlan }
  | { outcome: 'started'; plan: ReplayPlan; runId: string }
  | { outcome: 'refused'; reason: string; plan?: ReplayPlan }
  /** An invalid request (alerted), or a plain duplicate delivery of a handled one: declined, nothing started. */
  | ({ outcome: 'refused' | 'duplicate'; plan?: ReplayPlan } & Declined);

/** The ledgers and the replay-request index, then whatever the stage replayed from does: the trigger's, or a later stage's. */
export function replayReach(config: PipelineConfig): Grant[] {
  return union(ledgerReach(config), [indexReach(config, 'replays', ['put'])], startSnapshotRunReach(config), replayFromStageReach(config), alertsReach());
}

export type ReplayDeps = DepsOf<'config' | 'store' | 'clock' | 'logger'> & StartSnapshotRunDeps & ReplayFromStageDeps & AlertDeps;

export function makeReplay(deps: ReplayDeps) {
  const ledgers = makeLedgerStore(deps.store, deps.config, deps.clock);
  const startRun = makeStartSnapshotRun(deps);
  const replayFromStage = makeReplayFromStage(deps);

  /** The stage a replay starts from when none is named: the first failed or unfinished one. */
  function defaultStage(ledger: RunLedger | undefined): StageName {
    if (!ledger) return 'snapshot-trigger';
    const failed = STAGES.find((s) => ledger.stages[s].status === 'FAILED');
    if (failed) return failed;
    const unfinished = STAGES.find((s) => ledger.stages[s].status !== 'SUCCEEDED');
    if (unfinished) return unfinished;
    if (Object.values(ledger.tables).some((t) => t.status === 'FAILED')) return 'bucketed-tables';
    return 'split-and-bucket';
  }

  function planFor(r: ReplayRequest, ledger: RunLedger | undefined, fromStage: StageName): ReplayPlan {
    const tables = r.tables ?? (fromStage === 'register-staged-tables' || fromStage === 'bucketed-tables' ? Object.keys(ledger?.tables ?? {}) : 'all');
    const named = tables === 'all' ? ['every table of the mapping'] : tables;
    const fromSplit = STAGES.indexOf(fromStage) <= STAGES.indexOf('split-and-bucket');
    const ranges = bucketRanges(deps.config.bucketCount, deps.config.partitionsPerQuery);
    return {
      dataset: r.dataset,
      snapshotDt: r.snapshotDt,
      fromStage,
      stages: STAGES.slice(STAGES.indexOf(fromStage)) as StageName[],
      tables,
      jobs: fromSplit ? [`split-and-bucket of snapshot_dt=${r.snapshotDt} for ${named.join(', ')}`] : [],
      queries: named.flatMap((t) => [
        ...[`part_${t}`, `part_${t}_er`].flatMap((target) => ranges.map(([a, b], i) => `${i === 0 ? 'CTAS' : 'INSERT INTO'} ${target} id_bucket ${a}-${b}`)),
        `assemble bucketed_${t} from part_${t}`,
      ]),
      replacesRun: ledger?.runId,
    };
  }

  /**
   * The tables a replay may name: the run's own when it replays a later stage (undefined without a run:
   * replayFromStage refuses that), else the dataset's tables (datasetTables; undefined when its mapping cannot be
   * read: the run then fails on it with its own alert).
   */
  async function knownTables(dataset: string, ledger: RunLedger | undefined, fromStage: StageName): Promise<string[] | undefined> {
    if (fromStage === 'register-staged-tables' || fromStage === 'bucketed-tables') return ledger && Object.keys(ledger.tables);
    return datasetTables(deps, deps.config.datasets[dataset]!);
  }

  return async function replay(r: ReplayRequest): Promise<ReplayOutcome> {
    deps.logger.appendKeys({ dataset: r.dataset, snapshot_dt: r.snapshotDt });
    const current = await ledgers.load(r.dataset, r.snapshotDt);
    const fromStage = r.fromStage ?? defaultStage(current?.ledger);
    const plan = planFor(r, current?.ledger, fromStage);
    const refusal = { dataset: r.dataset, snapshotDt: r.snapshotDt, fromStage, tables: r.tables };
    // 1. every table named must exist: a typo never becomes a partial run (nor a dry-run plan that cannot run)
    const known = r.tables && (await knownTables(r.dataset, current?.ledger, fromStage));
    const unknown = known ? (r.tables ?? []).filter((t) => !known.includes(t)) : [];
    if (unknown.length > 0) {
      const of =
        fromStage === 'register-staged-tables' || fromStage === 'bucketed-tables'
          ? `run ${current?.ledger.runId} of ${r.dataset} snapshot_dt=${r.snapshotDt}`
          : `the ${r.dataset} mapping`;
      const reason = `detail.tables: ${unknown.join(', ')} ${unknown.length === 1 ? 'is not a table' : 'are not tables'} of ${of} (known: ${known!.join(', ') || 'none'})`;
      return { outcome: 'refused', plan, ...(await alertInvalidEvent(deps, 'replay', reason, r)) };
    }
    if (r.dryRun) {
      deps.logger.info('replay dry run', { plan });
      return { outcome: 'planned', plan };
    }
    // 1. a plain duplicate of the same request starts nothing; an archive replay is deliberate
    if (
      !r.replayName &&
      !(await putIfAbsent(
        deps.store,
        deps.config.dataBucket,
        `${deps.config.indexPrefix}replays/${encodeURIComponent(r.requestId)}.json`,
        JSON.stringify({ ...r, at: deps.clock.now().toISOString() }),
      ))
    ) {
      return {
        outcome: 'duplicate',
        ...ignore(deps.logger, 'info', `replay request ${r.requestId} was already handled; ignored`, { request_id: r.requestId }),
      };
    }
    // 2. never two runs of one snapshot at once
    if (current?.ledger.status === 'RUNNING') {
      const reason = `run ${current.ledger.runId} of ${r.dataset} snapshot_dt=${r.snapshotDt} is still in flight; replay refused — wait for it to finish (the reconciler completes stalled runs), then replay`;
      await alertReplayRefused(deps, { ...refusal, cause: reason, fix: 'replay once the run has finished' });
      return { outcome: 'refused', reason, plan };
    }
    deps.logger.info('replay starting', { plan, reason: r.reason, replay_name: r.replayName });
    try {
      if (fromStage === 'register-staged-tables' || fromStage === 'bucketed-tables') {
        const ledger = await replayFromStage({ dataset: r.dataset, snapshotDt: r.snapshotDt, fromStage, tables: r.tables });
        return { outcome: 'started', plan, runId: ledger.runId };
      }
      const started = await startRun({
        dataset: r.dataset,
        snapshotDt: r.snapshotDt,
        tablesFilter: r.tables,
        rerun: true,
        trigger: { kind: 'replay', eventId: r.requestId, replayName: r.replayName },
      });
      if (started.outcome === 'started') return { outcome: 'started', plan, runId: started.runId };
      if (started.outcome === 'duplicate') return { outcome: 'refused', reason: started.reason, plan };
      return { outcome: 'refused', reason: started.error.describe(), plan };
    } catch (err) {
      const reason = err instanceof PipelineError ? err.describe() : (err as Error).message;
      await alertReplayRefused(deps, { ...refusal, cause: reason, fix: err instanceof PipelineError ? err.details.fix : undefined });
      return { outcome: 'refused', reason, plan };
    }
  };
}
