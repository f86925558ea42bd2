// What Athena does for a part_ range query (CTAS or INSERT INTO … WHERE id_bucket BETWEEN a AND b):
// the CTAS registers the staging table; every bucket of the range gets a file under id_bucket=N/ and
// a partition. Shared by the AWS pipeline test and the bench's cost count.
import type { fakeGlue } from './fake-glue.js';
import type { fakeS3 } from './fake-s3.js';

/** Applies one part_ range query to the fakes; any other SQL is left alone. */
export function simulatePartRangeQuery(sql: string, s3: ReturnType<typeof fakeS3>, glue: ReturnType<typeof fakeGlue>): void {
  const table = /(?:CREATE TABLE|INSERT INTO) "flywheel_dev"\."([a-z0-9_]+)"/.exec(sql)?.[1];
  const range = /BETWEEN (\d+) AND (\d+)/.exec(sql);
  if (!table || !range) return;
  const [from, to] = [Number(range[1]), Number(range[2])];
  if (sql.startsWith('CREATE TABLE')) {
    const location = /external_location = '([^']+)'/.exec(sql)![1]!;
    glue.tables.set(`flywheel_dev.${table}`, {
      Name: table,
      TableType: 'EXTERNAL_TABLE',
      PartitionKeys: [{ Name: 'id_bucket', Type: 'int' }],
      StorageDescriptor: {
        Location: location,
        Columns: [{ Name: 'customer_user_id', Type: 'string' }],
        InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
        SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
      },
    });
  }
  const location = glue.tables.get(`flywheel_dev.${table}`)!.StorageDescriptor!.Location!;
  for (let b = from; b <= to; b++) {
    s3.put('data', `${location.replace('s3://data/', '')}id_bucket=${b}/20251031_000000_00001_abcde_${b}`, `rows of bucket ${b}`);
    glue.addPartition('flywheel_dev', table, String(b), `${location}id_bucket=${b}/`);
  }
}
