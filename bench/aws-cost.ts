/**
 * 6. AWS cost shape, counted through the real Lambda entries and AWS adapters (services/<fn>/handler.ts
 * → S3ObjectStore, GlueCatalog, AthenaQueryEngine) against the in-memory S3 and Glue of test/aws
 * (aws-sdk-client-mock) and a mocked Athena that behaves as the test suite's does:
 *   snapshot-trigger over the 0.1× bench input → the real local split (runSplitPlan) as the Glue
 *   job, its output uploaded → register-staged-tables → bucketed-tables (Athena's side effects
 *   simulated: files under id_bucket=N/ and partitions for 256 buckets) → data-monitor.
 * Counted per table: Glue calls and parquet bytes read in register, Athena queries and part_ scans
 * in the monitor, S3 LIST requests per stage under the table's own folders.
 */
import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { StartJobRunCommand } from '@aws-sdk/client-glue';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { LocalDuckDb } from '../shared/adapters/local/duckdb.js';
import { FsObjectStore } from '../shared/adapters/local/fs-object-store.js';
import { runSplitPlan } from '../shared/adapters/local/local-engines.js';
import type { SplitPlan } from '../shared/domain/split-plan.js';
import { simulatePartRangeQuery } from '../test/aws/fake-athena.js';
import { fakeGlue } from '../test/aws/fake-glue.js';
import { fakeS3 } from '../test/aws/fake-s3.js';
import { ensureInput, scratchHome } from './data.js';
import { DUMMY_ENV } from './lambda.js';
import { fmtBytes, fmtNum, progress, REPO_DIR, rmrf, type Row } from './lib.js';

type Handler = (event: unknown, ctx: unknown) => Promise<any>;
const context = { functionName: 'bench', awsRequestId: 'req', getRemainingTimeInMillis: () => 900000 } as never;
const envelope = (source: string, detailType: string, detail: unknown) => ({
  version: '0',
  id: `e-${Math.random()}`,
  'detail-type': detailType,
  source,
  account: '000000000000',
  time: '2025-10-31T23:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail,
});
const sample = (name: string) => JSON.parse(readFileSync(path.join(REPO_DIR, 'events', name), 'utf8')) as Record<string, any>;

/** Walks a folder: [relative key, absolute path]. */
async function walk(root: string, dir = root): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(root, p)));
    else out.push([path.relative(root, p).split(path.sep).join('/'), p]);
  }
  return out;
}

/** Footer bytes of a parquet body: the footer length field plus the 8-byte trailer. */
const footerBytes = (body: Uint8Array) => new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(body.byteLength - 8, true) + 8;

export interface AwsCostResult {
  tables: string[];
  register: {
    glueCallsPerTable: Record<string, string[]>;
    parquetGets: Record<string, Array<{ bytes: number; range: string }>>;
    footerBytes: Record<string, number>;
    fileBytes: Record<string, number>;
    listsPerTable: Record<string, number>;
  };
  trigger: { parquetGets: number; parquetBytes: number; sourceFiles: number; sourceBytes: number };
  bucketed: {
    athenaPerTable: Record<string, number>;
    listsPerTable: Record<string, number>;
    gluePerTable: Record<string, number>;
    glueKinds: Record<string, number>;
    listShapes: Record<string, number>;
  };
  monitor: {
    queriesPerTable: Record<string, number>;
    partScans: Record<string, number>;
    sourceCounts: Record<string, number>;
    listsPerTable: Record<string, number>;
    partitions: Record<string, number>;
  };
}

export async function benchAwsCost(): Promise<{ rows: Row[]; result: AwsCostResult }> {
  // Powertools metrics print EMF lines on stdout (CloudWatch's channel in Lambda): keep the bench's stdout for the table
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => process.stderr.write(chunk, ...rest)) as typeof process.stdout.write;
  try {
    return await measure();
  } finally {
    process.stdout.write = write;
  }
}

