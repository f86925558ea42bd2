// The Clean Rooms report's pure rules: readiness per table, identity rows, RFC 4180 CSV, file names.
import { parse } from 'csv-parse/sync';
import {
  buildIdentityRows,
  buildReport,
  buildTableRows,
  csvField,
  failed,
  failedRowLines,
  fetched,
  identityCsv,
  parseInputSource,
  renderCsv,
  reportFiles,
  tablesCsv,
  type AssociationItem,
  type ConfiguredTableItem,
  type IdNamespaceItem,
  type Listed,
  type SchemaMappingItem,
  type TableRow,
} from '../shared/domain/cleanrooms-report.js';

const DB = 'flywheel_dev';
const MEMBERSHIP = 'm-1';

/** A configured table over DB.<table> with a CUSTOM rule naming `providers` (none: no rule). */
function ct(table: string, rule?: { type?: string; providers?: string[] }, extra: Partial<ConfiguredTableItem> = {}): ConfiguredTableItem {
  return {
    id: `ct-${table}`,
    name: table,
    analysisRuleTypes: rule ? [rule.type ?? 'CUSTOM'] : [],
    glue: fetched({ database: DB, table }),
    ...(rule ? { analysisRule: fetched({ type: rule.type ?? 'CUSTOM', allowedAnalyses: ['ANY_QUERY'], allowedAnalysisProviders: rule.providers ?? [] }) } : {}),
    ...extra,
  };
}
const assoc = (table: string, receivers?: string[], extra: Partial<AssociationItem> = {}): AssociationItem => ({
  id: `cta-${table}`,
  name: table,
  configuredTableId: `ct-${table}`,
  ...(receivers ? { analysisRule: fetched({ type: 'CUSTOM', allowedResultReceivers: receivers, allowedAdditionalAnalyses: [] }) } : {}),
  ...extra,
});
const list = <T>(items: T[], error?: string): Listed<T> => ({ items, ...(error ? { error } : {}) });
const rows = (tables: string[], cts: Listed<ConfiguredTableItem>, assocs: Listed<AssociationItem>) =>
  buildTableRows({ database: DB, membershipId: MEMBERSHIP, tables, configuredTables: cts, associations: assocs });
const row = (r: { rows: TableRow[] }, t: string) => r.rows.find((x) => x.table === t)!;

