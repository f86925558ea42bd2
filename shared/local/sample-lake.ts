/**
 * Generates the sample lake `npm start` runs on: two snapshots of four infobase source tables (one
 * split into two targets), ~500k rows each, non-ASCII ids, one NULL key, junk folders, the mapping CSV,
 * and the addressable ids dataset.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ADDRESSABLE, INFOBASE } from '../domain/config.js';
import { dayPartition, LANDING_PREFIX } from '../domain/chargebacks.js';
import { literal } from '../domain/sql-identifiers.js';

export interface SampleOptions {
  rows?: number;
  snapshots?: string[];
  onTable?: (snapshot: string, table: string) => void;
  /** Also write the addressable ids dataset (half as many rows). Default true. */
  addressable?: boolean;
  /**
   * Land the newest addressable snapshot as many small files under its raw prefix
   * (`opus/addressable_ids/raw_input/`), so the run starts with the compaction stage. Default false.
   */
  rawLanding?: boolean;
  /** Days of chargebacks landing to write (`flywheel consolidate` reads them). Default: yesterday (UTC), the command's default day. */
  chargebackDays?: string[];
}

/** Source tables: name → extra columns (SQL over `i`); every table also has CUSTOMER_USER_ID. */
const TABLES: Record<string, Record<string, string>> = {
  IBE_01: {
    IBE8688_AGE: '18 + (i % 70)',
    IBE7602_GENDER: "CASE i % 3 WHEN 0 THEN 'F' WHEN 1 THEN 'M' ELSE 'U' END",
    IBE8606_INCOME: '(i * 7919) % 250000',
    IBE8463_HOMEOWNER: 'i % 4 <> 0',
    IBE2800_CHILDREN: 'i % 5',
    IBE9514_MARITAL: "CASE i % 4 WHEN 0 THEN 'married' WHEN 1 THEN 'single' ELSE 'unknown' END",
    IBE_LEGACY_FLAG: "'x'",
  },
  IBE_04: {
    IBE4100_NET_WORTH: '((i * 104729) % 5000000)::BIGINT',
    IBE4200_CREDIT_BAND: 'chr(65 + (i % 6)::INTEGER)',
    IBE4300_SCORE: 'round(((i * 37) % 1000) / 10.0, 1)',
  },
  MIACS_01: {
    MIACS_11_001: "'seg_' || (i % 40)",
    MIACS_11_002: '(i % 1000) / 1000.0',
    MIACS_11_003: "DATE '2020-01-01' + (i % 1500)::INTEGER",
  },
  MIACS_02: {
    MIACS_12_001: "'tier_' || (i % 9)",
    MIACS_12_002: 'i % 2 = 0',
  },
};

export const SAMPLE_MAPPING = [
  'source_table,source_column,target_table,target_column',
  ...['CUSTOMER_USER_ID', 'IBE8688_AGE', 'IBE7602_GENDER', 'IBE9514_MARITAL'].map((c) => `IBE_01,${c},ibe_01a,${c.toLowerCase()}`),
  ...['CUSTOMER_USER_ID', 'IBE8606_INCOME', 'IBE8463_HOMEOWNER', 'IBE2800_CHILDREN'].map((c) => `IBE_01,${c},ibe_01b,${c.toLowerCase()}`),
  ...['CUSTOMER_USER_ID', 'IBE4100_NET_WORTH', 'IBE4200_CREDIT_BAND', 'IBE4300_SCORE'].map((c) => `IBE_04,${c},ibe_04,${c.toLowerCase()}`),
  ...['CUSTOMER_USER_ID', 'MIACS_11_001', 'MIACS_11_002', 'MIACS_11_003'].map((c) => `MIACS_01,${c},miacs_01,${c.toLowerCase()}`),
  ...['CUSTOMER_USER_ID', 'MIACS_12_001', 'MIACS_12_002'].map((c) => `MIACS_02,${c},miacs_02,${c.toLowerCase()}`),
].join('\n');

/** Files of a raw landing (`rawLanding`). */
const RAW_LANDING_FILES = 24;

/** The last days of the two months before `now` (monthly snapshots as they land), oldest first. */
export function recentMonthEnds(now: Date): string[] {
  const end = (monthsBack: number) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - monthsBack + 1, 0)).toISOString().slice(0, 10);
  return [end(2), end(1)];
}

