/**
 * The DuckDB twin of compaction (glue-scripts/flywheel_compaction.py): rows → N parquet files in one
 * streaming COPY, written aside and then switched in with renames. Used by the raw-landing compaction
 * stage (compactSnapshot) and by the chargebacks consolidation (consolidate.ts).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { compactedFileName, compactionGroups, type CompactionGroup, type CompressionCodec } from '../../domain/compaction.js';
import { parseS3Uri } from '../../domain/config.js';
import { literal } from '../../domain/sql-identifiers.js';
import type { LocalDuckDb } from './duckdb.js';
import type { FsObjectStore } from './fs-object-store.js';

/**
 * One streaming COPY of `select` into `fileCount` parquet files in `dir`: the select's `__file` column
 * (0..fileCount-1, not written) picks each row's file through PARTITION_BY, then the files are renamed
 * to `fileName(i)` (a second file of one index gets `-1`, …). An index without rows still gets an
 * empty file with the schema, so the count holds. Returns the rows written and the file names.
 */
export async function copyToNumberedFiles(
  db: LocalDuckDb,
  o: { select: string; dir: string; fileCount: number; codec: string; fileName: (i: number) => string },
): Promise<{ rows: number; files: string[] }> {
  const copy = async (select: string, to: string, options = '') =>
    Number(Object.values((await db.all(`COPY (${select}) TO ${literal(to)} (FORMAT parquet, COMPRESSION ${o.codec}${options})`))[0] ?? {})[0] ?? 0);
  if (o.fileCount === 1) return { rows: await copy(`SELECT * EXCLUDE (__file) FROM (${o.select})`, path.join(o.dir, o.fileName(0))), files: [o.fileName(0)] };
  const parts = path.join(o.dir, '_parts');
  const rows = await copy(o.select, parts, ', PARTITION_BY (__file)');
  const files: string[] = [];
  for (let i = 0; i < o.fileCount; i++) {
    const dir = path.join(parts, `__file=${i}`);
    const written = existsSync(dir) ? (await fs.readdir(dir)).filter((n) => n.endsWith('.parquet')).sort() : [];
    if (written.length === 0) await copy(`SELECT * EXCLUDE (__file) FROM (${o.select}) LIMIT 0`, path.join(o.dir, o.fileName(i)));
    const names =
      written.length === 0 ? [o.fileName(i)] : written.map((_, j) => (j === 0 ? o.fileName(i) : o.fileName(i).replace(/\.parquet$/, `-${j}.parquet`)));
    for (const [j, name] of written.entries()) await fs.rename(path.join(dir, name), path.join(o.dir, names[j]!));
    files.push(...names);
  }
  await fs.rm(parts, { recursive: true, force: true });
  return { rows, files };
}

export interface CompactIntoOptions {
  /** A SELECT of the rows to write, with a `__spread` column (an unsigned hash) that spreads them over the files; it is not written. */
  select: string;
  /** Folder whose parquet files are replaced by the new ones. */
  outputDir: string;
  fileCount: number;
  codec: CompressionCodec;
}

/**
 * Writes the rows of `select` as `fileCount` files into a hidden folder beside `outputDir`, then
 * switches: the old folder is renamed away, the new one renamed in, the old one removed. A reader
 * sees the previous complete set or the new one. Returns the rows written and the file names.
 */
export async function compactInto(db: LocalDuckDb, o: CompactIntoOptions): Promise<{ rows: number; files: string[] }> {
  const output = o.outputDir.replace(/\/$/, '');
  const aside = path.join(path.dirname(output), `.tmp-${path.basename(output)}-${randomUUID().slice(0, 8)}`);
  await fs.mkdir(aside, { recursive: true });
  try {
    const { rows, files } = await copyToNumberedFiles(db, {
      select: `SELECT * EXCLUDE (__spread), __spread % ${o.fileCount} AS __file FROM (${o.select})`,
      dir: aside,
      fileCount: o.fileCount,
      codec: o.codec,
      fileName: (i) => compactedFileName(i, o.codec),
    });
    const previous = `${aside}-previous`;
    if (existsSync(output)) await fs.rename(output, previous);
    await fs.rename(aside, output);
    await fs.rm(previous, { recursive: true, force: true });
    return { rows, files };
  } catch (err) {
    await fs.rm(aside, { recursive: true, force: true });
    throw err;
  }
}

export interface LandingCompaction {
  groups: Array<CompactionGroup & { rowsIn: number; rowsOut: number; files: string[] }>;
  ignored: string[];
  /** Key of the ready marker written last (the split's trigger). */
  markerKey: string;
}

/** What the compaction job is given (the Glue job's arguments, typed). */
export interface CompactionArgs {
  /** `s3://bucket/<sourcePrefix>snapshot_dt=D/` */
  sourceUri: string;
  /** `s3://bucket/<rawPrefix>snapshot_dt=D/` (the split's input) */
  outputUri: string;
  readyMarker: string;
  targetFileBytes: number;
  codec: CompressionCodec;
}

/**
 * Compacts a raw landing into the split's input, folder by folder (a folder is a source table), then
 * writes the ready marker that starts the pipeline. Rows in = rows out is checked per folder first.
 */
export async function compactLanding(db: LocalDuckDb, store: FsObjectStore, a: CompactionArgs): Promise<LandingCompaction> {
  const source = parseS3Uri(a.sourceUri);
  const output = parseS3Uri(a.outputUri);
  const { objects } = await store.list(source.bucket, source.key);
  const { groups, ignored } = compactionGroups(source.key, objects, a.targetFileBytes);
  if (groups.length === 0) throw new Error(`no parquet files under ${a.sourceUri} to compact; land the files, then the ${a.readyMarker} marker`);
  const done: LandingCompaction['groups'] = [];
  for (const g of groups) {
    const files = `[${g.keys.map((k) => literal(store.pathOf(source.bucket, k))).join(', ')}]`;
    const rowsIn = Number((await db.all(`SELECT count(*) AS n FROM read_parquet(${files}, union_by_name = true, hive_partitioning = false)`))[0]!.n);
    const r = await compactInto(db, {
      select: `SELECT * EXCLUDE (filename, file_row_number), hash(filename, file_row_number) AS __spread FROM read_parquet(${files}, union_by_name = true, hive_partitioning = false, filename = true, file_row_number = true)`,
      outputDir: store.pathOf(output.bucket, `${output.key}${g.folder}`),
      fileCount: g.fileCount,
      codec: a.codec,
    });
    if (r.rows !== rowsIn) throw new Error(`compaction of ${a.sourceUri}${g.folder} wrote ${r.rows} rows of ${rowsIn}; the marker was not written`);
    done.push({ ...g, rowsIn, rowsOut: r.rows, files: r.files });
  }
  const markerKey = `${output.key}${a.readyMarker}`;
  await store.put(output.bucket, markerKey, '');
  return { groups: done, ignored, markerKey };
}
