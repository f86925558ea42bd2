/**
 * A thin Athena API in front of a real Trino (test/aws-shape/trino/trino-server.ts), so the product's unchanged
 * AthenaQueryEngine (an AthenaClient whose endpoint is this façade) runs its SQL on Trino 476, the engine Athena's
 * engine version 3 is built on, against moto's Glue catalog and S3.
 *
 *   const facade = await startAthenaFacade({ trino, workgroups: [{ name: 'wg', outputLocation: 's3://r/', enforce: true }], eventsEndpoint: moto.endpoint });
 *   const athena = new AthenaClient({ endpoint: facade.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
 *
 * What it serves (AWS JSON 1.1, X-Amz-Target AmazonAthena.<Action>, on 127.0.0.1): StartQueryExecution (idempotent by
 * ClientRequestToken, workgroup result location as Athena applies it), GetQueryExecution, GetQueryResults (header row
 * first, every value a VarCharValue string, NULL a Datum without one, pages of at most 1000 rows), StopQueryExecution,
 * GetWorkGroup. Queries run asynchronously, QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED, and each state
 * change is put on moto's default bus as an "Athena Query State Change" event (events/athena-query-state-change.*.json).
 *
 * What it proves: that SQL the product sends to Athena parses, plans and runs on Trino with Athena's rules that Trino
 * lacks put back (ATHENA_RULES: each rule or translation with its AWS documentation page), and that the adapter reads
 * Athena-shaped answers correctly. What it does not: Athena's IAM checks (the caller's permissions on Glue, S3, KMS),
 * Lake Formation, quotas and throttling, the result-reuse cache, data-scanned billing (DataScannedInBytes is Trino's
 * physicalInputBytes, not Athena's rounded figure), Athena's exact error texts beyond the error names Trino shares with
 * it, Hive DDL other than ALTER TABLE ADD PARTITION (any other DDL fails with a reason saying so), and the QUEUED event's
 * detail (it carries no previousState here: the published samples show only later transitions).
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TRINO_CATALOG, TrinoQueryError, type TrinoResult, type TrinoServer } from '../trino/trino-server.js';

export interface FacadeWorkgroup {
  name: string;
  /** s3://bucket/prefix/ (a trailing slash is added when missing). */
  outputLocation: string;
  /** "Override client-side settings": the workgroup's result location wins over the client's. */
  enforce: boolean;
}

export interface FacadeOptions {
  trino: TrinoServer;
  workgroups: FacadeWorkgroup[];
  /** moto: Athena Query State Change events are PutEvents'd to its default bus. */
  eventsEndpoint: string;
  region?: string;
  /** The account the façade answers for (moto sets its own on delivered events). */
  account?: string;
  /** moto: a SELECT's result CSV is written to <OutputLocation><id>.csv, as Athena does; optional. */
  s3Endpoint?: string;
}

export interface FacadeExecution {
  id: string;
  workgroup: string;
  database?: string;
  sql: string;
  /** What ran on Trino (statements joined by ";\n" when a translation needs several). */
  trinoSql?: string;
  trinoQueryId?: string;
  statementType: 'DDL' | 'DML' | 'UTILITY';
  state: 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  reason?: string;
  /** The Athena rule that rejected it (an ATHENA_RULES id). */
  rule?: string;
}

