/** An in-memory Glue Data Catalog behind aws-sdk-client-mock (tables and partitions), counting calls. */
import {
  BatchCreatePartitionCommand,
  BatchDeletePartitionCommand,
  BatchUpdatePartitionCommand,
  CreateTableCommand,
  DeleteTableCommand,
  EntityNotFoundException,
  AlreadyExistsException,
  GetPartitionsCommand,
  GetTableCommand,
  GetTablesCommand,
  GlueClient,
  StartJobRunCommand,
  UpdateTableCommand,
  type Partition,
  type TableInput,
} from '@aws-sdk/client-glue';
import { mockClient } from 'aws-sdk-client-mock';

export function fakeGlue() {
  const tables = new Map<string, TableInput>();
  const partitions = new Map<string, Map<string, Partition>>();
  const calls: string[] = [];
  const mock = mockClient(GlueClient);
  const key = (db?: string, t?: string) => `${db}.${t}`;
  const missing = () => new EntityNotFoundException({ $metadata: { httpStatusCode: 400 }, message: 'Entity Not Found' });
  const parts = (db?: string, t?: string) => {
    const k = key(db, t);
    if (!partitions.has(k)) partitions.set(k, new Map());
    return partitions.get(k)!;
  };
  mock.on(GetTableCommand).callsFake((i) => {
    calls.push('GetTable');
    const t = tables.get(key(i.DatabaseName, i.Name));
    if (!t) throw missing();
    return { Table: { ...t, DatabaseName: i.DatabaseName } };
  });
  mock.on(GetTablesCommand).callsFake((i) => {
    calls.push('GetTables');
    const re = i.Expression ? new RegExp(`^${i.Expression}$`) : /.*/;
    return { TableList: [...tables.entries()].filter(([k, t]) => k.startsWith(`${i.DatabaseName}.`) && re.test(t.Name!)).map(([, t]) => t) };
  });
  mock.on(CreateTableCommand).callsFake((i) => {
    calls.push('CreateTable');
    if (tables.has(key(i.DatabaseName, i.TableInput.Name))) throw new AlreadyExistsException({ $metadata: {}, message: 'exists' });
    tables.set(key(i.DatabaseName, i.TableInput.Name), i.TableInput);
    return {};
  });
  mock.on(UpdateTableCommand).callsFake((i) => {
    calls.push('UpdateTable');
    if (!tables.has(key(i.DatabaseName, i.TableInput.Name))) throw missing();
    tables.set(key(i.DatabaseName, i.TableInput.Name), i.TableInput);
    return {};
  });
  mock.on(DeleteTableCommand).callsFake((i) => {
    calls.push('DeleteTable');
    if (!tables.delete(key(i.DatabaseName, i.Name))) throw missing();
    partitions.delete(key(i.DatabaseName, i.Name));
    return {};
  });
  mock.on(GetPartitionsCommand).callsFake((i) => {
    calls.push('GetPartitions');
    return { Partitions: [...parts(i.DatabaseName, i.TableName).values()] };
  });
  mock.on(BatchCreatePartitionCommand).callsFake((i) => {
    calls.push('BatchCreatePartition');
    if (i.PartitionInputList.length > 100) throw new Error('BatchCreatePartition takes at most 100 partitions');
    for (const p of i.PartitionInputList)
      parts(i.DatabaseName, i.TableName).set(JSON.stringify(p.Values), { Values: p.Values, StorageDescriptor: p.StorageDescriptor });
    return { Errors: [] };
  });
  mock.on(BatchUpdatePartitionCommand).callsFake((i) => {
    calls.push('BatchUpdatePartition');
    if (i.Entries.length > 100) throw new Error('BatchUpdatePartition takes at most 100 entries');
    for (const e of i.Entries)
      parts(i.DatabaseName, i.TableName).set(JSON.stringify(e.PartitionValueList), {
        Values: e.PartitionInput!.Values,
        StorageDescriptor: e.PartitionInput!.StorageDescriptor,
      });
    return { Errors: [] };
  });
  mock.on(BatchDeletePartitionCommand).callsFake((i) => {
    calls.push('BatchDeletePartition');
    if (i.PartitionsToDelete.length > 25) throw new Error('BatchDeletePartition takes at most 25 partitions');
    for (const p of i.PartitionsToDelete) parts(i.DatabaseName, i.TableName).delete(JSON.stringify(p.Values));
    return { Errors: [] };
  });
  let runs = 0;
  mock.on(StartJobRunCommand).callsFake(() => {
    calls.push('StartJobRun');
    return { JobRunId: `jr_${String(++runs).padStart(4, '0')}` };
  });
  /** What Athena does when a CTAS / INSERT INTO writes a partition: registers it in Glue. */
  const addPartition = (db: string, t: string, value: string, location: string) =>
    parts(db, t).set(JSON.stringify([value]), { Values: [value], StorageDescriptor: { Location: location } });
  return { mock, tables, partitions: (db: string, t: string) => [...parts(db, t).values()], addPartition, calls };
}
