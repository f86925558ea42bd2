/**
 * The local twins of Glue and Athena: the split job executes the same plan as
 * glue-scripts/split_and_bucket.py, and each build step runs as one DuckDB COPY. Both finish by
 * putting the AWS-shaped state-change event on the local bus, as Glue and Athena do in AWS.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { rangeSelectSql, type BuildStep } from '../../domain/build-steps.js';
import { mergeScanRows, scanBounds, scanSql, type MonitorQuery } from '../../domain/monitor/queries.js';
import { parseS3Uri } from '../../domain/config.js';
import { evenRanges, rowShares } from '../../domain/sizing.js';
import type { SplitPlan, SplitTablePlan } from '../../domain/split-plan.js';
import { identifier, literal } from '../../domain/sql-identifiers.js';
import type { EngineQuery, JobRunner, JobState, MaintenanceJob, ObjectStore, QueryEngine, QueryState, SplitJobArgs } from '../../ports.js';
import { assertCodec, type CompactionGroup } from '../../domain/compaction.js';
import { advanceSnapshotMarker } from '../../use-cases/snapshot-marker.js';
import { compactLanding } from './compaction.js';
import { consolidateDay } from './consolidate.js';
import type { FsObjectStore } from './fs-object-store.js';
import type { DuckDbCatalog, LocalDuckDb } from './duckdb.js';
import type { LocalBus } from './local-bus.js';

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

export interface SplitProgress {
  table?(plan: SplitTablePlan, result: { rows: number; files: number; nullKeys: number; ms: number }): void;
  /** One folder of a raw landing compacted. */
  compacted?(folder: string, result: CompactionGroup & { rowsIn: number; rowsOut: number; files: string[] }): void;
  /** One line of a maintenance job's log, as the Glue job prints it to CloudWatch (the chargebacks' DATA QUALITY and METRICS lines). */
  jobLog?(jobName: string, line: string): void;
}

/** The DuckDB twin of split_and_bucket.py: executes a split plan, writes result.json and the metadata file. */
export async function runSplitPlan(db: LocalDuckDb, store: ObjectStore, planUri: string, tablesFilter?: string[], progress: SplitProgress = {}): Promise<void> {
  const { bucket, key } = parseS3Uri(planUri);
  const raw = await store.get(bucket, key);
  if (!raw) throw new Error(`plan ${planUri} is missing`);
  const plan = JSON.parse(new TextDecoder().decode(raw.body)) as SplitPlan;
  const tables = tablesFilter ? plan.tables.filter((t) => tablesFilter.includes(t.target)) : plan.tables;
  const result: Record<string, { rows: number; files: number; nullKeys: number }> = {};
  for (const t of tables) {
    const started = Date.now();
    const out = db.localPath(t.outputUri);
    const existing = await fs.readdir(out).catch(() => [] as string[]);
    if (existing.length > 0) throw new Error(`table ${t.target}: output folder ${t.outputUri} is not empty`);
    await fs.mkdir(out, { recursive: true });
    const columns = `${t.columns.map((c) => `${q(c.source)} AS ${q(identifier(c.target))}`).join(', ')}, ${db.bucketSql(q(t.keySourceColumn), plan.bucketCount)}::INTEGER AS id_bucket`;
    let rows = 0;
    try {
      rows = await writeRowShareFiles(
        db,
        t.sourceFiles.map((f) => db.localPath(f)),
        columns,
        out,
        t.fileCount,
      );
    } catch (err) {
      throw new Error(`table ${t.target}: ${(err as Error).message}`);
    }
    // NULL keys are kept (bucket 0) and reported; counted from the output's footers-backed scan of one column
    const nulls = await db.all(`SELECT count(*) AS n FROM read_parquet(${literal(path.join(out, '*.parquet'))}) WHERE ${q(plan.keyColumn)} IS NULL`);
    const nullKeys = Number(nulls[0]?.n ?? 0);
    result[t.target] = { rows, files: t.fileCount, nullKeys };
    progress.table?.(t, { rows, files: t.fileCount, nullKeys, ms: Date.now() - started });
  }
  await store.put(bucket, key.replace(/plan\.json$/, 'result.json'), JSON.stringify({ tables: result }, null, 2));
  const meta = parseS3Uri(plan.metadataUri);
  await advanceSnapshotMarker(store, meta.bucket, meta.key, plan.snapshotDt);
}