describe('readiness', () => {
  test('configured + CUSTOM rule with a provider + associated = ready; providers merged from both rules', () => {
    const r = rows(['part_a'], list([ct('part_a', { providers: ['111122223333'] })]), list([assoc('part_a', ['444455556666', '111122223333'])]));
    expect(row(r, 'part_a')).toEqual({
      table: 'part_a',
      configured_table_status: 'CONFIGURED',
      configured_table_id: 'ct-part_a',
      association_status: 'ASSOCIATED',
      association_id: 'cta-part_a',
      analysis_rule: 'CUSTOM',
      analysis_providers: ['111122223333', '444455556666'],
      ready_for_analysis: 'Yes',
      reason: 'ready: CUSTOM rule, associated, 2 analysis provider(s)',
      errors: [],
    });
  });

  test('each missing condition alone makes the table not ready, with its reason', () => {
    const r = rows(
      ['part_none', 'part_norule', 'part_noassoc', 'part_noprov', 'part_agg', 'part_agg_recv'],
      list([
        ct('part_norule'),
        ct('part_noassoc', { providers: ['111122223333'] }),
        ct('part_noprov', { providers: [] }),
        ct('part_agg', { type: 'AGGREGATION' }),
        ct('part_agg_recv', { type: 'AGGREGATION' }),
      ]),
      list([assoc('part_norule', ['111122223333']), assoc('part_noprov'), assoc('part_agg'), assoc('part_agg_recv', ['111122223333'])]),
    );
    expect(r.rows.map((x) => [x.table, x.ready_for_analysis])).toEqual([
      ['part_agg', 'No'],
      ['part_agg_recv', 'Yes'],
      ['part_noassoc', 'No'],
      ['part_none', 'No'],
      ['part_noprov', 'No'],
      ['part_norule', 'No'],
    ]);
    expect(row(r, 'part_none')).toMatchObject({
      configured_table_status: 'NOT_CONFIGURED',
      association_status: 'NOT_ASSOCIATED',
      reason: `not configured in Clean Rooms (no configured table references ${DB}.part_none)`,
      errors: [],
    });
    expect(row(r, 'part_norule')).toMatchObject({
      analysis_rule: 'NONE',
      reason: 'the configured table has no analysis rule (it can be associated but not queried)',
    });
    expect(row(r, 'part_noassoc').reason).toBe(`not associated with membership ${MEMBERSHIP}`);
    expect(row(r, 'part_noprov').reason).toMatch(/^no analysis provider: the CUSTOM rule names no allowedAnalysisProviders/);
    expect(row(r, 'part_agg').reason).toMatch(/^no analysis provider: the AGGREGATION rule/);
    expect(row(r, 'part_agg_recv').analysis_providers).toEqual(['111122223333']);
  });

  test('a throttled rule read marks only its row: Unknown while nothing known blocks it, No when something does', () => {
    const throttled = failed('GetConfiguredTableAnalysisRule ct-part_b CUSTOM: ThrottlingException: Rate exceeded');
    const r = rows(
      ['part_a', 'part_b', 'part_c'],
      list([ct('part_a', { providers: ['111122223333'] }), ct('part_b', {}, { analysisRule: throttled }), ct('part_c', {}, { analysisRule: throttled })]),
      list([assoc('part_a'), assoc('part_b')]),
    );
    expect(row(r, 'part_a')).toMatchObject({ ready_for_analysis: 'Yes', errors: [] });
    expect(row(r, 'part_b')).toMatchObject({
      ready_for_analysis: 'Unknown',
      analysis_rule: 'ERROR',
      association_status: 'ASSOCIATED',
      errors: [throttled.error],
    });
    expect(row(r, 'part_b').reason).toBe(`its analysis rule could not be read; failed: ${throttled.error}`);
    expect(row(r, 'part_c')).toMatchObject({ ready_for_analysis: 'No', errors: [throttled.error] });
    expect(row(r, 'part_c').reason).toMatch(/^not associated with membership m-1; its analysis rule could not be read; failed: /);
  });

  test('a failed ListConfiguredTables marks every row as failed, not as not configured', () => {
    const denied = 'ListConfiguredTables: AccessDeniedException: not authorized';
    const r = rows(['part_a', 'part_b'], list([], denied), list([assoc('part_a')]));
    for (const t of r.rows)
      expect(t).toMatchObject({ configured_table_status: 'ERROR', association_status: 'ERROR', ready_for_analysis: 'Unknown', errors: [denied] });
  });

  test('a failed association listing leaves association unknown for configured tables; a not configured table stays No', () => {
    const err = 'ListConfiguredTableAssociations m-1: ThrottlingException: slow down';
    const r = rows(['part_a', 'part_z'], list([ct('part_a', { providers: ['111122223333'] })]), list([], err));
    expect(row(r, 'part_a')).toMatchObject({ association_status: 'ERROR', ready_for_analysis: 'Unknown', errors: [err] });
    expect(row(r, 'part_z')).toMatchObject({ configured_table_status: 'NOT_CONFIGURED', ready_for_analysis: 'No', errors: [] });
  });

  test('configured tables are matched by their Glue reference; an unreadable one by its name; others are listed', () => {
    const unreadable = failed('GetConfiguredTable ct-x: AccessDeniedException: no');
    const r = rows(
      ['part_a', 'part_b'],
      list([
        { ...ct('renamed', { providers: ['111122223333'] }), glue: fetched({ database: DB, table: 'part_a' }) },
        { ...ct('part_b', { providers: ['111122223333'] }), glue: unreadable },
        { ...ct('part_a'), id: 'ct-other-db', glue: fetched({ database: 'elsewhere', table: 'part_a' }) },
        { ...ct('athena_t'), glue: fetched(undefined) },
      ]),
      list([assoc('renamed', ['111122223333']), assoc('part_b')]),
    );
    expect(row(r, 'part_a')).toMatchObject({ configured_table_id: 'ct-renamed', ready_for_analysis: 'Yes' });
    expect(row(r, 'part_b')).toMatchObject({ configured_table_status: 'ERROR', ready_for_analysis: 'Unknown', errors: [unreadable.error] });
    expect(r.others).toEqual([
      { id: 'ct-other-db', name: 'part_a', glue: { database: 'elsewhere', table: 'part_a' } },
      { id: 'ct-athena_t', name: 'athena_t' },
    ]);
  });

  test('two configured tables over one Glue table: the one associated with the membership counts', () => {
    const r = rows(
      ['part_a'],
      list([{ ...ct('part_a', { providers: ['111122223333'] }), id: 'ct-old' }, ct('part_a', { providers: ['111122223333'] })]),
      list([assoc('part_a')]),
    );
    expect(row(r, 'part_a')).toMatchObject({ configured_table_id: 'ct-part_a', ready_for_analysis: 'Yes' });
  });
});

