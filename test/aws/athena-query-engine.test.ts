// AthenaQueryEngine against a mocked Athena client: rendered SQL, idempotency token, state, paged results.
import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { AthenaQueryEngine, athenaRequestToken } from '../../shared/adapters/aws/athena-query-engine.js';
import { renderAthenaStep } from '../../shared/domain/athena-sql.js';
import { buildStepsFor } from '../../shared/domain/build-steps.js';

const athena = mockClient(AthenaClient);
const engine = new AthenaQueryEngine(new AthenaClient({ region: 'us-east-1' }), { workgroup: 'flywheel-dev' });
beforeEach(() => athena.reset());

const [first, second] = buildStepsFor({
  database: 'flywheel_dev',
  table: 'ibe_01a',
  extTable: 'ext_ibe_01a',
  partStaging: 'part_ibe_01a__r1',
  columns: [{ name: 'customer_user_id', type: 'string' }],
  partLocation: 's3://data/bucketed/part_ibe_01a/snapshot_dt=2025-10-31/run_id=r1/',
  bucketCount: 256,
  partitionsPerQuery: 100,
});

describe('start', () => {
  test('runs the rendered step in its database and the workgroup, returning the QueryExecutionId', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111' });
    expect(await engine.start(first!, 'r1:ibe_01a:part 0-99')).toBe('a1b2c3d4-5678-90ab-cdef-EXAMPLE11111');
    expect(athena).toHaveReceivedCommandWith(StartQueryExecutionCommand, {
      QueryString: renderAthenaStep(first!),
      QueryExecutionContext: { Database: 'flywheel_dev' },
      WorkGroup: 'flywheel-dev',
      ClientRequestToken: athenaRequestToken('r1:ibe_01a:part 0-99'),
    });
    expect(athena.commandCalls(StartQueryExecutionCommand)[0]!.args[0].input).not.toHaveProperty('ResultConfiguration');
    expect(renderAthenaStep(first!)).toMatch(/^CREATE TABLE "flywheel_dev"\."part_ibe_01a__r1"/);
  });

  test('the token is 32–128 characters for any caller token, the same on a retry, different per query', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q' });
    await engine.start(first!, 'x');
    await engine.start(first!, 'x');
    await engine.start(second!, 'r1:ibe_01a:part 100-199:'.repeat(20));
    const tokens = athena.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input.ClientRequestToken!);
    for (const t of tokens) expect(t).toMatch(/^[0-9a-f]{64}$/);
    expect(tokens[1]).toBe(tokens[0]);
    expect(tokens[2]).not.toBe(tokens[0]);
  });

  test('startSql runs plain SQL, in the default database unless given one, with the output location when set', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-sql' });
    const withDefaults = new AthenaQueryEngine(new AthenaClient({ region: 'us-east-1' }), {
      workgroup: 'wg',
      outputLocation: 's3://analysis/athena/',
      database: 'flywheel_dev',
    });
    expect(await withDefaults.startSql('SELECT 1', 'tok')).toBe('q-sql');
    await withDefaults.startSql('SELECT 2', 'tok2', 'other_db');
    await engine.startSql('SHOW DATABASES', 'tok3');
    expect(athena).toHaveReceivedNthSpecificCommandWith(1, StartQueryExecutionCommand, {
      QueryString: 'SELECT 1',
      WorkGroup: 'wg',
      QueryExecutionContext: { Database: 'flywheel_dev' },
      ResultConfiguration: { OutputLocation: 's3://analysis/athena/' },
    });
    expect(athena).toHaveReceivedNthSpecificCommandWith(2, StartQueryExecutionCommand, { QueryExecutionContext: { Database: 'other_db' } });
    expect(athena.commandCalls(StartQueryExecutionCommand)[2]!.args[0].input).not.toHaveProperty('QueryExecutionContext');
  });

  test('an answer without a QueryExecutionId is an error', async () => {
    athena.on(StartQueryExecutionCommand).resolves({});
    await expect(engine.startSql('SELECT 1', 't')).rejects.toThrow(/no QueryExecutionId/);
  });
});

describe('status and results', () => {
  test('status is Status.State with its StateChangeReason', async () => {
    athena.on(GetQueryExecutionCommand, { QueryExecutionId: 'q-failed' }).resolves({
      QueryExecution: {
        QueryExecutionId: 'q-failed',
        Status: {
          State: 'FAILED',
          StateChangeReason: 'HIVE_TOO_MANY_OPEN_PARTITIONS: Exceeded limit of 100 open writers',
          AthenaError: { ErrorCategory: 2, ErrorType: 1100, Retryable: false },
        },
      },
    });
    athena
      .on(GetQueryExecutionCommand, { QueryExecutionId: 'q-ok' })
      .resolves({ QueryExecution: { QueryExecutionId: 'q-ok', Status: { State: 'SUCCEEDED' } } });
    expect(await engine.status('q-failed')).toEqual({ state: 'FAILED', reason: 'HIVE_TOO_MANY_OPEN_PARTITIONS: Exceeded limit of 100 open writers' });
    expect(await engine.status('q-ok')).toEqual({ state: 'SUCCEEDED', reason: undefined });
    expect(athena).toHaveReceivedCommandWith(GetQueryExecutionCommand, { QueryExecutionId: 'q-ok' });
  });

  test('results skip the header row of the first page only, follow NextToken and report bytes scanned', async () => {
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' }, Statistics: { DataScannedInBytes: 1234 } } });
    athena.on(GetQueryResultsCommand, { NextToken: undefined }).resolves({
      ResultSet: {
        ResultSetMetadata: {
          ColumnInfo: [
            { Name: 'id_bucket', Type: 'integer' },
            { Name: 'row_count', Type: 'bigint' },
          ],
        },
        Rows: [{ Data: [{ VarCharValue: 'id_bucket' }, { VarCharValue: 'row_count' }] }, { Data: [{ VarCharValue: '0' }, { VarCharValue: '10' }] }],
      },
      NextToken: 'p2',
    });
    athena.on(GetQueryResultsCommand, { NextToken: 'p2' }).resolves({ ResultSet: { Rows: [{ Data: [{}, { VarCharValue: '20' }] }] } });
    expect(await engine.results('q')).toEqual({
      rows: [
        { id_bucket: '0', row_count: '10' },
        { id_bucket: null, row_count: '20' },
      ],
      bytesScanned: 1234,
    });
    expect(athena).toHaveReceivedCommandTimes(GetQueryResultsCommand, 2);
  });
});
