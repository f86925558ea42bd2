/** One local run: feeds events through the real handlers on the local bus, shows progress, prints the summary. */
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultConfig, parseS3Uri, type PipelineConfig } from '../domain/config.js';
import type { RunLedger, StageName } from '../domain/ledger.js';
import { durationMs, STAGES } from '../domain/ledger.js';
import { functionDeps, localRouteParams, localRuntime, type LocalRuntime } from '../composition/local.js';
import { LOCAL_CHARGEBACKS_JOB } from '../composition/local-functions.js';
import { CONSOLIDATED_PREFIX, dayPartition, LANDING_PREFIX, landingDayFolders } from '../domain/chargebacks.js';
import { makeLedgerStore } from '../use-cases/ledger-store.js';
import { datasetsWithTables } from '../use-cases/snapshot-trigger.js';
import { LocalBus, type AwsEvent } from '../adapters/local/local-bus.js';
import { table } from './format.js';
import { declinedIn, type Declined } from '../events/declined.js';
import { awsReplayCommand } from '../events/replay-command.js';
import { routes, type FunctionName } from '../events/patterns.js';
import { describeNoRoute, renameStage, show } from '../events/closest-routes.js';
import { oneLine, parseEventText, validateEvent } from '../events/event-errors.js';
import { makeReplayHandler } from '../../services/replay/replay.js';
import type { ReplayOutcome } from '../use-cases/replay.js';

export interface RunLocalOptions {
  home: string;
  dataset?: string;
  snapshotDt?: string;
  tables?: string[];
  fromStage?: StageName;
  /** Queue the run's first work on the runtime instead of a CLI trigger (replay). */
  kick?: (rt: LocalRuntime) => void;
  verbose?: boolean;
}

const out = (line = '') => process.stdout.write(`${line}\n`);
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
      compacted: (folder, g) =>
        out(`${at()}   compacted ${folder}: ${g.keys.length} small file(s), ${g.rowsIn.toLocaleString('en-US')} rows → ${g.files.length} file(s)`),
      table: (t, r) =>
        out(
          `${at()}   split ${t.source} → ${t.target}: ${r.rows.toLocaleString('en-US')} rows${r.nullKeys ? ` (${r.nullKeys} with a NULL key, kept in bucket 0)` : ''}, ${r.files} file(s), ${secs(r.ms)}`,
        ),
    },
  });
  try {
    const { config } = rt.deps;
    if (o.kick) {
      o.kick(rt);
    } else {
      let datasets = o.dataset && o.dataset !== 'all' ? [o.dataset] : Object.keys(config.datasets);
      if (o.tables && datasets.length > 1) {
        // --tables without --dataset: only the datasets that have one of the tables (a filter for one never fails another)
        const owners = await datasetsWithTables(rt.deps, o.tables);
        for (const name of datasets.filter((d) => !owners.includes(d))) out(`dataset ${name}: none of the tables ${o.tables.join(', ')}; skipped`);
        datasets = datasets.filter((d) => owners.includes(d));
      }
      for (const name of datasets) {
        const ds = config.datasets[name];
        if (!ds) {
          out(`dataset ${name}: not configured in this version; skipped`);
          continue;
        }
        const landings = o.fromStage || o.tables ? [] : await pendingRawLandings(rt, name, o.snapshotDt);
        if (landings.length > 0) {
          // a raw landing not compacted yet: its ready marker, as S3 would announce it, starts the compaction stage
          for (const key of landings)
            rt.bus.deliver(
              rt.bus.envelope('aws.s3', 'Object Created', {
                version: '0',
                bucket: { name: config.dataBucket },
                object: { key, size: 0 },
                'request-id': 'local',
                requester: 'local',
                'source-ip-address': '127.0.0.1',
                reason: 'PutObject',
              }),
            );
          continue;
        }
        const listing = await rt.deps.store.list(config.dataBucket, ds.rawPrefix, { delimiter: '/' });
        if (listing.prefixes.length === 0 && listing.objects.length === 0) {
          out(`dataset ${name}: no raw prefix s3://${config.dataBucket}/${ds.rawPrefix}; skipped`);
          continue;
        }
        if (o.fromStage === 'register-staged-tables' || o.fromStage === 'bucketed-tables') {
          if (!o.snapshotDt) throw new Error(`--from-stage ${o.fromStage} needs --snapshot`);
          // a later stage is a replay: the same Replay Requested an operator sends in AWS
          rt.bus.deliver(
            rt.bus.envelope('flywheel.ops', 'Replay Requested', {
              dataset: name,
              snapshotDt: o.snapshotDt,
              fromStage: o.fromStage,
              ...(o.tables ? { tables: o.tables } : {}),
              reason: 'flywheel run --from-stage',
            }),
          );
          continue;
        }
        rt.bus.invoke('snapshotTrigger', { dataset: name, snapshotDt: o.snapshotDt, tables: o.tables, rerun: true });
      }
    }
    await rt.bus.drain();
    return await summarize(rt, started, o.kick !== undefined ? { handlerFailures } : undefined);
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
  const { prefixes } = await rt.deps.store.list(bucket, c.sourcePrefix, { delimiter: '/' });
  const dates = prefixes
    .map((p) => /snapshot_dt=(\d{4}-\d{2}-\d{2})\/$/.exec(p)?.[1])
    .filter((d): d is string => !!d && (!snapshotDt || d === snapshotDt))
    .sort();
  for (const d of dates.reverse()) {
    const marker = `${c.sourcePrefix}snapshot_dt=${d}/${c.readyMarker}`;
    if (!(await rt.deps.store.head(bucket, marker))) continue;
    const compacted = await rt.deps.store.head(bucket, `${ds.rawPrefix}snapshot_dt=${d}/${ds.readyMarker}`);
    return compacted ? [] : [marker];
  }
  return [];
}

