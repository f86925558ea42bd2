// GlueCatalog against a mocked Glue client: TableInput shape, pagination, batch limits, the switch and its errors.
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
  GlueClient,
  UpdateTableCommand,
  type Partition,
} from '@aws-sdk/client-glue';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { GlueCatalog, tableDef, tableInput } from '../../shared/adapters/aws/glue-catalog.js';
import type { PartitionDef, TableDef } from '../../shared/ports.js';

const glue = mockClient(GlueClient);
const catalog = new GlueCatalog(new GlueClient({ region: 'us-east-1' }));
const notFound = () => new EntityNotFoundException({ $metadata: { httpStatusCode: 400 }, message: 'Table not found' });
const exists = () => new AlreadyExistsException({ $metadata: { httpStatusCode: 400 }, message: 'Table already exists.' });

const PARQUET = {
  InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
  OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
  SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
};
const part: TableDef = {
  name: 'part_ibe_01a',
  location: 's3://data/bucketed/part_ibe_01a/snapshot_dt=2025-10-31/run_id=r1/',
  columns: [
    { name: 'customer_user_id', type: 'string' },
    { name: 'age', type: 'int' },
  ],
  partitionKeys: [{ name: 'id_bucket', type: 'int' }],
  comment: 'Bucketed table created from snapshot_dt=2025-10-31',
  parameters: { snapshot_dt: '2025-10-31', run_id: 'r1' },
};
const partitions = (from: number, to: number, run = 'r1'): PartitionDef[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({
    values: [String(from + i)],
    location: `s3://data/bucketed/part_ibe_01a/snapshot_dt=2025-10-31/run_id=${run}/id_bucket=${from + i}/`,
  }));
/** A partition as GetPartitions returns it. */
const gluePartition = (p: PartitionDef): Partition => ({
  Values: p.values,
  DatabaseName: 'flywheel_dev',
  TableName: 'part_ibe_01a',
  StorageDescriptor: { Location: p.location },
});

beforeEach(() => glue.reset());

describe('table definitions', () => {
  test('an external parquet table: SerDe, formats, columns, comment, merged parameters, partition keys', () => {
    expect(tableInput(part)).toEqual({
      Name: 'part_ibe_01a',
      TableType: 'EXTERNAL_TABLE',
      Description: 'Bucketed table created from snapshot_dt=2025-10-31',
      Parameters: { classification: 'parquet', EXTERNAL: 'TRUE', snapshot_dt: '2025-10-31', run_id: 'r1' },
      PartitionKeys: [{ Name: 'id_bucket', Type: 'int' }],
      StorageDescriptor: {
        Location: part.location,
        Columns: [
          { Name: 'customer_user_id', Type: 'string' },
          { Name: 'age', Type: 'int' },
        ],
        ...PARQUET,
        SerdeInfo: { ...PARQUET.SerdeInfo, Parameters: { 'serialization.format': '1' } },
      },
    });
  });

  test('a bucketed table declares its buckets and Hive bucketing version 1, whatever its parameters say', () => {
    const bucketed = tableInput({
      ...part,
      partitionKeys: [],
      bucketing: { columns: ['customer_user_id'], count: 256 },
      parameters: { bucketing_version: '2' },
    });
    expect(bucketed.StorageDescriptor).toMatchObject({ BucketColumns: ['customer_user_id'], NumberOfBuckets: 256 });
    expect(bucketed.Parameters).toMatchObject({ bucketing_version: '1' });
    expect(tableInput(part).Parameters).not.toHaveProperty('bucketing_version');
  });

  test('a Glue table reads back as the same definition', () => {
    const bucketedDef: TableDef = { ...part, bucketing: { columns: ['customer_user_id'], count: 256 } };
    expect(tableDef({ ...tableInput(bucketedDef), Name: 'part_ibe_01a', DatabaseName: 'flywheel_dev' })).toEqual({
      ...bucketedDef,
      parameters: { classification: 'parquet', EXTERNAL: 'TRUE', ...part.parameters, bucketing_version: '1' },
      storage: { tableType: 'EXTERNAL_TABLE', inputFormat: PARQUET.InputFormat, serde: PARQUET.SerdeInfo.SerializationLibrary },
    });
  });
});

