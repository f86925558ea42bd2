/**
 * The Clean Rooms report (pure): which catalog tables analysts can query through the collaboration
 * membership, and how Entity Resolution ID namespaces map ids out of which tables.
 *
 * Readiness (one rule, applied per Glue table of the report):
 *   a table is ready for analysis when
 *   1. a Clean Rooms configured table references it (Glue database + table name),
 *   2. that configured table has an analysis rule (without one Clean Rooms lets it be associated but
 *      never queried),
 *   3. it is associated with the report's membership (a configured table association), and
 *   4. at least one analysis provider is named: the account ids of the CUSTOM rule's
 *      `allowedAnalysisProviders` plus those of the collaboration analysis rule's
 *      `allowedResultReceivers` (on the association). AGGREGATION and LIST rules name no querier, so
 *      such a table needs a collaboration analysis rule naming its result receivers. Who may query
 *      is otherwise a collaboration member ability (CAN_QUERY), which this report does not read.
 *   A fact that could not be read (a throttled or denied call) is unknown, not false: a row is
 *   `No` when any known fact fails, `Unknown` when none fails but one is unknown, else `Yes`.
 *
 * CSV: RFC 4180 (CRLF line ends; a field with a comma, quote, CR or LF is quoted, quotes doubled).
 * csv-stringify is not installed here and package.json is not this module's to change; the quoting
 * below is the whole of what the report needs.
 */

/** A value read from Clean Rooms or Entity Resolution, or why it could not be read. */
export type Fetched<T> = { ok: true; value: T } | { ok: false; error: string };

export const fetched = <T>(value: T): Fetched<T> => ({ ok: true, value });
export const failed = (error: string): { ok: false; error: string } => ({ ok: false, error });

/** Every item a List call produced; `error` when the listing stopped (items then hold the pages read before). */
export interface Listed<T> {
  items: T[];
  error?: string;
}

export interface GlueTableRef {
  database: string;
  table: string;
  region?: string;
}

/** The configured table's analysis rule (GetConfiguredTableAnalysisRule). */
export interface TableAnalysisRule {
  type: string;
  /** CUSTOM only: analysis template ARNs, or ANY_QUERY / ANY_JOB. */
  allowedAnalyses: string[];
  /** CUSTOM only: account ids allowed to query. */
  allowedAnalysisProviders: string[];
}

/** A configured table of the account (ListConfiguredTables, then GetConfiguredTable and its rule). */
export interface ConfiguredTableItem {
  id: string;
  name: string;
  analysisRuleTypes: string[];
  /** The Glue table it represents (undefined for an Athena or Snowflake table). */
  glue: Fetched<GlueTableRef | undefined>;
  /** Its analysis rule; undefined when it has none. */
  analysisRule?: Fetched<TableAnalysisRule>;
}

/** The collaboration analysis rule of an association (GetConfiguredTableAssociationAnalysisRule). */
export interface AssociationAnalysisRule {
  type: string;
  allowedResultReceivers: string[];
  allowedAdditionalAnalyses: string[];
}

/** A configured table association of the membership (ListConfiguredTableAssociations). */
export interface AssociationItem {
  id: string;
  name: string;
  configuredTableId: string;
  /** Its collaboration analysis rule; undefined when it has none. */
  analysisRule?: Fetched<AssociationAnalysisRule>;
}

export interface IdNamespaceDetail {
  /** SOURCE or TARGET. */
  type?: string;
  /** ID mapping methods: RULE_BASED, PROVIDER. */
  methods: string[];
  inputSources: Array<{ inputSourceARN: string; schemaName?: string }>;
}

/** An Entity Resolution ID namespace (ListIdNamespaces, then GetIdNamespace). */
export interface IdNamespaceItem {
  name: string;
  detail: Fetched<IdNamespaceDetail>;
}

export interface MappedField {
  fieldName: string;
  type: string;
  matchKey?: string;
  groupName?: string;
  hashed?: boolean;
}

/** An Entity Resolution schema mapping (ListSchemaMappings, then GetSchemaMapping). */
export interface SchemaMappingItem {
  name: string;
  detail: Fetched<{ fields: MappedField[] }>;
}

export type Readiness = 'Yes' | 'No' | 'Unknown';