/**
 * Rows per row group of the split's output: half DuckDB's default (122,880). DuckDB buffers a row group
 * per thread before it writes it, so this halves that buffer (at 40 columns), for ~1–2% larger files.
 * The split's output is the local bucketed stage's input only.
 */
const SPLIT_ROW_GROUP_ROWS = 61_440;

/**
 * Writes a table's `fileCount` output files, file i from the i-th share of the source rows (rowShares:
 * whole source files, and row ranges of others read by file_row_number, which DuckDB prunes to the row
 * groups it needs), each in one streaming COPY: every row's id_bucket computed once, no sort, no row
 * read twice. Each file holds every id_bucket. A partitioned COPY that gives each file a contiguous
 * bucket range (as the Spark job's hash-partitioned ranges do) costs ~20% more CPU per row, copying every
 * row into per-file buffers, and the local bucketed stage reads either layout at the same speed
 * (bench/: 20.2 s vs 19.1–20.0 s for one 16M-row table's part_ steps). Returns the rows written.
 */
async function writeRowShareFiles(db: LocalDuckDb, sources: string[], columns: string, out: string, fileCount: number): Promise<number> {
  const list = (files: string[]) => `[${files.map(literal).join(', ')}]`;
  const counts = await db.all(`SELECT file_name, num_rows FROM parquet_file_metadata(${list(sources)})`);
  const rowsOf = new Map(counts.map((r) => [String(r.file_name), Number(r.num_rows)]));
  const rowCounts = sources.map((f) => {
    const n = rowsOf.get(f);
    if (n === undefined) throw new Error(`no parquet footer row count for ${f}`);
    return n;
  });
  let rows = 0;
  for (const [i, pieces] of rowShares(rowCounts, fileCount).entries()) {
    const whole = pieces.filter((p) => p.from === 0 && p.to === rowCounts[p.file]);
    const parts = [
      ...(whole.length > 0 ? [`SELECT ${columns} FROM read_parquet(${list(whole.map((p) => sources[p.file]!))})`] : []),
      ...pieces
        .filter((p) => !whole.includes(p))
        .map(
          (p) =>
            `SELECT ${columns} FROM read_parquet(${literal(sources[p.file]!)}, file_row_number = true) WHERE file_row_number >= ${p.from} AND file_row_number < ${p.to}`,
        ),
    ];
    // a share without rows still gets its file, with the schema
    const select = parts.length > 0 ? parts.join(' UNION ALL ') : `SELECT ${columns} FROM read_parquet(${list(sources)}) LIMIT 0`;
    const file = path.join(out, `part-${String(i).padStart(5, '0')}.snappy.parquet`);
    const written = await db.all(`COPY (${select}) TO ${literal(file)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${SPLIT_ROW_GROUP_ROWS})`);
    rows += Number(Object.values(written[0] ?? {})[0] ?? 0);
  }
  return rows;
}

/** A new job run id, shaped as Glue's. */
export const newJobRunId = () => `jr_${randomUUID().replace(/-/g, '')}`;

/** Delivers the Glue Job State Change that ends a local job run (as Glue announces one). */
export function deliverJobEnd(bus: LocalBus, e: { jobName: string; jobRunId: string; state: JobState; message: string }): void {
  bus.deliver(
    bus.envelope('aws.glue', 'Glue Job State Change', {
      jobName: e.jobName,
      severity: e.state === 'SUCCEEDED' ? 'INFO' : 'ERROR',
      state: e.state,
      jobRunId: e.jobRunId,
      message: e.message,
    }),
  );
}

/** Delivers the Athena Query State Change that ends a local query (as Athena announces one). */
export function deliverQueryEnd(bus: LocalBus, queryExecutionId: string, state: QueryState, workgroupName: string): void {
  bus.deliver(
    bus.envelope('aws.athena', 'Athena Query State Change', {
      currentState: state,
      previousState: 'RUNNING',
      queryExecutionId,
      sequenceNumber: '3',
      statementType: 'DML',
      versionId: '0',
      workgroupName,
    }),
  );
}

/** Starts the split twin on the bus's queue and reports a Glue Job State Change when it ends. */
export class LocalJobRunner implements JobRunner {
  private readonly runs = new Map<string, { state: JobState; reason?: string }>();

  constructor(
    private readonly db: LocalDuckDb,
    private readonly store: FsObjectStore,
    private readonly bus: LocalBus,
    /** Job name per dataset, as the Glue job names in AWS. */
    private readonly jobNames: Record<string, string>,
    private readonly progress: SplitProgress = {},
    /** Job names of the maintenance jobs (compaction, chargebacks), as in AWS. */
    private readonly maintenanceJobNames: Partial<Record<MaintenanceJob, string>> = {},
  ) {}