describe('tables', () => {
  test('getTable: EntityNotFoundException is undefined, other errors propagate', async () => {
    glue.on(GetTableCommand, { Name: 'nope' }).rejects(notFound());
    glue.on(GetTableCommand, { Name: 'denied' }).rejects(new Error('AccessDeniedException'));
    expect(await catalog.getTable('flywheel_dev', 'nope')).toBeUndefined();
    await expect(catalog.getTable('flywheel_dev', 'denied')).rejects.toThrow('AccessDeniedException');
  });

  test('listTables pages through GetTables with a name pattern and keeps exactly the prefix', async () => {
    glue.on(GetTablesCommand, { NextToken: undefined }).resolves({ TableList: [{ ...tableInput(part), Name: 'part_ibe_01a' }], NextToken: 'n' });
    glue.on(GetTablesCommand, { NextToken: 'n' }).resolves({
      TableList: [
        { ...tableInput(part), Name: 'part_ibe_00z' },
        { ...tableInput(part), Name: 'xpart_y' },
      ],
    });
    const tables = await catalog.listTables('flywheel_dev', 'part_');
    expect(tables.map((t) => t.name)).toEqual(['part_ibe_00z', 'part_ibe_01a']);
    expect(glue).toHaveReceivedCommandTimes(GetTablesCommand, 2);
    expect(glue).toHaveReceivedNthSpecificCommandWith(1, GetTablesCommand, { DatabaseName: 'flywheel_dev', Expression: 'part_.*' });
  });

  test('listTables puts no pattern operator of the prefix into the Expression', async () => {
    glue.on(GetTablesCommand).resolves({ TableList: [] });
    await catalog.listTables('flywheel_dev', 'Part_x.*|');
    await catalog.listTables('flywheel_dev');
    expect(glue).toHaveReceivedNthSpecificCommandWith(1, GetTablesCommand, { Expression: 'part_x.*' });
    expect(glue).toHaveReceivedNthSpecificCommandWith(2, GetTablesCommand, { Expression: undefined });
  });

  test('upsertTable updates; creates when absent; updates over a concurrent create', async () => {
    glue.on(UpdateTableCommand).resolvesOnce({}).rejectsOnce(notFound()).rejectsOnce(notFound()).resolves({});
    glue.on(CreateTableCommand).resolvesOnce({}).rejectsOnce(exists());
    await catalog.upsertTable('flywheel_dev', part);
    expect(glue).not.toHaveReceivedCommand(CreateTableCommand);
    await catalog.upsertTable('flywheel_dev', part);
    expect(glue).toHaveReceivedCommandWith(CreateTableCommand, { DatabaseName: 'flywheel_dev', TableInput: tableInput(part) });
    await catalog.upsertTable('flywheel_dev', part);
    expect(glue).toHaveReceivedCommandTimes(CreateTableCommand, 2);
    expect(glue).toHaveReceivedCommandTimes(UpdateTableCommand, 4);
  });

  test('deleteTable: a table already gone is fine', async () => {
    glue.on(DeleteTableCommand).rejectsOnce(notFound()).rejectsOnce(new Error('ResourceNumberLimitExceeded'));
    await catalog.deleteTable('flywheel_dev', 'part_ibe_01a__r1');
    await expect(catalog.deleteTable('flywheel_dev', 'x')).rejects.toThrow('ResourceNumberLimitExceeded');
    expect(glue).toHaveReceivedCommandWith(DeleteTableCommand, { DatabaseName: 'flywheel_dev', Name: 'part_ibe_01a__r1' });
  });
});

