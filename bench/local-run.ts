/**
 * 8. The local run against the bare engine: the whole `flywheel run` process (CLI start, split,
 * register, part_, part_<t>_er, bucketed_, the live switch, the data monitor) on one infobase
 * snapshot of 3 source tables × (scale × 1M) rows, against one bare DuckDB script doing the minimal
 * core work over the same input: read the sources, map the columns, compute the bucket once with
 * DuckDB's native `hash()` (the compiled bucket function is as fast, section 2), then write two
 * partitioned copies per target table, the part_ layout and the bucketed layout. The baseline has no
 * ER table, no monitor, no catalog and no ledger: the target (≤ 2×) is what the pipeline may add.
 * Alternated run by run, each in a fresh scratch home.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FsObjectStore } from '../shared/adapters/local/fs-object-store.js';
import { identifier, literal } from '../shared/domain/sql-identifiers.js';
import { ensureInput, scratchHome, type Width } from './data.js';
import { DATA_DIR, fmtBytes, fmtNum, fmtSecs, progress, REPO_DIR, rmrf, stats, timed, type Row, type Stats } from './lib.js';
import { monitorMs } from './e2e.js';
import { parseStages } from './memory.js';
import { runMeasured } from './proc.js';
import { buildPlan } from './split.js';

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

export interface LocalRunResult {
  scale: number;
  width: Width;
  rowsPerSourceTable: number;
  run: Stats;
  baseline: Stats;
  ratio: Stats;
  peakRss: Stats;
  /** Per run: stage → ms, from the run summary; `monitor` from logs/flywheel.jsonl. */
  stages: Array<Record<string, number>>;
}

/** One run of the bare script in its own folder and DuckDB file; returns its wall time (DuckDB's open included). */
async function baselineOnce(scale: number, width: Width): Promise<number> {
  const { lake } = await ensureInput(scale, width);
  const plan = await buildPlan(new FsObjectStore(lake), 'baseline');
  const dir = path.join(DATA_DIR, 'scratch', `bare-${scale}x-${width}`);
  await rmrf(dir);
  await fs.mkdir(dir, { recursive: true });
  const local = (uri: string) => path.join(lake, uri.replace(/^s3:\/\//, ''));
  const { ms } = await timed(async () => {
    // tuned as well as the pipeline's own writes: one open file per partition, the same row groups; the
    // mapped rows held in bucket order (a partitioned write of sorted rows is ~25% faster, bench/)
    const instance = await DuckDBInstance.create(path.join(dir, 'bare.duckdb'), { partitioned_write_max_open_files: '512' });
    const db = await instance.connect();
    try {
      for (const t of plan.tables) {
        const files = `[${t.sourceFiles.map((f) => literal(local(f))).join(', ')}]`;
        const cols = t.columns.map((c) => `${q(c.source)} AS ${q(identifier(c.target))}`).join(', ');
        await db.run(
          `CREATE OR REPLACE TEMP TABLE mapped AS SELECT ${cols}, (hash(${q(t.keySourceColumn)}) % 256)::INTEGER AS id_bucket FROM read_parquet(${files}) ORDER BY id_bucket`,
        );
        for (const layout of ['part', 'bucketed']) {
          await fs.mkdir(path.join(dir, layout), { recursive: true });
          await db.run(
            `COPY mapped TO ${literal(path.join(dir, layout, t.target))} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 20480, PARTITION_BY (id_bucket))`,
          );
        }
      }
      await db.run('DROP TABLE mapped');
    } finally {
      db.closeSync();
      instance.closeSync?.();
    }
  });
  await rmrf(dir);
  return ms;
}

/** One `flywheel run` in a scratch home holding the input as hard links. */
async function runOnce(scale: number, width: Width, r: number): Promise<{ ms: number; peakRss: number; stages: Record<string, number> }> {
  const home = await scratchHome(scale, `local-run-${scale}x-${width}`, width);
  try {
    const res = await runMeasured(process.execPath, [path.join(REPO_DIR, 'shared/local/bin.mjs'), 'run', '--home', home], { cwd: REPO_DIR });
    if (res.code !== 0) throw new Error(`flywheel run (run ${r + 1}) exited ${res.code}:\n${res.stdout.slice(-3000)}\n${res.stderr.slice(-3000)}`);
    return { ms: res.ms, peakRss: res.peakRss, stages: { ...parseStages(res.stdout), monitor: monitorMs(home) } };
  } finally {
    await rmrf(home);
  }
}

export async function benchLocalRun(scale: number, runs: number, width: Width): Promise<{ rows: Row[]; result: LocalRunResult }> {
  const { rowsPerTable } = await ensureInput(scale, width);
  const run: number[] = [];
  const base: number[] = [];
  const ratios: number[] = [];
  const rss: number[] = [];
  const stages: Array<Record<string, number>> = [];
  for (let r = 0; r < runs; r++) {
    progress(`local run ${scale}x ${width} run ${r + 1}/${runs}: bare DuckDB script`);
    const b = await baselineOnce(scale, width);
    progress(`local run ${scale}x ${width} run ${r + 1}/${runs}: bare ${fmtSecs(b)}; flywheel run`);
    const f = await runOnce(scale, width, r);
    progress(
      `local run ${scale}x ${width} run ${r + 1}/${runs}: flywheel run ${fmtSecs(f.ms)} (${fmtNum(f.ms / b)}×), peak RSS ${fmtBytes(f.peakRss)}; ${Object.entries(
        f.stages,
      )
        .map(([k, v]) => `${k} ${fmtSecs(v)}`)
        .join(', ')}`,
    );
    base.push(b);
    run.push(f.ms);
    ratios.push(f.ms / b);
    rss.push(f.peakRss);
    stages.push(f.stages);
  }
  const result: LocalRunResult = {
    scale,
    width,
    rowsPerSourceTable: rowsPerTable,
    run: stats(run),
    baseline: stats(base),
    ratio: stats(ratios),
    peakRss: stats(rss),
    stages,
  };
  const s = `${scale}× ${width}`;
  const median = (k: string) => stats(stages.map((x) => x[k] ?? NaN)).median;
  const ratio = result.run.median / result.baseline.median;
  const rows: Row[] = [
    {
      section: '8 local run',
      metric: `${s}: bare DuckDB script (map, hash() once, part_ + bucketed layouts)`,
      value: fmtSecs(result.baseline.median),
      spread: `${fmtSecs(result.baseline.min)}–${fmtSecs(result.baseline.max)}`,
      note: `3 source tables × ${(rowsPerTable / 1e6).toFixed(0)}M rows, 4 target tables`,
    },
    {
      section: '8 local run',
      metric: `${s}: flywheel run (whole process, ER tables and monitor included)`,
      value: fmtSecs(result.run.median),
      spread: `${fmtSecs(result.run.min)}–${fmtSecs(result.run.max)}`,
      note: `stages (s): ${Object.keys(stages[0] ?? {})
        .map((k) => `${k} ${(median(k) / 1000).toFixed(1)}`)
        .join(', ')}; peak RSS ${fmtBytes(result.peakRss.median)}`,
    },
    {
      section: '8 local run',
      metric: `${s}: flywheel run / bare script`,
      value: `${fmtNum(ratio)}×`,
      spread: `${fmtNum(result.ratio.min)}–${fmtNum(result.ratio.max)}× per run`,
      target: '≤ 2×',
      pass: ratio <= 2,
    },
  ];
  return { rows, result };
}