async function measure(): Promise<{ rows: Row[]; result: AwsCostResult }> {
  Object.assign(process.env, DUMMY_ENV, { POWERTOOLS_LOG_LEVEL: 'SILENT', MONITOR_TREND_REPORTS: '0' });
  const s3 = fakeS3();
  const glue = fakeGlue();
  const athena = mockClient(AthenaClient);
  const events = mockClient(EventBridgeClient);
  const sns = mockClient(SNSClient);
  const queries: Array<{ id: string; sql: string; done: boolean }> = [];
  athena.on(StartQueryExecutionCommand).callsFake((input) => {
    const id = `q-${queries.length + 1}`;
    queries.push({ id, sql: input.QueryString, done: false });
    return { QueryExecutionId: id };
  });
  athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' }, Statistics: { DataScannedInBytes: 1000 } } });
  athena.on(GetQueryResultsCommand).callsFake((input) => {
    const sql = queries.find((q) => q.id === input.QueryExecutionId)!.sql;
    const header = (...names: string[]) => ({ Data: names.map((n) => ({ VarCharValue: n })) });
    const row = (...values: Array<string | undefined>) => ({ Data: values.map((v) => (v === undefined ? {} : { VarCharValue: v })) });
    if (sql.startsWith('SELECT count(*)'))
      return { ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'row_count' }] }, Rows: [header('row_count'), row('2560')] } };
    const cols = ['id_bucket', 'row_count', 'pk_nulls', 'pk_dupes', 'wrong_bucket'];
    return {
      ResultSet: {
        ResultSetMetadata: { ColumnInfo: cols.map((Name) => ({ Name })) },
        Rows: [header(...cols), ...Array.from({ length: 256 }, (_, b) => row(String(b), '10', '0', '0', '0')), row(undefined, '2560', '0', '0', '0')],
      },
    };
  });
  events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
  const published = () => events.commandCalls(PutEventsCommand).flatMap((c) => c.args[0].input.Entries ?? []);
  const lists = () => s3.mock.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input.Prefix ?? '');
  const gets = () => s3.mock.commandCalls(GetObjectCommand).map((c) => ({ key: c.args[0].input.Key ?? '', range: c.args[0].input.Range ?? '' }));

  // the lake: the 0.1× bench input
  const input = await ensureInput(0.1);
  for (const [key, file] of await walk(path.join(input.lake, 'data'))) s3.put('data', key, new Uint8Array(readFileSync(file)));
  const trigger = (await import('../services/snapshot-trigger/handler.js')).handler as Handler;
  const register = (await import('../services/register-staged-tables/handler.js')).handler as Handler;
  const bucketed = (await import('../services/bucketed-tables/handler.js')).handler as Handler;
  const monitor = (await import('../services/data-monitor/handler.js')).handler as Handler;

  // snapshot-trigger: footers of every source file
  progress('aws cost: snapshot-trigger');
  let g0 = gets().length;
  const [started] = (await trigger(sample('s3-object-created.eventbridge.json'), context)) as Array<{ outcome: string; jobRunId: string }>;
  if (started?.outcome !== 'started') throw new Error(`snapshot-trigger did not start a run: ${JSON.stringify(started)}`);
  const triggerGets = gets()
    .slice(g0)
    .filter((g) => g.key.endsWith('.parquet'));
  const sourceFiles = [...s3.objects.keys()].filter((k) => k.includes('raw_input') && k.endsWith('.parquet'));
  const triggerBytes = triggerGets.reduce((s, g) => s + (Number(/-(\d+)$/.exec(g.range)?.[1]) - Number(/=(\d+)-/.exec(g.range)?.[1]) + 1), 0);

  // the Glue job: the real local split over the same plan, output uploaded
  progress('aws cost: split job (runSplitPlan) → upload');
  const planUri = glue.mock.commandCalls(StartJobRunCommand)[0]!.args[0].input.Arguments!['--PLAN_URI']!;
  const planKey = planUri.replace('s3://data/', '');
  const plan = JSON.parse(s3.text('data', planKey)!) as SplitPlan;
  const home = await scratchHome(0.1, 'aws-cost');
  const lake = path.join(home, 'lake');
  await fs.mkdir(path.dirname(path.join(lake, 'data', planKey)), { recursive: true });
  await fs.writeFile(path.join(lake, 'data', planKey), s3.text('data', planKey)!);
  const db = await LocalDuckDb.open(path.join(home, 'catalog.duckdb'), lake);
  try {
    await runSplitPlan(db, new FsObjectStore(lake), planUri);
  } finally {
    db.connection.closeSync();
  }
  for (const t of plan.tables) {
    const prefix = t.outputUri.replace('s3://data/', '');
    for (const [key, file] of await walk(path.join(lake, 'data', prefix))) s3.put('data', prefix + key, new Uint8Array(readFileSync(file)));
  }
  s3.put('data', planKey.replace('plan.json', 'result.json'), readFileSync(path.join(lake, 'data', planKey.replace('plan.json', 'result.json'))));
  await rmrf(home);

  // register-staged-tables
  progress('aws cost: register-staged-tables');
  const tables = plan.tables.map((t) => t.target);
  const glueCallsPerTable: Record<string, string[]> = {};
  const parquetGets: Record<string, Array<{ bytes: number; range: string }>> = {};
  const footer: Record<string, number> = {};
  const fileBytes: Record<string, number> = {};
  const registerLists: Record<string, number> = {};
  let c0 = glue.calls.length;
  let l0 = lists().length;
  g0 = gets().length;
  const glueEvent = sample('glue-job-state-change.succeeded.json');
  glueEvent.detail.jobRunId = started.jobRunId;
  const reg = (await register(glueEvent, context)) as { outcome: string; tables: string[] };
  if (reg.outcome !== 'registered') throw new Error(`register-staged-tables: ${JSON.stringify(reg)}`);
  const regCalls = glue.mock.calls().slice(-(glue.calls.length - c0));
  for (const t of plan.tables) {
    const prefix = t.outputUri.replace('s3://data/', '');
    glueCallsPerTable[t.target] = regCalls
      .filter((c) => JSON.stringify(c.args[0].input).includes(t.target))
      .map((c) => c.args[0].constructor.name.replace(/Command$/, ''));
    parquetGets[t.target] = gets()
      .slice(g0)
      .filter((g) => g.key.startsWith(prefix) && g.key.endsWith('.parquet'))
      .map((g) => ({ range: g.range, bytes: Number(/-(\d+)$/.exec(g.range)?.[1]) - Number(/=(\d+)-/.exec(g.range)?.[1]) + 1 }));
    const first = [...s3.objects.entries()].find(([k]) => k.startsWith(`data/${prefix}`) && k.endsWith('.parquet'))!;
    footer[t.target] = footerBytes(first[1]);
    fileBytes[t.target] = first[1].byteLength;
    registerLists[t.target] = lists()
      .slice(l0)
      .filter((p) => p.startsWith(prefix)).length;
  }

  // bucketed-tables: every Athena query simulated as Athena does it (files + partitions), events delivered
  progress('aws cost: bucketed-tables');
  const stageCompleted = published().find((e) => e.DetailType === 'Stage Completed')!;
  l0 = lists().length;
  c0 = glue.calls.length;
  const q0 = queries.length;
  await bucketed(envelope('flywheel.pipeline', 'Stage Completed', JSON.parse(stageCompleted.Detail!)), context);
  for (let guard = 0; guard < 1000 && queries.some((q) => !q.done); guard++) {
    const q = queries.find((x) => !x.done)!;
    simulatePartRangeQuery(q.sql, s3, glue);
    q.done = true;
    await bucketed(
      envelope('aws.athena', 'Athena Query State Change', {
        currentState: 'SUCCEEDED',
        previousState: 'RUNNING',
        queryExecutionId: q.id,
        workgroupName: DUMMY_ENV.ATHENA_WORKGROUP,
        sequenceNumber: '3',
        statementType: 'DML',
        versionId: '0',
      }),
      context,
    );
  }
  if (!published().some((e) => e.DetailType === 'Pipeline Completed')) throw new Error('the bucketed stage did not complete');
  const bq = queries.slice(q0);
  const bucketedLists = lists().slice(l0);
  const bucketedGlue = glue.mock.calls().slice(-(glue.calls.length - c0));
  const athenaPerTable = Object.fromEntries(tables.map((t) => [t, bq.filter((q) => new RegExp(`"(part|ext)_${t}(_er)?(__[a-z0-9_]+)?"`).test(q.sql)).length]));
  const bucketedListsPerTable = Object.fromEntries(
    tables.map((t) => [t, bucketedLists.filter((p) => new RegExp(`/(part|bucketed|ext)_${t}(_er)?/`).test(p) || p.includes(`/${t}/`)).length]),
  );
  const glueOf = (t: string) => bucketedGlue.filter((c) => new RegExp(`_${t}(_er)?(__|")`).test(JSON.stringify(c.args[0].input)));
  const gluePerTable = Object.fromEntries(tables.map((t) => [t, glueOf(t).length]));
  const glueKinds: Record<string, number> = {};
  for (const c of glueOf(tables[0]!))
    glueKinds[c.args[0].constructor.name.replace(/Command$/, '')] = (glueKinds[c.args[0].constructor.name.replace(/Command$/, '')] ?? 0) + 1;
  const listKinds = bucketedLists
    .filter((p) => p.includes(`_${tables[0]}/`))
    .map((p) => p.replace(/id_bucket=\d+\//, 'id_bucket=N/').replace(/run_id=[^/]+/, 'run_id=R'));
  const listShapes: Record<string, number> = {};
  for (const k of listKinds) listShapes[k] = (listShapes[k] ?? 0) + 1;

  // data-monitor over the tables just built (256 partitions each)
  progress('aws cost: data-monitor');
  const partTables = [...glue.tables.keys()]
    .filter((k) => /^flywheel_dev\.part_[a-z0-9_]+$/.test(k))
    .map((k) => k.slice('flywheel_dev.'.length))
    .filter((t) => !t.endsWith('_er'));
  const locations = Object.fromEntries(
    partTables.map((t) => [t, glue.tables.get(`flywheel_dev.${t}`)!.StorageDescriptor!.Location!.replace('s3://data/', '')]),
  );
  l0 = lists().length;
  const mq0 = queries.length;
  await monitor({ options: { auto_repair: 'off' } }, context);
  for (const q of queries.slice(mq0)) {
    q.done = true;
    await monitor(
      envelope('aws.athena', 'Athena Query State Change', {
        currentState: 'SUCCEEDED',
        previousState: 'RUNNING',
        queryExecutionId: q.id,
        workgroupName: DUMMY_ENV.MONITOR_WORKGROUP,
        sequenceNumber: '3',
        statementType: 'DML',
        versionId: '0',
      }),
      context,
    );
  }
  if (!published().some((e) => e.DetailType === 'Monitor Completed')) throw new Error('the monitor did not complete');
  const mq = queries.slice(mq0);
  const monitorLists = lists().slice(l0);
  const base = (t: string) => t.slice('part_'.length);
  const monitor_ = {
    queriesPerTable: Object.fromEntries(
      partTables.map((t) => [base(t), mq.filter((q) => q.sql.includes(`"${t}"`) || q.sql.includes(`"ext_${base(t)}"`)).length]),
    ),
    partScans: Object.fromEntries(partTables.map((t) => [base(t), mq.filter((q) => q.sql.includes(`"${t}"`)).length])),
    sourceCounts: Object.fromEntries(
      partTables.map((t) => [base(t), mq.filter((q) => q.sql.startsWith('SELECT count(*)') && q.sql.includes(`"ext_${base(t)}"`)).length]),
    ),
    listsPerTable: Object.fromEntries(partTables.map((t) => [base(t), monitorLists.filter((p) => p.startsWith(locations[t]!)).length])),
    partitions: Object.fromEntries(partTables.map((t) => [base(t), glue.partitions('flywheel_dev', t).length])),
  };
  s3.mock.restore();
  glue.mock.restore();
  athena.restore();
  events.restore();
  sns.restore();

  const result: AwsCostResult = {
    tables,
    register: { glueCallsPerTable, parquetGets, footerBytes: footer, fileBytes, listsPerTable: registerLists },
    trigger: {
      parquetGets: triggerGets.length,
      parquetBytes: triggerBytes,
      sourceFiles: sourceFiles.length,
      sourceBytes: sourceFiles.reduce((s, k) => s + s3.objects.get(k)!.byteLength, 0),
    },
    bucketed: { athenaPerTable, listsPerTable: bucketedListsPerTable, gluePerTable, glueKinds, listShapes },
    monitor: monitor_,
  };
  return { result, rows: costRows(result) };
}

const maxOf = (o: Record<string, number>) => Math.max(...Object.values(o));
const same = (o: Record<string, number>) =>
  new Set(Object.values(o)).size === 1
    ? String(Object.values(o)[0])
    : Object.entries(o)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');

function costRows(r: AwsCostResult): Row[] {
  const rows: Row[] = [];
  const m = r.monitor;
  const scansOk = Object.keys(m.partScans).every((t) => m.partScans[t] === 1 && m.sourceCounts[t] === 1 && m.queriesPerTable[t] === 2);
  rows.push({
    section: '6 aws cost',
    metric: 'monitor: Athena queries per table',
    value: same(m.queriesPerTable),
    note: `part_ scans ${same(m.partScans)}, source counts ${same(m.sourceCounts)}`,
    target: '1 part_ scan + 1 source count',
    pass: scansOk,
  });
  rows.push({
    section: '6 aws cost',
    metric: `monitor: S3 LISTs per table (${same(m.partitions)} partitions)`,
    value: same(m.listsPerTable),
    target: '≤ 2',
    pass: maxOf(m.listsPerTable) <= 2,
  });
  const glueCounts = Object.fromEntries(Object.entries(r.register.glueCallsPerTable).map(([t, c]) => [t, c.length]));
  const first = Object.values(r.register.glueCallsPerTable)[0] ?? [];
  rows.push({
    section: '6 aws cost',
    metric: 'register: Glue API calls per table',
    value: same(glueCounts),
    note: first.join(' → '),
    target: '≤ 3',
    pass: maxOf(glueCounts) <= 3,
  });
  const reads = Object.fromEntries(Object.entries(r.register.parquetGets).map(([t, g]) => [t, g.reduce((s, x) => s + x.bytes, 0)]));
  const t0 = r.tables[0]!;
  const footerOnly = r.tables.every((t) => reads[t]! <= r.register.footerBytes[t]!);
  const tailOnly = r.tables.every((t) => reads[t]! <= r.register.footerBytes[t]! + 64 * 1024 && r.register.parquetGets[t]!.length <= 2);
  rows.push({
    section: '6 aws cost',
    metric: 'register: parquet bytes read per table (schema)',
    value: `${fmtBytes(reads[t0]!)} in ${r.register.parquetGets[t0]!.length} ranged GETs`,
    note: `footer ${fmtBytes(r.register.footerBytes[t0]!)} of a ${fmtBytes(r.register.fileBytes[t0]!)} file (${t0}); the reads ${footerOnly ? 'are the trailer and the footer, nothing else' : `are ${fmtNum(reads[t0]! / r.register.footerBytes[t0]!, 1)}× the footer`}`,
    target: 'the footer only',
    pass: footerOnly,
  });
  if (!footerOnly && tailOnly) rows[rows.length - 1]!.note += ' — one tail GET, no column data scanned beyond the probe';
  rows.push({ section: '6 aws cost', metric: 'register: S3 LISTs per table', value: same(r.register.listsPerTable) });
  rows.push({
    section: '6 aws cost',
    metric: 'trigger: source footer reads',
    value: `${r.trigger.parquetGets} GETs, ${fmtBytes(r.trigger.parquetBytes)}`,
    note: `${r.trigger.sourceFiles} source files, ${fmtBytes(r.trigger.sourceBytes)}`,
  });
  rows.push({
    section: '6 aws cost',
    metric: 'bucketed: Athena queries per table',
    value: same(r.bucketed.athenaPerTable),
    note: 'part_ ranges + part_*_er ranges',
  });
  rows.push({
    section: '6 aws cost',
    metric: 'bucketed: S3 LISTs per table (256 partitions)',
    value: same(r.bucketed.listsPerTable),
    target: '≤ 2',
    pass: maxOf(r.bucketed.listsPerTable) <= 2,
    note: Object.entries(r.bucketed.listShapes)
      .map(([k, v]) => `${v}× ${k.split('/').slice(-4).join('/')}`)
      .join('; '),
  });
  rows.push({
    section: '6 aws cost',
    metric: 'bucketed: Glue calls per table',
    value: same(r.bucketed.gluePerTable),
    note: Object.entries(r.bucketed.glueKinds)
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
  });
  return rows;
}