/** One progress line per stage-level event; per-query events stay quiet unless `input` (the event the CLI delivered). */
function describe(event: unknown, fn?: string, input = false): string | undefined {
  if (typeof event !== 'object' || event === null) return `${show(event)} → ${fn ?? 'no rule'}`;
  const e = event as Partial<AwsEvent> & { dataset?: string; snapshotDt?: string };
  const d = (typeof e.detail === 'object' && e.detail !== null ? e.detail : {}) as Record<string, unknown>;
  const to = fn ?? 'no rule';
  switch (e['detail-type']) {
    case 'Object Created':
      return `S3 Object Created ${(d.object as { key?: string } | undefined)?.key} → ${to}`;
    case 'Glue Job State Change':
      return `Glue job ${d.jobRunId} ${d.state} → ${to}`;
    case 'Stage Completed':
      return `Stage Completed: ${d.stage} (${Array.isArray(d.tables) ? d.tables.length : 0} tables) → ${to}`;
    case 'Athena Query State Change':
      return d.currentState === 'SUCCEEDED' && !input ? undefined : `Athena query ${d.queryExecutionId} ${d.currentState}${input ? ` → ${to}` : ''}`;
    case 'Stage Failed':
      return `✗ Stage Failed: ${d.stage}${d.table ? ` table ${d.table}` : ''}: ${d.cause}`;
    case 'Pipeline Completed':
      return `Pipeline Completed: ${d.dataset} snapshot_dt=${d.snapshotDt} ${d.status} → ${to}`;
    case 'Monitor Completed':
      return `Data monitor: ${d.tables} table(s), ${d.alerts} issue(s), ${d.high} high — ${String(d.reportUri).replace(/\.json$/, '.{json,csv,html}')}`;
    case 'Scheduled Event':
      return `Scheduled Event → ${to}`;
    case undefined:
      return 'Records' in e && Array.isArray(e.Records)
        ? `S3 notification (${e.Records.length} record) → ${to}`
        : `trigger ${e.dataset ?? ''}${e.snapshotDt ? ` snapshot_dt=${e.snapshotDt}` : ' (latest valid snapshot)'} → ${to}`;
    default:
      return `${e['detail-type']} → ${to}`;
  }
}

