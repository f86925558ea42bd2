/**
 * The local composition root (the embedded default): the filesystem as S3, DuckDB as catalog and
 * query engine, the DuckDB twin of the Glue job, an in-process bus routing with the deployed
 * patterns, and an outbox folder for e-mail. Never imported by a Lambda bundle.
 */
import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createWriteStream, mkdirSync } from 'node:fs';
import { Writable } from 'node:stream';
import { Console } from 'node:console';
import path from 'node:path';
import { makeBucketedTablesHandler } from '../../services/bucketed-tables/bucketed-tables.js';
import { makeRegisterStagedTablesHandler } from '../../services/register-staged-tables/register-staged-tables.js';
import { makeSnapshotTriggerHandler } from '../../services/snapshot-trigger/snapshot-trigger.js';
import { makeDataMonitorHandler } from '../../services/data-monitor/data-monitor.js';
import { makeReplayHandler } from '../../services/replay/replay.js';
import { makeCompactionHandler } from '../../services/compaction/compaction.js';
import { makeChargebacksHandler } from '../../services/chargebacks/chargebacks.js';
import { makeReconcilerHandler } from '../../services/reconciler/reconciler.js';
import { CONSOLIDATED_PREFIX, type ChargebacksParams } from '../domain/chargebacks.js';
import { defaultConfig, pipelineDatabases, s3Uri, type PipelineConfig } from '../domain/config.js';
import { routes, type FunctionName, type RouteParams } from '../events/patterns.js';
import { awsReplayCommand } from '../events/replay-command.js';
import type { Deps } from '../deps.js';
import type { ReplayArgs } from '../ports.js';
import { monitorOptionsOf } from '../use-cases/data-monitor/data-monitor.js';
import {
  functionDeps,
  LOCAL_CHARGEBACKS_JOB,
  LOCAL_COMPACTION_JOB,
  LOCAL_MONITOR_DEPLOYMENT,
  localConfigFromEnv,
  localJobName,
  localMonitorDefaults,
  LOCAL_MONITOR_WORKGROUP,
  LOCAL_WORKGROUP,
} from './local-functions.js';
import { readParquetFooter } from '../adapters/parquet-footer.js';
import { DuckDbCatalog, LocalDuckDb } from '../adapters/local/duckdb.js';
import { FsObjectStore } from '../adapters/local/fs-object-store.js';
import { LocalBus, type BusObserver } from '../adapters/local/local-bus.js';
import { LocalJobRunner, LocalQueryEngine, type SplitProgress } from '../adapters/local/local-engines.js';
import { OutboxNotifier } from '../adapters/local/outbox-notifier.js';
import type { Clock } from '../ports.js';
import { withJobFaults, withStepFaults, type LocalFaults } from './local-faults.js';

export {
  functionDeps,
  LOCAL_CHARGEBACKS_JOB,
  LOCAL_COMPACTION_JOB,
  localCleanroomsDefaults,
  localJobName,
  LOCAL_MONITOR_WORKGROUP,
  LOCAL_WORKGROUP,
} from './local-functions.js';

/** Locally the landing "table" is the folder LANDING_PREFIX of the data bucket, the output CONSOLIDATED_PREFIX (adapters/local/consolidate.ts). */
export const LOCAL_CHARGEBACKS: ChargebacksParams = {
  sourceDatabase: 'flywheel',
  sourceTable: 'chargebacks_landing',
  outputPath: s3Uri(defaultConfig().dataBucket, CONSOLIDATED_PREFIX),
  outputFileCount: 4,
  codec: 'snappy',
  totalExecutions: 4,
  partitionFilter: true,
};

export interface LocalOptions {
  home: string;
  observer?: BusObserver;
  progress?: SplitProgress;
  clock?: Clock;
  /** Echo the JSON logs to stderr as well as to `<home>/logs/flywheel.jsonl`. */
  verbose?: boolean;
  /** Fault injection (tests): fail the jobs or a build step with the returned message (composition/local-faults.ts). */
  faults?: LocalFaults;
  config?: Partial<PipelineConfig>;
  /** Monitor option overrides (CLI flags). */
  monitor?: Record<string, unknown>;
  /** Rows per DuckDB query that groups by the key (monitor scan, part_<t>_er ranges); tests set it low. */
  keyedRowsPerQuery?: number;
  /** Chargebacks job parameters over LOCAL_CHARGEBACKS (`flywheel consolidate --files/--codec`). */
  chargebacks?: Partial<ChargebacksParams>;
}

/**
 * What the CLI is given of a local runtime: the ports and config (`deps`), the local bus the functions are
 * attached to, and a SQL console over the catalog's tables. It reaches DuckDB only through these.
 */
export interface LocalRuntime {
  deps: Deps;
  bus: LocalBus;
  home: string;
  /** `flywheel query` and the run summary: SQL over the local catalog's tables (the database is on the search path). */
  query(sql: string, options?: { refreshViews?: boolean }): Promise<{ columns: string[]; rows: Record<string, unknown>[] }>;
  close(): void;
}

