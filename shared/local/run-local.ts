/** One local run: feeds events through the real handlers on the local bus, shows progress, prints the summary. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseS3Uri } from '../domain/config.js';
import type { RunLedger, StageName } from '../domain/ledger.js';
import { durationMs, STAGES } from '../domain/ledger.js';
import { functionDeps, localRuntime, type LocalRuntime } from '../composition/local.js';
import { makeLedgerStore } from '../use-cases/ledger-store.js';
import type { AwsEvent } from '../adapters/local/local-bus.js';
import { table } from './format.js';
import { awsReplayCommand } from '../events/replay-command.js';
import { makeReplayHandler } from '../../services/replay/replay.js';
import type { ReplayOutcome } from '../use-cases/replay.js';

export interface RunLocalOptions {
  home: string;
  dataset?: string;
  snapshotDt?: string;
  tables?: string[];
  fromStage?: StageName;
  /** Deliver this AWS-shaped event instead of a CLI trigger. */
  event?: unknown;
  /** Queue the run's first work on the runtime instead of a CLI trigger (replay). */
  kick?: (rt: LocalRuntime) => void;
  verbose?: boolean;
}

const out = (line = '') => process.stdout.write(line + '\n');
const secs = (ms?: number) => (ms === undefined ? '' : `${(ms / 1000).toFixed(1)} s`);

/** Runs to completion; 0 only if every run it touched succeeded. */
export async function runLocal(o: RunLocalOptions): Promise<number> {
  const started = Date.now();
  let handlerFailures = 0;
  const at = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s]`;
  const rt = await localRuntime({
    home: o.home,
    verbose: o.verbose,
    observer: {
      delivered: (event, fn) => {
        const line = describe(event, fn);
        if (line) out(`${at()} ${line}`);
      },
      failed: (_event, fn, error) => {
        handlerFailures++;
        out(`${at()} ✗ ${fn} threw: ${error.message}`);
      },
    },
    progress: {
      compacted: (folder, g) => out(`${at()}   compacted ${folder}: ${g.keys.length} small file(s), ${g.rowsIn.toLocaleString('en-US')} rows → ${g.files.length} file(s)`),
      table: (t, r) => out(`${at()}   split ${t.source} → ${t.target}: ${r.rows.toLocaleString('en-US')} rows${r.nullKeys ? ` (${r.nullKeys} with a NULL key, kept in bucket 0)` : ''}, ${r.files} file(s), ${secs(r.ms)}`) },
  });
  try {
    const { config } = rt.deps;
    if (o.kick) {
      o.kick(rt);
    } else if (o.event !== undefined) {
      rt.bus.deliver(o.event);
    } else {
      const datasets = o.dataset && o.dataset !== 'all' ? [o.dataset] : Object.keys(config.datasets);
      for (const name of datasets) {
        const ds = config.datasets[name];
        if (!ds) {
          out(`dataset ${name}: not configured in this version; skipped`);
          continue;
        }
        const landings = o.fromStage || o.tables ? [] : await pendingRawLandings(rt, name, o.snapshotDt);
        if (landings.length > 0) {
          // a raw landing not compacted yet: its ready marker, as S3 would announce it, starts the compaction stage
          for (const key of landings) rt.bus.deliver(rt.bus.envelope('aws.s3', 'Object Created', { version: '0', bucket: { name: config.dataBucket }, object: { key, size: 0 }, 'request-id': 'local', requester: 'local', 'source-ip-address': '127.0.0.1', reason: 'PutObject' }));
          continue;
        }
        const listing = await rt.store.list(config.dataBucket, ds.rawPrefix, { delimiter: '/' });
        if (listing.prefixes.length === 0 && listing.objects.length === 0) {
          out(`dataset ${name}: no raw prefix s3://${config.dataBucket}/${ds.rawPrefix}; skipped`);
          continue;
        }
        if (o.fromStage === 'register-staged-tables' || o.fromStage === 'bucketed-tables') {
          if (!o.snapshotDt) throw new Error(`--from-stage ${o.fromStage} needs --snapshot`);
          // a later stage is a replay: the same Replay Requested an operator sends in AWS
          rt.bus.deliver(rt.bus.envelope('flywheel.ops', 'Replay Requested', { dataset: name, snapshotDt: o.snapshotDt, fromStage: o.fromStage, ...(o.tables ? { tables: o.tables } : {}), reason: 'flywheel run --from-stage' }));
          continue;
        }
        rt.bus.invoke('snapshotTrigger', { dataset: name, snapshotDt: o.snapshotDt, tables: o.tables, rerun: true });
      }
    }
    await rt.bus.drain();
    return await summarize(rt, started, o.event !== undefined || o.kick !== undefined ? { handlerFailures } : undefined);
  } finally {
    rt.close();
  }
}