/** `event`: the run was one kick (replay, compaction), which need not start a pipeline run; its handler failures. */
async function summarize(rt: LocalRuntime, started: number, event?: { handlerFailures: number }): Promise<number> {
  const ledgers = makeLedgerStore(rt.deps.store, rt.deps.config, rt.deps.clock);
  const touched = new Map<string, RunLedger>();
  for (const e of rt.bus.published) {
    const d = (e.detail ?? {}) as { dataset?: string; snapshotDt?: string };
    if (e.source.startsWith('flywheel.') && d.dataset && d.snapshotDt) {
      const l = await ledgers.load(d.dataset, d.snapshotDt);
      if (l) touched.set(`${d.dataset}/${d.snapshotDt}`, l.ledger);
    }
  }
  const outbox = rt.bus.published.filter((e) => e['detail-type'] === 'Stage Failed').length;
  out('');
  if (touched.size === 0) {
    // a kick need not start a pipeline run (a compaction whose job fails): it succeeded when no handler threw and no job failed
    const failedJobs = rt.bus.published.filter((e) => e['detail-type'] === 'Glue Job State Change' && e.detail?.state !== 'SUCCEEDED').length;
    if (event && failedJobs === 0 && outbox === 0 && event.handlerFailures === 0) {
      // the caller says what became of its kick (runReplay prints a refused replay and exits 1)
      out(`No pipeline run was touched (total ${secs(Date.now() - started)}).`);
      return 0;
    }
    out('No run was started (see the messages above and the alerts in the outbox).');
    return 1;
  }
  for (const l of touched.values()) await printRun(rt, l);
  if (outbox > 0) out(`${outbox} alert(s) written to ${rt.home}/outbox/`);
  out(`total ${secs(Date.now() - started)}`);
  return [...touched.values()].every((l) => l.status === 'SUCCEEDED') ? 0 : 1;
}

/** A run's outcome: status, what was skipped or dropped, one row per table, the stages. */
async function printRun(rt: LocalRuntime, l: RunLedger): Promise<void> {
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
  out(
    `stages: ${STAGES.map((s) => `${s} ${l.stages[s].status}${l.stages[s].startedAt ? ` ${secs(durationMs(l.stages[s].startedAt, l.stages[s].endedAt))}` : ''}`).join(' · ')}`,
  );
}

// ───────────────────────────── flywheel event <file> ─────────────────────────────

/** What became of one delivered event. `handled` alone exits 0; every other kind exits 2 with its reason on ONE stderr line. */
export type EventOutcome = { kind: 'handled'; summary: string } | { kind: 'rejected' | 'no rule' | 'ignored' | 'failed'; reason: string };

/** The exit code of `flywheel event` for every outcome that is not `handled`. */
export const EVENT_NOT_HANDLED = 2;

/**
 * The edge of `flywheel event <file>`, before any runtime is opened: the file read and parsed (a
 * put-events entry converted), its shape validated with the handlers' schemas, another stage's
 * resource names read as the local stack's, and its rule found. Either the event to deliver and the
 * functions it reaches, or the outcome (rejected, no rule).
 */
export async function prepareEvent(
  file: string,
  config: PipelineConfig = defaultConfig(),
  note: (line: string) => void = out,
): Promise<{ event: unknown; fns: FunctionName[] } | EventOutcome> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    return { kind: 'rejected', reason: `cannot read it: ${why}` };
  }
  const input = parseEventText(text.replace(/^\uFEFF/, ''));
  if (!input.ok) return { kind: 'rejected', reason: input.reason };
  if (input.note) note(`note: ${input.note}`);
  const invalid = validateEvent(input.event);
  if (invalid) return { kind: 'rejected', reason: invalid };
  const params = localRouteParams(config);
  const rs = routes(params);
  // the local bus's own routing (no runtime behind it: nothing is delivered here)
  const bus = new LocalBus(rs, { now: () => new Date() });
  let event = input.event;
  let fns = bus.targets(event);
  if (fns.length === 0) {
    const renamed = renameStage(event, params);
    const viaLocal = bus.targets(renamed.event);
    if (renamed.renamed.length > 0 && viaLocal.length > 0) {
      for (const r of renamed.renamed) note(`note: ${r.field} ${show(r.from)} is read as ${show(r.to)} (the local stack's name for it)`);
      event = renamed.event;
      fns = viaLocal;
    }
  }
  if (fns.length === 0) return { kind: 'no rule', reason: describeNoRoute(rs, event) };
  return { event, fns };
}

/** `flywheel event <file>`: exit 0 only when the event was handled; otherwise 2 and one line on stderr saying why. */
export async function runEventFile(o: { home: string; file: string; verbose?: boolean }): Promise<number> {
  const started = Date.now();
  let outcome: EventOutcome;
  try {
    const prepared = await prepareEvent(o.file);
    outcome = 'kind' in prepared ? prepared : await deliverEvent(o, prepared.event, started);
  } catch (err) {
    // never a stack trace on this edge (--verbose shows it)
    if (o.verbose) process.stderr.write(`${(err as Error).stack ?? err}\n`);
    outcome = { kind: 'failed', reason: (err as Error).message ?? String(err) };
  }
  if (outcome.kind === 'handled') {
    out(`Handled: ${outcome.summary} (total ${secs(Date.now() - started)}).`);
    return 0;
  }
  process.stderr.write(`flywheel event: ${outcome.kind}: ${oneLine(`${o.file}: ${outcome.reason}`)}\n`);
  return EVENT_NOT_HANDLED;
}

