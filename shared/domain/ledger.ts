/**
 * The run ledger: one small JSON document per (dataset, snapshot_dt) holding each stage's status,
 * job and query ids, tables, counts and timings. Written with conditional writes so duplicate or
 * concurrent events cannot start a stage twice.
 */
import type { SkippedTable } from './split-plan.js';

export const STAGES = ['snapshot-trigger', 'split-and-bucket', 'register-staged-tables', 'bucketed-tables'] as const;
export type StageName = (typeof STAGES)[number];
export type Status = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface StageRecord {
  status: Status;
  startedAt?: string;
  endedAt?: string;
  error?: string;
  jobName?: string;
  jobRunId?: string;
  /** The reconciler alerted that this stage overran its timeout (once). */
  timeoutAlerted?: boolean;
}

export interface StepRecord {
  label: string;
  status: Status;
  queryId?: string;
  startedAt?: string;
  endedAt?: string;
  error?: string;
}

export interface TableRecord {
  status: Status;
  rows?: number;
  files?: number;
  /** Rows whose customer_user_id is NULL: kept, in bucket 0, reported. */
  nullKeys?: number;
  steps: StepRecord[];
  error?: string;
  startedAt?: string;
  endedAt?: string;
}

export interface RunLedger {
  dataset: string;
  snapshotDt: string;
  runId: string;
  status: Status;
  createdAt: string;
  updatedAt: string;
  trigger: { kind: 'event' | 'schedule' | 'cli' | 'replay'; eventId?: string; replayName?: string };
  planUri?: string;
  stages: Record<StageName, StageRecord>;
  tables: Record<string, TableRecord>;
  skipped: SkippedTable[];
  /** Entries under raw_input/ that were not valid snapshots when this run started. */
  junk: string[];
  droppedColumns: Record<string, string[]>;
  /** Earlier runs of the same snapshot (a deliberate re-run replaces the ledger and keeps a line here). */
  history: Array<{ runId: string; status: Status; createdAt: string }>;
}

/** A new ledger with every stage pending. */
export function newLedger(args: Pick<RunLedger, 'dataset' | 'snapshotDt' | 'runId' | 'trigger' | 'junk'> & { now: Date }): RunLedger {
  const at = args.now.toISOString();
  const stages = Object.fromEntries(STAGES.map((s) => [s, { status: 'PENDING' }])) as Record<StageName, StageRecord>;
  return {
    dataset: args.dataset,
    snapshotDt: args.snapshotDt,
    runId: args.runId,
    status: 'RUNNING',
    createdAt: at,
    updatedAt: at,
    trigger: args.trigger,
    stages,
    tables: {},
    skipped: [],
    junk: args.junk,
    droppedColumns: {},
    history: [],
  };
}

/** Marks a stage started/finished on a ledger (mutates and returns it). */
export function setStage(ledger: RunLedger, stage: StageName, status: Status, now: Date, extra: Partial<StageRecord> = {}): RunLedger {
  const record = ledger.stages[stage];
  const at = now.toISOString();
  if (status === 'RUNNING') record.startedAt ??= at;
  if (status === 'SUCCEEDED' || status === 'FAILED') {
    record.startedAt ??= at;
    record.endedAt = at;
  }
  Object.assign(record, extra, { status });
  if (status === 'FAILED') ledger.status = 'FAILED';
  return ledger;
}

/** Run id: sortable UTC time plus a random suffix, e.g. `20251031T120000Z-3fa9c1`. */
export function newRunId(now: Date, random: () => number = Math.random): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${Math.floor(random() * 0xffffff)
    .toString(16)
    .padStart(6, '0')}`;
}

/** Milliseconds between two ISO timestamps (undefined when either is missing). */
export function durationMs(startedAt?: string, endedAt?: string): number | undefined {
  return startedAt && endedAt ? Date.parse(endedAt) - Date.parse(startedAt) : undefined;
}
