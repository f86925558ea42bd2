/**
 * 1. Split & bucket throughput: the local split stage itself (runSplitPlan, the code LocalJobRunner
 * runs for the Glue job) on a plan built by the pipeline's own planner, against a bare DuckDB
 * baseline measured in the same run: one `COPY (SELECT <the same columns>, hash(customer_user_id)
 * % 256 AS id_bucket FROM read_parquet(<the same files>)) TO … (FORMAT parquet, PARTITION_BY
 * id_bucket)` per target table, i.e. the same input, the same output columns, no pipeline.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LocalDuckDb } from '../shared/adapters/local/duckdb.js';
import { FsObjectStore } from '../shared/adapters/local/fs-object-store.js';
import { runSplitPlan } from '../shared/adapters/local/local-engines.js';
import { readParquetFooter } from '../shared/adapters/parquet-footer.js';
import { defaultConfig, INFOBASE, s3Uri } from '../shared/domain/config.js';
import { parseMapping } from '../shared/domain/mapping.js';
import { planSplit, totalColumnBytes, type SourceTable } from '../shared/domain/plan-split.js';
import type { SplitPlan } from '../shared/domain/split-plan.js';
import { identifier, literal } from '../shared/domain/sql-identifiers.js';
import { ensureInput, scratchHome, SNAPSHOT } from './data.js';
import { DATA_DIR, duBytes, fmtBytes, fmtInt, fmtNum, fmtSecs, progress, rmrf, stats, timed, type Row, type Stats } from './lib.js';

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The split plan exactly as snapshot-trigger computes it (listing, footers, mapping, planSplit). */
export async function buildPlan(store: FsObjectStore, runId: string, targetFileBytes?: number): Promise<SplitPlan> {
  const config = defaultConfig(targetFileBytes ? { targetFileBytes } : {});
  const bucket = config.dataBucket;
  const snapPrefix = `${INFOBASE.rawPrefix}snapshot_dt=${SNAPSHOT}/`;
  const { objects } = await store.list(bucket, snapPrefix);
  const byTable = new Map<string, Array<{ key: string; size: number }>>();
  for (const o of objects) {
    const rest = o.key.slice(snapPrefix.length);
    if (!rest.includes('/') || !o.key.endsWith('.parquet')) continue;
    const t = rest.slice(0, rest.indexOf('/'));
    byTable.set(t, [...(byTable.get(t) ?? []), o]);
  }
  const sources: SourceTable[] = [];
  for (const [name, files] of byTable) {
    const footers = await Promise.all(files.map((f) => readParquetFooter(store, bucket, f.key, f.size)));
    sources.push({
      name,
      files: files.map((f) => ({ uri: s3Uri(bucket, f.key), size: f.size })),
      columns: footers[0]!.columns,
      rowCount: footers.reduce((s, f) => s + f.rowCount, 0),
      columnBytes: totalColumnBytes(footers),
      problems: [],
    });
  }
  const csv = new TextDecoder().decode((await store.get(bucket, INFOBASE.mappingKey!))!.body);
  return planSplit({
    dataset: 'infobase',
    snapshotDt: SNAPSHOT,
    runId,
    mapping: parseMapping(csv, { key: INFOBASE.mappingKey! }),
    sources,
    keyColumn: config.keyColumn,
    bucketCount: config.bucketCount,
    targetFileBytes: config.targetFileBytes,
    outputUri: (t) => s3Uri(bucket, `${INFOBASE.splitPrefix}${t}/snapshot_dt=${SNAPSHOT}/run_id=${runId}/`),
    metadataUri: s3Uri(bucket, `${INFOBASE.splitPrefix}metadata/snapshot_dt.txt`),
  });
}

