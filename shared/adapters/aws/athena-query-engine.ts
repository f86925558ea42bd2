/** Athena as the query engine: StartQueryExecution with an idempotency token; state and results by query id. */
import { createHash } from 'node:crypto';
import { GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand, type AthenaClient } from '@aws-sdk/client-athena';
import { renderAthenaStep } from '../../domain/athena-sql.js';
import { renderAthenaMonitorQuery } from '../../domain/monitor/queries.js';
import type { EngineQuery, QueryEngine, QueryState } from '../../ports.js';

/** Athena SQL of any engine query. */
export function renderAthena(query: EngineQuery): string {
  return query.kind === 'part-range' ? renderAthenaStep(query) : renderAthenaMonitorQuery(query);
}

export class AthenaQueryEngine implements QueryEngine {
  constructor(private readonly client: AthenaClient, private readonly options: { workgroup: string; outputLocation?: string }) {}

  /** ClientRequestToken must be 32–128 characters: a SHA-256 of the caller's token keeps retries idempotent. */
  async start(query: EngineQuery, token: string): Promise<string> {
    const res = await this.client.send(
      new StartQueryExecutionCommand({
        QueryString: renderAthena(query),
        ClientRequestToken: createHash('sha256').update(token).digest('hex'),
        QueryExecutionContext: { Database: query.database },
        WorkGroup: this.options.workgroup,
        ...(this.options.outputLocation ? { ResultConfiguration: { OutputLocation: this.options.outputLocation } } : {}),
      }),
    );
    if (!res.QueryExecutionId) throw new Error('Athena StartQueryExecution returned no QueryExecutionId');
    return res.QueryExecutionId;
  }

  async status(queryExecutionId: string): Promise<{ state: QueryState; reason?: string }> {
    const res = await this.client.send(new GetQueryExecutionCommand({ QueryExecutionId: queryExecutionId }));
    return { state: (res.QueryExecution?.Status?.State ?? 'FAILED') as QueryState, reason: res.QueryExecution?.Status?.StateChangeReason };
  }

  /** All result pages; the first row of the first page is the header (Athena's documented shape). */
  async results(queryExecutionId: string): Promise<{ rows: Array<Record<string, string | null>>; bytesScanned: number }> {
    const execution = await this.client.send(new GetQueryExecutionCommand({ QueryExecutionId: queryExecutionId }));
    const rows: Array<Record<string, string | null>> = [];
    let columns: string[] | undefined;
    let token: string | undefined;
    do {
      const page = await this.client.send(new GetQueryResultsCommand({ QueryExecutionId: queryExecutionId, NextToken: token }));
      columns ??= page.ResultSet?.ResultSetMetadata?.ColumnInfo?.map((c) => c.Name ?? '') ?? [];
      let data = page.ResultSet?.Rows ?? [];
      if (!token) data = data.slice(1); // header row
      for (const r of data) rows.push(Object.fromEntries(columns.map((c, i) => [c, r.Data?.[i]?.VarCharValue ?? null])));
      token = page.NextToken;
    } while (token);
    return { rows, bytesScanned: execution.QueryExecution?.Statistics?.DataScannedInBytes ?? 0 };
  }
}