export interface TableRow {
  table: string;
  configured_table_status: 'CONFIGURED' | 'NOT_CONFIGURED' | 'ERROR';
  configured_table_id: string;
  association_status: 'ASSOCIATED' | 'NOT_ASSOCIATED' | 'ERROR';
  association_id: string;
  /** The configured table's rule type, NONE, or ERROR when it could not be read. */
  analysis_rule: string;
  analysis_providers: string[];
  ready_for_analysis: Readiness;
  /** Why it is (not) ready, errors included. */
  reason: string;
  /** The calls that failed for this row (empty: the row is complete). */
  errors: string[];
}

export interface IdentityRow {
  id_namespace: string;
  namespace_type: string;
  method: string;
  source_database: string;
  region: string;
  table: string;
  schema_mapping: string;
  unique_id: string;
  input_field: string;
  field_type: string;
  matchkey: string;
  error: string;
}

export interface CleanroomsReport {
  report: 'ACX_Cleanroom_Report';
  generated_at: string;
  trigger: string;
  membership_id: string;
  database: string;
  table_prefix: string;
  files: ReportFiles;
  summary: {
    tables: number;
    ready: number;
    not_ready: number;
    unknown: number;
    failed_table_rows: number;
    configured_tables: number;
    associations: number;
    id_namespaces: number;
    schema_mappings: number;
    identity_rows: number;
    failed_identity_rows: number;
  };
  /** List calls that failed: every row they would have fed carries the error too. */
  list_errors: Partial<Record<'configured_tables' | 'associations' | 'id_namespaces' | 'schema_mappings', string>>;
  tables: TableRow[];
  identity_resolution: IdentityRow[];
  /** Configured tables that reference no table of this report (another database or prefix, Athena/Snowflake, or unreadable). */
  other_configured_tables: Array<{ id: string; name: string; glue?: GlueTableRef; error?: string }>;
  schema_mappings: Array<{ name: string; fields: number; used_by: string[]; error?: string }>;
}

export interface ReportFiles {
  json: string;
  tables_csv: string;
  identity_csv: string;
}

/** `ACX_Cleanroom_Report_YYYYMMDD_HHMMSS` (UTC) and its three files under `prefix`. */
export function reportFiles(prefix: string, at: Date): ReportFiles {
  const iso = at.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ, always UTC
  const stamp = `${iso.slice(0, 10).replace(/-/g, '')}_${iso.slice(11, 19).replace(/:/g, '')}`;
  const base = `${prefix}ACX_Cleanroom_Report_${stamp}`;
  return { json: `${base}.json`, tables_csv: `${base}_Tables.csv`, identity_csv: `${base}_IdentityResolution.csv` };
}