/** The runtime with its local adapters, for tests and benches that look at the engine itself. */
export interface LocalEngineRuntime extends LocalRuntime {
  db: LocalDuckDb;
  store: FsObjectStore;
  catalog: DuckDbCatalog;
}

/** Paths of a local home. */
export function homePaths(home: string) {
  return { lake: path.join(home, 'lake'), catalog: path.join(home, 'catalog.duckdb'), outbox: path.join(home, 'outbox'), logs: path.join(home, 'logs') };
}

/** The route parameters of the local stack: the names the local bus routes by (the CLI predicts routing with them too). */
export function localRouteParams(config: PipelineConfig): RouteParams {
  return {
    dataBucket: config.dataBucket,
    athenaWorkgroup: LOCAL_WORKGROUP,
    monitorWorkgroup: LOCAL_MONITOR_WORKGROUP,
    datasets: Object.values(config.datasets).map((d) => ({
      rawPrefix: d.rawPrefix,
      readyMarker: d.readyMarker,
      splitJobName: localJobName(d.name),
      compactionPrefix: d.compaction?.sourcePrefix,
    })),
    compactionJobName: LOCAL_COMPACTION_JOB,
    chargebacksJobName: LOCAL_CHARGEBACKS_JOB,
  };
}

/** Wires every local adapter and the real handlers onto the local bus. */
export async function localRuntime(options: LocalOptions): Promise<LocalEngineRuntime> {
  const home = path.resolve(options.home);
  const paths = homePaths(home);
  const clock = options.clock ?? { now: () => new Date() };
  // one query per part_ and part_<t>_er locally: the ≤100-partition steps exist for Athena's writer limit only
  // (the AWS composition keeps them; options.config.partitionsPerQuery brings them back, e.g. in tests of a failed range)
  const base = defaultConfig({ ...localConfigFromEnv(), ...options.config });
  const config = options.config?.partitionsPerQuery ? base : { ...base, partitionsPerQuery: base.bucketCount };
  const store = new FsObjectStore(paths.lake);
  const db = await LocalDuckDb.open(paths.catalog, paths.lake);
  const catalog = new DuckDbCatalog(db);
  const bus = new LocalBus(routes(localRouteParams(config)), clock, options.observer);
  const { logger, metrics } = localObservability(paths.logs, options.verbose ?? false);
  if (db.bucketForm.form === 'sql')
    logger.warn('id_bucket uses the SQL form of the bucket function (same buckets, 20–30× slower)', { reason: db.bucketForm.reason });
  const localEngine = new LocalQueryEngine(db, catalog, bus, LOCAL_WORKGROUP, options.keyedRowsPerQuery);
  await localEngine.recoverInterrupted();
  const engine = options.faults?.step ? withStepFaults(localEngine, bus, LOCAL_WORKGROUP, options.faults.step) : localEngine;
  const maintenanceJobNames = { compaction: LOCAL_COMPACTION_JOB, chargebacks: LOCAL_CHARGEBACKS_JOB };
  const localJobs = new LocalJobRunner(
    db,
    store,
    bus,
    Object.fromEntries(Object.keys(config.datasets).map((d) => [d, localJobName(d)])),
    {
      ...options.progress,
      // a job's log lines go to the local log (as a Glue job's go to CloudWatch), and to the CLI when it listens
      jobLog: (jobName, line) => {
        logger.info(line, { jobName });
        options.progress?.jobLog?.(jobName, line);
      },
    },
    maintenanceJobNames,
  );
  const jobs = options.faults?.job ? withJobFaults(localJobs, bus, options.faults.job, { split: localJobName, maintenance: maintenanceJobNames }) : localJobs;
  const deps: Deps = {
    config,
    store,
    catalog,
    engine,
    monitorEngine: new LocalQueryEngine(db, catalog, bus, LOCAL_MONITOR_WORKGROUP, options.keyedRowsPerQuery),
    monitorDefaults: { ...localMonitorDefaults(config), ...options.monitor },
    chargebacks: { ...LOCAL_CHARGEBACKS, ...options.chargebacks },
    jobs,
    bus,
    notifier: new OutboxNotifier(paths.outbox, clock),
    clock,
    logger,
    metrics,
    readFooter: (bucket, key, size) => readParquetFooter(store, bucket, key, size),
    replayCommand: (a) => localAlertReplayCommand(home, a),
    describeLocation: (uri) => localLocation(paths.lake, uri),
  };
  const as = (fn: FunctionName) => functionDeps(deps, fn);
  const monitorReachable = (d: Deps) => {
    try {
      monitorOptionsOf(d.monitorDefaults);
      return true;
    } catch {
      return false;
    }
  };
  bus.attach({
    snapshotTrigger: makeSnapshotTriggerHandler(as('snapshotTrigger')),
    registerStagedTables: makeRegisterStagedTablesHandler(as('registerStagedTables')),
    bucketedTables: makeBucketedTablesHandler(as('bucketedTables')),
    // flags the options refuse reach the handler, which alerts and runs nothing: its guard is then the plain local defaults'
    dataMonitor: makeDataMonitorHandler(
      functionDeps(deps, 'dataMonitor', monitorReachable(deps) ? {} : { monitorDefaults: localMonitorDefaults(config) }),
      LOCAL_MONITOR_DEPLOYMENT,
    ),
    replay: makeReplayHandler(as('replay')),
    compaction: makeCompactionHandler(as('compaction')),
    chargebacks: makeChargebacksHandler(as('chargebacks')),
    reconciler: makeReconcilerHandler(as('reconciler')),
    // the daily schedule's event (`flywheel event events/scheduled-event.cleanrooms-report.json`); imported when used
    cleanroomsReport: async (event) => (await import('./local-cleanrooms.js')).runCleanroomsReportLocal(runtime, { event, createSample: true }),
  });
  const query: LocalRuntime['query'] = async (sql, o = {}) => {
    const databases = pipelineDatabases(config);
    if (o.refreshViews !== false) for (const database of databases) await catalog.refreshViews(database);
    // unqualified names find the final tables first, then ext_ in a separate staged database
    await db.run(`SET search_path = '${[...databases, 'main'].join(',')}'`);
    const reader = await db.connection.runAndReadAll(sql);
    return { columns: reader.columnNames(), rows: reader.getRowObjectsJS() as Record<string, unknown>[] };
  };
  const runtime: LocalEngineRuntime = { deps, bus, db, store, catalog, home, query, close: () => db.connection.closeSync() };
  return runtime;
}