/** Writes the sample lake under `<lakeDir>/data/…` (DuckDB writes the parquet; no row passes through JavaScript). */
export async function generateSampleLake(lakeDir: string, options: SampleOptions = {}): Promise<{ snapshots: string[]; rows: number }> {
  const rows = options.rows ?? 500_000;
  const snapshots = options.snapshots ?? recentMonthEnds(new Date());
  const data = path.join(lakeDir, 'data');
  const raw = path.join(data, INFOBASE.rawPrefix);
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  try {
    // ids: mostly ASCII, every 97th with accents or CJK, every 1009th with an emoji; row 7 has a NULL key
    const id = `CASE WHEN i = 7 THEN NULL WHEN i % 1009 = 0 THEN 'cust-😀-' || i WHEN i % 97 = 0 THEN (CASE i % 3 WHEN 0 THEN 'Zoë-' WHEN 1 THEN 'Ærøskøbing-' ELSE '客户-' END) || i ELSE 'cust_' || lpad(i::VARCHAR, 8, '0') END`;
    for (const [n, snapshot] of snapshots.entries()) {
      const dir = path.join(raw, `snapshot_dt=${snapshot}`);
      const total = rows - (snapshots.length - 1 - n) * Math.floor(rows / 100); // each month a little bigger
      for (const [table, columns] of Object.entries(TABLES)) {
        options.onTable?.(snapshot, table);
        await fs.mkdir(path.join(dir, table), { recursive: true });
        const select = `SELECT ${id} AS CUSTOMER_USER_ID, ${Object.entries(columns)
          .map(([c, e]) => `${e} AS ${c}`)
          .join(', ')} FROM range(${total}) t(i)`;
        await db.run(
          `COPY (${select}) TO ${literal(path.join(dir, table))} (FORMAT parquet, COMPRESSION snappy, PER_THREAD_OUTPUT false, FILE_SIZE_BYTES '8MB', FILENAME_PATTERN 'part-{i}')`,
        );
      }
      await fs.writeFile(path.join(dir, INFOBASE.readyMarker), '');
      // the addressable ids: one table, files directly under the snapshot folder
      if (options.addressable !== false) {
        const raw = options.rawLanding && n === snapshots.length - 1;
        const adir = path.join(data, raw ? ADDRESSABLE.compaction!.sourcePrefix : ADDRESSABLE.rawPrefix, `snapshot_dt=${snapshot}`);
        options.onTable?.(snapshot, raw ? 'addressable_ids (raw landing of small files, compacted first)' : 'addressable_ids');
        await fs.mkdir(adir, { recursive: true });
        const select = `SELECT ${id} AS CUSTOMER_USER_ID, 'ADDR-' || lpad(((i * 7919) % 1000003)::VARCHAR, 7, '0') AS ADDRESSABLE_ID, CASE i % 3 WHEN 0 THEN 'email' WHEN 1 THEN 'phone' ELSE 'postal' END AS ID_TYPE FROM range(${Math.ceil(total / 2)}) t(i)`;
        if (raw) {
          // a raw landing is many small files, as upstream delivers them
          for (let f = 0; f < RAW_LANDING_FILES; f++)
            await db.run(
              `COPY (${select} WHERE i % ${RAW_LANDING_FILES} = ${f}) TO ${literal(path.join(adir, `part-${String(f).padStart(5, '0')}.parquet`))} (FORMAT parquet, COMPRESSION snappy)`,
            );
        } else {
          await db.run(`COPY (${select}) TO ${literal(adir)} (FORMAT parquet, COMPRESSION snappy, FILE_SIZE_BYTES '4MB', FILENAME_PATTERN 'part-{i}')`);
        }
        await fs.writeFile(path.join(adir, ADDRESSABLE.readyMarker), '');
      }
    }
    // junk under raw_input/: reported in the run summary, never chosen
    await fs.mkdir(path.join(raw, 'snapshot_dt=latest'), { recursive: true });
    await fs.mkdir(path.join(raw, 'snapshot_dt=2099-02-30'), { recursive: true });
    await fs.writeFile(path.join(raw, 'README.txt'), 'stray object under raw_input/\n');
    await fs.mkdir(path.dirname(path.join(data, INFOBASE.mappingKey!)), { recursive: true });
    await fs.writeFile(path.join(data, INFOBASE.mappingKey!), `${SAMPLE_MAPPING}\n`);
    for (const day of options.chargebackDays ?? [new Date(Date.now() - 86_400_000).toISOString().slice(0, 10)]) {
      options.onTable?.(day, 'chargebacks landing (flywheel consolidate)');
      await generateLanding(db, lakeDir, day);
    }
  } finally {
    db.closeSync();
  }
  return { snapshots, rows };
}

/**
 * A day of chargebacks landing as upstream delivers it (`<LANDING_PREFIX>year=/month=/day=/`), for the sample home only:
 * small files: `files` files of ~`rowsPerFile` rows, with re-delivered (duplicate) chargebacks and a few NULL ids. */
export async function generateLanding(db: { run(sql: string): Promise<unknown> }, lakeDir: string, date: string, files = 40, rowsPerFile = 500): Promise<void> {
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
