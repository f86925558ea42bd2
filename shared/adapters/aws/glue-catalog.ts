/**
 * The Glue Data Catalog. Tables are EXTERNAL_TABLE over parquet; a partition carries the table's
 * storage descriptor (columns, formats, SerDe) with its own location, as Athena's own
 * ALTER TABLE ADD PARTITION does, so no engine has to guess a partition's schema.
 * Glue batches partition calls: create ≤100, update ≤100, delete ≤25 partitions a call.
 */
import {
  AlreadyExistsException,
  BatchCreatePartitionCommand,
  BatchDeletePartitionCommand,
  BatchUpdatePartitionCommand,
  CreateTableCommand,
  DeleteTableCommand,
  EntityNotFoundException,
  GetPartitionsCommand,
  GetTableCommand,
  GetTablesCommand,
  UpdateTableCommand,
  type ErrorDetail,
  type GlueClient,
  type PartitionInput,
  type StorageDescriptor,
  type Table,
  type TableInput,
} from '@aws-sdk/client-glue';
import type { CatalogMethod } from '../../domain/access.js';
import type { Catalog, ColumnDef, PartitionDef, TableDef, TableSwitch } from '../../ports.js';

/** The Glue actions behind each method (each on the catalog, the database and the table). */
export const GLUE_CATALOG_ACTIONS: Record<CatalogMethod, string[]> = {
  getTable: ['glue:GetTable'],
  listTables: ['glue:GetTables'],
  upsertTable: ['glue:UpdateTable', 'glue:CreateTable'],
  deleteTable: ['glue:DeleteTable'],
  getPartitions: ['glue:GetPartitions'],
  addPartitions: ['glue:GetTable', 'glue:BatchCreatePartition'],
  switchTables: [
    'glue:UpdateTable',
    'glue:CreateTable',
    'glue:GetPartitions',
    'glue:BatchCreatePartition',
    'glue:BatchUpdatePartition',
    'glue:BatchDeletePartition',
  ],
};

const INPUT_FORMAT = 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat';
const OUTPUT_FORMAT = 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat';
const SERDE = 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe';
const CREATE_BATCH = 100;
const UPDATE_BATCH = 100;
const DELETE_BATCH = 25;