/**
 * Ready markers of a dataset's raw landings (compaction on) whose compacted output has no ready marker
 * yet: the newest one, or the one of `snapshotDt`.
 */
async function pendingRawLandings(rt: LocalRuntime, dataset: string, snapshotDt?: string): Promise<string[]> {
  const ds = rt.deps.config.datasets[dataset];
  const c = ds?.compaction;
  if (!ds || !c) return [];
  const bucket = rt.deps.config.dataBucket;
  const { prefixes } = await rt.store.list(bucket, c.sourcePrefix, { delimiter: '/' });
  const dates = prefixes.map((p) => /snapshot_dt=(\d{4}-\d{2}-\d{2})\/$/.exec(p)?.[1]).filter((d): d is string => !!d && (!snapshotDt || d === snapshotDt)).sort();
  for (const d of dates.reverse()) {
    const marker = `${c.sourcePrefix}snapshot_dt=${d}/${c.readyMarker}`;
    if (!(await rt.store.head(bucket, marker))) continue;
    const compacted = await rt.store.head(bucket, `${ds.rawPrefix}snapshot_dt=${d}/${ds.readyMarker}`);
    return compacted ? [] : [marker];
  }
  return [];
}

/** One progress line per stage-level event; per-query events stay quiet. */
function describe(event: unknown, fn?: string): string | undefined {
  const e = event as Partial<AwsEvent> & { dataset?: string; snapshotDt?: string };
  const d = (e.detail ?? {}) as Record<string, unknown>;
  switch (e['detail-type']) {
    case 'Object Created':
      return `S3 Object Created ${(d.object as { key?: string })?.key} → ${fn ?? 'no rule'}`;
    case 'Glue Job State Change':
      return `Glue job ${d.jobRunId} ${d.state} → ${fn ?? 'no rule'}`;
    case 'Stage Completed':
      return `Stage Completed: ${d.stage} (${(d.tables as string[])?.length ?? 0} tables) → ${fn ?? 'no rule'}`;
    case 'Athena Query State Change':
      return d.currentState === 'SUCCEEDED' ? undefined : `Athena query ${d.queryExecutionId} ${d.currentState}`;
    case 'Stage Failed':
      return `✗ Stage Failed: ${d.stage}${d.table ? ` table ${d.table}` : ''}: ${d.cause}`;
    case 'Pipeline Completed':
      return `Pipeline Completed: ${d.dataset} snapshot_dt=${d.snapshotDt} ${d.status} → ${fn ?? 'no rule'}`;
    case 'Monitor Completed':
      return `Data monitor: ${d.tables} table(s), ${d.alerts} issue(s), ${d.high} high — ${String(d.reportUri).replace(/\.json$/, '.{json,csv,html}')}`;
    case 'Scheduled Event':
      return `Scheduled Event → ${fn ?? 'no rule'}`;
    case undefined:
      return 'Records' in e ? `S3 notification (${(e as { Records: unknown[] }).Records.length} record) → ${fn}` : `trigger ${e.dataset ?? ''}${e.snapshotDt ? ` snapshot_dt=${e.snapshotDt}` : ' (latest valid snapshot)'} → ${fn}`;
    default:
      return `${e['detail-type']} → ${fn ?? 'no rule'}`;
  }
}