describe('identity resolution rows', () => {
  const ns = (name: string, sources: Array<{ inputSourceARN: string; schemaName?: string }>): IdNamespaceItem => ({
    name,
    detail: fetched({ type: 'SOURCE', methods: ['RULE_BASED'], inputSources: sources }),
  });
  const mapping: SchemaMappingItem = {
    name: 's1',
    detail: fetched({
      fields: [
        { fieldName: 'row_id', type: 'UNIQUE_ID' },
        { fieldName: 'email', type: 'EMAIL_ADDRESS', matchKey: 'EMAIL' },
        { fieldName: 'cuid', type: 'STRING', matchKey: 'CUID' },
      ],
    }),
  };

  test('one row per mapped field, with the source table from the Glue ARN and the unique id named', () => {
    const { rows: r, mappings } = buildIdentityRows({
      idNamespaces: list([ns('ns-a', [{ inputSourceARN: 'arn:aws:glue:us-east-1:111122223333:table/flywheel_dev/part_a_er', schemaName: 's1' }])]),
      schemaMappings: list([mapping]),
    });
    expect(r).toHaveLength(3);
    expect(r[1]).toEqual({
      id_namespace: 'ns-a',
      namespace_type: 'SOURCE',
      method: 'RULE_BASED',
      source_database: 'flywheel_dev',
      region: 'us-east-1',
      table: 'part_a_er',
      schema_mapping: 's1',
      unique_id: 'row_id',
      input_field: 'email',
      field_type: 'EMAIL_ADDRESS',
      matchkey: 'EMAIL',
      error: '',
    });
    expect(mappings).toEqual([{ name: 's1', fields: 3, used_by: ['ns-a'] }]);
  });

  test('failures become rows carrying the error: namespace read, mapping read, missing mapping, failed listing', () => {
    const glue = 'arn:aws:glue:eu-west-1:111122223333:table/db/t';
    const { rows: r } = buildIdentityRows({
      idNamespaces: list(
        [
          { name: 'ns-denied', detail: failed('GetIdNamespace ns-denied: AccessDeniedException: no') },
          ns('ns-b', [
            { inputSourceARN: glue, schemaName: 's-throttled' },
            { inputSourceARN: glue, schemaName: 's-gone' },
          ]),
        ],
        'ListIdNamespaces: ThrottlingException: page 2',
      ),
      schemaMappings: list([{ name: 's-throttled', detail: failed('GetSchemaMapping s-throttled: ThrottlingException: x') }]),
    });
    expect(r.map((x) => [x.id_namespace, x.schema_mapping, x.error])).toEqual([
      ['(not listed)', '', 'ListIdNamespaces: ThrottlingException: page 2'],
      ['ns-b', 's-throttled', 'GetSchemaMapping s-throttled: ThrottlingException: x'],
      ['ns-b', 's-gone', 'schema mapping s-gone does not exist'],
      ['ns-denied', '', 'GetIdNamespace ns-denied: AccessDeniedException: no'],
    ]);
    // when the mappings could not be listed, a mapping not found is that listing's failure
    const { rows: r2 } = buildIdentityRows({
      idNamespaces: list([ns('ns-c', [{ inputSourceARN: glue, schemaName: 's1' }])]),
      schemaMappings: list([], 'ListSchemaMappings: AccessDeniedException: no'),
    });
    expect(r2[0]!.error).toBe('ListSchemaMappings: AccessDeniedException: no');
  });

  test('input source ARNs: Glue tables in parts, other ARNs whole', () => {
    expect(parseInputSource('arn:aws-cn:glue:cn-north-1:111122223333:table/db_1/t-2')).toEqual({ region: 'cn-north-1', database: 'db_1', table: 't-2' });
    const wf = 'arn:aws:entityresolution:us-east-1:111122223333:matchingworkflow/wf1';
    expect(parseInputSource(wf)).toEqual({ region: 'us-east-1', database: '', table: wf });
  });
});

