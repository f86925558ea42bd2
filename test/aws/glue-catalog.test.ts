import {
  BatchCreatePartitionCommand, BatchDeletePartitionCommand, BatchUpdatePartitionCommand, CreateTableCommand, EntityNotFoundException,
  GetPartitionsCommand, GetTableCommand, GetTablesCommand, GlueClient, UpdateTableCommand,
} from '@aws-sdk/client-glue';
import { mockClient } from 'aws-sdk-client-mock';
import { GlueCatalog, tableDef, tableInput } from '../../shared/adapters/aws/glue-catalog.js';
import type { TableDef } from '../../shared/ports.js';

const glue = mockClient(GlueClient);
const catalog = new GlueCatalog(new GlueClient({ region: 'us-east-1' }));
const notFound = () => new EntityNotFoundException({ $metadata: { httpStatusCode: 400 }, message: 'Table not found' });

const part: TableDef = {
  name: 'part_ibe_01a',
  location: 's3://data/bucketed/part_ibe_01a/snapshot_dt=2025-10-31/run_id=r1/',
  columns: [{ name: 'customer_user_id', type: 'string' }, { name: 'age', type: 'int' }],
  partitionKeys: [{ name: 'id_bucket', type: 'int' }],
  comment: 'Bucketed table created from snapshot_dt=2025-10-31',
  parameters: { snapshot_dt: '2025-10-31', run_id: 'r1' },
};
const partitions = (from: number, to: number, run = 'r1') =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ values: [String(from + i)], location: `s3://data/bucketed/part_ibe_01a/snapshot_dt=2025-10-31/run_id=${run}/id_bucket=${from + i}/` }));

beforeEach(() => glue.reset());

test('an external parquet table: SerDe, formats, comment, parameters, partition keys', () => {
  const input = tableInput(part);
  expect(input).toMatchObject({
    Name: 'part_ibe_01a',
    TableType: 'EXTERNAL_TABLE',
    Description: 'Bucketed table created from snapshot_dt=2025-10-31',
    Parameters: { classification: 'parquet', EXTERNAL: 'TRUE', snapshot_dt: '2025-10-31', run_id: 'r1' },
    PartitionKeys: [{ Name: 'id_bucket', Type: 'int' }],
    StorageDescriptor: {
      Location: part.location,
      InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
      OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
      SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
      Columns: [{ Name: 'customer_user_id', Type: 'string' }, { Name: 'age', Type: 'int' }],
    },
  });
  const bucketed = tableInput({ ...part, partitionKeys: [], bucketing: { columns: ['customer_user_id'], count: 256 } });
  expect(bucketed.StorageDescriptor).toMatchObject({ BucketColumns: ['customer_user_id'], NumberOfBuckets: 256 });
  expect(bucketed.Parameters).toMatchObject({ bucketing_version: '1' });
  expect(tableDef({ ...input, Name: 'part_ibe_01a' } as never)).toMatchObject({ ...part, storage: { tableType: 'EXTERNAL_TABLE' } });
});

test('upsert updates, and creates when the table does not exist', async () => {
  glue.on(UpdateTableCommand).rejectsOnce(notFound()).resolves({});
  glue.on(CreateTableCommand).resolves({});
  await catalog.upsertTable('flywheel_dev', part);
  await catalog.upsertTable('flywheel_dev', part);
  expect(glue.commandCalls(CreateTableCommand)).toHaveLength(1);
  expect(glue.commandCalls(UpdateTableCommand)).toHaveLength(2);
  expect(glue.commandCalls(CreateTableCommand)[0]!.args[0].input.DatabaseName).toBe('flywheel_dev');
});

test('getTable: EntityNotFound is undefined', async () => {
  glue.on(GetTableCommand).rejects(notFound());
  expect(await catalog.getTable('flywheel_dev', 'nope')).toBeUndefined();
});

test('listTables pages with a name expression and keeps only the prefix', async () => {
  glue.on(GetTablesCommand, { NextToken: undefined }).resolves({ TableList: [tableInput(part) as never], NextToken: 'n' });
  glue.on(GetTablesCommand, { NextToken: 'n' }).resolves({ TableList: [tableInput({ ...part, name: 'partner_x' }) as never] });
  const tables = await catalog.listTables('flywheel_dev', 'part_');
  expect(tables.map((t) => t.name)).toEqual(['part_ibe_01a']);
  expect(glue.commandCalls(GetTablesCommand)[0]!.args[0].input.Expression).toBe('part_.*');
});

test('switching 256 partitions: UpdateTable, then ≤100 per BatchCreate/BatchUpdate, ≤25 per BatchDelete', async () => {
  glue.on(UpdateTableCommand).resolves({});
  glue.on(GetPartitionsCommand).resolves({ Partitions: partitions(0, 49, 'r0').concat(partitions(300, 329, 'r0')).map((p) => ({ Values: p.values, StorageDescriptor: { Location: p.location } })) });
  glue.on(BatchCreatePartitionCommand).resolves({});
  glue.on(BatchUpdatePartitionCommand).resolves({});
  glue.on(BatchDeletePartitionCommand).resolves({});
  await catalog.switchTables('flywheel_dev', [{ table: part, partitions: partitions(0, 255) }]);
  expect(glue.commandCalls(UpdateTableCommand)).toHaveLength(1);
  expect(glue.commandCalls(BatchCreatePartitionCommand).map((c) => c.args[0].input.PartitionInputList!.length)).toEqual([100, 100, 6]);
  expect(glue.commandCalls(BatchUpdatePartitionCommand).map((c) => c.args[0].input.Entries!.length)).toEqual([50]);
  expect(glue.commandCalls(BatchDeletePartitionCommand).map((c) => c.args[0].input.PartitionsToDelete!.length)).toEqual([25, 5]);
  const first = glue.commandCalls(BatchCreatePartitionCommand)[0]!.args[0].input.PartitionInputList![0]!;
  expect(first).toMatchObject({ Values: ['50'], StorageDescriptor: { Location: partitions(50, 50)[0]!.location } });
});

test('per-partition errors name the partitions (AlreadyExists is not an error when adding)', async () => {
  glue.on(BatchCreatePartitionCommand).resolvesOnce({ Errors: [{ PartitionValues: ['7'], ErrorDetail: { ErrorCode: 'AlreadyExistsException' } }] }).resolvesOnce({ Errors: [{ PartitionValues: ['9'], ErrorDetail: { ErrorCode: 'AccessDeniedException', ErrorMessage: 'no' } }] });
  await catalog.addPartitions('flywheel_dev', 'part_ibe_01a', partitions(7, 7));
  await expect(catalog.addPartitions('flywheel_dev', 'part_ibe_01a', partitions(9, 9))).rejects.toThrow(/id_bucket=9 \(AccessDeniedException: no\)/);
});
