/** Failure alerts: an e-mail (SNS / outbox) naming snapshot, stage, table, cause and the replay command, plus a Stage Failed event. */
import type { Grant } from '../domain/access.js';
import type { StageName } from '../domain/ledger.js';
import type { Declined } from '../events/declined.js';
import { PIPELINE_SOURCE } from '../events/patterns.js';
import type { DepsOf } from '../deps.js';
import { recordFailure } from './run-metrics.js';

export interface FailureAlert {
  dataset: string;
  snapshotDt: string;
  runId?: string;
  stage: StageName;
  table?: string;
  cause: string;
  fix?: string;
  /** Stage the replay should start from (defaults to the failed stage). */
  replayFrom?: StageName;
}

/** alertFailure's reach: the e-mail and the Stage Failed event (alertInvalidEvent needs the notifier alone). */
export const alertsReach = (): Grant[] => [{ port: 'notifier' }, { port: 'bus' }];

/** What alertFailure uses: the e-mail, the Stage Failed event, the replay command, the log and the failure metric. */
export type AlertDeps = DepsOf<'notifier' | 'bus' | 'logger' | 'replayCommand' | 'metrics'>;

/** An e-mail's body from its lines; an undefined line (a field the alert does not have) is left out. */
const mailBody = (lines: Array<string | undefined>): string => lines.filter((l) => l !== undefined).join('\n');

/** Publishes the alert and the Stage Failed event; never throws on its own account. */
export async function alertFailure(deps: AlertDeps, a: FailureAlert): Promise<void> {
  recordFailure(deps, a.dataset, a.stage);
  const replay = deps.replayCommand({
    dataset: a.dataset,
    snapshotDt: a.snapshotDt,
    fromStage: a.replayFrom ?? a.stage,
    tables: a.table ? [a.table] : undefined,
  });
  const subject = `[Flywheel] ${a.stage} FAILED ${a.dataset} snapshot_dt=${a.snapshotDt}${a.table ? ` table=${a.table}` : ''}`;
  const body = mailBody([
    `Stage:    ${a.stage}`,
    `Dataset:  ${a.dataset}`,
    `Snapshot: snapshot_dt=${a.snapshotDt}`,
    a.runId ? `Run:      ${a.runId}` : undefined,
    a.table ? `Table:    ${a.table}` : undefined,
    `Cause:    ${a.cause}`,
    a.fix ? `Fix:      ${a.fix}` : undefined,
    '',
    'Live tables still serve the previous snapshot; nothing was overwritten.',
    'Replay once fixed:',
    `  ${replay}`,
  ]);
  deps.logger.error('stage failed', { ...a, replay });
  try {
    await deps.notifier.publish({ subject, body, attributes: { stage: a.stage, dataset: a.dataset, snapshot_dt: a.snapshotDt } });
    await deps.bus.put([{ source: PIPELINE_SOURCE, detailType: 'Stage Failed', detail: { ...a, replayCommand: replay } }]);
  } catch (err) {
    deps.logger.error('could not deliver the failure alert', { error: (err as Error).message });
  }
}

/** A replay that was refused before it started anything (a run in flight, nothing to replay from). */
export interface ReplayRefusal {
  dataset: string;
  snapshotDt: string;
  /** The stage the replay asked to start from. */
  fromStage: StageName;
  tables?: string[];
  cause: string;
  fix?: string;
}

/**
 * A refused replay's e-mail: titled as a refusal, with the cause, the fix and the request to send again. No stage
 * ran, so there is no Stage Failed event and no failure metric: the snapshot's run and live tables are as they were.
 */
export async function alertReplayRefused(deps: DepsOf<'notifier' | 'logger' | 'replayCommand'>, r: ReplayRefusal): Promise<void> {
  const again = deps.replayCommand({ dataset: r.dataset, snapshotDt: r.snapshotDt, fromStage: r.fromStage, tables: r.tables });
  deps.logger.error('replay refused', { ...r, replay: again });
  const subject = `[Flywheel] replay refused ${r.dataset} snapshot_dt=${r.snapshotDt} from ${r.fromStage}`;
  const body = mailBody([
    `Replay:   ${r.dataset} snapshot_dt=${r.snapshotDt} from ${r.fromStage}${r.tables ? ` tables=${r.tables.join(',')}` : ''}`,
    `Cause:    ${r.cause}`,
    r.fix ? `Fix:      ${r.fix}` : undefined,
    '',
    "Nothing was started: the snapshot's runs and the live tables are as they were.",
    'Send the replay again once fixed:',
    `  ${again}`,
  ]);
  await deps.notifier
    .publish({ subject, body, attributes: { stage: 'replay', dataset: r.dataset, snapshot_dt: r.snapshotDt } })
    .catch((err: Error) => deps.logger.error('could not deliver the alert', { error: err.message }));
}

/** An event that failed validation: logged and alerted, nothing started; the function returns what this gives. */
export async function alertInvalidEvent(deps: DepsOf<'notifier' | 'logger'>, fn: string, problem: string, event: unknown): Promise<Declined> {
  deps.logger.error('invalid event rejected', { function: fn, problem });
  const excerpt = JSON.stringify(event)?.slice(0, 2000) ?? String(event);
  await deps.notifier
    .publish({
      subject: `[Flywheel] ${fn} rejected an invalid event`,
      body: `Function: ${fn}\nProblem:  ${problem}\nNothing was started.\nFix: send an event of the documented shape (see events/*.json).\n\nEvent:\n${excerpt}`,
      attributes: { stage: fn },
    })
    .catch((err: Error) => deps.logger.error('could not deliver the alert', { error: err.message }));
  return { declined: 'rejected', reason: problem };
}
