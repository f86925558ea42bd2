/**
 * The DuckDB twin of the chargebacks consolidation job: one day of small landing files → N parquet
 * files under `consolidated/chargebacks/year=/month=/day=/`, deduplicated, written aside then switched.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { dayPartition, dedupeSql, metricsLine } from '../domain/chargebacks.js';
import { literal } from '../domain/sql-identifiers.js';
import type { LocalDuckDb } from '../adapters/local/duckdb.js';

export const LANDING_PREFIX = 'landing/chargebacks/';
export const CONSOLIDATED_PREFIX = 'consolidated/chargebacks/';

export interface ConsolidationResult {
  date: string;
  recordsProcessed: number;
  nullIds: number;
  duplicatesRemoved: number;
  outputRows: number;
  outputFiles: number;
  output: string;
  dryRun: boolean;
  metrics: string;
}

/** Consolidates one day; with `dryRun` it reads and counts, writes nothing, and says what it would write. */
export async function consolidateDay(db: LocalDuckDb, lakeDir: string, o: { date: string; fileCount: number; codec: string; dryRun: boolean }): Promise<ConsolidationResult> {
  const started = Date.now();
  const day = dayPartition(o.date);
  const landing = path.join(lakeDir, 'data', LANDING_PREFIX, day);
  const output = path.join(lakeDir, 'data', CONSOLIDATED_PREFIX, day);
  if (!existsSync(landing)) throw new Error(`no landing files for ${o.date} under ${path.join('data', LANDING_PREFIX, day)}`);
  if (!['snappy', 'gzip', 'zstd', 'uncompressed'].includes(o.codec)) throw new Error(`COMPRESSION_CODEC ${o.codec} is not one of snappy, gzip, zstd, uncompressed`);
  if (!(o.fileCount >= 1 && o.fileCount <= 1000)) throw new Error(`OUTPUT_FILE_COUNT must be 1..1000, got ${o.fileCount}`);
  const src = `read_parquet(${literal(path.join(landing, '*.parquet'))})`;
  const quality = (await db.all(`SELECT count(*) AS n, count(*) FILTER (WHERE chargeback_id IS NULL) AS nulls, count(DISTINCT chargeback_id) AS ids FROM ${src}`))[0]!;
  const columns = (await db.all(`DESCRIBE SELECT * FROM ${src}`)).map((r) => String(r.column_name));
  const recordsProcessed = Number(quality.n);
  const nullIds = Number(quality.nulls);
  const outputRows = Number(quality.ids) + nullIds;
  const result = { date: o.date, recordsProcessed, nullIds, duplicatesRemoved: recordsProcessed - outputRows, outputRows, outputFiles: o.fileCount, output, dryRun: o.dryRun };
  if (!o.dryRun) {
    // write aside, then switch: readers see the previous complete day or the new one, never a half
    const aside = path.join(path.dirname(output.replace(/\/$/, '')), `.tmp-day=${day.split('day=')[1]!.replace('/', '')}-${randomUUID()}`);
    await fs.mkdir(aside, { recursive: true });
    await db.run(`CREATE OR REPLACE TEMP TABLE consolidated AS SELECT *, abs(hash(chargeback_id)) % ${o.fileCount} AS file_no FROM (${dedupeSql(src, columns)})`);
    for (let f = 0; f < o.fileCount; f++) {
      await db.run(`COPY (SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM consolidated WHERE file_no = ${f}) TO ${literal(path.join(aside, `part-${String(f).padStart(5, '0')}.${o.codec}.parquet`))} (FORMAT parquet, COMPRESSION ${o.codec})`);
    }
    await db.run('DROP TABLE consolidated');
    const old = `${aside}-previous`;
    if (existsSync(output)) await fs.rename(output, old);
    await fs.mkdir(path.dirname(output.replace(/\/$/, '')), { recursive: true });
    await fs.rename(aside, output);
    await fs.rm(old, { recursive: true, force: true });
  }
  const metrics = metricsLine({ recordsProcessed, duplicatesRemoved: result.duplicatesRemoved, outputFiles: o.dryRun ? 0 : o.fileCount, durationSeconds: (Date.now() - started) / 1000 });
  return { ...result, metrics };
}

/** A day of small landing files: `files` files of ~`rowsPerFile` rows, with re-delivered (duplicate) chargebacks and a few NULL ids. */
export async function generateLanding(db: LocalDuckDb, lakeDir: string, date: string, files = 40, rowsPerFile = 500): Promise<void> {
  const dir = path.join(lakeDir, 'data', LANDING_PREFIX, dayPartition(date));
  await fs.mkdir(dir, { recursive: true });
  for (let f = 0; f < files; f++) {
    // ids repeat across files (updates of one chargeback); one row in 200 has no id
    await db.run(
      `COPY (SELECT CASE WHEN (i + ${f}) % 200 = 0 THEN NULL ELSE 'cb-' || ((i * 7 + ${f} * 13) % ${Math.floor((files * rowsPerFile) / 3)}) END AS chargeback_id,
         TIMESTAMP '${date} 00:00:00' + INTERVAL (i + ${f} * ${rowsPerFile}) SECOND AS event_timestamp,
         CASE WHEN i % 5 = 0 THEN NULL ELSE TIMESTAMP '${date} 00:00:00' + INTERVAL (${f} * 60 + i) SECOND END AS updated_at,
         round((i * 37 + ${f}) % 10000 / 100.0, 2) AS amount, CASE i % 3 WHEN 0 THEN 'open' WHEN 1 THEN 'won' ELSE 'lost' END AS status
       FROM range(${rowsPerFile}) t(i)) TO ${literal(path.join(dir, `part-${String(f).padStart(4, '0')}.parquet`))} (FORMAT parquet)`,
    );
  }
}