  /**
   * The DuckDB twins of the compaction and chargebacks Glue jobs, from the same arguments. As in AWS,
   * the compaction's ready marker lands as an S3 Object Created event (which starts the pipeline), and
   * every run ends with a Glue Job State Change.
   */
  async startJob(job: MaintenanceJob, args: Record<string, string>): Promise<{ jobName: string; jobRunId: string }> {
    const jobName = this.maintenanceJobNames[job];
    if (!jobName) throw new Error(`no local job for ${job}`);
    const jobRunId = newJobRunId();
    this.runs.set(jobRunId, { state: 'RUNNING' });
    this.bus.defer(async () => {
      let state: JobState = 'SUCCEEDED';
      let message = 'Job run succeeded';
      try {
        if (job === 'compaction') {
          const r = await compactLanding(this.db, this.store, {
            sourceUri: need(args, 'SOURCE_PATH'),
            outputUri: need(args, 'OUTPUT_PATH'),
            readyMarker: need(args, 'READY_MARKER'),
            targetFileBytes: Number(need(args, 'TARGET_FILE_MB')) * 1024 * 1024,
            codec: assertCodec(need(args, 'COMPRESSION_CODEC')),
          });
          for (const g of r.groups) this.progress.compacted?.(args.SOURCE_PATH + g.folder, g);
          const bucket = parseS3Uri(need(args, 'OUTPUT_PATH')).bucket;
          this.bus.deliver(this.bus.envelope('aws.s3', 'Object Created', s3ObjectCreatedDetail(bucket, r.markerKey)));
        } else {
          const r = await consolidateDay(this.db, this.db.lakeDir, {
            date: need(args, 'PARTITION_DATE'),
            fileCount: Number(need(args, 'OUTPUT_FILE_COUNT')),
            codec: need(args, 'COMPRESSION_CODEC'),
            dryRun: args.DRY_RUN === 'true',
          });
          for (const line of r.log) this.progress.jobLog?.(jobName, line);
          message = r.metrics;
        }
      } catch (err) {
        state = 'FAILED';
        message = (err as Error).message;
      }
      this.runs.set(jobRunId, { state, reason: state === 'SUCCEEDED' ? undefined : message });
      deliverJobEnd(this.bus, { jobName, jobRunId, state, message });
    });
    return { jobName, jobRunId };
  }

  async startSplitJob(args: SplitJobArgs): Promise<{ jobName: string; jobRunId: string }> {
    const jobName = this.jobNames[args.dataset];
    if (!jobName) throw new Error(`no local job for dataset ${args.dataset}`);
    const jobRunId = newJobRunId();
    this.runs.set(jobRunId, { state: 'RUNNING' });
    this.bus.defer(async () => {
      let state: JobState = 'SUCCEEDED';
      let message: string | undefined;
      try {
        await runSplitPlan(this.db, this.store, args.planUri, args.tablesFilter, this.progress);
      } catch (err) {
        state = 'FAILED';
        message = (err as Error).message;
      }
      this.runs.set(jobRunId, { state, reason: message });
      deliverJobEnd(this.bus, { jobName, jobRunId, state, message: message ?? 'Job run succeeded' });
    });
    return { jobName, jobRunId };
  }

  /** Job runs started by this runner (tests count them). */
  get startedRuns(): number {
    return this.runs.size;
  }

  async jobRunState(_jobName: string, jobRunId: string): Promise<{ state: JobState; reason?: string }> {
    return this.runs.get(jobRunId) ?? { state: 'ERROR', reason: `unknown job run ${jobRunId}` };
  }
}

/**
 * Rows per local query that groups by the key (the monitor scan, a part_<t>_er range): its hash table
 * holds about an entry per row, so a query over 2M rows stays near 0.5 GB RSS where one over a whole
 * 16M-row table took 1.3 GB (bench/). A key lives in one bucket, so bucket sub-ranges split no key.
 */
const KEYED_ROWS_PER_QUERY = 2_000_000;
/** Fewest parquet bytes a row takes (a bare, well-compressed key): below rows × this, a range holds fewer rows. */
const MIN_BYTES_PER_ROW = 4;

