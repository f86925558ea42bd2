/** Athena as the query engine: StartQueryExecution with an idempotency token; state and results by query id. */
import { createHash } from 'node:crypto';
import { GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand, type AthenaClient } from '@aws-sdk/client-athena';
import { renderAthenaStep } from '../../domain/athena-sql.js';
import { renderAthenaMonitorQuery } from '../../domain/monitor/queries.js';
import type { EngineMethod } from '../../domain/access.js';
import type { EngineQuery, QueryEngine, QueryState } from '../../ports.js';

/**
 * The Athena actions behind each method, and what Athena then does with the caller's credentials
 * (Athena runs a query as its caller): the workgroup's result location (the policy of AWS's knowledge
 * center article "athena-output-bucket-error", CreateBucket left out: the bucket exists), the catalog
 * and data of the tables a query reads or writes, the partitions a DDL statement registers.
 */
export const ATHENA_ACTIONS = {
  calls: {
    start: ['athena:StartQueryExecution'],
    status: ['athena:GetQueryExecution'],
    results: ['athena:GetQueryExecution', 'athena:GetQueryResults'],
  } satisfies Record<EngineMethod, string[]>,
  results: {
    bucket: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
    objects: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
  },
  read: {
    glue: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions'],
    bucket: ['s3:GetBucketLocation', 's3:ListBucket'],
    objects: ['s3:GetObject'],
    key: ['kms:Decrypt'],
  },
  /** CTAS (CreateTable) and INSERT INTO (partitions looked up, then created) of a partitioned parquet table; multipart writes under SSE-KMS need Decrypt too. */
  write: {
    glue: ['glue:GetDatabase', 'glue:GetTable', 'glue:CreateTable', 'glue:GetPartition', 'glue:CreatePartition', 'glue:BatchCreatePartition'],
    bucket: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
    objects: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
    key: ['kms:GenerateDataKey', 'kms:Decrypt'],
  },
  /** ALTER TABLE ADD PARTITION: catalog only, no data read or written. */
  partitions: { glue: ['glue:GetDatabase', 'glue:GetTable', 'glue:BatchCreatePartition'] },
};

/** Athena SQL of any engine query. */
export function renderAthena(query: EngineQuery): string {
  return query.kind === 'part-range' ? renderAthenaStep(query) : renderAthenaMonitorQuery(query);
}

/**
 * Athena's ClientRequestToken must be 32–128 characters. The SHA-256 hex of the caller's token
 * (64 characters) fits whatever the caller passes and stays the same on a retry, so a retried
 * start returns the first start's query instead of running the SQL twice.
 */
export function athenaRequestToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface AthenaOptions {
  workgroup: string;
  /** Result location; omit it when the workgroup enforces its own. */
  outputLocation?: string;
  /** Database of plain SQL started without one. */
  database?: string;
}

/** QueryEngine over Athena (the client comes from the composition root). */
export class AthenaQueryEngine implements QueryEngine {
  constructor(
    private readonly client: AthenaClient,
    private readonly options: AthenaOptions,
  ) {}

  /** Starts a build step or monitor query, rendered as Athena SQL, in the query's database. */
  async start(query: EngineQuery, token: string): Promise<string> {
    return this.startSql(renderAthena(query), token, query.database);
  }

  /** Starts plain SQL; `token` makes a retried start idempotent. Returns the query execution id. */
  async startSql(sql: string, token: string, database = this.options.database): Promise<string> {
    const res = await this.client.send(
      new StartQueryExecutionCommand({
        QueryString: sql,
        ClientRequestToken: athenaRequestToken(token),
        WorkGroup: this.options.workgroup,
        ...(database ? { QueryExecutionContext: { Database: database } } : {}),
        ...(this.options.outputLocation ? { ResultConfiguration: { OutputLocation: this.options.outputLocation } } : {}),
      }),
    );
    if (!res.QueryExecutionId) throw new Error(`Athena StartQueryExecution in workgroup ${this.options.workgroup} returned no QueryExecutionId`);
    return res.QueryExecutionId;
  }

  async status(queryExecutionId: string): Promise<{ state: QueryState; reason?: string }> {
    const res = await this.client.send(new GetQueryExecutionCommand({ QueryExecutionId: queryExecutionId }));
    const status = res.QueryExecution?.Status;
    if (!status?.State) return { state: 'FAILED', reason: `Athena returned no state for query ${queryExecutionId}` };
    return { state: status.State as QueryState, reason: status.StateChangeReason };
  }

  /** All result pages; the first row of the first page is the header (Athena's documented shape for SELECT). */
  async results(queryExecutionId: string): Promise<{ rows: Array<Record<string, string | null>>; bytesScanned: number }> {
    const execution = await this.client.send(new GetQueryExecutionCommand({ QueryExecutionId: queryExecutionId }));
    const rows: Array<Record<string, string | null>> = [];
    let columns: string[] | undefined;
    let token: string | undefined;
    let first = true;
    do {
      const page = await this.client.send(new GetQueryResultsCommand({ QueryExecutionId: queryExecutionId, NextToken: token }));
      columns ??= page.ResultSet?.ResultSetMetadata?.ColumnInfo?.map((c) => c.Name ?? '') ?? [];
      const data = (page.ResultSet?.Rows ?? []).slice(first ? 1 : 0);
      for (const r of data) rows.push(Object.fromEntries(columns.map((c, i) => [c, r.Data?.[i]?.VarCharValue ?? null])));
      token = page.NextToken;
      first = false;
    } while (token);
    return { rows, bytesScanned: execution.QueryExecution?.Statistics?.DataScannedInBytes ?? 0 };
  }
}