/** One RFC 4180 field: quoted when it holds a comma, a double quote, CR or LF; quotes doubled. */
export function csvField(value: unknown): string {
  const s = value === undefined || value === null ? '' : Array.isArray(value) ? value.join('; ') : String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** An RFC 4180 document: header, then records, each line ended by CRLF. */
export function renderCsv(header: readonly string[], records: ReadonlyArray<readonly unknown[]>): string {
  return [header, ...records].map((r) => `${r.map(csvField).join(',')}\r\n`).join('');
}

export const TABLES_CSV_HEADER = [
  'Table Name',
  'Configured Table Status',
  'Association Status',
  'Analysis Rule',
  'Analysis Providers',
  'Ready for Analysis',
  'Reason',
] as const;
export const IDENTITY_CSV_HEADER = [
  'ID Namespace',
  'Method',
  'Source Database',
  'Region',
  'Table',
  'Schema Mapping',
  'Unique ID',
  'Input Field',
  'Matchkey',
  'Error',
] as const;

export function tablesCsv(rows: TableRow[]): string {
  return renderCsv(
    TABLES_CSV_HEADER,
    rows.map((r) => [r.table, r.configured_table_status, r.association_status, r.analysis_rule, r.analysis_providers, r.ready_for_analysis, r.reason]),
  );
}

export function identityCsv(rows: IdentityRow[]): string {
  return renderCsv(
    IDENTITY_CSV_HEADER,
    rows.map((r) => [r.id_namespace, r.method, r.source_database, r.region, r.table, r.schema_mapping, r.unique_id, r.input_field, r.matchkey, r.error]),
  );
}

export interface TableRowsInput {
  database: string;
  membershipId: string;
  /** Catalog tables of the report, by name. */
  tables: string[];
  configuredTables: Listed<ConfiguredTableItem>;
  associations: Listed<AssociationItem>;
}

/** One row per catalog table, with the configured tables that matched none of them. */
export function buildTableRows(input: TableRowsInput): { rows: TableRow[]; others: CleanroomsReport['other_configured_tables'] } {
  const { database, membershipId, configuredTables, associations } = input;
  const names = new Set(input.tables);
  const associationOf = new Map<string, AssociationItem>();
  for (const a of associations.items) if (!associationOf.has(a.configuredTableId)) associationOf.set(a.configuredTableId, a);
  // A Glue table may back several configured tables: prefer the one associated with the membership.
  const byTable = new Map<string, ConfiguredTableItem>();
  const claim = (table: string, ct: ConfiguredTableItem) => {
    const held = byTable.get(table);
    if (!held || (!associationOf.has(held.id) && associationOf.has(ct.id))) byTable.set(table, ct);
  };
  for (const ct of configuredTables.items) {
    if (ct.glue.ok && ct.glue.value?.database === database && names.has(ct.glue.value.table)) claim(ct.glue.value.table, ct);
  }
  // An unreadable configured table is matched by its name (the convention here: named after its table).
  for (const ct of configuredTables.items) {
    if (!ct.glue.ok && names.has(ct.name) && !byTable.has(ct.name)) byTable.set(ct.name, ct);
  }
  const matched = new Set([...byTable.values()].map((ct) => ct.id));
  const others = configuredTables.items
    .filter((ct) => !matched.has(ct.id))
    .map((ct) => ({ id: ct.id, name: ct.name, ...(ct.glue.ok ? (ct.glue.value ? { glue: ct.glue.value } : {}) : { error: ct.glue.error }) }));
  const rows = [...input.tables]
    .sort()
    .map((table) => tableRow(table, database, membershipId, byTable.get(table), configuredTables, associations, associationOf));
  return { rows, others };
}

function tableRow(
  table: string,
  database: string,
  membershipId: string,
  ct: ConfiguredTableItem | undefined,
  configuredTables: Listed<ConfiguredTableItem>,
  associations: Listed<AssociationItem>,
  associationOf: Map<string, AssociationItem>,
): TableRow {
  const errors: string[] = [];
  const blockers: string[] = []; // known reasons it is not ready
  const unknowns: string[] = []; // facts that could not be read
  const row: TableRow = {
    table,
    configured_table_status: 'NOT_CONFIGURED',
    configured_table_id: '',
    association_status: 'NOT_ASSOCIATED',
    association_id: '',
    analysis_rule: '',
    analysis_providers: [],
    ready_for_analysis: 'No',
    reason: '',
    errors,
  };
  if (!ct) {
    if (configuredTables.error) {
      row.configured_table_status = 'ERROR';
      row.association_status = 'ERROR';
      row.analysis_rule = 'ERROR';
      errors.push(configuredTables.error);
      unknowns.push('whether it is configured in Clean Rooms is unknown');
    } else {
      blockers.push(`not configured in Clean Rooms (no configured table references ${database}.${table})`);
    }
    return finish(row, blockers, unknowns);
  }
  row.configured_table_id = ct.id;
  if (ct.glue.ok) row.configured_table_status = 'CONFIGURED';
  else {
    row.configured_table_status = 'ERROR';
    errors.push(ct.glue.error);
    unknowns.push(`configured table ${ct.name} could not be read, so its Glue table is unconfirmed`);
  }
  // 2. the analysis rule
  const providers = new Set<string>();
  let providersKnown = true;
  if (ct.analysisRuleTypes.length === 0 || !ct.analysisRule) {
    row.analysis_rule = 'NONE';
    blockers.push('the configured table has no analysis rule (it can be associated but not queried)');
  } else if (!ct.analysisRule.ok) {
    row.analysis_rule = 'ERROR';
    errors.push(ct.analysisRule.error);
    unknowns.push('its analysis rule could not be read');
    providersKnown = false;
  } else {
    row.analysis_rule = ct.analysisRule.value.type;
    for (const p of ct.analysisRule.value.allowedAnalysisProviders) providers.add(p);
  }
  // 3. the association with the membership
  const association = associationOf.get(ct.id);
  if (association) {
    row.association_status = 'ASSOCIATED';
    row.association_id = association.id;
    if (association.analysisRule && !association.analysisRule.ok) {
      errors.push(association.analysisRule.error);
      unknowns.push('its collaboration analysis rule could not be read');
      providersKnown = false;
    } else if (association.analysisRule) {
      for (const p of association.analysisRule.value.allowedResultReceivers) providers.add(p);
    }
  } else if (associations.error) {
    row.association_status = 'ERROR';
    errors.push(associations.error);
    unknowns.push(`whether it is associated with membership ${membershipId} is unknown`);
    providersKnown = false;
  } else {
    blockers.push(`not associated with membership ${membershipId}`);
  }
  // 4. an analysis provider
  row.analysis_providers = [...providers].sort();
  if (providers.size === 0 && providersKnown && row.analysis_rule !== 'NONE' && association) {
    blockers.push(
      `no analysis provider: the ${row.analysis_rule} rule names no allowedAnalysisProviders and the collaboration analysis rule no allowedResultReceivers`,
    );
  }
  return finish(row, blockers, unknowns);
}

function finish(row: TableRow, blockers: string[], unknowns: string[]): TableRow {
  row.ready_for_analysis = blockers.length > 0 ? 'No' : unknowns.length > 0 || row.errors.length > 0 ? 'Unknown' : 'Yes';
  const parts =
    row.ready_for_analysis === 'Yes'
      ? [`ready: ${row.analysis_rule} rule, associated, ${row.analysis_providers.length} analysis provider(s)`]
      : [...blockers, ...unknowns];
  if (row.errors.length > 0) parts.push(`failed: ${row.errors.join('; ')}`);
  row.reason = parts.join('; ');
  return row;
}

/** A Glue table ARN `arn:<partition>:glue:<region>:<account>:table/<database>/<table>` in parts; anything else is the table. */
export function parseInputSource(arn: string): { database: string; region: string; table: string } {
  const m = /^arn:[a-z-]+:glue:([a-z0-9-]*):\d*:table\/([^/]+)\/(.+)$/.exec(arn);
  if (m) return { region: m[1]!, database: m[2]!, table: m[3]! };
  const region = /^arn:[a-z-]+:[a-z-]+:([a-z0-9-]*):/.exec(arn)?.[1] ?? '';
  return { database: '', region, table: arn };
}

export interface IdentityRowsInput {
  idNamespaces: Listed<IdNamespaceItem>;
  schemaMappings: Listed<SchemaMappingItem>;
}

/** One row per (ID namespace, input source, mapped input field); a namespace or source that could not be read is one row with its error. */
export function buildIdentityRows(input: IdentityRowsInput): { rows: IdentityRow[]; mappings: CleanroomsReport['schema_mappings'] } {
  const rows: IdentityRow[] = [];
  const mappings = new Map(input.schemaMappings.items.map((m) => [m.name, m]));
  const usedBy = new Map<string, string[]>();
  const blank: IdentityRow = {
    id_namespace: '',
    namespace_type: '',
    method: '',
    source_database: '',
    region: '',
    table: '',
    schema_mapping: '',
    unique_id: '',
    input_field: '',
    field_type: '',
    matchkey: '',
    error: '',
  };
  if (input.idNamespaces.error) rows.push({ ...blank, id_namespace: '(not listed)', error: input.idNamespaces.error });
  for (const ns of [...input.idNamespaces.items].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!ns.detail.ok) {
      rows.push({ ...blank, id_namespace: ns.name, error: ns.detail.error });
      continue;
    }
    const base = { ...blank, id_namespace: ns.name, namespace_type: ns.detail.value.type ?? '', method: ns.detail.value.methods.join('+') };
    if (ns.detail.value.inputSources.length === 0) rows.push(base);
    for (const source of ns.detail.value.inputSources) {
      const { database, region, table } = parseInputSource(source.inputSourceARN);
      const where = { ...base, source_database: database, region, table, schema_mapping: source.schemaName ?? '' };
      if (!source.schemaName) {
        rows.push(where);
        continue;
      }
      usedBy.set(source.schemaName, [...(usedBy.get(source.schemaName) ?? []), ns.name]);
      const mapping = mappings.get(source.schemaName);
      if (!mapping) {
        rows.push({ ...where, error: input.schemaMappings.error ?? `schema mapping ${source.schemaName} does not exist` });
      } else if (!mapping.detail.ok) {
        rows.push({ ...where, error: mapping.detail.error });
      } else {
        const fields = mapping.detail.value.fields;
        const uniqueId = fields
          .filter((f) => f.type === 'UNIQUE_ID')
          .map((f) => f.fieldName)
          .join('; ');
        if (fields.length === 0) rows.push({ ...where, unique_id: uniqueId });
        for (const f of fields) rows.push({ ...where, unique_id: uniqueId, input_field: f.fieldName, field_type: f.type, matchkey: f.matchKey ?? '' });
      }
    }
  }
  const mappingSummary = [...input.schemaMappings.items]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((m) => ({
      name: m.name,
      fields: m.detail.ok ? m.detail.value.fields.length : 0,
      used_by: [...new Set(usedBy.get(m.name) ?? [])],
      ...(m.detail.ok ? {} : { error: m.detail.error }),
    }));
  return { rows, mappings: mappingSummary };
}