/**
 * Rows per row group of the part_ and part_<t>_er files. A partitioned COPY keeps a row group open per
 * id_bucket of its step (up to 100); at DuckDB's default (122,880 rows) a 16M-row table's buckets
 * (~62k rows each) never fill one, so the whole step is held until its end and spills: one 100-bucket
 * step at 16× took 12.9 s and 1.27 GB RSS; at 20,480 rows 6.8 s and 1.0 GB, for files 2% larger (bench/).
 */
const PART_ROW_GROUP_ROWS = 20_480;

/** Runs build steps and monitor queries in DuckDB and reports an Athena Query State Change when each ends. */
export class LocalQueryEngine implements QueryEngine {
  constructor(
    private readonly db: LocalDuckDb,
    private readonly catalog: DuckDbCatalog,
    private readonly bus: LocalBus,
    private readonly workgroup: string,
    /** Rows per query that groups by the key (tests set it low to exercise the sub-ranges). */
    private readonly keyedRowsPerQuery = KEYED_ROWS_PER_QUERY,
  ) {}

  /**
   * Queries a previous process left RUNNING never finish (the local engine runs in-process, unlike
   * Athena): they fail, so the reconciler and a replay can move on.
   */
  async recoverInterrupted(): Promise<number> {
    const rows = await this.db.all(
      `UPDATE flywheel_meta.queries SET state = 'FAILED', reason = 'the local engine stopped before the query finished', ended_at = now() WHERE state = 'RUNNING' RETURNING id`,
    );
    return rows.length;
  }

  async start(step: EngineQuery, token: string): Promise<string> {
    const known = await this.db.all('SELECT id FROM flywheel_meta.queries WHERE token = $token', { token });
    if (known[0]) return known[0].id as string; // idempotent like Athena's ClientRequestToken
    const id = randomUUID();
    await this.db.run(`INSERT INTO flywheel_meta.queries (id, token, state, started_at) VALUES ($id, $token, 'RUNNING', now())`, { id, token });
    this.bus.defer(async () => {
      let state: QueryState = 'SUCCEEDED';
      let reason: string | null = null;
      let result: string | null = null;
      try {
        if (step.kind === 'part-range') {
          await this.execute(step);
        } else {
          result = JSON.stringify(await this.monitorQuery(step));
        }
      } catch (err) {
        state = 'FAILED';
        reason = (err as Error).message;
      }
      await this.db.run('UPDATE flywheel_meta.queries SET state = $state, reason = $reason, result = $result, ended_at = now() WHERE id = $id', {
        id,
        state,
        reason,
        result,
      });
      deliverQueryEnd(this.bus, id, state, this.workgroup);
    });
    return id;
  }

  async status(queryExecutionId: string): Promise<{ state: QueryState; reason?: string }> {
    const rows = await this.db.all('SELECT state, reason FROM flywheel_meta.queries WHERE id = $id', { id: queryExecutionId });
    if (!rows[0]) return { state: 'FAILED', reason: `unknown query ${queryExecutionId}` };
    return { state: rows[0].state as QueryState, reason: (rows[0].reason as string | null) ?? undefined };
  }

  async results(queryExecutionId: string): Promise<{ rows: Array<Record<string, string | null>>; bytesScanned: number }> {
    const rows = await this.db.all('SELECT state, result FROM flywheel_meta.queries WHERE id = $id', { id: queryExecutionId });
    if (rows[0]?.state !== 'SUCCEEDED') throw new Error(`query ${queryExecutionId} has no results (state ${rows[0]?.state ?? 'unknown'})`);
    return { rows: JSON.parse((rows[0].result as string | null) ?? '[]') as Array<Record<string, string | null>>, bytesScanned: 0 };
  }