describe('CSV (RFC 4180)', () => {
  test('fields with comma, quote, CR or LF are quoted with quotes doubled; others are bare', () => {
    expect(csvField('part_a')).toBe('part_a');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('line1\nline2')).toBe('"line1\nline2"');
    expect(csvField('cr\rhere')).toBe('"cr\rhere"');
    expect(csvField(undefined)).toBe('');
    expect(csvField(['111122223333', '444455556666'])).toBe('111122223333; 444455556666');
  });

  test('records end with CRLF and read back exactly through a CSV parser', () => {
    const nasty = ['plain', 'a,b', '"quoted"', 'multi\r\nline', ' spaced ', 'ü,"é"\n'];
    const text = renderCsv(['h1', 'h,2'], [nasty.slice(0, 2), nasty.slice(2, 4), nasty.slice(4, 6)]);
    expect(text.startsWith('h1,"h,2"\r\n')).toBe(true);
    expect(text.endsWith('\r\n')).toBe(true);
    expect(parse(text, { relax_column_count: false })).toEqual([['h1', 'h,2'], nasty.slice(0, 2), nasty.slice(2, 4), nasty.slice(4, 6)]);
  });

  test('the two report CSVs have their headers and one record per row', () => {
    const r = rows(['part_a', 'part_b'], list([ct('part_a', { providers: ['111122223333', '444455556666'] })]), list([assoc('part_a')]));
    const t = parse(tablesCsv(r.rows)) as string[][];
    expect(t[0]).toEqual([
      'Table Name',
      'Configured Table Status',
      'Association Status',
      'Analysis Rule',
      'Analysis Providers',
      'Ready for Analysis',
      'Reason',
    ]);
    expect(t.slice(1).map((x) => [x[0], x[4], x[5]])).toEqual([
      ['part_a', '111122223333; 444455556666', 'Yes'],
      ['part_b', '', 'No'],
    ]);
    const i = parse(identityCsv([])) as string[][];
    expect(i).toEqual([['ID Namespace', 'Method', 'Source Database', 'Region', 'Table', 'Schema Mapping', 'Unique ID', 'Input Field', 'Matchkey', 'Error']]);
  });
});

describe('report files and summary', () => {
  test('names carry the UTC date and time, whatever the process time zone', () => {
    const tz = process.env.TZ;
    process.env.TZ = 'America/Los_Angeles';
    try {
      expect(reportFiles('cleanrooms-reports/', new Date('2025-11-09T02:05:03.987Z'))).toEqual({
        json: 'cleanrooms-reports/ACX_Cleanroom_Report_20251109_020503.json',
        tables_csv: 'cleanrooms-reports/ACX_Cleanroom_Report_20251109_020503_Tables.csv',
        identity_csv: 'cleanrooms-reports/ACX_Cleanroom_Report_20251109_020503_IdentityResolution.csv',
      });
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  test('counts add up and every failed row is named once for the notification', () => {
    const at = new Date('2025-11-09T08:00:00Z');
    const report = buildReport({
      database: DB,
      membershipId: MEMBERSHIP,
      tablePrefix: 'part_',
      generatedAt: at,
      trigger: 'test',
      files: reportFiles('p/', at),
      tables: ['part_a', 'part_b', 'part_c'],
      configuredTables: list([
        ct('part_a', { providers: ['111122223333'] }),
        ct('part_b', {}, { analysisRule: failed('GetConfiguredTableAnalysisRule ct-part_b CUSTOM: ThrottlingException: Rate exceeded') }),
      ]),
      associations: list([assoc('part_a'), assoc('part_b')]),
      idNamespaces: list([{ name: 'ns', detail: failed('GetIdNamespace ns: ThrottlingException: x') }]),
      schemaMappings: list([]),
    });
    expect(report.summary).toMatchObject({
      tables: 3,
      ready: 1,
      not_ready: 1,
      unknown: 1,
      failed_table_rows: 1,
      configured_tables: 2,
      associations: 2,
      id_namespaces: 1,
      identity_rows: 1,
      failed_identity_rows: 1,
    });
    expect(failedRowLines(report)).toEqual([
      'table part_b: GetConfiguredTableAnalysisRule ct-part_b CUSTOM: ThrottlingException: Rate exceeded',
      'id namespace ns: GetIdNamespace ns: ThrottlingException: x',
    ]);
  });
});