export interface AthenaFacade {
  endpoint: string;
  executions: FacadeExecution[];
  /** Called each time an execution turns RUNNING (its Trino query has an id); listeners run beside the query (a listener may kill() or stop it), settled() awaits them and rejects with their errors. */
  onRunning(listener: (e: FacadeExecution) => void | Promise<void>): void;
  /** Kills its Trino query mid-run (system.runtime.kill_query): it ends FAILED as Athena reports an engine failure. */
  kill(executionId: string): Promise<void>;
  /** Resolves when no execution is QUEUED/RUNNING and every state change event was put. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

const CTAS_DOC = 'https://docs.aws.amazon.com/athena/latest/ug/create-table-as.html';

/** Athena's rules that Trino lacks (enforced here), those Trino's own configuration gives, and the Athena → Trino translations. */
export const ATHENA_RULES: ReadonlyArray<{ id: string; kind: 'rejects' | 'translates' | 'configured'; what: string; doc: string }> = [
  {
    id: 'enforced-workgroup-ctas-location',
    kind: 'rejects',
    what: 'A CTAS that sets external_location fails in a workgroup that enforces its configuration (Override client-side settings); without it the table goes under the workgroup result location.',
    doc: 'https://docs.aws.amazon.com/athena/latest/ug/workgroups-troubleshooting.html',
  },
  {
    id: 'ctas-location-empty',
    kind: 'configured',
    what: 'A CTAS external_location must be an empty prefix. Trino itself fails a CTAS into a prefix that holds objects (HIVE_PATH_ALREADY_EXISTS: Target directory for table … already exists), as Athena does: no façade code.',
    doc: 'https://docs.aws.amazon.com/athena/latest/ug/considerations-ctas.html',
  },
  {
    id: 'hive-ddl-grammar',
    kind: 'rejects',
    what: "DDL (CREATE [EXTERNAL] TABLE without AS, ALTER TABLE/DATABASE, DROP TABLE/DATABASE, MSCK REPAIR TABLE, SHOW, DESCRIBE) is parsed by Hive: identifiers are quoted with backticks, a double-quoted identifier is a parse error (checked with dt-sql-parser's Hive grammar).",
    doc: 'https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html',
  },
  {
    id: 'hive-ddl-untranslated',
    kind: 'rejects',
    what: "Façade limit, not Athena's: Hive DDL that parses but that the façade does not translate to Trino (anything but ALTER TABLE ADD PARTITION) fails with a reason saying so, never succeeds silently.",
    doc: 'https://docs.aws.amazon.com/athena/latest/ug/ddl-reference.html',
  },
  {
    id: 'partitions-per-query',
    kind: 'configured',
    what: "A CTAS or INSERT INTO writes at most 100 partitions (HIVE_TOO_MANY_OPEN_PARTITIONS). Trino's catalog hive.max-partitions-per-writers=100 counts per writer and Trino spreads partitions over up to 4 writers (101 passed), so the façade runs every query with session task_max_writer_count=1: one writer per query.",
    doc: 'https://docs.aws.amazon.com/athena/latest/ug/ctas-insert-into.html',
  },
  {
    id: 'write-compression',
    kind: 'translates',
    what: "CTAS WITH (write_compression = 'X'): removed from the WITH list (Trino's Hive connector has no such table property), session hive.compression_codec=X, and X kept as the table property parquet.compression (orc.compress for ORC; Trino's extra_properties) for later writes.",
    doc: CTAS_DOC,
  },
  {
    id: 'insert-compression',
    kind: 'translates',
    what: "INSERT INTO a table with a compression property (parquet.compression, orc.compress, write.compression) writes with it: session hive.compression_codec from the table's properties. Without one both write GZIP parquet, Athena's default for Hive tables and Trino's.",
    doc: 'https://docs.aws.amazon.com/athena/latest/ug/compression-formats.html',
  },
  {
    id: 'ctas-default-location',
    kind: 'translates',
    what: 'A CTAS without external_location writes under the query result location: external_location = <OutputLocation>tables/<QueryExecutionId>/.',
    doc: CTAS_DOC,
  },
  {
    id: 'add-partition',
    kind: 'translates',
    what: "Hive ALTER TABLE db.t ADD [IF NOT EXISTS] PARTITION (k = v, …) [LOCATION '…'] … → one CALL system.register_partition per partition; IF NOT EXISTS skips partitions already in t$partitions, without it an existing partition fails (AlreadyExistsException) and none is added.",
    doc: 'https://docs.aws.amazon.com/athena/latest/ug/alter-table-add-partition.html',
  },
  {
    id: 'default-catalog',
    kind: 'translates',
    what: "Athena's catalog AwsDataCatalog is Trino's catalog hive; QueryExecutionContext.Database is the Trino session schema.",
    doc: 'https://docs.aws.amazon.com/athena/latest/APIReference/API_QueryExecutionContext.html',
  },
];

const MAX_RESULTS = 1000;
/** Athena reports unbounded varchar with this precision. */
const VARCHAR_PRECISION = 2_147_483_647;

// ---------------------------------------------------------------------------------------------------------------
// Tokens (enough of Trino's and Hive's lexers to find statement structure; validation is the engines' job)

interface Token {
  kind: 'word' | 'ident' | 'string' | 'number' | 'punct';
  /** Unquoted text (identifiers and strings), else the raw text. */
  value: string;
  start: number;
  end: number;
}

function tokenize(sql: string, dialect: 'trino' | 'hive'): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const quoted = (quote: string, kind: Token['kind'], backslash: boolean) => {
    const start = i;
    let value = '';
    i++;
    for (;;) {
      if (i >= sql.length) throw new Error(`unterminated ${quote} at ${start}`);
      const c = sql[i]!;
      if (backslash && c === '\\' && i + 1 < sql.length) {
        value += sql[i + 1];
        i += 2;
      } else if (c === quote && sql[i + 1] === quote) {
        value += quote;
        i += 2;
      } else if (c === quote) {
        i++;
        break;
      } else {
        value += c;
        i++;
      }
    }
    tokens.push({ kind, value, start, end: i });
  };
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) i++;
    else if (sql.startsWith('--', i)) i = sql.indexOf('\n', i) < 0 ? sql.length : sql.indexOf('\n', i);
    else if (sql.startsWith('/*', i)) i = sql.indexOf('*/', i) < 0 ? sql.length : sql.indexOf('*/', i) + 2;
    else if (c === "'") quoted("'", 'string', dialect === 'hive');
    else if (c === '"') quoted('"', dialect === 'hive' ? 'string' : 'ident', dialect === 'hive');
    else if (c === '`' && dialect === 'hive') quoted('`', 'ident', false);
    else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_@$]*/.exec(sql.slice(i))![0];
      tokens.push({ kind: 'word', value: m, start: i, end: i + m.length });
      i += m.length;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?/.exec(sql.slice(i))![0];
      tokens.push({ kind: 'number', value: m, start: i, end: i + m.length });
      i += m.length;
    } else {
      tokens.push({ kind: 'punct', value: c, start: i, end: i + 1 });
      i++;
    }
  }
  return tokens;
}

const isWord = (t: Token | undefined, ...words: string[]) => t?.kind === 'word' && words.includes(t.value.toUpperCase());
const isPunct = (t: Token | undefined, p: string) => t?.kind === 'punct' && t.value === p;

/** Index of the token closing the parenthesis opened at `open`. */
function closing(tokens: Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (isPunct(tokens[i], '(')) depth++;
    else if (isPunct(tokens[i], ')') && --depth === 0) return i;
  }
  throw new Error('unbalanced parentheses');
}

/** Token ranges [from, to) split at depth-0 commas. */
function splitTop(tokens: Token[], from: number, to: number): Array<[number, number]> {
  const parts: Array<[number, number]> = [];
  let depth = 0;
  let start = from;
  for (let i = from; i < to; i++) {
    if (isPunct(tokens[i], '(') || isPunct(tokens[i], '[')) depth++;
    else if (isPunct(tokens[i], ')') || isPunct(tokens[i], ']')) depth--;
    else if (depth === 0 && isPunct(tokens[i], ',')) {
      parts.push([start, i]);
      start = i + 1;
    }
  }
  if (to > start) parts.push([start, to]);
  return parts;
}

// ---------------------------------------------------------------------------------------------------------------
// Statements: which engine Athena sends them to, their StatementType, and the translations

type Route = { engine: 'hive'; statementType: 'DDL' | 'UTILITY' } | { engine: 'trino'; statementType: FacadeExecution['statementType']; ctas: boolean };