const chunks = <T>(items: T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
const isNamed = (err: unknown, type: { new (...args: never[]): Error }, name: string) =>
  err instanceof type || (err as { name?: string } | undefined)?.name === name;
const notFound = (err: unknown) => isNamed(err, EntityNotFoundException, 'EntityNotFoundException');
const alreadyExists = (err: unknown) => isNamed(err, AlreadyExistsException, 'AlreadyExistsException');
const valuesKey = (values: string[] | undefined) => JSON.stringify(values ?? []);

/** The storage descriptor of a table, or of one of its partitions when given that partition's location. */
function storageDescriptor(t: TableDef, location = t.location): StorageDescriptor {
  return {
    Location: location,
    Columns: t.columns.map((c) => ({ Name: c.name, Type: c.type })),
    InputFormat: INPUT_FORMAT,
    OutputFormat: OUTPUT_FORMAT,
    SerdeInfo: { SerializationLibrary: SERDE, Parameters: { 'serialization.format': '1' } },
    ...(t.bucketing ? { BucketColumns: t.bucketing.columns, NumberOfBuckets: t.bucketing.count } : {}),
  };
}

/**
 * Glue TableInput of a table definition. A bucketed table is pinned to `bucketing_version=1`:
 * Athena/Trino read a missing value as 1 too, but Hive 3 writers stamp 2 (Murmur3), and the
 * files here are laid out by Hive's original string hash (the id_bucket function), so the
 * version is stated, never inherited.
 */
export function tableInput(t: TableDef): TableInput {
  return {
    Name: t.name,
    Description: t.comment,
    TableType: 'EXTERNAL_TABLE',
    Parameters: { classification: 'parquet', EXTERNAL: 'TRUE', ...t.parameters, ...(t.bucketing ? { bucketing_version: '1' } : {}) },
    StorageDescriptor: storageDescriptor(t),
    PartitionKeys: t.partitionKeys.map((k) => ({ Name: k.name, Type: k.type })),
  };
}

/** PartitionInput of one partition of a table. */
export function partitionInput(t: TableDef, p: PartitionDef): PartitionInput {
  return { Values: p.values, StorageDescriptor: storageDescriptor(t, p.location) };
}

/** Table definition of a Glue table. */
export function tableDef(t: Table): TableDef {
  const sd = t.StorageDescriptor ?? {};
  const column = (c: { Name?: string; Type?: string }): ColumnDef => ({ name: c.Name ?? '', type: c.Type ?? 'string' });
  return {
    name: t.Name ?? '',
    location: sd.Location ?? '',
    columns: (sd.Columns ?? []).map(column),
    partitionKeys: (t.PartitionKeys ?? []).map(column),
    comment: t.Description,
    parameters: t.Parameters ?? {},
    ...(sd.NumberOfBuckets && sd.NumberOfBuckets > 0 ? { bucketing: { columns: sd.BucketColumns ?? [], count: sd.NumberOfBuckets } } : {}),
    storage: { tableType: t.TableType, inputFormat: sd.InputFormat, serde: sd.SerdeInfo?.SerializationLibrary },
  };
}

/** `id_bucket=7` (or `a=1/b=2`): a partition named by its keys. */
function partitionName(keys: ColumnDef[], values: string[] | undefined): string {
  return (values ?? []).map((v, i) => `${keys[i]?.name ?? `key${i}`}=${v}`).join('/');
}

function raise(action: string, database: string, t: TableDef, failures: Array<{ values?: string[]; detail?: ErrorDetail }>): void {
  if (failures.length === 0) return;
  const named = failures.map((f) => `${partitionName(t.partitionKeys, f.values)} (${f.detail?.ErrorCode ?? 'error'}: ${f.detail?.ErrorMessage ?? ''})`);
  throw new Error(`${action} on ${database}.${t.name} failed for ${failures.length} partition(s): ${named.join(', ')}`);
}

/** Catalog over the Glue Data Catalog (the client comes from the composition root). */
export class GlueCatalog implements Catalog {
  constructor(private readonly client: GlueClient) {}

  async getTable(database: string, name: string): Promise<TableDef | undefined> {
    try {
      const res = await this.client.send(new GetTableCommand({ DatabaseName: database, Name: name }));
      return res.Table && tableDef(res.Table);
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * GetTables filters by Expression, a pattern on the name (`prefix.*`); only the prefix's leading
   * [a-z0-9_] run goes into it, so no character is read as a pattern operator, and the exact
   * prefix is checked here.
   */
  async listTables(database: string, prefix = ''): Promise<TableDef[]> {
    const wanted = prefix.toLowerCase();
    const literal = /^[a-z0-9_]*/.exec(wanted)?.[0] ?? '';
    const tables: TableDef[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(new GetTablesCommand({ DatabaseName: database, Expression: literal ? `${literal}.*` : undefined, NextToken: token }));
      for (const t of res.TableList ?? []) if (t.Name?.startsWith(wanted)) tables.push(tableDef(t));
      token = res.NextToken;
    } while (token);
    return tables.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** UpdateTable, CreateTable when absent; a concurrent create between the two is updated over. */
  /** UpdateTable, or CreateTable when the table is not there; with a hint the likely call goes first (one call instead of two). */
  async upsertTable(database: string, table: TableDef, hint?: { exists: boolean }): Promise<void> {
    const update = async () => void (await this.client.send(new UpdateTableCommand({ DatabaseName: database, TableInput: tableInput(table) })));
    /** CreateTable; false when the table turned out to exist. */
    const created = async () => {
      try {
        await this.client.send(new CreateTableCommand({ DatabaseName: database, TableInput: tableInput(table) }));
        return true;
      } catch (err) {
        if (!alreadyExists(err)) throw err;
        return false;
      }
    };
    if (hint?.exists !== false) {
      try {
        return await update();
      } catch (err) {
        if (!notFound(err)) throw err;
      }
    }
    if (!(await created())) await update();
  }

  async deleteTable(database: string, name: string): Promise<void> {
    try {
      await this.client.send(new DeleteTableCommand({ DatabaseName: database, Name: name }));
    } catch (err) {
      if (!notFound(err)) throw err;
    }
  }

  /** Values and locations of every partition (all pages; column schemas are not fetched). */
  async getPartitions(database: string, table: string): Promise<PartitionDef[]> {
    const partitions: PartitionDef[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(new GetPartitionsCommand({ DatabaseName: database, TableName: table, ExcludeColumnSchema: true, NextToken: token }));
      for (const p of res.Partitions ?? []) partitions.push({ values: p.Values ?? [], location: p.StorageDescriptor?.Location ?? '' });
      token = res.NextToken;
    } while (token);
    return partitions;
  }

  /** Registers partitions with the table's storage descriptor (one GetTable for it); existing partitions are left as they are. */
  async addPartitions(database: string, table: string, partitions: PartitionDef[]): Promise<void> {
    if (partitions.length === 0) return;
    const def = await this.getTable(database, table);
    if (!def) throw new Error(`cannot add partitions to ${database}.${table}: the table does not exist`);
    await this.createPartitions(database, def, partitions);
  }

  /**
   * Per switch: UpdateTable (CreateTable when absent), then, for a partitioned table, its partitions
   * made exactly `partitions`: new values created, existing values re-pointed, values no longer
   * present deleted (in that order, so no value ever disappears while readers still need it).
   *
   * How readers see it: Glue has no multi-table (or table-plus-partitions) transaction. An
   * unpartitioned table moves atomically with its UpdateTable. A partitioned table's partitions
   * move one batch call at a time, so a query planned between UpdateTable and the last partition
   * call may read some partitions of the previous snapshot and some of the new one. Each
   * partition it reads is complete: both snapshots' files stay in S3 until retention removes the
   * old one, which happens only after the switch. Re-running a switch is idempotent.
   */
  async switchTables(database: string, switches: TableSwitch[]): Promise<void> {
    for (const s of switches) {
      await this.upsertTable(database, s.table);
      if (!s.partitions) continue;
      const existing = new Map((await this.getPartitions(database, s.table.name)).map((p) => [valuesKey(p.values), p]));
      const wanted = new Set(s.partitions.map((p) => valuesKey(p.values)));
      const fresh = s.partitions.filter((p) => !existing.has(valuesKey(p.values)));
      const current = s.partitions.filter((p) => existing.has(valuesKey(p.values)));
      const stale = [...existing.values()].filter((p) => !wanted.has(valuesKey(p.values)));
      // a partition registered by someone else since GetPartitions is re-pointed like the others
      const raced = await this.createPartitions(database, s.table, fresh);
      await this.updatePartitions(database, s.table, [...current, ...raced]);
      await this.deletePartitions(database, s.table, stale);
    }
  }

  /** BatchCreatePartition ≤100 a call; returns the partitions that already existed. */
  private async createPartitions(database: string, t: TableDef, partitions: PartitionDef[]): Promise<PartitionDef[]> {
    const existed: PartitionDef[] = [];
    for (const batch of chunks(partitions, CREATE_BATCH)) {
      const res = await this.client.send(
        new BatchCreatePartitionCommand({ DatabaseName: database, TableName: t.name, PartitionInputList: batch.map((p) => partitionInput(t, p)) }),
      );
      const errors = res.Errors ?? [];
      const already = new Set(errors.filter((e) => e.ErrorDetail?.ErrorCode === 'AlreadyExistsException').map((e) => valuesKey(e.PartitionValues)));
      existed.push(...batch.filter((p) => already.has(valuesKey(p.values))));
      const failed = errors.filter((e) => e.ErrorDetail?.ErrorCode !== 'AlreadyExistsException');
      raise(
        'BatchCreatePartition',
        database,
        t,
        failed.map((e) => ({ values: e.PartitionValues, detail: e.ErrorDetail })),
      );
    }
    return existed;
  }

  /** BatchUpdatePartition ≤100 entries a call. */
  private async updatePartitions(database: string, t: TableDef, partitions: PartitionDef[]): Promise<void> {
    for (const batch of chunks(partitions, UPDATE_BATCH)) {
      const res = await this.client.send(
        new BatchUpdatePartitionCommand({
          DatabaseName: database,
          TableName: t.name,
          Entries: batch.map((p) => ({ PartitionValueList: p.values, PartitionInput: partitionInput(t, p) })),
        }),
      );
      raise(
        'BatchUpdatePartition',
        database,
        t,
        (res.Errors ?? []).map((e) => ({ values: e.PartitionValueList, detail: e.ErrorDetail })),
      );
    }
  }

  /** BatchDeletePartition ≤25 a call; a partition already gone is not an error. */
  private async deletePartitions(database: string, t: TableDef, partitions: PartitionDef[]): Promise<void> {
    for (const batch of chunks(partitions, DELETE_BATCH)) {
      const res = await this.client.send(
        new BatchDeletePartitionCommand({ DatabaseName: database, TableName: t.name, PartitionsToDelete: batch.map((p) => ({ Values: p.values })) }),
      );
      const failed = (res.Errors ?? []).filter((e) => e.ErrorDetail?.ErrorCode !== 'EntityNotFoundException');
      raise(
        'BatchDeletePartition',
        database,
        t,
        failed.map((e) => ({ values: e.PartitionValues, detail: e.ErrorDetail })),
      );
    }
  }
}
