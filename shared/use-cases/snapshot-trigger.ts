/**
 * snapshot-trigger: a ready marker landed (or a schedule / the CLI asked) → plan the split and start the job.
 * 1. Resolve snapshot_dt: the event's, the one asked for, or the latest valid one (junk folders reported, never chosen).
 * 2. Check the ready marker, and refuse a snapshot older than the live one unless explicitly re-run.
 * 3. Read the mapping CSV and each source table's parquet footers; plan the split (bad tables skipped with a reason).
 * 4. Create the run ledger with a conditional write: a duplicate event stops here and starts nothing.
 * 5. Write the plan, start the split job, record its run id; alert for every skipped table.
 */
import { ignore, type Declined } from '../events/declined.js';
import { storeGrant, union, type Grant } from '../domain/access.js';
import { s3Uri, type DatasetConfig, type PipelineConfig } from '../domain/config.js';
import { PipelineError } from '../domain/errors.js';
import { newLedger, newRunId, setStage } from '../domain/ledger.js';
import { parseMapping, type Mapping } from '../domain/mapping.js';
import { planSplit, totalColumnBytes, type SourceTable } from '../domain/plan-split.js';
import { discoverSnapshots, isValidSnapshotDt } from '../domain/snapshot.js';
import type { SplitPlan } from '../domain/split-plan.js';
import type { DepsOf } from '../deps.js';
import type { ObjectInfo } from '../ports.js';
import { alertFailure, alertInvalidEvent, alertsReach, type AlertDeps } from './alerts.js';
import { indexReach, ledgerReach, makeLedgerStore } from './ledger-store.js';
import { mapLimit } from '../domain/map-limit.js';

export interface StartRunInput {
  dataset: string;
  /** Given by the event or the operator; discovered when absent. */
  snapshotDt?: string;
  tablesFilter?: string[];
  trigger: { kind: 'event' | 'schedule' | 'cli' | 'replay'; eventId?: string; replayName?: string };
  /** A deliberate re-run: replaces a finished ledger of the same snapshot and allows older snapshots. */
  rerun?: boolean;
}

export type StartRunResult =
  | { outcome: 'started'; snapshotDt: string; runId: string; jobRunId: string; plan: SplitPlan; junk: string[] }
  /** A run of the snapshot exists (a duplicate delivery, or another trigger won the race): nothing started. */
  | ({ outcome: 'duplicate'; snapshotDt: string; runId: string } & Declined)
  /** Failed and alerted; `declined` when the request itself was invalid (an unknown dataset). */
  | ({ outcome: 'failed'; snapshotDt?: string; error: PipelineError; junk: string[] } & Partial<Declined>);

const decoder = new TextDecoder();

/** Per dataset: its snapshots (listing, ready marker, parquet footers), the live snapshot, the mapping, its split job; the ledger, plan and job index. */
export function startSnapshotRunReach(config: PipelineConfig): Grant[] {
  const bucket = config.dataBucket;
  return union(
    Object.values(config.datasets).flatMap((d): Grant[] => [
      storeGrant(['list', 'head', 'getRange'], bucket, d.rawPrefix),
      storeGrant(['get'], bucket, `${d.bucketedPrefix}metadata/snapshot_dt.txt`),
      ...(d.mappingKey ? [storeGrant(['get'], bucket, d.mappingKey)] : []),
      { port: 'jobs', methods: ['startSplitJob'], jobs: [d.name] },
    ]),
    ledgerReach(config),
    [indexReach(config, 'glue', ['put'])],
    alertsReach(),
  );
}

/**
 * A dataset's table names: the mapping CSV's targets, the invalid ones included (a run reports those), or the one
 * table of a dataset without a mapping; undefined when the mapping cannot be read (the run then fails on it, with
 * its own alert). Used to check a tables filter before anything starts.
 */
export async function datasetTables(deps: DepsOf<'config' | 'store'>, ds: DatasetConfig): Promise<string[] | undefined> {
  if (!ds.mappingKey) return ds.singleTable ? [ds.singleTable] : undefined;
  const csv = await deps.store.get(deps.config.dataBucket, ds.mappingKey).catch(() => undefined);
  if (!csv) return undefined;
  try {
    const mapping = parseMapping(decoder.decode(csv.body), { key: ds.mappingKey });
    return [...mapping.targets.map((t) => t.target), ...mapping.invalid.map((i) => i.target)];
  } catch {
    return undefined;
  }
}