/** `event`: the run was one delivered event (or kick), which need not start a pipeline run; its handler failures. */
async function summarize(rt: LocalRuntime, started: number, event?: { handlerFailures: number }): Promise<number> {
  const ledgers = makeLedgerStore(rt.store, rt.deps.config);
  const touched = new Map<string, RunLedger>();
  for (const e of rt.bus.published) {
    const d = e.detail as { dataset?: string; snapshotDt?: string };
    if (e.source.startsWith('flywheel.') && d.dataset && d.snapshotDt) {
      const l = await ledgers.load(d.dataset, d.snapshotDt);
      if (l) touched.set(`${d.dataset}/${d.snapshotDt}`, l.ledger);
    }
  }
  const outbox = rt.bus.published.filter((e) => e['detail-type'] === 'Stage Failed').length;
  out('');
  if (touched.size === 0) {
    // an event need not start a pipeline run (a schedule of the report or the chargebacks, a job's end):
    // it succeeded when no handler threw and no job failed
    const failedJobs = rt.bus.published.filter((e) => e['detail-type'] === 'Glue Job State Change' && e.detail.state !== 'SUCCEEDED').length;
    if (event && failedJobs === 0 && outbox === 0 && event.handlerFailures === 0) {
      out(`No pipeline run was touched; the event was handled (total ${secs(Date.now() - started)}).`);
      return 0;
    }
    out('No run was started (see the messages above and the alerts in the outbox).');
    return 1;
  }
  for (const l of touched.values()) {
    out(`${l.dataset} snapshot_dt=${l.snapshotDt} run ${l.runId}: ${l.status}`);
    if (l.junk.length) out(`  ignored under raw_input/: ${l.junk.join(', ')}`);
    for (const [src, cols] of Object.entries(l.droppedColumns)) out(`  dropped unmapped columns of ${src}: ${cols.join(', ')}`);
    for (const s of l.skipped) out(`  skipped ${s.target ?? s.source}: ${s.reason} (fix: ${s.fix})`);
    const rows: string[][] = [];
    for (const [name, t] of Object.entries(l.tables)) {
      const part = t.status === 'SUCCEEDED' ? await count(rt, `${rt.deps.config.prefixes.part}${name}`) : '';
      rows.push([name, t.status, fmt(t.rows), part, fmt(t.nullKeys), fmt(t.files), secs(durationMs(t.startedAt, t.endedAt))]);
    }
    out(table(['table', 'status', 'source rows', 'part_ rows', 'NULL keys', 'split files', 'build time'], rows));
    out(`stages: ${STAGES.map((s) => `${s} ${l.stages[s].status}${l.stages[s].startedAt ? ` ${secs(durationMs(l.stages[s].startedAt, l.stages[s].endedAt))}` : ''}`).join(' · ')}`);
  }
  if (outbox > 0) out(`${outbox} alert(s) written to ${rt.home}/outbox/`);
  out(`total ${secs(Date.now() - started)}`);
  return [...touched.values()].every((l) => l.status === 'SUCCEEDED') ? 0 : 1;
}

async function count(rt: LocalRuntime, name: string): Promise<string> {
  try {
    const rows = await rt.db.all(`SELECT count(*) AS n FROM "${rt.deps.config.database}"."${name}"`);
    return fmt(Number(rows[0]?.n));
  } catch {
    return '?';
  }
}

const fmt = (n?: number) => (n === undefined || Number.isNaN(n) ? '' : n.toLocaleString('en-US'));

/** Prints ledgers for `flywheel status`. */
export function printLedgers(all: RunLedger[], print: (line: string) => void): void {
  for (const l of all.sort((a, b) => `${a.dataset}${a.snapshotDt}`.localeCompare(`${b.dataset}${b.snapshotDt}`))) {
    print(`${l.dataset} snapshot_dt=${l.snapshotDt} run ${l.runId} ${l.status} (created ${l.createdAt}, trigger ${l.trigger.kind})`);
    print(
      table(
        ['stage', 'status', 'started', 'time', 'detail'],
        STAGES.map((s) => {
          const r = l.stages[s];
          return [s, r.status, r.startedAt ?? '', secs(durationMs(r.startedAt, r.endedAt)), r.error ?? r.jobRunId ?? ''];
        }),
      ),
    );
    print(table(['table', 'status', 'rows', 'files', 'steps'], Object.entries(l.tables).map(([n, t]) => [n, t.status, fmt(t.rows), fmt(t.files), t.steps.map((s) => `${s.label}:${s.status}`).join(' ')])));
    print('');
  }
}