/** One timed run of the split stage; the DuckDB open and the plan are outside the timing. */
async function splitOnce(
  scale: number,
  run: number,
): Promise<{ ms: number; rows: number; outBytes: number; files: number[]; footers: Record<string, number> }> {
  const home = await scratchHome(scale, `split-${scale}x`);
  const lake = path.join(home, 'lake');
  const store = new FsObjectStore(lake);
  const db = await LocalDuckDb.open(path.join(home, 'catalog.duckdb'), lake);
  try {
    const runId = `bench${run}`;
    const plan = await buildPlan(store, runId);
    const planKey = `_runs/infobase/snapshot_dt=${SNAPSHOT}/run_id=${runId}/plan.json`;
    await store.put('data', planKey, JSON.stringify(plan));
    const { ms } = await timed(() => runSplitPlan(db, store, s3Uri('data', planKey)));
    const result = JSON.parse(new TextDecoder().decode((await store.get('data', planKey.replace('plan.json', 'result.json')))!.body)) as {
      tables: Record<string, { rows: number }>;
    };
    const rows = Object.values(result.tables).reduce((s, t) => s + t.rows, 0);
    const outBytes = await duBytes(path.join(lake, 'data', INFOBASE.splitPrefix));
    // footer size of each table's first output file (what register-staged-tables reads)
    const footers: Record<string, number> = {};
    for (const t of plan.tables) {
      const file = path.join(db.localPath(t.outputUri), 'part-00000.snappy.parquet');
      const fh = await fs.open(file, 'r');
      try {
        const { size } = await fh.stat();
        const tail = Buffer.alloc(8);
        await fh.read(tail, 0, 8, size - 8);
        footers[t.target] = tail.readUInt32LE(0) + 8;
      } finally {
        await fh.close();
      }
    }
    return { ms, rows, outBytes, files: plan.tables.map((t) => t.fileCount), footers };
  } finally {
    db.connection.closeSync();
    await rmrf(home);
  }
}