/** What a function that received the delivered event declined, and why (its result). */
interface Noted extends Declined {
  fn: FunctionName;
}

/** Delivers `event` on a local runtime, drains the bus and judges what became of it. */
async function deliverEvent(o: { home: string; verbose?: boolean }, event: unknown, started: number): Promise<EventOutcome> {
  const at = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s]`;
  const threw: string[] = [];
  const laterFailures: string[] = [];
  // the delivered event, or (an S3 notification) the share of its records one function receives
  const records = (x: unknown) =>
    typeof x === 'object' && x !== null && Array.isArray((x as { Records?: unknown }).Records) ? (x as { Records: unknown[] }).Records : undefined;
  const isInput = (e: unknown) => {
    if (e === event) return true;
    const share = records(e);
    const all = records(event);
    return !!share && !!all && share.length > 0 && share.every((r) => all.includes(r));
  };
  const inputFns = new Set<FunctionName>();
  // what the functions that received the event declined: a rejection (invalid, alerted) or a deliberate "ignored"
  const noted: { rejected: Noted[]; ignored: Noted[] } = { rejected: [], ignored: [] };
  const rt = await localRuntime({
    home: o.home,
    verbose: o.verbose,
    observer: {
      delivered: (e, fn) => {
        if (fn && isInput(e)) inputFns.add(fn);
        const line = describe(e, fn, isInput(e));
        if (line) out(`${at()} ${line}`);
      },
      returned: (e, fn, result) => {
        if (!isInput(e)) return;
        for (const d of declinedIn(result)) noted[d.declined].push({ ...d, fn });
      },
      failed: (e, fn, error) => {
        (isInput(e) ? threw : laterFailures).push(`${fn} threw: ${error.message}`);
        out(`${at()} ✗ ${fn} threw: ${error.message}`);
      },
    },
    progress: {
      compacted: (folder, g) =>
        out(`${at()}   compacted ${folder}: ${g.keys.length} small file(s), ${g.rowsIn.toLocaleString('en-US')} rows → ${g.files.length} file(s)`),
      table: (t, r) =>
        out(
          `${at()}   split ${t.source} → ${t.target}: ${r.rows.toLocaleString('en-US')} rows${r.nullKeys ? ` (${r.nullKeys} with a NULL key, kept in bucket 0)` : ''}, ${r.files} file(s), ${secs(r.ms)}`,
        ),
    },
  });
  try {
    const fns = rt.bus.targets(event);
    if (fns.length === 0) return { kind: 'no rule', reason: describeNoRoute(routes(localRouteParams(rt.deps.config)), event) };
    const ledgers = makeLedgerStore(rt.deps.store, rt.deps.config, rt.deps.clock);
    const before = await ledgerSnapshot(rt, ledgers);
    const outboxBefore = new Set(await listOutbox(rt));
    const publishedBefore = rt.bus.published.length;

    rt.bus.deliver(event);
    await rt.bus.drain();

    const after = await ledgerSnapshot(rt, ledgers);
    const touched = [...after.entries()].filter(([k, v]) => before.get(k)?.json !== v.json).map(([, v]) => v.ledger);
    const mails = await Promise.all((await listOutbox(rt)).filter((f) => !outboxBefore.has(f)).map((f) => readAlert(rt, f)));
    // Flywheel's failure alerts (a stage failed, a job failed, a request refused); the data monitor's e-mail is its report
    const alerts = mails.filter((m) => m.subject.startsWith('[Flywheel]'));
    const reports = mails.filter((m) => !m.subject.startsWith('[Flywheel]'));
    const followed = rt.bus.published.slice(publishedBefore + 1).map((e) => e['detail-type']);
    out('');
    for (const l of touched) await printRun(rt, l);
    for (const r of reports) out(`report e-mailed: ${r.subject}`);
    const written = [alerts.length ? `${alerts.length} alert(s)` : '', reports.length ? `${reports.length} report(s)` : ''].filter(Boolean).join(' and ');
    if (written) out(`${written} written to ${path.join(rt.home, 'outbox')}/`);

    const by = [...inputFns].join(', ') || fns.join(', ');
    if (threw.length > 0) return { kind: 'failed', reason: threw[0]! };
    if (noted.rejected.length > 0) return { kind: 'rejected', reason: `${by} rejected it: ${noted.rejected[0]!.reason}` };
    const failedRun = touched.find((l) => l.status === 'FAILED');
    if (failedRun) {
      const stage = STAGES.find((s) => failedRun.stages[s].status === 'FAILED');
      const table = Object.entries(failedRun.tables).find(([, t]) => t.status === 'FAILED');
      const why =
        (stage && failedRun.stages[stage].error) ?? (table && `table ${table[0]}: ${table[1].error ?? 'FAILED'}`) ?? alerts[0]?.cause ?? 'see the alerts';
      return {
        kind: 'failed',
        reason: `${failedRun.dataset} snapshot_dt=${failedRun.snapshotDt} run ${failedRun.runId} FAILED${stage ? ` at ${stage}` : ''}: ${why}${alerts.length ? ` (${alerts.length} alert(s) in outbox/)` : ''}`,
      };
    }
    if (alerts.length > 0)
      return {
        kind: 'failed',
        reason: `${alerts[0]!.subject}${alerts[0]!.cause ? ` — ${alerts[0]!.cause}` : ''}${alerts.length > 1 ? ` (and ${alerts.length - 1} more alert(s) in outbox/)` : ' (alert in outbox/)'}`,
      };
    if (laterFailures.length > 0) return { kind: 'failed', reason: laterFailures[0]! };
    const unfinished = touched.find((l) => l.status !== 'SUCCEEDED');
    if (unfinished)
      return {
        kind: 'failed',
        reason: `${unfinished.dataset} snapshot_dt=${unfinished.snapshotDt} run ${unfinished.runId} is still ${unfinished.status} after every queued event and job ran`,
      };
    if (noted.ignored.length > 0 && touched.length === 0 && followed.length === 0) {
      const n = noted.ignored[0]!;
      const ids = Object.entries(n.context ?? {})
        .filter(([, v]) => typeof v === 'string' || typeof v === 'number')
        .slice(0, 3)
        .map(([k, v]) => `${k}=${show(v)}`);
      return { kind: 'ignored', reason: `${n.fn}: ${n.reason}${ids.length ? ` (${ids.join(', ')})` : ''}; nothing was started or changed` };
    }
    const runs = touched.map((l) => `${l.dataset} snapshot_dt=${l.snapshotDt} run ${l.runId} ${l.status}`);
    const then = followed.length ? `; then ${[...new Set(followed)].map((t) => `${followed.filter((x) => x === t).length}× ${t}`).join(', ')}` : '';
    return { kind: 'handled', summary: `by ${by}${then}${runs.length ? `; ${runs.join('; ')}` : '; no pipeline run was touched'}` };
  } finally {
    rt.close();
  }
}

/** Every run ledger of every dataset, by `dataset/snapshotDt`, with its JSON to compare. */
async function ledgerSnapshot(rt: LocalRuntime, ledgers: ReturnType<typeof makeLedgerStore>): Promise<Map<string, { ledger: RunLedger; json: string }>> {
  const all = (await Promise.all(Object.keys(rt.deps.config.datasets).map((d) => ledgers.list(d).catch(() => [] as RunLedger[])))).flat();
  return new Map(all.map((l) => [`${l.dataset}/${l.snapshotDt}`, { ledger: l, json: JSON.stringify(l) }]));
}

async function listOutbox(rt: LocalRuntime): Promise<string[]> {
  return fs.readdir(path.join(rt.home, 'outbox')).catch(() => [] as string[]);
}

/** An alert e-mail's subject and its cause (or problem) line. */
async function readAlert(rt: LocalRuntime, file: string): Promise<{ subject: string; cause?: string }> {
  const text = await fs.readFile(path.join(rt.home, 'outbox', file), 'utf8').catch(() => '');
  const subject = /^Subject: (.*)$/m.exec(text)?.[1]?.trim() ?? file;
  const cause = /^(?:Cause|Problem):\s*(.*)$/m.exec(text)?.[1]?.trim();
  return { subject, cause };
}

async function count(rt: LocalRuntime, name: string): Promise<string> {
  try {
    const { rows } = await rt.query(`SELECT count(*) AS n FROM "${rt.deps.config.database}"."${name}"`, { refreshViews: false });
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
    print(
      table(
        ['table', 'status', 'rows', 'files', 'steps'],
        Object.entries(l.tables).map(([n, t]) => [n, t.status, fmt(t.rows), fmt(t.files), t.steps.map((s) => `${s.label}:${s.status}`).join(' ')]),
      ),
    );
    print('');
  }
}

/** `flywheel monitor`: one monitor run through the local bus; prints the alerts and where the reports are. */
export async function runMonitor(o: { home: string; verbose?: boolean; options: Record<string, unknown> }): Promise<number> {
  let rejected: Declined | undefined;
  const rt = await localRuntime({
    home: o.home,
    verbose: o.verbose,
    monitor: o.options,
    observer: { returned: (_e, fn, result) => (rejected ??= fn === 'dataMonitor' ? declinedIn(result).find((d) => d.declined === 'rejected') : undefined) },
  });
  try {
    const before = new Set(await listOutbox(rt));
    rt.bus.invoke('dataMonitor', { options: o.options });
    await rt.bus.drain();
    const done = rt.bus.published.find((e) => e['detail-type'] === 'Monitor Completed');
    if (!done) {
      // options refused (a bad value, an unknown option, one this deployment cannot honour): the reason and the alert name each and its fix
      if (rejected) {
        const alerts = (await listOutbox(rt)).filter((f) => !before.has(f)).map((f) => path.join(rt.home, 'outbox', f));
        process.stderr.write(`flywheel monitor: refused, nothing ran: ${rejected.reason}${alerts.length ? ` (alert in ${alerts.join(', ')})` : ''}\n`);
        return 2;
      }
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

/**
 * `flywheel consolidate`: the chargebacks function invoked directly, as an operator does in AWS (`aws lambda invoke`
 * with `{"partitionDate","dryRun"}`); its job runs on DuckDB. Prints the job's report; a day with no landing data,
 * a refused request or a failed job is exit 1.
 */
export async function runConsolidate(o: { home: string; date: string; files: number; codec: string; dryRun: boolean; verbose?: boolean }): Promise<number> {
  // the job's DATA QUALITY line (rows without a chargeback_id, kept) is printed before its METRICS line
  const progress = { jobLog: (_job: string, line: string) => (line.startsWith('DATA QUALITY:') ? out(line) : undefined) };
  const rt = await localRuntime({ home: o.home, verbose: o.verbose, progress, chargebacks: { outputFileCount: o.files, codec: o.codec } });
  try {
    rt.bus.invoke('chargebacks', { partitionDate: o.date, dryRun: o.dryRun });
    await rt.bus.drain();
    const end = rt.bus.published.find((e) => e['detail-type'] === 'Glue Job State Change' && e.detail?.jobName === LOCAL_CHARGEBACKS_JOB);
    if (!end) {
      const alerts = await listOutbox(rt);
      const cause = alerts.length ? (await readAlert(rt, alerts[alerts.length - 1]!)).cause : undefined;
      process.stderr.write(`consolidation failed: the request was refused${cause ? `: ${cause}` : ''} (see ${path.join(rt.home, 'outbox')})\n`);
      return 1;
    }
    const { state, message = '' } = end.detail as { state: string; message?: string };
    if (state !== 'SUCCEEDED') {
      process.stderr.write(`consolidation failed: ${message}\n`);
      return 1;
    }
    for (const line of message.split('\n')) out(line);
    const day = path.join(rt.home, 'lake', rt.deps.config.dataBucket, CONSOLIDATED_PREFIX, dayPartition(o.date));
    if (/^METRICS: records_processed=[1-9]/m.test(message)) out(`${o.dryRun ? 'would write' : 'wrote'} ${day}`);
    if (/^NOTHING TO CONSOLIDATE/m.test(message)) {
      process.stderr.write(
        `consolidation failed: no chargebacks landed for ${o.date}; land the day's files under ${landingDayFolders(o.date)
          .map((f) => path.join(rt.home, 'lake', rt.deps.config.dataBucket, LANDING_PREFIX, f))
          .join(' or ')} first\n`,
      );
      return 1;
    }
    return 0;
  } finally {
    rt.close();
  }
}

/** `flywheel replay`: a Replay Requested event through the local bus; prints the aws command, the plan, then runs it. */
export async function runReplay(o: {
  home: string;
  dataset: string;
  snapshotDt: string;
  fromStage?: StageName;
  tables?: string[];
  dryRun: boolean;
  reason: string;
  bus: string;
  verbose?: boolean;
}): Promise<number> {
  const detail = {
    dataset: o.dataset,
    snapshotDt: o.snapshotDt,
    ...(o.fromStage ? { fromStage: o.fromStage } : {}),
    ...(o.tables ? { tables: o.tables } : {}),
    ...(o.dryRun ? { dryRun: true } : {}),
    reason: o.reason,
  };
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