/** Athena runs DDL through Hive and everything else (SELECT, CTAS, INSERT, views, EXPLAIN) on its Trino engine. */
function route(sql: string): Route {
  let tokens: Token[];
  try {
    tokens = tokenize(sql, 'trino');
  } catch {
    return { engine: 'trino', statementType: 'DML', ctas: false };
  }
  const [w0, w1, w2] = tokens;
  const first = w0?.kind === 'word' ? w0.value.toUpperCase() : '';
  const ctas = first === 'CREATE' && isWord(w1, 'TABLE') && topLevelAs(tokens) >= 0;
  if (first === 'MSCK') return { engine: 'hive', statementType: 'DDL' };
  if ((first === 'ALTER' || first === 'DROP') && isWord(w1, 'TABLE', 'DATABASE', 'SCHEMA')) return { engine: 'hive', statementType: 'DDL' };
  if (first === 'CREATE' && (isWord(w1, 'EXTERNAL', 'DATABASE', 'SCHEMA') || (isWord(w1, 'TABLE') && !ctas))) return { engine: 'hive', statementType: 'DDL' };
  if (
    (first === 'SHOW' || first === 'DESCRIBE' || first === 'DESC') &&
    !isWord(w1, 'VIEWS') &&
    !(isWord(w1, 'CREATE') && isWord(w2, 'VIEW')) &&
    !isWord(w1, 'VIEW')
  )
    return { engine: 'hive', statementType: 'UTILITY' };
  if (['SHOW', 'DESCRIBE', 'DESC', 'EXPLAIN', 'USE'].includes(first)) return { engine: 'trino', statementType: 'UTILITY', ctas: false };
  if (['CREATE', 'DROP', 'ALTER'].includes(first)) return { engine: 'trino', statementType: ctas ? 'DML' : 'DDL', ctas };
  return { engine: 'trino', statementType: 'DML', ctas };
}

/** Index of the AS that starts a CTAS's query (depth 0, after CREATE TABLE name), or -1. */
function topLevelAs(tokens: Token[]): number {
  let depth = 0;
  for (let i = 2; i < tokens.length; i++) {
    if (isPunct(tokens[i], '(')) depth++;
    else if (isPunct(tokens[i], ')')) depth--;
    else if (depth === 0 && isWord(tokens[i], 'AS')) return i;
  }
  return -1;
}

interface CtasPlan {
  sql: string;
  session: Record<string, string>;
  hadLocation: boolean;
}

/** CTAS for Trino: write_compression → session, external_location defaulted to the result location's tables/<id>/. */
function translateCtas(sql: string, resultLocation: string, executionId: string): CtasPlan {
  const tokens = tokenize(sql, 'trino');
  const as = topLevelAs(tokens);
  const session: Record<string, string> = {};
  let withAt = -1;
  let depth = 0;
  for (let i = 2; i < as; i++) {
    if (isPunct(tokens[i], '(')) depth++;
    else if (isPunct(tokens[i], ')')) depth--;
    else if (depth === 0 && isWord(tokens[i], 'WITH') && isPunct(tokens[i + 1], '(')) withAt = i;
  }
  const defaultLocation = `external_location = '${`${resultLocation}tables/${executionId}/`.replace(/'/g, "''")}'`;
  if (withAt < 0) return { sql: `${sql.slice(0, tokens[as]!.start)}WITH (${defaultLocation}) ${sql.slice(tokens[as]!.start)}`, session, hadLocation: false };
  const open = withAt + 1;
  const close = closing(tokens, open);
  const properties: string[] = [];
  let hadLocation = false;
  let format = 'PARQUET';
  let codec: string | undefined;
  let extraProperties = false;
  for (const [from, to] of splitTop(tokens, open + 1, close)) {
    const key = tokens[from]!;
    const name = key.kind === 'ident' ? key.value : key.value.toLowerCase();
    const value = tokens[from + 2];
    const literal = isPunct(tokens[from + 1], '=') && value?.kind === 'string' && to === from + 3 ? value.value : undefined;
    if (name === 'write_compression' && literal !== undefined) {
      codec = literal.toUpperCase() === 'UNCOMPRESSED' ? 'NONE' : literal.toUpperCase();
      session['hive.compression_codec'] = codec;
      continue;
    }
    if (name === 'format' && literal !== undefined) format = literal.toUpperCase();
    if (name === 'external_location') hadLocation = true;
    if (name === 'extra_properties') extraProperties = true;
    properties.push(sql.slice(tokens[from]!.start, tokens[to - 1]!.end));
  }
  if (!hadLocation) properties.push(defaultLocation);
  // Athena keeps the codec as a table property, which its later INSERT INTOs write with
  if (codec && !extraProperties)
    properties.push(`extra_properties = MAP(ARRAY[${trinoString(COMPRESSION_PROPERTY[format] ?? 'write.compression')}], ARRAY[${trinoString(codec)}])`);
  return { sql: `${sql.slice(0, tokens[open]!.end)}${properties.join(', ')}${sql.slice(tokens[close]!.start)}`, session, hadLocation };
}

/** The table property holding a format's write compression (Athena's ALTER TABLE SET TBLPROPERTIES names). */
const COMPRESSION_PROPERTY: Record<string, string> = { PARQUET: 'parquet.compression', ORC: 'orc.compress' };

/** The target of INSERT INTO [catalog.][schema.]table, else undefined. */
function insertTarget(sql: string): { schema?: string; table: string } | undefined {
  let tokens: Token[];
  try {
    tokens = tokenize(sql, 'trino');
  } catch {
    return undefined;
  }
  if (!isWord(tokens[0], 'INSERT') || !isWord(tokens[1], 'INTO')) return undefined;
  const parts: string[] = [];
  let i = 2;
  for (;;) {
    const t = tokens[i];
    if (!t || (t.kind !== 'ident' && t.kind !== 'word')) return undefined;
    parts.push(t.kind === 'ident' ? t.value : t.value.toLowerCase());
    if (!isPunct(tokens[i + 1], '.')) break;
    i += 2;
  }
  const table = parts[parts.length - 1]!;
  return parts.length >= 2 ? { schema: parts[parts.length - 2]!, table } : { table };
}

