/**
 * DuckDB as the local catalog and query engine. The catalog keeps Glue-like table definitions and
 * partitions in `flywheel_meta` tables and exposes every table as a view (schema = database), so
 * `flywheel query "select … from part_<t>"` reads the same files a Glue table would point at.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BUCKET_COUNT, duckdbBucketSql, narrowedBucketSql } from '../../domain/bucket.js';
import { parseS3Uri } from '../../domain/config.js';
import { identifier, literal } from '../../domain/sql-identifiers.js';
import type { Catalog, ColumnDef, PartitionDef, TableDef, TableSwitch } from '../../ports.js';
import { BUCKET_EXTENSION, bucketExtension } from './bucket-extension.js';

/** One DuckDB database file per local home, and the mapping from s3:// URIs to lake paths. */
/** DuckDB's memory limit in local mode (FLYWHEEL_DUCKDB_MEMORY_LIMIT overrides it, e.g. `4GB`). */
export const LOCAL_MEMORY_LIMIT = '1GB';

/** At least the bucket count: every partition of a one-pass part_ build keeps one file open. */
const PARTITIONED_WRITE_MAX_OPEN_FILES = 512;

export class LocalDuckDb {
  private constructor(
    readonly connection: DuckDBConnection,
    readonly lakeDir: string,
    /** Which form computes id_bucket here: the compiled extension, or the SQL form and why. */
    readonly bucketForm: { form: 'extension' | 'sql'; reason?: string },
  ) {}

  static async open(file: string, lakeDir: string): Promise<LocalDuckDb> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    const extension = await bucketExtension();
    // bounded memory: DuckDB spills sorts, aggregations and partitioned writes to <file>.tmp/ beyond
    // the limit (its default is 80% of RAM); insertion order is not kept where no ORDER BY asks for it.
    // The bucket extension is built here, unsigned, so loading it needs allow_unsigned_extensions.
    const instance = await DuckDBInstance.create(file, {
      memory_limit: process.env.FLYWHEEL_DUCKDB_MEMORY_LIMIT || LOCAL_MEMORY_LIMIT,
      preserve_insertion_order: 'false',
      // a part_ build writes all 256 id_bucket partitions in one COPY: one open file each (DuckDB's default is
      // 100, beyond which it closes files and starts new ones, ~2.7 files per partition)
      partitioned_write_max_open_files: String(PARTITIONED_WRITE_MAX_OPEN_FILES),
      ...(extension.available ? { allow_unsigned_extensions: 'true' } : {}),
    });
    const connection = await instance.connect();
    if (extension.available) await connection.run(`LOAD ${literal(extension.file)}`);
    const db = new LocalDuckDb(connection, lakeDir, extension.available ? { form: 'extension' } : { form: 'sql', reason: extension.reason });
    await db.connection.run(`
      CREATE SCHEMA IF NOT EXISTS flywheel_meta;
      CREATE TABLE IF NOT EXISTS flywheel_meta.tables (database VARCHAR, name VARCHAR, def VARCHAR, PRIMARY KEY (database, name));
      CREATE TABLE IF NOT EXISTS flywheel_meta.partitions (database VARCHAR, tbl VARCHAR, vals VARCHAR, location VARCHAR, PRIMARY KEY (database, tbl, vals));
      CREATE TABLE IF NOT EXISTS flywheel_meta.queries (id VARCHAR PRIMARY KEY, token VARCHAR, state VARCHAR, reason VARCHAR, started_at TIMESTAMP, ended_at TIMESTAMP);
      ALTER TABLE flywheel_meta.queries ADD COLUMN IF NOT EXISTS result VARCHAR;`);
    return db;
  }

  /** DuckDB expression for the id_bucket of `column` (VARCHAR) among `count` buckets; NULL → 0. */
  bucketSql(column: string, count = BUCKET_COUNT): string {
    return this.bucketForm.form === 'extension' ? narrowedBucketSql(`${BUCKET_EXTENSION}(${column})`, count) : duckdbBucketSql(column, count);
  }

  /** Lake path of an s3:// URI. */
  localPath(uri: string): string {
    const { bucket, key } = parseS3Uri(uri);
    return path.join(this.lakeDir, bucket, key);
  }

  async all(sql: string, values?: Record<string, string | number | null>): Promise<Record<string, unknown>[]> {
    const reader = await this.connection.runAndReadAll(sql, values as never);
    return reader.getRowObjectsJson() as Record<string, unknown>[];
  }

  async run(sql: string, values?: Record<string, string | number | null>): Promise<void> {
    await this.connection.run(sql, values as never);
  }

  /** Runs `fn` in one transaction (rolled back on error). */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    await this.run('BEGIN TRANSACTION');
    try {
      const result = await fn();
      await this.run('COMMIT');
      return result;
    } catch (err) {
      await this.run('ROLLBACK');
      throw err;
    }
  }
}