  /** Monitor queries in DuckDB; values returned as strings like Athena's. */
  private async monitorQuery(query: MonitorQuery): Promise<Array<Record<string, string | null>>> {
    if (query.kind === 'repair-partitions') {
      await this.catalog.addPartitions(query.database, query.table, query.partitions);
      return [];
    }
    await this.catalog.refreshView(query.database, query.table);
    const asStrings = (rows: Array<Record<string, unknown>>) =>
      rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null || v === undefined ? null : String(v)])));
    if (query.kind === 'monitor-count')
      return asStrings(await this.db.all(`SELECT count(*) AS row_count FROM ${q(identifier(query.database))}.${q(identifier(query.table))}`));
    // a range of buckets at a time (see KEYED_ROWS_PER_QUERY), the sums merged; Athena scans the table once.
    // The outer ends stay open, so rows of a partition outside 0..count-1 are counted as in one scan.
    const results: Array<Array<Record<string, string | null>>> = [];
    for (const buckets of scanBounds(await this.keyedRanges(query.database, query.table, 0, query.bucketCount - 1))) {
      results.push(asStrings(await this.db.all(scanSql(query.database, query.table, query.pkColumn, (c) => this.db.bucketSql(c, query.bucketCount), buckets))));
    }
    return mergeScanRows(results);
  }

  /**
   * [from, to] cut into id_bucket sub-ranges of about keyedRowsPerQuery rows of the table each. A range
   * whose files are too small to hold that many rows (MIN_BYTES_PER_ROW) stays whole without a count:
   * counting binds every partition (~40 ms), more than the whole query takes on a small table.
   */
  private async keyedRanges(database: string, table: string, from: number, to: number): Promise<Array<[number, number]>> {
    let bytes = 0;
    for (const p of await this.catalog.getPartitions(database, table)) {
      const bucket = Number(p.values[0]);
      if (!(bucket >= from && bucket <= to)) continue;
      const dir = this.db.localPath(p.location);
      for (const f of await fs.readdir(dir).catch(() => [] as string[])) bytes += (await fs.stat(path.join(dir, f))).size;
    }
    if (bytes < this.keyedRowsPerQuery * MIN_BYTES_PER_ROW) return [[from, to]];
    const sql = `SELECT count(*) AS n FROM ${q(identifier(database))}.${q(identifier(table))} WHERE id_bucket BETWEEN ${from} AND ${to}`;
    const rows = Number((await this.db.all(sql))[0]?.n ?? 0);
    return evenRanges(from, to, Math.min(to - from + 1, Math.max(1, Math.ceil(rows / this.keyedRowsPerQuery))));
  }

  private async execute(step: BuildStep): Promise<void> {
    const out = this.db.localPath(step.location);
    const partitionKeys = [{ name: 'id_bucket', type: 'int' }];
    if (step.first) {
      // CTAS semantics: the target location must be empty (Athena: HIVE_PATH_ALREADY_EXISTS)
      if ((await fs.readdir(out).catch(() => [])).length > 0) throw new Error(`HIVE_PATH_ALREADY_EXISTS: target location ${step.location} is not empty`);
      await this.catalog.upsertTable(step.database, { name: step.stagingTable, location: step.location, columns: step.columns, partitionKeys, parameters: {} });
    }
    await fs.mkdir(out, { recursive: true });
    // an ER range groups by the key: it runs in sub-ranges (see KEYED_ROWS_PER_QUERY), appending to the same folders
    const ranges = step.er
      ? await this.keyedRanges(step.sourceDatabase ?? step.database, step.sourceTable, step.fromBucket, step.toBucket)
      : [[step.fromBucket, step.toBucket] as const];
    for (const [fromBucket, toBucket] of ranges) {
      await this.db.run(
        `COPY (${rangeSelectSql({ ...step, fromBucket, toBucket }, 'duckdb')}) TO ${literal(out)} ` +
          `(FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${PART_ROW_GROUP_ROWS}, PARTITION_BY (id_bucket), APPEND, FILENAME_PATTERN 'part_{uuid}')`,
      );
    }
    const written = (await fs.readdir(out))
      .map((d) => /^id_bucket=(\d+)$/.exec(d)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number);
    const inRange = written.filter((b) => b >= step.fromBucket && b <= step.toBucket);
    await this.catalog.addPartitions(
      step.database,
      step.stagingTable,
      inRange.map((b) => ({ values: [String(b)], location: `${step.location}id_bucket=${b}/` })),
    );
  }
}

function need(args: Record<string, string>, name: string): string {
  const v = args[name];
  if (!v) throw new Error(`job argument --${name} is missing`);
  return v;
}

/** The detail of an S3 Object Created event as EventBridge delivers it (events/s3-object-created.eventbridge.json). */
function s3ObjectCreatedDetail(bucket: string, key: string): Record<string, unknown> {
  return {
    version: '0',
    bucket: { name: bucket },
    object: { key, size: 0, etag: 'd41d8cd98f00b204e9800998ecf8427e', sequencer: Date.now().toString(16).toUpperCase().padStart(18, '0') },
    'request-id': randomUUID().slice(0, 16).toUpperCase(),
    requester: '000000000000',
    'source-ip-address': '127.0.0.1',
    reason: 'PutObject',
  };
}