/**
 * Where an s3:// URI of the local lake is on disk (`<lake>/<bucket>/<key>`): relative to the working directory when
 * the home is under it (`.flywheel/lake/analysis/data-monitor/…`), else absolute. Anything else is returned as is.
 */
export function localLocation(lake: string, uri: string): string {
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!m) return uri;
  const file = path.join(lake, m[1]!, ...m[2]!.split('/'));
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** The CLI command that replays a stage locally. */
export function localReplayCommand(home: string, a: ReplayArgs): string {
  const rel = path.relative(process.cwd(), home) || '.';
  return [
    'npx flywheel replay',
    rel === '.flywheel' ? undefined : `--home ${rel}`,
    a.dataset === 'infobase' ? undefined : `--dataset ${a.dataset}`,
    `--snapshot ${a.snapshotDt}`,
    `--from-stage ${a.fromStage}`,
    a.tables?.length ? `--tables ${a.tables.join(',')}` : undefined,
  ]
    .filter(Boolean)
    .join(' ');
}

/** Both replay commands for a local alert: the CLI's, and the `aws events put-events` an operator sends in AWS. */
export function localAlertReplayCommand(home: string, a: ReplayArgs): string {
  return `${localReplayCommand(home, a)}\n  In AWS: ${awsReplayCommand('flywheel-<stage>', a)}`;
}

/** Powertools logger and metrics writing JSON lines (logs, EMF) to `<home>/logs/flywheel.jsonl` (and stderr when verbose). */
function localObservability(dir: string, verbose: boolean): { logger: Logger; metrics: Metrics } {
  mkdirSync(dir, { recursive: true });
  const file = createWriteStream(path.join(dir, 'flywheel.jsonl'), { flags: 'a' });
  const sink = verbose ? new Writable({ write: (chunk, _enc, done) => (process.stderr.write(chunk), file.write(chunk, done)) }) : file;
  const logger = new SinkLogger(sink, { serviceName: 'flywheel', logLevel: 'INFO', persistentKeys: { mode: 'local' } });
  // the metrics' own warnings go to the same file, through their public `logger` option
  const metrics = new SinkMetrics(sink, { namespace: 'Flywheel', serviceName: 'flywheel', logger: new Console({ stdout: sink, stderr: sink }) });
  return { logger, metrics };
}

type LoggerOptions = NonNullable<ConstructorParameters<typeof Logger>[0]>;
type MetricsOptions = NonNullable<ConstructorParameters<typeof Metrics>[0]>;

/** A Powertools Logger printing its JSON lines to a stream instead of stdout (printLog and createLogger are its extension points). */
class SinkLogger extends Logger {
  constructor(
    private readonly sink: NodeJS.WritableStream,
    options?: LoggerOptions,
  ) {
    super(options);
  }

  protected override printLog(_logLevel: number, log: LogItem): void {
    log.prepareForPrint();
    this.sink.write(`${JSON.stringify(log.getAttributes(), this.getJsonReplacer())}\n`);
  }

  protected override createLogger(options?: LoggerOptions): Logger {
    return new SinkLogger(this.sink, options);
  }
}

/** Powertools Metrics writing each EMF document to a stream instead of stdout (through its public API only). */
class SinkMetrics extends Metrics {
  constructor(
    private readonly sink: NodeJS.WritableStream,
    options?: MetricsOptions,
  ) {
    super(options);
  }

  override publishStoredMetrics(): this {
    try {
      if (this.hasStoredMetrics() && !this.isDisabled()) this.sink.write(`${JSON.stringify(this.serializeMetrics())}\n`);
    } finally {
      this.clearMetrics();
      this.clearDimensions();
      this.clearMetadata();
    }
    return this;
  }
}
