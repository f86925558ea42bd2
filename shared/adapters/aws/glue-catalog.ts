/**
 * The Glue Data Catalog. Tables are EXTERNAL_TABLE over parquet. The live switch is UpdateTable
 * followed by the partition calls Glue batches (create ≤100, update ≤100, delete ≤25 a call).
 * Glue has no multi-table transaction: between UpdateTable and the last partition call a reader may
 * see some partitions of the previous snapshot and some of the new one; each partition is complete,
 * because both snapshots' data stay in S3 until retention removes the old one.
 */
import {
  BatchCreatePartitionCommand, BatchDeletePartitionCommand, BatchUpdatePartitionCommand, CreateTableCommand, DeleteTableCommand,
  EntityNotFoundException, GetPartitionsCommand, GetTableCommand, GetTablesCommand, UpdateTableCommand,
  type GlueClient, type PartitionError, type Table, type TableInput, type StorageDescriptor,
} from '@aws-sdk/client-glue';
import type { Catalog, PartitionDef, TableDef, TableSwitch } from '../../ports.js';

const INPUT = 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat';
const OUTPUT = 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat';
const SERDE = 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe';

const chunks = <T>(items: T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
const notFound = (err: unknown) => err instanceof EntityNotFoundException || (err as { name?: string }).name === 'EntityNotFoundException';

/** Storage descriptor of a parquet folder. */
function storage(location: string, table?: TableDef): StorageDescriptor {
  return {
    Location: location,
    InputFormat: INPUT,
    OutputFormat: OUTPUT,
    SerdeInfo: { SerializationLibrary: SERDE, Parameters: { 'serialization.format': '1' } },
    ...(table ? { Columns: table.columns.map((c) => ({ Name: c.name, Type: c.type })) } : {}),
    ...(table?.bucketing ? { BucketColumns: table.bucketing.columns, NumberOfBuckets: table.bucketing.count } : {}),
  };
}

/** TableInput of a table definition. Bucketed tables carry `bucketing_version=1`: Hive's original hash, the one id_bucket uses. */
export function tableInput(t: TableDef): TableInput {
  return {
    Name: t.name,
    Description: t.comment,
    TableType: 'EXTERNAL_TABLE',
    Parameters: { classification: 'parquet', EXTERNAL: 'TRUE', ...(t.bucketing ? { bucketing_version: '1' } : {}), ...t.parameters },
    StorageDescriptor: storage(t.location, t),
    PartitionKeys: t.partitionKeys.map((k) => ({ Name: k.name, Type: k.type })),
  };
}

/** Table definition of a Glue table. */
export function tableDef(t: Table): TableDef {
  const sd = t.StorageDescriptor ?? {};
  return {
    name: t.Name!,
    location: sd.Location ?? '',
    columns: (sd.Columns ?? []).map((c) => ({ name: c.Name!, type: c.Type ?? 'string' })),
    partitionKeys: (t.PartitionKeys ?? []).map((c) => ({ name: c.Name!, type: c.Type ?? 'string' })),
    comment: t.Description,
    parameters: t.Parameters ?? {},
    ...(sd.NumberOfBuckets && sd.NumberOfBuckets > 0 ? { bucketing: { columns: sd.BucketColumns ?? [], count: sd.NumberOfBuckets } } : {}),
    storage: { tableType: t.TableType, inputFormat: sd.InputFormat, serde: sd.SerdeInfo?.SerializationLibrary },
  };
}

function raise(action: string, table: string, errors: PartitionError[] | undefined): void {
  if (errors?.length) {
    throw new Error(`${action} on ${table} failed for ${errors.length} partition(s): ${errors.map((e) => `id_bucket=${e.PartitionValues?.join('/')} (${e.ErrorDetail?.ErrorCode}: ${e.ErrorDetail?.ErrorMessage})`).join(', ')}`);
  }
}

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

  /** GetTables' Expression is a regular expression on the name. */
  async listTables(database: string, prefix = ''): Promise<TableDef[]> {
    const tables: TableDef[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(new GetTablesCommand({ DatabaseName: database, Expression: prefix ? `${prefix.replace(/[^a-z0-9_]/g, '')}.*` : undefined, NextToken: token }));
      for (const t of res.TableList ?? []) if (t.Name?.startsWith(prefix)) tables.push(tableDef(t));
      token = res.NextToken;
    } while (token);
    return tables.sort((a, b) => a.name.localeCompare(b.name));
  }

  async upsertTable(database: string, table: TableDef): Promise<void> {
    try {
      await this.client.send(new UpdateTableCommand({ DatabaseName: database, TableInput: tableInput(table) }));
    } catch (err) {
      if (!notFound(err)) throw err;
      await this.client.send(new CreateTableCommand({ DatabaseName: database, TableInput: tableInput(table) }));
    }
  }

  async deleteTable(database: string, name: string): Promise<void> {
    try {
      await this.client.send(new DeleteTableCommand({ DatabaseName: database, Name: name }));
    } catch (err) {
      if (!notFound(err)) throw err;
    }
  }

  async getPartitions(database: string, table: string): Promise<PartitionDef[]> {
    const partitions: PartitionDef[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(new GetPartitionsCommand({ DatabaseName: database, TableName: table, NextToken: token }));
      for (const p of res.Partitions ?? []) partitions.push({ values: p.Values ?? [], location: p.StorageDescriptor?.Location ?? '' });
      token = res.NextToken;
    } while (token);
    return partitions;
  }

  async addPartitions(database: string, table: string, partitions: PartitionDef[]): Promise<void> {
    for (const batch of chunks(partitions, 100)) {
      const res = await this.client.send(
        new BatchCreatePartitionCommand({ DatabaseName: database, TableName: table, PartitionInputList: batch.map((p) => ({ Values: p.values, StorageDescriptor: storage(p.location) })) }),
      );
      raise('BatchCreatePartition', table, res.Errors?.filter((e) => e.ErrorDetail?.ErrorCode !== 'AlreadyExistsException'));
    }
  }

  async switchTables(database: string, switches: TableSwitch[]): Promise<void> {
    for (const s of switches) {
      await this.upsertTable(database, s.table);
      if (!s.partitions) continue;
      const existing = new Map((await this.getPartitions(database, s.table.name)).map((p) => [JSON.stringify(p.values), p]));
      const wanted = new Map(s.partitions.map((p) => [JSON.stringify(p.values), p]));
      const create = s.partitions.filter((p) => !existing.has(JSON.stringify(p.values)));
      const update = s.partitions.filter((p) => existing.has(JSON.stringify(p.values)));
      const remove = [...existing.values()].filter((p) => !wanted.has(JSON.stringify(p.values)));
      await this.addPartitions(database, s.table.name, create);
      for (const batch of chunks(update, 100)) {
        const res = await this.client.send(
          new BatchUpdatePartitionCommand({
            DatabaseName: database,
            TableName: s.table.name,
            Entries: batch.map((p) => ({ PartitionValueList: p.values, PartitionInput: { Values: p.values, StorageDescriptor: storage(p.location) } })),
          }),
        );
        if (res.Errors?.length) throw new Error(`BatchUpdatePartition on ${s.table.name} failed for ${res.Errors.map((e) => `id_bucket=${e.PartitionValueList?.join('/')} (${e.ErrorDetail?.ErrorCode})`).join(', ')}`);
      }
      for (const batch of chunks(remove, 25)) {
        const res = await this.client.send(new BatchDeletePartitionCommand({ DatabaseName: database, TableName: s.table.name, PartitionsToDelete: batch.map((p) => ({ Values: p.values })) }));
        raise('BatchDeletePartition', s.table.name, res.Errors);
      }
    }
  }
}