const DUCK_TYPES: Record<string, string> = {
  string: 'VARCHAR',
  int: 'INTEGER',
  bigint: 'BIGINT',
  smallint: 'SMALLINT',
  tinyint: 'TINYINT',
  double: 'DOUBLE',
  float: 'FLOAT',
  boolean: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
  binary: 'BLOB',
};

/** DuckDB type of a Hive type name. */
export function duckType(hiveType: string): string {
  const decimal = /^decimal\((\d+),(\d+)\)$/.exec(hiveType);
  if (decimal) return `DECIMAL(${decimal[1]},${decimal[2]})`;
  const t = DUCK_TYPES[hiveType];
  if (!t) throw new Error(`no DuckDB type for Hive type ${hiveType}`);
  return t;
}

const q = (name: string) => `"${identifier(name)}"`;

/** What Glue records for the tables Flywheel creates: external, parquet. */
export const EXTERNAL_PARQUET = {
  tableType: 'EXTERNAL_TABLE',
  inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
  serde: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
};

/** The DuckDB catalog: Glue-shaped definitions plus one view per table. */
export class DuckDbCatalog implements Catalog {
  constructor(private readonly db: LocalDuckDb) {}

  async getTable(database: string, name: string): Promise<TableDef | undefined> {
    const rows = await this.db.all('SELECT def FROM flywheel_meta.tables WHERE database = $db AND name = $name', { db: database, name });
    return rows[0] ? (JSON.parse(rows[0].def as string) as TableDef) : undefined;
  }

  async listTables(database: string, prefix = ''): Promise<TableDef[]> {
    const rows = await this.db.all('SELECT def FROM flywheel_meta.tables WHERE database = $db AND starts_with(name, $prefix) ORDER BY name', {
      db: database,
      prefix,
    });
    return rows.map((r) => JSON.parse(r.def as string) as TableDef);
  }

  async upsertTable(database: string, table: TableDef): Promise<void> {
    await this.db.transaction(() => this.write(database, table, undefined));
  }

  async deleteTable(database: string, name: string): Promise<void> {
    await this.db.transaction(async () => {
      await this.db.run('DELETE FROM flywheel_meta.tables WHERE database = $db AND name = $name', { db: database, name });
      await this.db.run('DELETE FROM flywheel_meta.partitions WHERE database = $db AND tbl = $name', { db: database, name });
      await this.db.run(`DROP VIEW IF EXISTS ${q(database)}.${q(name)}`);
    });
  }

  async getPartitions(database: string, table: string): Promise<PartitionDef[]> {
    const rows = await this.db.all('SELECT vals, location FROM flywheel_meta.partitions WHERE database = $db AND tbl = $t ORDER BY vals', {
      db: database,
      t: table,
    });
    return rows.map((r) => ({ values: JSON.parse(r.vals as string) as string[], location: r.location as string }));
  }

  /** Locally the whole switch is one DuckDB transaction: readers see the old or the new snapshot, never a mix. */
  async switchTables(database: string, switches: TableSwitch[]): Promise<void> {
    await this.db.transaction(async () => {
      for (const s of switches) await this.write(database, s.table, s.partitions ?? []);
    });
  }

  /** Re-creates the table's view from its definition, so files added or removed since are seen (as Athena lists S3 per query). */
  async refreshView(database: string, name: string): Promise<void> {
    const def = await this.getTable(database, name);
    if (def) await this.db.transaction(() => this.write(database, def, undefined));
  }

  /** Re-creates every view of a database. */
  async refreshViews(database: string): Promise<void> {
    for (const t of await this.listTables(database)) await this.refreshView(database, t.name);
  }

  /** Adds partitions to a table (as BatchCreatePartition, or Athena's INSERT INTO / ALTER TABLE ADD PARTITION would). */
  async addPartitions(database: string, table: string, partitions: PartitionDef[]): Promise<void> {
    const def = await this.getTable(database, table);
    if (!def) throw new Error(`table ${table} does not exist`);
    const existing = await this.getPartitions(database, table);
    const byValues = new Map([...existing, ...partitions].map((p) => [JSON.stringify(p.values), p]));
    await this.db.transaction(() => this.write(database, def, [...byValues.values()]));
  }

