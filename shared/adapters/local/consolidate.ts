/**
 * The DuckDB twin of the chargebacks consolidation job: one day of small landing files → N parquet
 * files under `<CONSOLIDATED_PREFIX>year=/month=/day=/` (the layout's chargebacks output), deduplicated,
 * written aside then switched. The day's landing is read from both accepted folders under LANDING_PREFIX,
 * `year=YYYY/month=MM/day=DD/` and the current system's `YYYY/MM/DD/` (landingDayFolders): both when both hold files.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import {
  CONSOLIDATED_PREFIX,
  dayPartition,
  dedupeSql,
  LANDING_PREFIX,
  landingDayFolders,
  metricsLine,
  nothingToConsolidateLine,
  qualityLine,
} from '../../domain/chargebacks.js';
import { literal } from '../../domain/sql-identifiers.js';
import { assertCodec, assertFileCount } from '../../domain/compaction.js';
import { compactInto } from './compaction.js';
import type { LocalDuckDb } from './duckdb.js';

export interface ConsolidationResult {
  date: string;
  recordsProcessed: number;
  nullIds: number;
  duplicatesRemoved: number;
  outputRows: number;
  outputFiles: number;
  output: string;
  dryRun: boolean;
  /** The landing folders read (absolute; those of landingDayFolders holding parquet files). */
  landing: string[];
  /** The METRICS line (preceded by the NOTHING TO CONSOLIDATE line when the day has no landing rows): the Glue Job State Change's message. */
  metrics: string;
  /** The job's log, as the Glue job prints it: the DATA QUALITY line (null ids), then `metrics`. */
  log: string[];
}

/** Consolidates one day; with `dryRun` it reads and counts, writes nothing, and says what it would write. */
export async function consolidateDay(
  db: LocalDuckDb,
  lakeDir: string,
  o: { date: string; fileCount: number; codec: string; dryRun: boolean },
): Promise<ConsolidationResult> {
  const started = Date.now();
  const day = dayPartition(o.date);
  const folders = landingDayFolders(o.date);
  const landing = folders
    .map((f) => path.join(lakeDir, 'data', LANDING_PREFIX, f))
    .filter((dir) => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.parquet')));
  const output = path.join(lakeDir, 'data', CONSOLIDATED_PREFIX, day);
  const codec = assertCodec(o.codec);
  assertFileCount(o.fileCount);
  if (landing.length === 0) {
    // as the Glue job does: a day with no landing rows consolidates nothing and leaves the day's output as it was
    const source = folders.map((f) => path.join('data', LANDING_PREFIX, f)).join(' or ');
    const metrics = `${nothingToConsolidateLine(o.date, source, path.join('data', CONSOLIDATED_PREFIX, day))}\n${metricsLine({ recordsProcessed: 0, duplicatesRemoved: 0, outputFiles: 0, durationSeconds: (Date.now() - started) / 1000 })}`;
    return {
      date: o.date,
      recordsProcessed: 0,
      nullIds: 0,
      duplicatesRemoved: 0,
      outputRows: 0,
      outputFiles: 0,
      output,
      dryRun: o.dryRun,
      landing,
      metrics,
      log: metrics.split('\n'),
    };
  }
  // hive partitioning off: no partition columns (year=/month=/day=) are added to the rows (the Glue job writes none)
  const src = `read_parquet([${landing.map((dir) => literal(path.join(dir, '*.parquet'))).join(', ')}], hive_partitioning = false)`;
  const quality = (
    await db.all(`SELECT count(*) AS n, count(*) FILTER (WHERE chargeback_id IS NULL) AS nulls, count(DISTINCT chargeback_id) AS ids FROM ${src}`)
  )[0]!;
  const columns = (await db.all(`DESCRIBE SELECT * FROM ${src}`)).map((r) => String(r.column_name));
  const recordsProcessed = Number(quality.n);
  const nullIds = Number(quality.nulls);
  const outputRows = Number(quality.ids) + nullIds;
  const duplicatesRemoved = recordsProcessed - outputRows;
  let outputFiles = 0;
  if (!o.dryRun) {
    // the compaction capability: one streaming write of N files aside, then the switch
    const written = await compactInto(db, {
      select: `SELECT *, hash(chargeback_id) AS __spread FROM (${dedupeSql(src, columns)})`,
      outputDir: output,
      fileCount: o.fileCount,
      codec,
    });
    if (written.rows !== outputRows) throw new Error(`consolidation of ${o.date} wrote ${written.rows} rows, expected ${outputRows}`);
    outputFiles = written.files.length;
  }
  const metrics = metricsLine({ recordsProcessed, duplicatesRemoved, outputFiles, durationSeconds: (Date.now() - started) / 1000 });
  // a dry run reports the files it would write
  return {
    landing,
    log: [qualityLine({ nullIds, recordsProcessed }), metrics],
    date: o.date,
    recordsProcessed,
    nullIds,
    duplicatesRemoved,
    outputRows,
    outputFiles: o.dryRun ? o.fileCount : outputFiles,
    output,
    dryRun: o.dryRun,
    metrics,
  };
}