export interface ReportInput extends TableRowsInput, IdentityRowsInput {
  tablePrefix: string;
  generatedAt: Date;
  trigger: string;
  files: ReportFiles;
}

/** The whole report: table rows, identity rows and the counts. */
export function buildReport(input: ReportInput): CleanroomsReport {
  const { rows, others } = buildTableRows(input);
  const identity = buildIdentityRows(input);
  const listErrors: CleanroomsReport['list_errors'] = {
    ...(input.configuredTables.error ? { configured_tables: input.configuredTables.error } : {}),
    ...(input.associations.error ? { associations: input.associations.error } : {}),
    ...(input.idNamespaces.error ? { id_namespaces: input.idNamespaces.error } : {}),
    ...(input.schemaMappings.error ? { schema_mappings: input.schemaMappings.error } : {}),
  };
  const count = (r: Readiness) => rows.filter((t) => t.ready_for_analysis === r).length;
  return {
    report: 'ACX_Cleanroom_Report',
    generated_at: input.generatedAt.toISOString(),
    trigger: input.trigger,
    membership_id: input.membershipId,
    database: input.database,
    table_prefix: input.tablePrefix,
    files: input.files,
    summary: {
      tables: rows.length,
      ready: count('Yes'),
      not_ready: count('No'),
      unknown: count('Unknown'),
      failed_table_rows: rows.filter((r) => r.errors.length > 0).length,
      configured_tables: input.configuredTables.items.length,
      associations: input.associations.items.length,
      id_namespaces: input.idNamespaces.items.length,
      schema_mappings: input.schemaMappings.items.length,
      identity_rows: identity.rows.length,
      failed_identity_rows: identity.rows.filter((r) => r.error !== '').length,
    },
    list_errors: listErrors,
    tables: rows,
    identity_resolution: identity.rows,
    other_configured_tables: others,
    schema_mappings: identity.mappings,
  };
}