interface AddPartitions {
  database?: string;
  table: string;
  ifNotExists: boolean;
  partitions: Array<{ columns: string[]; values: string[]; location?: string }>;
}

/** ALTER TABLE [db.]t ADD [IF NOT EXISTS] PARTITION (k = v, …) [LOCATION '…'] … (already valid Hive), else undefined. */
function parseAddPartitions(sql: string): AddPartitions | undefined {
  const tokens = tokenize(sql, 'hive');
  while (isPunct(tokens[tokens.length - 1], ';')) tokens.pop();
  let i = 0;
  const name = (t: Token | undefined) => (t && (t.kind === 'ident' || t.kind === 'word') ? t.value.toLowerCase() : undefined);
  if (!isWord(tokens[i++], 'ALTER') || !isWord(tokens[i++], 'TABLE')) return undefined;
  const parts = [name(tokens[i++])];
  while (isPunct(tokens[i], '.')) {
    i++;
    parts.push(name(tokens[i++]));
  }
  if (parts.some((p) => p === undefined) || parts.length > 2) return undefined;
  if (!isWord(tokens[i++], 'ADD')) return undefined;
  let ifNotExists = false;
  if (isWord(tokens[i], 'IF')) {
    if (!isWord(tokens[i + 1], 'NOT') || !isWord(tokens[i + 2], 'EXISTS')) return undefined;
    ifNotExists = true;
    i += 3;
  }
  const partitions: AddPartitions['partitions'] = [];
  while (i < tokens.length) {
    if (!isWord(tokens[i++], 'PARTITION') || !isPunct(tokens[i], '(')) return undefined;
    const close = closing(tokens, i);
    const columns: string[] = [];
    const values: string[] = [];
    for (const [from, to] of splitTop(tokens, i + 1, close)) {
      const column = name(tokens[from]);
      let v = from + 2;
      let sign = '';
      if (isPunct(tokens[v], '-')) {
        sign = '-';
        v++;
      }
      const value = tokens[v];
      if (!column || !isPunct(tokens[from + 1], '=') || !value || v !== to - 1 || value.kind === 'punct') return undefined;
      columns.push(column);
      values.push(sign + value.value);
    }
    i = close + 1;
    let location: string | undefined;
    if (isWord(tokens[i], 'LOCATION')) {
      if (tokens[i + 1]?.kind !== 'string') return undefined;
      location = tokens[i + 1]!.value;
      i += 2;
    }
    partitions.push({ columns, values, ...(location !== undefined ? { location } : {}) });
  }
  if (partitions.length === 0) return undefined;
  return { ...(parts.length === 2 ? { database: parts[0]! } : {}), table: parts[parts.length - 1]!, ifNotExists, partitions };
}

const trinoString = (s: string) => `'${s.replace(/'/g, "''")}'`;
const trinoName = (s: string) => `"${s.replace(/"/g, '""')}"`;
const trinoArray = (items: string[]) => `ARRAY[${items.map(trinoString).join(', ')}]`;

// ---------------------------------------------------------------------------------------------------------------
// Hive grammar (dt-sql-parser): its dist is ESM with directory imports that Node and Jest cannot load as it is, so its
// Hive parser is bundled once with esbuild (a devDependency) into the temp folder and imported from there.

interface HiveParser {
  validate(sql: string): Array<{ startLine: number; startColumn: number; endLine: number; endColumn: number; message: string }>;
}

let hiveParser: Promise<HiveParser> | undefined;

function loadHiveParser(): Promise<HiveParser> {
  hiveParser ??= (async () => {
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const require = createRequire(path.join(root, 'package.json'));
    const version = (JSON.parse(readFileSync(require.resolve('dt-sql-parser/package.json'), 'utf8')) as { version: string }).version;
    const out = path.join(os.tmpdir(), `flywheel-dt-sql-parser-${version}-hive.mjs`);
    if (!existsSync(out)) {
      const tmp = `${out}.${process.pid}.${Date.now()}.tmp`;
      const entry = require.resolve('dt-sql-parser/dist/parser/hive/index.js');
      // in a child node: esbuild's JS API misjudges Uint8Array inside Jest's VM context
      const script = `require('esbuild').buildSync({ entryPoints: [${JSON.stringify(entry)}], bundle: true, format: 'esm', platform: 'node', outfile: ${JSON.stringify(tmp)}, logLevel: 'error' })`;
      execFileSync(process.execPath, ['-e', script], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
      renameSync(tmp, out);
    }
    const mod = (await import(out)) as { HiveSQL: new () => HiveParser };
    return new mod.HiveSQL();
  })();
  return hiveParser;
}

// ---------------------------------------------------------------------------------------------------------------
// Result values as Athena renders them (strings), and Athena's column metadata

interface TypeNode {
  base: string;
  args: TypeNode[];
  /** Row field names (anonymous fields get _colN). */
  fields: string[];
  precision: number;
  scale: number;
}

function parseType(type: string): TypeNode {
  const t = type.trim();
  const open = t.indexOf('(');
  if (open < 0) return { base: t.toLowerCase(), args: [], fields: [], precision: t.toLowerCase() === 'varchar' ? VARCHAR_PRECISION : 0, scale: 0 };
  const base = t.slice(0, open).trim().toLowerCase();
  const end = t.lastIndexOf(')');
  const inner = t.slice(open + 1, end);
  const parts: string[] = [];
  let depth = 0;
  let from = 0;
  let quoted = false;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === '(') depth++;
    else if (!quoted && c === ')') depth--;
    else if (!quoted && depth === 0 && c === ',') {
      parts.push(inner.slice(from, i).trim());
      from = i + 1;
    }
  }
  parts.push(inner.slice(from).trim());
  const rest = t.slice(end + 1).trim(); // e.g. "with time zone"
  const name = rest ? `${base} ${rest.toLowerCase()}` : base;
  if (base === 'row') {
    const fields: string[] = [];
    const args = parts.map((p, i) => {
      const m = /^("(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_]*)\s+(.+)$/.exec(p);
      if (!m || /^(with|precision)\b/i.test(m[2]!)) {
        fields.push(`_col${i}`);
        return parseType(p);
      }
      fields.push(m[1]!.startsWith('"') ? m[1]!.slice(1, -1).replace(/""/g, '"') : m[1]!);
      return parseType(m[2]!);
    });
    return { base, args, fields, precision: 0, scale: 0 };
  }
  if (base === 'array' || base === 'map') return { base, args: parts.map(parseType), fields: [], precision: 0, scale: 0 };
  const numbers = parts.map((p) => Number.parseInt(p, 10));
  return { base: name, args: [], fields: [], precision: numbers[0] ?? 0, scale: numbers[1] ?? 0 };
}