/** One timed run of the bare-DuckDB baseline over the same plan (same files, same columns). */
async function baselineOnce(scale: number, plan: SplitPlan, lake: string): Promise<{ ms: number; rows: number; outBytes: number }> {
  const dir = path.join(DATA_DIR, 'scratch', `baseline-${scale}x`);
  await rmrf(dir);
  await fs.mkdir(dir, { recursive: true });
  const instance = await DuckDBInstance.create(path.join(dir, 'baseline.duckdb'));
  const db = await instance.connect();
  const local = (uri: string) => path.join(lake, uri.replace(/^s3:\/\//, ''));
  try {
    let rows = 0;
    const { ms } = await timed(async () => {
      for (const t of plan.tables) {
        const files = `[${t.sourceFiles.map((f) => literal(local(f))).join(', ')}]`;
        const cols = t.columns.map((c) => `${q(c.source)} AS ${q(identifier(c.target))}`).join(', ');
        const reader = await db.runAndReadAll(
          `COPY (SELECT ${cols}, hash(${q(t.keySourceColumn)}) % 256 AS id_bucket FROM read_parquet(${files})) TO ${literal(path.join(dir, t.target))} (FORMAT parquet, PARTITION_BY id_bucket)`,
        );
        rows += Number(reader.getRows()[0]?.[0] ?? 0);
      }
    });
    const outBytes = await duBytes(dir);
    return { ms, rows, outBytes };
  } finally {
    db.closeSync();
    instance.closeSync?.();
    await rmrf(dir);
  }
}

export interface SplitScaleResult {
  scale: number;
  sourceRows: number;
  inputBytes: number;
  outputRows: number;
  filesPerTable: number[];
  split: Stats;
  baseline: Stats;
  splitRowsPerSec: number;
  baselineRowsPerSec: number;
  ratio: Stats;
  splitOutBytes: number;
  baselineOutBytes: number;
  /** Footer bytes of each table's first split output file. */
  footers: Record<string, number>;
}

export async function benchSplit(scales: number[], runsFor: (scale: number) => number): Promise<{ rows: Row[]; results: SplitScaleResult[] }> {
  const results: SplitScaleResult[] = [];
  for (const scale of scales) {
    const input = await ensureInput(scale);
    const store = new FsObjectStore(input.lake);
    const plan = await buildPlan(store, 'baseline');
    const split: number[] = [];
    const base: number[] = [];
    const ratios: number[] = [];
    let outputRows = 0;
    let splitOut = 0;
    let baseOut = 0;
    let files: number[] = [];
    let footers: Record<string, number> = {};
    const runs = runsFor(scale);
    for (let r = 0; r < runs; r++) {
      progress(`split ${scale}x run ${r + 1}/${runs}: baseline COPY … PARTITION_BY`);
      const b = await baselineOnce(scale, plan, input.lake);
      progress(`split ${scale}x run ${r + 1}/${runs}: baseline ${fmtSecs(b.ms)}; runSplitPlan`);
      const s = await splitOnce(scale, r);
      progress(`split ${scale}x run ${r + 1}/${runs}: runSplitPlan ${fmtSecs(s.ms)} (${fmtInt(s.rows)} rows, files/table ${s.files.join(',')})`);
      if (s.rows !== b.rows) throw new Error(`split wrote ${s.rows} rows but the baseline ${b.rows}`);
      split.push(s.ms);
      base.push(b.ms);
      ratios.push(s.ms / b.ms);
      outputRows = s.rows;
      splitOut = s.outBytes;
      baseOut = b.outBytes;
      files = s.files;
      footers = s.footers;
    }
    const st = stats(split);
    const bt = stats(base);
    results.push({
      scale,
      sourceRows: input.rowsPerTable * 3,
      inputBytes: input.bytes,
      outputRows,
      filesPerTable: files,
      split: st,
      baseline: bt,
      splitRowsPerSec: outputRows / (st.median / 1000),
      baselineRowsPerSec: outputRows / (bt.median / 1000),
      ratio: stats(ratios),
      splitOutBytes: splitOut,
      baselineOutBytes: baseOut,
      footers,
    });
  }
  const rows: Row[] = [];
  for (const r of results) {
    const s = `${r.scale}×`;
    rows.push({
      section: '1 split',
      metric: `${s} input`,
      value: `${fmtInt(r.sourceRows)} rows, ${fmtBytes(r.inputBytes)}`,
      note: `${fmtInt(r.outputRows)} output rows in 4 tables; split files/table ${r.filesPerTable.join(',')}`,
    });
    rows.push({
      section: '1 split',
      metric: `${s} split stage (runSplitPlan)`,
      value: `${fmtInt(r.splitRowsPerSec)} rows/s (${fmtSecs(r.split.median)})`,
      spread: `${fmtSecs(r.split.min)}–${fmtSecs(r.split.max)}`,
      note: `output ${fmtBytes(r.splitOutBytes)}; footers ${Object.values(r.footers)
        .map((b) => fmtBytes(b))
        .join(', ')}`,
    });
    rows.push({
      section: '1 split',
      metric: `${s} baseline COPY … PARTITION_BY`,
      value: `${fmtInt(r.baselineRowsPerSec)} rows/s (${fmtSecs(r.baseline.median)})`,
      spread: `${fmtSecs(r.baseline.min)}–${fmtSecs(r.baseline.max)}`,
      note: `output ${fmtBytes(r.baselineOutBytes)}`,
    });
    const top = r.scale === Math.max(...results.map((x) => x.scale)) && r.scale >= 16;
    rows.push({
      section: '1 split',
      metric: `${s} split / baseline time`,
      value: `${fmtNum(r.split.median / r.baseline.median)}×`,
      spread: `${fmtNum(r.ratio.min)}–${fmtNum(r.ratio.max)}× per run`,
      ...(top ? { target: '≤ 1.5×', pass: r.split.median / r.baseline.median <= 1.5 } : {}),
    });
  }
  const one = results.find((r) => r.scale === 1);
  const sixteen = results.find((r) => r.scale === 16);
  if (one && sixteen) {
    const growth = sixteen.split.median / one.split.median;
    rows.push({
      section: '1 split',
      metric: 'split time 16× / 1×',
      value: `${fmtNum(growth)}×`,
      target: '≤ 18×',
      pass: growth <= 18,
      note: `baseline ${fmtNum(sixteen.baseline.median / one.baseline.median)}×`,
    });
  }
  return { rows, results };
}