/** The lines naming each failed row (and unreadable configured tables), for the notification; empty when nothing failed. */
export function failedRowLines(report: CleanroomsReport): string[] {
  return [
    ...report.tables.filter((r) => r.errors.length > 0).map((r) => `table ${r.table}: ${r.errors.join('; ')}`),
    ...report.identity_resolution
      .filter((r) => r.error !== '')
      .map((r) => `id namespace ${r.id_namespace}${r.table ? ` (${r.table})` : ''}${r.input_field ? ` field ${r.input_field}` : ''}: ${r.error}`),
    ...report.other_configured_tables.filter((c) => c.error).map((c) => `configured table ${c.name} (${c.id}): ${c.error}`),
  ];
}

export interface CleanroomsReportParams {
  membershipId: string;
  database: string;
  /** Catalog tables of the report: names starting with this (default `part_`). */
  tablePrefix: string;
  reportBucket: string;
  /** Key prefix of the report files (default `cleanrooms-reports/`). */
  reportPrefix: string;
  /** The command an operator runs to produce the report again (named in alerts). */
  rerunCommand?: string;
}

/** The deployment's (or CLI's) parameters; an invocation may override each, and must name the membership when these do not. */
export type CleanroomsReportDefaults = Omit<CleanroomsReportParams, 'membershipId'> & { membershipId?: string };