/** A value of Trino's JSON protocol as Athena's VarCharValue. */
function render(value: unknown, type: TypeNode): string {
  if (value === null || value === undefined) return 'null';
  switch (type.base) {
    case 'array':
      return `[${(value as unknown[]).map((v) => render(v, type.args[0]!)).join(', ')}]`;
    case 'map':
      return `{${Object.entries(value as Record<string, unknown>)
        .map(([k, v]) => `${k}=${render(v, type.args[1]!)}`)
        .join(', ')}}`;
    case 'row':
      return `{${(value as unknown[]).map((v, i) => `${type.fields[i]}=${render(v, type.args[i]!)}`).join(', ')}}`;
    case 'varbinary':
      return [...Buffer.from(String(value), 'base64')].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    case 'json':
      return typeof value === 'string' ? value : JSON.stringify(value);
    default:
      return typeof value === 'string' ? value : String(value);
  }
}

function columnInfo(c: { name: string; type: string }) {
  const t = parseType(c.type);
  return {
    CatalogName: TRINO_CATALOG,
    SchemaName: '',
    TableName: '',
    Name: c.name,
    Label: c.name,
    Type: t.base,
    Precision: t.precision,
    Scale: t.scale,
    Nullable: 'UNKNOWN',
    CaseSensitive: t.base === 'varchar' || t.base === 'char',
  };
}

const csvCell = (v: string | undefined) => (v === undefined ? '' : `"${v.replace(/"/g, '""')}"`);

// ---------------------------------------------------------------------------------------------------------------
// The server

class AthenaError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

interface Internal {
  exec: FacadeExecution;
  token?: string;
  outputLocation: string;
  submitted: number;
  completed?: number;
  sequence: number;
  result?: TrinoResult;
  rows?: Array<Array<string | undefined>>;
  athenaError?: { ErrorCategory: number; ErrorMessage: string; Retryable: boolean };
  cancelRequested: boolean;
  killRequested: boolean;
  /** The pending state-change events, in order. */
  events: Promise<void>;
  done?: Promise<void>;
}

const FINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
const withSlash = (s: string) => (s.endsWith('/') ? s : `${s}/`);
const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