describe('partitions', () => {
  test('getPartitions follows NextToken and maps values and locations', async () => {
    glue.on(GetPartitionsCommand, { NextToken: undefined }).resolves({ Partitions: partitions(0, 1).map(gluePartition), NextToken: 'p2' });
    glue.on(GetPartitionsCommand, { NextToken: 'p2' }).resolves({ Partitions: partitions(2, 2).map(gluePartition) });
    expect(await catalog.getPartitions('flywheel_dev', 'part_ibe_01a')).toEqual(partitions(0, 2));
    expect(glue).toHaveReceivedNthSpecificCommandWith(2, GetPartitionsCommand, { DatabaseName: 'flywheel_dev', TableName: 'part_ibe_01a', NextToken: 'p2' });
  });

  test('addPartitions registers ≤100 a call with the table storage descriptor; existing ones are left alone', async () => {
    glue.on(GetTableCommand).resolves({ Table: { ...tableInput(part), DatabaseName: 'flywheel_dev' } });
    glue
      .on(BatchCreatePartitionCommand)
      .resolves({ Errors: [{ PartitionValues: ['7'], ErrorDetail: { ErrorCode: 'AlreadyExistsException', ErrorMessage: 'Partition already exists.' } }] });
    await catalog.addPartitions('flywheel_dev', 'part_ibe_01a', partitions(0, 149));
    const calls = glue.commandCalls(BatchCreatePartitionCommand).map((c) => c.args[0].input);
    expect(calls.map((i) => i.PartitionInputList!.length)).toEqual([100, 50]);
    expect(calls[0]!.PartitionInputList![7]).toEqual({
      Values: ['7'],
      StorageDescriptor: { ...tableInput(part).StorageDescriptor, Location: partitions(7, 7)[0]!.location },
    });
    expect(glue).not.toHaveReceivedCommand(BatchUpdatePartitionCommand);
  });

  test('addPartitions to a missing table is an error naming it', async () => {
    glue.on(GetTableCommand).rejects(notFound());
    await expect(catalog.addPartitions('flywheel_dev', 'part_gone', partitions(0, 0))).rejects.toThrow('flywheel_dev.part_gone');
    expect(glue).not.toHaveReceivedCommand(BatchCreatePartitionCommand);
  });

  test('per-partition errors of BatchCreatePartition throw, naming each partition by its keys', async () => {
    glue.on(GetTableCommand).resolves({ Table: { ...tableInput(part), DatabaseName: 'flywheel_dev' } });
    glue.on(BatchCreatePartitionCommand).resolves({
      Errors: [
        { PartitionValues: ['9'], ErrorDetail: { ErrorCode: 'AccessDeniedException', ErrorMessage: 'no' } },
        { PartitionValues: ['11'], ErrorDetail: { ErrorCode: 'InternalServiceException', ErrorMessage: 'oops' } },
      ],
    });
    await expect(catalog.addPartitions('flywheel_dev', 'part_ibe_01a', partitions(9, 11))).rejects.toThrow(
      'BatchCreatePartition on flywheel_dev.part_ibe_01a failed for 2 partition(s): id_bucket=9 (AccessDeniedException: no), id_bucket=11 (InternalServiceException: oops)',
    );
  });
});