/** `flywheel monitor`: one monitor run through the local bus; prints the alerts and where the reports are. */
export async function runMonitor(o: { home: string; verbose?: boolean; options: Record<string, unknown> }): Promise<number> {
  const rt = await localRuntime({ home: o.home, verbose: o.verbose, monitor: o.options });
  try {
    rt.bus.invoke('dataMonitor', { options: o.options });
    await rt.bus.drain();
    const done = rt.bus.published.find((e) => e['detail-type'] === 'Monitor Completed');
    if (!done) {
      out('The monitor did not complete (see the outbox and logs/flywheel.jsonl).');
      return 1;
    }
    const d = done.detail as { reportUri: string; alerts: number; high: number; tables: number };
    const { key, bucket } = parseS3Uri(d.reportUri);
    const report = JSON.parse(readFileSync(path.join(rt.home, 'lake', bucket, key), 'utf8')) as { alerts: string[] };
    out(`Checked ${d.tables} table(s): ${d.alerts} issue(s), ${d.high} high.`);
    for (const line of report.alerts) out(`  ${line}`);
    const local = path.join(rt.home, 'lake', bucket, key);
    out(`Reports: ${local} (.csv, .html beside it)`);
    return 0;
  } finally {
    rt.close();
  }
}

/** `flywheel replay`: a Replay Requested event through the local bus; prints the aws command, the plan, then runs it. */
export async function runReplay(o: { home: string; dataset: string; snapshotDt: string; fromStage?: StageName; tables?: string[]; dryRun: boolean; reason: string; bus: string; verbose?: boolean }): Promise<number> {
  const detail = { dataset: o.dataset, snapshotDt: o.snapshotDt, ...(o.fromStage ? { fromStage: o.fromStage } : {}), ...(o.tables ? { tables: o.tables } : {}), ...(o.dryRun ? { dryRun: true } : {}), reason: o.reason };
  out('In AWS:');
  out(`  ${awsReplayCommand(o.bus, detail as Parameters<typeof awsReplayCommand>[1])}`);
  out('');
  let outcome: ReplayOutcome | undefined;
  const kick = (rt: LocalRuntime) =>
    rt.bus.defer(async () => {
      outcome = await makeReplayHandler(functionDeps(rt.deps, 'replay'))(rt.bus.envelope('flywheel.ops', 'Replay Requested', detail));
      printPlan(outcome);
    });
  if (o.dryRun) {
    const rt = await localRuntime({ home: o.home, verbose: o.verbose });
    try {
      kick(rt);
      await rt.bus.drain();
    } finally {
      rt.close();
    }
    return outcome?.outcome === 'planned' ? 0 : 1;
  }
  const code = await runLocal({ home: o.home, verbose: o.verbose, kick });
  return outcome?.outcome === 'started' ? code : 1;
}

function printPlan(outcome: ReplayOutcome): void {
  const plan = 'plan' in outcome ? outcome.plan : undefined;
  if (plan) {
    out(`Plan: ${plan.dataset} snapshot_dt=${plan.snapshotDt} from ${plan.fromStage}${plan.replacesRun ? ` (replaces run ${plan.replacesRun})` : ''}`);
    out(`  stages:  ${plan.stages.join(' → ')}`);
    out(`  tables:  ${plan.tables === 'all' ? 'all' : plan.tables.join(', ')}`);
    for (const j of plan.jobs) out(`  job:     ${j}`);
    out(`  queries: ${plan.queries.length} (${plan.queries.slice(0, 4).join('; ')}${plan.queries.length > 4 ? '; …' : ''})`);
  }
  if (outcome.outcome === 'planned') out('Dry run: nothing was changed.');
  else if (outcome.outcome !== 'started') out(`Replay ${outcome.outcome}: ${outcome.reason}`);
}