export async function startAthenaFacade(options: FacadeOptions): Promise<AthenaFacade> {
  const { trino } = options;
  const region = options.region ?? 'us-east-1';
  const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
  const workgroups = new Map(options.workgroups.map((w) => [w.name, { ...w, outputLocation: withSlash(w.outputLocation) }]));
  const events = new EventBridgeClient({ endpoint: options.eventsEndpoint, region, credentials });
  const s3 = options.s3Endpoint ? new S3Client({ endpoint: options.s3Endpoint, region, credentials, forcePathStyle: true }) : undefined;
  const hive = await loadHiveParser();
  const executions: FacadeExecution[] = [];
  const byId = new Map<string, Internal>();
  const byToken = new Map<string, Internal>();
  const listeners: Array<(e: FacadeExecution) => void | Promise<void>> = [];
  const pending = new Set<Promise<void>>();
  const eventFailures: string[] = [];
  const listenerFailures: string[] = [];
  const track = (p: Promise<void>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  /** Queues the event of x's state change (its detail taken now, put after the earlier ones). */
  const emit = (x: Internal, previousState: string | undefined) => {
    const detail = {
      currentState: x.exec.state,
      ...(previousState ? { previousState } : {}),
      queryExecutionId: x.exec.id,
      sequenceNumber: String(x.sequence),
      statementType: x.exec.statementType,
      versionId: '0',
      workgroupName: x.exec.workgroup,
    };
    x.events = x.events.then(() => putEvent(x, detail));
  };

  const putEvent = async (x: Internal, detail: Record<string, string>) => {
    try {
      const res = await events.send(
        new PutEventsCommand({
          Entries: [
            {
              Source: 'aws.athena',
              DetailType: 'Athena Query State Change',
              Detail: JSON.stringify(detail),
              Resources: [],
              EventBusName: 'default',
              Time: new Date(),
            },
          ],
        }),
      );
      if (res.FailedEntryCount) eventFailures.push(`${x.exec.id} ${x.exec.state}: ${JSON.stringify(res.Entries)}`);
    } catch (error) {
      eventFailures.push(`${x.exec.id} ${x.exec.state}: ${(error as Error).message}`);
    }
  };

  const transition = async (x: Internal, state: FacadeExecution['state'], reason?: string) => {
    const previous = x.exec.state;
    x.exec.state = state;
    if (reason !== undefined) x.exec.reason = reason;
    if (FINAL.has(state)) x.completed = Date.now();
    x.sequence++;
    emit(x, previous);
    // listeners run beside the query, not awaited by it (a listener may kill() it, which waits for its end); settled() awaits them
    if (state === 'RUNNING')
      for (const listener of [...listeners])
        track(
          Promise.resolve()
            .then(() => listener(x.exec))
            .catch((error) => void listenerFailures.push(`${x.exec.id}: ${(error as Error).message}`)),
        );
  };

  const fail = (x: Internal, reason: string, rule?: string, category = 2) => {
    if (rule) x.exec.rule = rule;
    x.athenaError = { ErrorCategory: category, ErrorMessage: reason, Retryable: false };
    return transition(x, 'FAILED', reason);
  };

  /** Athena's reason for an engine error: "<ERROR_NAME>: <message>" (TrinoQueryError's message), and the line Athena adds. */
  const engineReason = (x: Internal, e: TrinoQueryError) =>
    `${e.message}${x.exec.database ? `. This query ran against the "${x.exec.database}" database, unless qualified by the query.` : ''}`;

  /** Runs one Trino statement as part of execution x (kill and stop reach it through trinoQueryId). */
  const runTrino = async (x: Internal, sql: string, session: Record<string, string>, becomeRunning: boolean): Promise<TrinoResult> => {
    const running = trino.start(sql, { session: { task_max_writer_count: '1', ...session }, ...(x.exec.database ? { schema: x.exec.database } : {}) });
    running.done.catch(() => undefined);
    let id: string | undefined;
    try {
      id = await running.id;
    } catch {
      // failed before it had an id: `done` says why
    }
    if (id) {
      x.exec.trinoQueryId = id;
      if (x.cancelRequested) await trino.kill(id);
    }
    if (becomeRunning) await transition(x, 'RUNNING');
    return running.done;
  };

  const finishError = async (x: Internal, error: unknown) => {
    if (error instanceof TrinoQueryError) {
      if (error.errorName === 'USER_CANCELED' || (x.cancelRequested && !x.killRequested)) return transition(x, 'CANCELLED', 'Query cancelled by user');
      const rule =
        error.errorName === 'HIVE_TOO_MANY_OPEN_PARTITIONS'
          ? 'partitions-per-query'
          : error.errorName === 'HIVE_PATH_ALREADY_EXISTS'
            ? 'ctas-location-empty'
            : undefined;
      return fail(x, engineReason(x, error), rule, x.killRequested || error.errorType !== 'USER_ERROR' ? 1 : 2);
    }
    return fail(x, `GENERIC_INTERNAL_ERROR: ${(error as Error).message}`, undefined, 1);
  };

  const succeed = async (x: Internal, result: TrinoResult) => {
    if (x.cancelRequested && !x.killRequested) return transition(x, 'CANCELLED', 'Query cancelled by user');
    x.result = result;
    if (!result.updateType) {
      const types = result.columns.map((c) => parseType(c.type));
      x.rows = result.rows.map((row) => row.map((v, i) => (v === null || v === undefined ? undefined : render(v, types[i]!))));
      if (s3) {
        const uri = new URL(`${x.outputLocation}${x.exec.id}.csv`);
        const csv = [result.columns.map((c) => csvCell(c.name)), ...x.rows.map((r) => r.map(csvCell))].map((r) => `${r.join(',')}\n`).join('');
        await s3.send(new PutObjectCommand({ Bucket: uri.host, Key: uri.pathname.slice(1), Body: csv, ContentType: 'text/csv' }));
      }
    }
    return transition(x, 'SUCCEEDED');
  };

  const runHive = async (x: Internal) => {
    const errors = hive.validate(x.exec.sql);
    if (errors.length > 0) {
      const e = errors[0]!;
      await transition(x, 'RUNNING');
      return fail(x, `FAILED: ParseException line ${e.startLine}:${e.startColumn - 1} ${e.message}`, 'hive-ddl-grammar');
    }
    const add = parseAddPartitions(x.exec.sql);
    if (!add) {
      await transition(x, 'RUNNING');
      const words = x.exec.sql.trim().split(/\s+/).slice(0, 3).join(' ');
      return fail(
        x,
        `The Athena façade does not translate this Hive DDL statement to Trino (${words} …): only ALTER TABLE … ADD PARTITION is translated.`,
        'hive-ddl-untranslated',
      );
    }
    const schema = add.database ?? x.exec.database;
    if (!schema) {
      await transition(x, 'RUNNING');
      return fail(x, `FAILED: SemanticException [Error 10001]: no database given for table ${add.table}`);
    }
    const listSql = `SELECT * FROM ${trinoName(schema)}.${trinoName(`${add.table}$partitions`)}`;
    const calls = add.partitions.map(
      (p) =>
        `CALL system.register_partition(schema_name => ${trinoString(schema)}, table_name => ${trinoString(add.table)}, partition_columns => ${trinoArray(p.columns)}, partition_values => ${trinoArray(p.values)}${p.location !== undefined ? `, location => ${trinoString(p.location)}` : ''})`,
    );
    x.exec.trinoSql = [listSql, ...calls].join(';\n');
    try {
      const existing = await runTrino(x, listSql, {}, true);
      const names = existing.columns.map((c) => c.name.toLowerCase());
      const present = new Set(existing.rows.map((r) => r.map((v) => String(v)).join('\u0000')));
      const key = (p: AddPartitions['partitions'][number]) => names.map((n) => p.values[p.columns.indexOf(n)] ?? '\u0001').join('\u0000');
      const exists = add.partitions.filter((p) => present.has(key(p)));
      if (exists.length > 0 && !add.ifNotExists)
        return fail(
          x,
          `FAILED: AlreadyExistsException: Partition already exists: ${exists.map((p) => p.columns.map((c, i) => `${c}=${p.values[i]}`).join('/')).join(', ')}`,
          'add-partition',
        );
      let last: TrinoResult = existing;
      for (const [i, p] of add.partitions.entries()) {
        if (x.cancelRequested) return transition(x, 'CANCELLED', 'Query cancelled by user');
        if (!present.has(key(p))) last = await runTrino(x, calls[i]!, {}, false);
      }
      return succeed(x, { ...last, columns: [], rows: [], updateType: 'ALTER TABLE' });
    } catch (error) {
      return finishError(x, error);
    }
  };

  const run = async (x: Internal) => {
    x.sequence++;
    emit(x, undefined); // QUEUED
    await new Promise((resolve) => setImmediate(resolve));
    if (x.cancelRequested) return transition(x, 'CANCELLED', 'Query cancelled by user');
    const r = route(x.exec.sql);
    if (r.engine === 'hive') return runHive(x);
    let sql = x.exec.sql;
    let session: Record<string, string> = {};
    if (r.ctas) {
      let plan: CtasPlan;
      try {
        plan = translateCtas(sql, x.outputLocation, x.exec.id);
      } catch {
        plan = { sql, session: {}, hadLocation: false };
      }
      const workgroup = workgroups.get(x.exec.workgroup)!;
      if (plan.hadLocation && workgroup.enforce) {
        await transition(x, 'RUNNING');
        return fail(
          x,
          `INVALID_INPUT: The workgroup ${workgroup.name} enforces its query results location (Override client-side settings), so a CTAS query cannot specify external_location. Remove it: the table is then written under the workgroup's query results location.`,
          'enforced-workgroup-ctas-location',
        );
      }
      sql = plan.sql;
      session = plan.session;
    }
    const target = insertTarget(sql);
    const schema = target?.schema ?? x.exec.database;
    if (target && schema) {
      // INSERT INTO writes with the table's compression property (what Athena's CTAS write_compression recorded)
      const found = await trino.query(`SELECT * FROM ${trinoName(schema)}.${trinoName(`${target.table}$properties`)}`).catch(() => undefined);
      const row = found?.rows[0];
      const codec =
        row &&
        ['parquet.compression', 'orc.compress', 'write.compression']
          .map((p) => row[found.columns.findIndex((c) => c.name === p)])
          .find((v) => typeof v === 'string');
      if (typeof codec === 'string') session = { 'hive.compression_codec': codec.toUpperCase() === 'UNCOMPRESSED' ? 'NONE' : codec.toUpperCase() };
    }
    x.exec.trinoSql = sql;
    try {
      return await succeed(x, await runTrino(x, sql, session, true));
    } catch (error) {
      return finishError(x, error);
    }
  };

  const launch = (x: Internal) => {
    const done = run(x)
      .catch((error) => fail(x, `GENERIC_INTERNAL_ERROR: ${(error as Error).message}`, undefined, 1))
      .then(() => x.events);
    x.done = done;
    track(done);
  };

  const find = (id: unknown): Internal => {
    const x = typeof id === 'string' ? byId.get(id) : undefined;
    if (!x) throw new AthenaError('InvalidRequestException', `QueryExecution ${String(id)} was not found`);
    return x;
  };

  const queryExecution = (x: Internal) => ({
    QueryExecutionId: x.exec.id,
    Query: x.exec.sql,
    StatementType: x.exec.statementType,
    ResultConfiguration: { OutputLocation: `${x.outputLocation}${x.exec.id}${x.exec.statementType === 'DML' ? '.csv' : '.txt'}` },
    QueryExecutionContext: { ...(x.exec.database ? { Database: x.exec.database } : {}), Catalog: 'awsdatacatalog' },
    Status: {
      State: x.exec.state,
      ...(x.exec.reason ? { StateChangeReason: x.exec.reason } : {}),
      SubmissionDateTime: seconds(x.submitted),
      ...(x.completed ? { CompletionDateTime: seconds(x.completed) } : {}),
      ...(x.athenaError ? { AthenaError: x.athenaError } : {}),
    },
    Statistics: {
      EngineExecutionTimeInMillis: Number(x.result?.stats.elapsedTimeMillis ?? 0),
      DataScannedInBytes: Number(x.result?.stats.physicalInputBytes ?? 0),
      TotalExecutionTimeInMillis: (x.completed ?? Date.now()) - x.submitted,
      QueryQueueTimeInMillis: Number(x.result?.stats.queuedTimeMillis ?? 0),
    },
    WorkGroup: x.exec.workgroup,
    EngineVersion: { SelectedEngineVersion: 'AUTO', EffectiveEngineVersion: 'Athena engine version 3' },
  });

  const actions: Record<string, (input: Record<string, any>) => Promise<object> | object> = {
    StartQueryExecution: (input) => {
      const sql = input.QueryString;
      if (typeof sql !== 'string' || sql.length === 0) throw new AthenaError('InvalidRequestException', 'QueryString must not be empty');
      const workgroupName = typeof input.WorkGroup === 'string' ? input.WorkGroup : 'primary';
      const workgroup = workgroups.get(workgroupName);
      if (!workgroup) throw new AthenaError('InvalidRequestException', `WorkGroup ${workgroupName} is not found.`);
      const catalog = input.QueryExecutionContext?.Catalog;
      if (catalog !== undefined && String(catalog).toLowerCase() !== 'awsdatacatalog')
        throw new AthenaError('InvalidRequestException', `The façade serves only the catalog AwsDataCatalog, not ${catalog}`);
      const token = typeof input.ClientRequestToken === 'string' ? input.ClientRequestToken : undefined;
      const database = typeof input.QueryExecutionContext?.Database === 'string' ? input.QueryExecutionContext.Database.toLowerCase() : undefined;
      if (token) {
        const seen = byToken.get(token);
        if (seen) {
          if (seen.exec.sql !== sql || seen.exec.workgroup !== workgroupName || seen.exec.database !== database)
            throw new AthenaError('InvalidRequestException', 'Idempotent parameters do not match');
          return { QueryExecutionId: seen.exec.id };
        }
      }
      const clientLocation = input.ResultConfiguration?.OutputLocation;
      const outputLocation = workgroup.enforce || typeof clientLocation !== 'string' ? workgroup.outputLocation : withSlash(clientLocation);
      const id = randomUUID();
      const exec: FacadeExecution = {
        id,
        workgroup: workgroupName,
        ...(database ? { database } : {}),
        sql,
        statementType: route(sql).statementType,
        state: 'QUEUED',
      };
      const x: Internal = {
        exec,
        ...(token ? { token } : {}),
        outputLocation,
        submitted: Date.now(),
        sequence: 0,
        cancelRequested: false,
        killRequested: false,
        events: Promise.resolve(),
      };
      executions.push(exec);
      byId.set(id, x);
      if (token) byToken.set(token, x);
      launch(x);
      return { QueryExecutionId: id };
    },
    GetQueryExecution: (input) => ({ QueryExecution: queryExecution(find(input.QueryExecutionId)) }),
    GetQueryResults: (input) => {
      const x = find(input.QueryExecutionId);
      if (x.exec.state !== 'SUCCEEDED')
        throw new AthenaError(
          'InvalidRequestException',
          FINAL.has(x.exec.state)
            ? `Query did not finish successfully. Final query state: ${x.exec.state}\n${x.exec.reason ?? ''}`
            : `Query has not yet finished. Current state: ${x.exec.state}`,
        );
      const max = input.MaxResults === undefined ? MAX_RESULTS : Number(input.MaxResults);
      if (!Number.isInteger(max) || max < 1 || max > MAX_RESULTS)
        throw new AthenaError('InvalidRequestException', `MaxResults must be between 1 and ${MAX_RESULTS}`);
      const columns = x.rows ? x.result!.columns : [];
      const all = x.rows ? [columns.map((c) => c.name), ...x.rows] : [];
      let offset = 0;
      if (typeof input.NextToken === 'string') {
        const token = JSON.parse(Buffer.from(input.NextToken, 'base64url').toString('utf8')) as { id: string; offset: number };
        if (token.id !== x.exec.id) throw new AthenaError('InvalidRequestException', 'NextToken does not belong to this query');
        offset = token.offset;
      }
      const page = all.slice(offset, offset + max);
      const next = offset + max < all.length ? Buffer.from(JSON.stringify({ id: x.exec.id, offset: offset + max })).toString('base64url') : undefined;
      return {
        ...(x.result?.updateCount !== undefined ? { UpdateCount: x.result.updateCount } : {}),
        ResultSet: {
          Rows: page.map((r) => ({ Data: r.map((v) => (v === undefined ? {} : { VarCharValue: v })) })),
          ResultSetMetadata: { ColumnInfo: columns.map(columnInfo) },
        },
        ...(next ? { NextToken: next } : {}),
      };
    },
    StopQueryExecution: async (input) => {
      const x = find(input.QueryExecutionId);
      if (!FINAL.has(x.exec.state)) {
        x.cancelRequested = true;
        if (x.exec.trinoQueryId) await trino.kill(x.exec.trinoQueryId);
        // Trino ignores the cancel of a query its dispatcher is still creating (a loaded machine): repeated each second
        // until the execution ends, for a minute at most, beside the answer (Athena answers at once too)
        track(
          (async () => {
            for (let i = 0; i < 60 && !FINAL.has(x.exec.state); i++) {
              await Promise.race([x.done, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
              if (!FINAL.has(x.exec.state) && x.exec.trinoQueryId) await trino.kill(x.exec.trinoQueryId).catch(() => undefined);
            }
          })(),
        );
      }
      return {};
    },
    GetWorkGroup: (input) => {
      const w = workgroups.get(String(input.WorkGroup));
      if (!w) throw new AthenaError('InvalidRequestException', `WorkGroup ${String(input.WorkGroup)} is not found.`);
      return {
        WorkGroup: {
          Name: w.name,
          State: 'ENABLED',
          Configuration: {
            ResultConfiguration: { OutputLocation: w.outputLocation },
            EnforceWorkGroupConfiguration: w.enforce,
            PublishCloudWatchMetricsEnabled: false,
            RequesterPaysEnabled: false,
            EngineVersion: { SelectedEngineVersion: 'AUTO', EffectiveEngineVersion: 'Athena engine version 3' },
          },
          CreationTime: 0,
        },
      };
    },
  };

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    const action = target.startsWith('AmazonAthena.') ? target.slice('AmazonAthena.'.length) : '';
    const reply = (status: number, body: object, type?: string) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', ...(type ? { 'x-amzn-errortype': type } : {}), 'x-amzn-requestid': randomUUID() });
      res.end(JSON.stringify(body));
    };
    try {
      const handler = actions[action];
      if (!handler) throw new AthenaError('UnknownOperationException', `The Athena façade does not serve ${target || 'this request'}`);
      const input = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, any>) : {};
      reply(200, await handler(input));
    } catch (error) {
      if (error instanceof AthenaError)
        reply(
          400,
          { __type: error.type, Message: error.message, ...(error.type === 'InvalidRequestException' ? { AthenaErrorCode: 'INVALID_INPUT' } : {}) },
          error.type,
        );
      else reply(500, { __type: 'InternalServerException', Message: (error as Error).message }, 'InternalServerException');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  const settled = async () => {
    while (pending.size > 0) await Promise.allSettled([...pending]);
    if (eventFailures.length > 0) throw new Error(`Athena façade: state change events not put:\n${eventFailures.join('\n')}`);
    if (listenerFailures.length > 0) throw new Error(`Athena façade: onRunning listeners failed:\n${listenerFailures.join('\n')}`);
  };

  return {
    endpoint,
    executions,
    onRunning: (listener) => void listeners.push(listener),
    kill: async (executionId) => {
      const x = find(executionId);
      if (x.exec.state !== 'RUNNING' || !x.exec.trinoQueryId)
        throw new Error(`Athena façade: execution ${executionId} is ${x.exec.state}${x.exec.trinoQueryId ? '' : ' with no Trino query'}: nothing to kill`);
      x.killRequested = true;
      const killQuery = `CALL system.runtime.kill_query(query_id => ${trinoString(x.exec.trinoQueryId)}, message => ${trinoString(`Athena façade kill of ${executionId}`)})`;
      // the query id is given out once Trino's dispatcher has the query, but on a loaded machine its registration can
      // still trail the first poll: NOT_FOUND is retried while the execution runs (a minute at most)
      for (let attempt = 1; ; attempt++) {
        try {
          await trino.query(killQuery);
          break;
        } catch (error) {
          if (!(error instanceof TrinoQueryError && error.errorName === 'NOT_FOUND') || FINAL.has(x.exec.state) || attempt >= 300) throw error;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
      await x.done;
    },
    settled,
    stop: async () => {
      for (const x of byId.values()) {
        if (FINAL.has(x.exec.state)) continue;
        x.cancelRequested = true;
        if (x.exec.trinoQueryId) await trino.kill(x.exec.trinoQueryId).catch(() => undefined);
      }
      await Promise.race([Promise.allSettled([...pending]), new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      events.destroy();
      s3?.destroy();
    },
  };
}