  private async write(database: string, input: TableDef, partitions: PartitionDef[] | undefined): Promise<void> {
    const table = { ...input, storage: input.storage ?? EXTERNAL_PARQUET };
    await this.db.run(`CREATE SCHEMA IF NOT EXISTS ${q(database)}`);
    await this.db.run('INSERT OR REPLACE INTO flywheel_meta.tables VALUES ($db, $name, $def)', { db: database, name: table.name, def: JSON.stringify(table) });
    if (partitions) {
      await this.db.run('DELETE FROM flywheel_meta.partitions WHERE database = $db AND tbl = $t', { db: database, t: table.name });
      if (partitions.length > 0) {
        const rows = JSON.stringify(partitions.map((p) => ({ vals: JSON.stringify(p.values), location: p.location })));
        await this.db.run(
          `INSERT INTO flywheel_meta.partitions SELECT $db, $t, r.vals, r.location FROM (SELECT unnest(from_json($rows::JSON, '[{"vals":"VARCHAR","location":"VARCHAR"}]')) AS r)`,
          { db: database, t: table.name, rows },
        );
      }
    }
    const parts = table.partitionKeys.length > 0 ? (partitions ?? (await this.getPartitions(database, table.name))) : undefined;
    await this.db.run(`CREATE OR REPLACE VIEW ${q(database)}.${q(table.name)} AS ${await this.viewSql(table, parts)}`);
  }

  /** SELECT over the table's files with the catalog's column types; an empty typed SELECT when it has none. */
  private async viewSql(table: TableDef, partitions: PartitionDef[] | undefined): Promise<string> {
    const all = [...table.columns, ...table.partitionKeys];
    const select = (cols: ColumnDef[]) => cols.map((c) => `CAST(${q(c.name)} AS ${duckType(c.type)}) AS ${q(c.name)}`).join(', ');
    const empty = `SELECT ${all.map((c) => `CAST(NULL AS ${duckType(c.type)}) AS ${q(c.name)}`).join(', ')} WHERE false`;
    // the folders holding data: a catalog partition without files is not read (read_parquet fails on an empty glob)
    const withData = new Set<string>();
    for (const dir of partitions ? partitions.map((p) => p.location) : [table.location]) {
      const files = await fs.readdir(this.db.localPath(dir)).catch(() => [] as string[]);
      if (files.some((f) => f.endsWith('.parquet'))) withData.add(dir);
    }
    if (withData.size === 0) return empty;
    const glob = (dir: string) => path.join(this.db.localPath(dir), '*.parquet');
    // hive_partitioning off: DuckDB otherwise reads any column named like a `k=v` folder of the path from the path
    if (!partitions) return `SELECT ${select(all)} FROM read_parquet([${literal(glob(table.location))}], hive_partitioning = false)`;
    // partition values come from the catalog, as in Glue, not from the file paths
    const hive = new Map<string, string[]>();
    const branches: string[] = [];
    for (const p of partitions.filter((x) => withData.has(x.location))) {
      const keys = hiveKeys(this.db.localPath(p.location), table, p.values);
      if (keys) hive.set(keys, [...(hive.get(keys) ?? []), glob(p.location)]);
      else
        branches.push(
          `SELECT ${select(table.columns)}, ${table.partitionKeys.map((k, i) => `CAST(${literal(p.values[i] ?? '')} AS ${duckType(k.type)}) AS ${q(k.name)}`).join(', ')} FROM read_parquet(${literal(glob(p.location))}, hive_partitioning = false)`,
        );
    }
    // one scan over every partition whose folder names its values (as every partition Flywheel writes does): bound once,
    // pruned by the partition keys; DuckDB binds a UNION branch per other partition (~0.3 ms each, 256 per table)
    const types = `{${table.partitionKeys.map((k) => `${literal(k.name)}: ${literal(duckType(k.type))}`).join(', ')}}`;
    for (const files of hive.values()) {
      branches.unshift(
        `SELECT ${select(all)} FROM read_parquet([${files.map(literal).join(', ')}], hive_partitioning = true, hive_types = ${types}, hive_types_autocast = false)`,
      );
    }
    return branches.join(' UNION ALL ');
  }
}

/**
 * When a partition's folder ends in `<key>=<value>/` segments giving exactly the catalog's values (plain
 * characters only, nothing to decode), and no `k=v` segment of its path names a data column (DuckDB would
 * read that column from the path), DuckDB's hive partitioning reads the same values the catalog holds: the
 * path's key names (the group its files can be read with), else undefined.
 */
function hiveKeys(dir: string, table: TableDef, values: string[]): string | undefined {
  const segments = dir.split(path.sep).filter(Boolean);
  const n = table.partitionKeys.length;
  const tail = segments.slice(-n);
  if (tail.length !== n || table.partitionKeys.some((k, i) => !/^[A-Za-z0-9_.-]+$/.test(values[i] ?? '') || tail[i] !== `${k.name}=${values[i]}`))
    return undefined;
  const pathKeys = segments.map((s) => /^([^=]+)=/.exec(s)?.[1]?.toLowerCase()).filter((k): k is string => k !== undefined);
  const data = new Set(table.columns.map((c) => c.name.toLowerCase()));
  if (pathKeys.some((k) => data.has(k))) return undefined;
  return pathKeys.join('/');
}