describe('switchTables', () => {
  const succeed = () => {
    glue.on(UpdateTableCommand).resolves({});
    glue.on(BatchCreatePartitionCommand).resolves({ Errors: [] });
    glue.on(BatchUpdatePartitionCommand).resolves({ Errors: [] });
    glue.on(BatchDeletePartitionCommand).resolves({ Errors: [] });
  };

  test('256 new partitions: UpdateTable, then 3 BatchCreatePartition calls of ≤100', async () => {
    succeed();
    glue.on(GetPartitionsCommand).resolves({ Partitions: [] });
    await catalog.switchTables('flywheel_dev', [{ table: part, partitions: partitions(0, 255) }]);
    expect(glue).toHaveReceivedCommandTimes(UpdateTableCommand, 1);
    expect(glue.commandCalls(BatchCreatePartitionCommand).map((c) => c.args[0].input.PartitionInputList!.length)).toEqual([100, 100, 56]);
    expect(glue).not.toHaveReceivedCommand(BatchUpdatePartitionCommand);
    expect(glue).not.toHaveReceivedCommand(BatchDeletePartitionCommand);
  });

  test('the partitions become exactly the new set: create new, re-point existing (≤100), delete stale (≤25)', async () => {
    succeed();
    glue.on(GetPartitionsCommand).resolves({ Partitions: [...partitions(0, 149, 'r0'), ...partitions(300, 329, 'r0')].map(gluePartition) });
    await catalog.switchTables('flywheel_dev', [{ table: part, partitions: partitions(0, 255) }]);

    const order = glue.calls().map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name);
    expect(order[0]).toBe('UpdateTableCommand');
    expect(order.lastIndexOf('BatchCreatePartitionCommand')).toBeLessThan(order.indexOf('BatchDeletePartitionCommand'));
    expect(glue.commandCalls(BatchCreatePartitionCommand).map((c) => c.args[0].input.PartitionInputList!.length)).toEqual([100, 6]);
    const updates = glue.commandCalls(BatchUpdatePartitionCommand).map((c) => c.args[0].input.Entries!);
    expect(updates.map((e) => e.length)).toEqual([100, 50]);
    expect(updates[0]![3]).toEqual({
      PartitionValueList: ['3'],
      PartitionInput: { Values: ['3'], StorageDescriptor: { ...tableInput(part).StorageDescriptor, Location: partitions(3, 3)[0]!.location } },
    });
    const deletes = glue.commandCalls(BatchDeletePartitionCommand).map((c) => c.args[0].input.PartitionsToDelete!);
    expect(deletes.map((d) => d.length)).toEqual([25, 5]);
    expect(deletes.flat().map((d) => d.Values![0])).toEqual(partitions(300, 329).map((p) => p.values[0]));
  });

  test('an unpartitioned table is one UpdateTable; an absent one is created', async () => {
    glue.on(UpdateTableCommand).rejects(notFound());
    glue.on(CreateTableCommand).resolves({});
    const bucketed: TableDef = { ...part, name: 'bucketed_ibe_01a', partitionKeys: [], bucketing: { columns: ['customer_user_id'], count: 256 } };
    await catalog.switchTables('flywheel_dev', [{ table: bucketed }]);
    expect(glue).toHaveReceivedCommandWith(CreateTableCommand, { TableInput: tableInput(bucketed) });
    expect(glue).not.toHaveReceivedCommand(GetPartitionsCommand);
    expect(glue.calls()).toHaveLength(2);
  });

  test('a partition created by someone else meanwhile is re-pointed, not left on its old location', async () => {
    succeed();
    glue.on(GetPartitionsCommand).resolves({ Partitions: [] });
    glue
      .on(BatchCreatePartitionCommand)
      .resolves({ Errors: [{ PartitionValues: ['1'], ErrorDetail: { ErrorCode: 'AlreadyExistsException', ErrorMessage: 'exists' } }] });
    await catalog.switchTables('flywheel_dev', [{ table: part, partitions: partitions(0, 2) }]);
    expect(glue).toHaveReceivedCommandWith(BatchUpdatePartitionCommand, { Entries: [expect.objectContaining({ PartitionValueList: ['1'] })] });
  });

  test('per-partition update and delete errors throw, naming the partitions', async () => {
    succeed();
    glue.on(GetPartitionsCommand).resolves({
      Partitions: partitions(0, 1, 'r0')
        .concat(partitions(300, 300, 'r0'))
        .map(gluePartition),
    });
    glue
      .on(BatchUpdatePartitionCommand)
      .resolves({ Errors: [{ PartitionValueList: ['1'], ErrorDetail: { ErrorCode: 'EntityNotFoundException', ErrorMessage: 'gone' } }] });
    await expect(catalog.switchTables('flywheel_dev', [{ table: part, partitions: partitions(0, 1) }])).rejects.toThrow(
      'BatchUpdatePartition on flywheel_dev.part_ibe_01a failed for 1 partition(s): id_bucket=1 (EntityNotFoundException: gone)',
    );
    glue.on(BatchUpdatePartitionCommand).resolves({ Errors: [] });
    glue
      .on(BatchDeletePartitionCommand)
      .resolves({ Errors: [{ PartitionValues: ['300'], ErrorDetail: { ErrorCode: 'InternalServiceException', ErrorMessage: 'try again' } }] });
    await expect(catalog.switchTables('flywheel_dev', [{ table: part, partitions: partitions(0, 1) }])).rejects.toThrow(
      /BatchDeletePartition on flywheel_dev\.part_ibe_01a .*id_bucket=300 \(InternalServiceException: try again\)/,
    );
  });
});
