/**
 * reconciler (every 15 minutes): Glue's state-change events reach EventBridge on a best-effort basis,
 * so a chain driven only by events can stall. For every run in flight:
 * 1. split job running: ask Glue for the real state; a finished job is handed to register-staged-tables
 *    exactly as its missing event would have been (the ledger's claim keeps it to once).
 * 2. staged tables registered but the bucketed stage never started: start it as Stage Completed would.
 * 3. a build query running: ask Athena; a finished one advances its table as its event would have.
 * 4. a stage in flight past its timeout: one alert.
 */
import { union, type Grant } from '../domain/access.js';
import type { PipelineConfig } from '../domain/config.js';
import { durationMs, type RunLedger, type StageName } from '../domain/ledger.js';
import type { DepsOf } from '../deps.js';
import { alertFailure, alertsReach, type AlertDeps } from './alerts.js';
import { buildBucketedTablesReach, makeBuildBucketedTables, type BucketedTablesDeps } from './bucketed-tables.js';
import { ledgerReach, makeLedgerStore, type RunRef } from './ledger-store.js';
import { makeRegisterStagedTables, registerStagedTablesReach, type RegisterStagedTablesDeps } from './register-staged-tables.js';

const TERMINAL_JOB = new Set(['SUCCEEDED', 'FAILED', 'TIMEOUT', 'STOPPED', 'ERROR']);
const TERMINAL_QUERY = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/** Minutes a stage may stay in flight before the reconciler alerts. */
export const STAGE_TIMEOUT_MINUTES: Partial<Record<StageName, number>> = {
  'split-and-bucket': 12 * 60,
  'register-staged-tables': 30,
  'bucketed-tables': 6 * 60,
};

export interface ReconcileReport {
  inFlight: string[];
  advanced: string[];
  timedOut: string[];
}

/** Every dataset's ledgers (listed), its split job's state, then what the lost event's function would have done (register, bucketed). */
export function reconcileReach(config: PipelineConfig): Grant[] {
  return union(
    ledgerReach(config, ['get', 'put', 'list']),
    [{ port: 'jobs', methods: ['jobRunState'], jobs: Object.keys(config.datasets) }],
    registerStagedTablesReach(config),
    buildBucketedTablesReach(config),
    alertsReach(),
  );
}

export type ReconcileDeps = DepsOf<'config' | 'store' | 'clock' | 'logger' | 'jobs' | 'engine'> & RegisterStagedTablesDeps & BucketedTablesDeps & AlertDeps;

export function makeReconcile(deps: ReconcileDeps) {
  const ledgers = makeLedgerStore(deps.store, deps.config, deps.clock);
  const register = makeRegisterStagedTables(deps);
  const bucketed = makeBuildBucketedTables(deps);

  return async function reconcile(): Promise<ReconcileReport> {
    const report: ReconcileReport = { inFlight: [], advanced: [], timedOut: [] };
    for (const dataset of Object.keys(deps.config.datasets)) {
      for (const ledger of (await ledgers.list(dataset)).filter((l) => l.status === 'RUNNING')) {
        const ref: RunRef = { dataset, snapshotDt: ledger.snapshotDt, runId: ledger.runId };
        const name = `${dataset} snapshot_dt=${ledger.snapshotDt} run ${ledger.runId}`;
        report.inFlight.push(name);
        try {
          const moved = await advance(ledger, ref);
          report.advanced.push(...moved.map((m) => `${name}: ${m}`));
          if (moved.length === 0 && (await alertIfTimedOut(ledger, ref))) report.timedOut.push(name);
        } catch (err) {
          deps.logger.error('reconciling a run failed', { ...ref, error: (err as Error).message });
        }
      }
    }
    deps.logger.info('reconciled', { ...report });
    return report;
  };

  async function advance(l: RunLedger, ref: RunRef): Promise<string[]> {
    const moved: string[] = [];
    // 1. the split job
    const split = l.stages['split-and-bucket'];
    if (split.status === 'RUNNING' && split.jobRunId) {
      const { state, reason } = await deps.jobs.jobRunState(split.jobName ?? '', split.jobRunId);
      if (TERMINAL_JOB.has(state)) {
        await register({ jobName: split.jobName ?? '', jobRunId: split.jobRunId, state, message: reason });
        moved.push(`split job ${split.jobRunId} ${state}`);
      }
      return moved;
    }
    // 2. registered, but the bucketed stage never heard of it
    if (l.stages['register-staged-tables'].status === 'SUCCEEDED' && l.stages['bucketed-tables'].status === 'PENDING') {
      const tables = Object.entries(l.tables)
        .filter(([, t]) => t.status === 'PENDING')
        .map(([t]) => t);
      await bucketed.onStagedTablesRegistered(ref, tables);
      moved.push('bucketed-tables started');
      return moved;
    }
    // 3. build queries
    if (l.stages['bucketed-tables'].status === 'RUNNING') {
      for (const [table, t] of Object.entries(l.tables)) {
        const step = t.steps.find((s) => s.status === 'RUNNING' && s.queryId);
        if (t.status !== 'RUNNING' || !step?.queryId) continue;
        const { state } = await deps.engine.status(step.queryId);
        if (TERMINAL_QUERY.has(state)) {
          await bucketed.onQueryStateChange(step.queryId, state);
          moved.push(`${table} ${step.label} ${state}`);
        }
      }
    }
    return moved;
  }

  /** One alert per stage that has been in flight longer than its timeout. */
  async function alertIfTimedOut(l: RunLedger, ref: RunRef): Promise<boolean> {
    const now = deps.clock.now().toISOString();
    for (const [stage, minutes] of Object.entries(STAGE_TIMEOUT_MINUTES) as Array<[StageName, number]>) {
      const s = l.stages[stage];
      const age = durationMs(s.startedAt, now);
      if (s.status !== 'RUNNING' || age === undefined || age < minutes * 60_000 || s.timeoutAlerted) continue;
      const { changed } = await ledgers.update(ref, (x) => {
        if (x.stages[stage].timeoutAlerted) return false;
        x.stages[stage].timeoutAlerted = true;
        return true;
      });
      if (changed) {
        await alertFailure(deps, {
          ...ref,
          stage,
          cause: `${stage} has been in flight for ${Math.round(age / 60_000)} minutes (timeout ${minutes}); its job or queries neither finished nor failed`,
          fix: 'check the Glue job run / Athena queries named in the ledger (npx flywheel status), stop them, then replay',
        });
      }
      return true;
    }
    return false;
  }
}