/**
 * The datasets a tables filter concerns: those whose tables (datasetTables) include one of `tables`.
 * `flywheel run --tables …` without `--dataset` starts only these, so a filter meant for one dataset never fails,
 * and alerts about, another. A dataset whose mapping cannot be read is kept: its run reports why.
 */
export async function datasetsWithTables(deps: DepsOf<'config' | 'store'>, tables: string[]): Promise<string[]> {
  const wanted = new Set(tables.map((t) => t.toLowerCase()));
  const owners: string[] = [];
  for (const ds of Object.values(deps.config.datasets)) {
    const targets = await datasetTables(deps, ds);
    if (!targets || targets.some((t) => wanted.has(t))) owners.push(ds.name);
  }
  return owners;
}

export type StartSnapshotRunDeps = DepsOf<'config' | 'store' | 'clock' | 'logger' | 'jobs' | 'readFooter'> & AlertDeps;

export function makeStartSnapshotRun(deps: StartSnapshotRunDeps) {
  const { config, store, clock, logger } = deps;
  const ledgers = makeLedgerStore(store, config, clock);
  const bucket = config.dataBucket;
  const duplicate = (snapshotDt: string, runId: string, reason: string): StartRunResult => ({
    outcome: 'duplicate',
    snapshotDt,
    runId,
    ...ignore(logger, 'info', `duplicate trigger: ${reason}; ignored`, { existing_run: runId }),
  });

  return async function startSnapshotRun(input: StartRunInput): Promise<StartRunResult> {
    const ds = config.datasets[input.dataset];
    if (!ds) {
      // an operator's mistake (direct invocation, CLI): alerted and answered, never thrown (an async invocation would retry it)
      const error = new PipelineError(`dataset: unknown dataset ${input.dataset} (known: ${Object.keys(config.datasets).join(', ')})`, {
        stage: 'snapshot-trigger',
        fix: `use one of ${Object.keys(config.datasets).join(', ')}`,
      });
      return { outcome: 'failed', snapshotDt: input.snapshotDt, error, junk: [], ...(await alertInvalidEvent(deps, 'snapshot-trigger', error.message, input)) };
    }
    let junk: string[] = [];
    let snapshotDt = input.snapshotDt;
    try {
      // 1. resolve snapshot_dt
      const listing = await store.list(bucket, ds.rawPrefix, { delimiter: '/' });
      const found = discoverSnapshots(listing.prefixes.map((p) => p.slice(ds.rawPrefix.length)));
      junk = [...found.junk, ...listing.objects.map((o) => o.key.slice(ds.rawPrefix.length))];
      if (junk.length > 0) logger.warn('ignoring entries under raw_input/ that are not valid snapshots', { junk });
      if (snapshotDt === undefined) {
        snapshotDt = found.latest;
        if (!snapshotDt) {
          throw new PipelineError(`no valid snapshot_dt=YYYY-MM-DD folder under s3://${bucket}/${ds.rawPrefix}`, {
            stage: 'snapshot-trigger',
            fix: `upload the snapshot under ${ds.rawPrefix}snapshot_dt=YYYY-MM-DD/ with its ${ds.readyMarker} marker`,
          });
        }
      } else if (!isValidSnapshotDt(snapshotDt)) {
        throw new PipelineError(`snapshot_dt=${snapshotDt} is not a real YYYY-MM-DD date`, {
          stage: 'snapshot-trigger',
          fix: 'name the folder snapshot_dt=YYYY-MM-DD',
        });
      }
      const snap = snapshotDt;
      logger.appendKeys({ dataset: ds.name, snapshot_dt: snap, stage: 'snapshot-trigger' });

      // 2. ready marker and ordering
      const snapPrefix = `${ds.rawPrefix}snapshot_dt=${snap}/`;
      if (!(await store.head(bucket, snapPrefix + ds.readyMarker))) {
        throw new PipelineError(`ready marker ${ds.readyMarker} missing for snapshot_dt=${snap}`, {
          snapshotDt: snap,
          stage: 'snapshot-trigger',
          fix: `upload s3://${bucket}/${snapPrefix}${ds.readyMarker} once every table of the snapshot is complete`,
        });
      }
      const live = await liveSnapshot(ds);
      if (live && snap < live && !input.rerun) {
        throw new PipelineError(`snapshot_dt=${snap} is older than the live snapshot ${live}; refused`, {
          snapshotDt: snap,
          stage: 'snapshot-trigger',
          fix: `replay it explicitly if you mean to roll back: ${deps.replayCommand({ dataset: ds.name, snapshotDt: snap, fromStage: 'split-and-bucket' })}`,
        });
      }

      // a duplicate delivery stops before any work (the conditional create below settles races)
      const existing = await ledgers.load(ds.name, snap);
      if (existing && (!input.rerun || existing.ledger.status === 'RUNNING')) {
        const old = existing.ledger;
        const reason = old.status === 'RUNNING' ? `run ${old.runId} is still in flight` : `run ${old.runId} already exists (status ${old.status})`;
        return duplicate(snap, old.runId, reason);
      }

      // 3. mapping and sources → plan
      const now = clock.now();
      const runId = newRunId(now);
      logger.appendKeys({ run_id: runId });
      const sources = await inspectSources(snapPrefix, ds.readyMarker, ds.singleTable);
      const mapping = ds.mappingKey ? await readMapping(ds.mappingKey, snap) : wholeTable(ds.singleTable!, sources);
      const runFolder = `${ds.runsPrefix}snapshot_dt=${snap}/run_id=${runId}/`;
      const plan = planSplit({
        dataset: ds.name,
        snapshotDt: snap,
        runId,
        mapping,
        sources,
        keyColumn: config.keyColumn,
        bucketCount: config.bucketCount,
        targetFileBytes: config.targetFileBytes,
        outputUri: (t) => s3Uri(bucket, `${ds.splitPrefix}${t}/snapshot_dt=${snap}/run_id=${runId}/`),
        metadataUri: s3Uri(bucket, `${ds.splitPrefix}metadata/snapshot_dt.txt`),
        tablesFilter: input.tablesFilter,
      });
      if (plan.tables.length === 0) {
        const reasons = plan.skipped.map((s) => `${s.target ?? s.source}: ${s.reason}`).join('; ');
        throw new PipelineError(`no table of snapshot_dt=${snap} can be built (${reasons || 'the mapping selects none'})`, {
          snapshotDt: snap,
          stage: 'snapshot-trigger',
          fix: plan.skipped[0]?.fix ?? 'check the mapping CSV and --tables',
        });
      }

      // 4. ledger (exactly once)
      const ledger = newLedger({ dataset: ds.name, snapshotDt: snap, runId, trigger: input.trigger, junk, now });
      ledger.planUri = s3Uri(bucket, `${runFolder}plan.json`);
      ledger.skipped = plan.skipped;
      ledger.droppedColumns = plan.droppedColumns;
      for (const t of plan.tables) ledger.tables[t.target] = { status: 'PENDING', steps: [] };
      setStage(ledger, 'snapshot-trigger', 'SUCCEEDED', now);
      setStage(ledger, 'split-and-bucket', 'RUNNING', now);
      if (existing) {
        const { ledger: old, etag } = existing;
        ledger.history = [...old.history, { runId: old.runId, status: old.status, createdAt: old.createdAt }];
        if (!(await ledgers.replace(ledger, etag))) return duplicate(snap, old.runId, 'another re-run started first');
      } else if (!(await ledgers.create(ledger))) {
        const other = await ledgers.load(ds.name, snap);
        return duplicate(snap, other?.ledger.runId ?? '?', 'the run ledger already exists');
      }

      // 5. plan, job, alerts
      await store.put(bucket, `${runFolder}plan.json`, JSON.stringify(plan, null, 2));
      const { jobName, jobRunId } = await deps.jobs.startSplitJob({
        dataset: ds.name,
        snapshotDt: snap,
        runId,
        planUri: ledger.planUri,
        tablesFilter: input.tablesFilter,
      });
      await ledgers.index('glue', jobRunId, { dataset: ds.name, snapshotDt: snap, runId });
      await ledgers.update({ dataset: ds.name, snapshotDt: snap, runId }, (l) => {
        Object.assign(l.stages['split-and-bucket'], { jobName, jobRunId });
        return true;
      });
      logger.info('split job started', { job_run_id: jobRunId, tables: plan.tables.map((t) => t.target), skipped: plan.skipped, junk });
      for (const s of plan.skipped) {
        await alertFailure(deps, { dataset: ds.name, snapshotDt: snap, runId, stage: 'snapshot-trigger', table: s.target, cause: s.reason, fix: s.fix });
      }
      return { outcome: 'started', snapshotDt: snap, runId, jobRunId, plan, junk };
    } catch (err) {
      const error = err instanceof PipelineError ? err : new PipelineError((err as Error).message, { snapshotDt, stage: 'snapshot-trigger', cause: err });
      await alertFailure(deps, {
        dataset: ds.name,
        snapshotDt: error.details.snapshotDt ?? snapshotDt ?? 'unknown',
        stage: 'snapshot-trigger',
        cause: error.message,
        fix: error.details.fix,
      });
      return { outcome: 'failed', snapshotDt, error, junk };
    }
  };

  /** The snapshot the live tables serve, from metadata/snapshot_dt.txt under the bucketed base. */
  async function liveSnapshot(ds: DatasetConfig): Promise<string | undefined> {
    const got = await store.get(bucket, `${ds.bucketedPrefix}metadata/snapshot_dt.txt`);
    const value = got && decoder.decode(got.body).trim();
    return value && isValidSnapshotDt(value) ? value : undefined;
  }

  async function readMapping(mappingKey: string, snap: string): Promise<Mapping> {
    const mappingObject = await store.get(bucket, mappingKey);
    if (!mappingObject) {
      throw new PipelineError(`mapping CSV s3://${bucket}/${mappingKey} is missing`, {
        snapshotDt: snap,
        stage: 'snapshot-trigger',
        fix: 'upload the column-mapping CSV',
      });
    }
    return parseMapping(decoder.decode(mappingObject.body), { snapshotDt: snap, key: mappingKey });
  }

  /** A dataset without a mapping: its one table, every column carried under its lower-cased name. */
  function wholeTable(table: string, sources: SourceTable[]): Mapping {
    const columns = sources.find((x) => x.name === table)?.columns ?? [];
    return { targets: [{ target: table, source: table, columns: columns.map((c) => ({ source: c.name, target: c.name.toLowerCase() })) }], invalid: [] };
  }

  /**
   * Lists the snapshot's table folders and reads every parquet footer (schema drift and non-parquet
   * files are problems of that table). With `singleTable`, the files directly under the snapshot are that table.
   */
  async function inspectSources(snapPrefix: string, marker: string, singleTable?: string): Promise<SourceTable[]> {
    const { objects } = await store.list(bucket, snapPrefix);
    const byTable = new Map<string, ObjectInfo[]>();
    for (const o of objects) {
      const rest = o.key.slice(snapPrefix.length);
      const slash = rest.indexOf('/');
      if (slash < 0 && (!singleTable || rest === marker)) continue; // files directly under snapshot_dt=D/ (the marker) belong to no table
      const table = slash < 0 ? singleTable! : rest.slice(0, slash);
      byTable.set(table, [...(byTable.get(table) ?? []), o]);
    }
    return Promise.all(
      [...byTable.entries()].map(async ([name, files]): Promise<SourceTable> => {
        const problems: SourceTable['problems'] = [];
        const hidden = (key: string) => /(^|\/)[_.][^/]*$/.test(key) || key.endsWith('/');
        const parquet = files.filter((f) => f.key.endsWith('.parquet') && f.size > 0);
        const strays = files.filter((f) => !parquet.includes(f) && !hidden(f.key) && !f.key.endsWith(`/${marker}`));
        if (strays.length > 0) {
          problems.push({
            reason: `non-parquet files ${strays
              .slice(0, 3)
              .map((s) => s.key.slice(snapPrefix.length))
              .join(', ')}${strays.length > 3 ? ` and ${strays.length - 3} more` : ''}`,
            fix: `remove them from ${snapPrefix}${name}/ or deliver them as parquet`,
          });
        }
        let columns: SourceTable['columns'];
        let rowCount = 0;
        const footers = await mapLimit(parquet, 8, (f) =>
          deps.readFooter(bucket, f.key, f.size).then(
            (x) => ({ f, x }),
            (e: Error) => ({ f, e }),
          ),
        );
        for (const r of footers) {
          if ('e' in r) {
            problems.push({ reason: `unreadable parquet file ${r.f.key.slice(snapPrefix.length)} (${r.e.message})`, fix: 're-deliver the file' });
            continue;
          }
          rowCount += r.x.rowCount;
          const sig = r.x.columns.map((c) => `${c.name.toLowerCase()}:${c.type}`).join(',');
          if (!columns) columns = r.x.columns;
          else if (sig !== columns.map((c) => `${c.name.toLowerCase()}:${c.type}`).join(',')) {
            problems.push({
              reason: `schema differs between files: ${r.f.key.slice(snapPrefix.length)} has (${sig}) but the first file has (${columns.map((c) => `${c.name}:${c.type}`).join(',')})`,
              fix: `re-deliver ${name} with one schema for every file`,
            });
            break;
          }
        }
        return {
          name,
          files: parquet.map((f) => ({ uri: s3Uri(bucket, f.key), size: f.size })),
          columns,
          rowCount,
          columnBytes: totalColumnBytes(footers.flatMap((r) => ('x' in r ? [r.x] : []))),
          problems,
        };
      }),
    );
  }
}
