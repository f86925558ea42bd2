// The Clean Rooms report end to end in local mode: the pipeline makes the part_ tables in the DuckDB
// catalog, a description file stands in for Clean Rooms and Entity Resolution, the scheduled event of
// events/ runs the report through its handler, and the three files are read back and counted.
import type { CleanroomsReportSummary } from '../../shared/use-cases/cleanrooms-report.js';
import { parse } from 'csv-parse/sync';
import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { LocalEngineRuntime as LocalRuntime } from '../../shared/composition/local.js';
import type { CleanroomsReport } from '../../shared/domain/cleanrooms-report.js';
import type { CleanroomsDescription } from '../../shared/adapters/local/cleanrooms-directory.js';
import { cleanroomsReportCommand, LOCAL_MEMBERSHIP_ID, runCleanroomsReportLocal, sampleCleanroomsDescription } from '../../shared/local/cleanrooms.js';
import type { ObjectStore } from '../../shared/ports.js';
import { open, outbox, runPipeline, sampleHome } from './harness.js';

const scheduled = JSON.parse(readFileSync(new URL('../../events/scheduled-event.cleanrooms-report.json', import.meta.url), 'utf8')) as Record<string, unknown>;
let now = new Date('2025-11-09T08:00:00Z');
const clock = { now: () => now };

let home: string;
let rt: LocalRuntime;
/** Catalog part_ tables, counted straight from the DuckDB catalog's own table (not through the Catalog port). */
let catalogTables: string[];

beforeAll(async () => {
  home = await sampleHome(300);
  rt = await open(home, { clock });
  await runPipeline(rt);
  const rows = await rt.db.all("SELECT name FROM flywheel_meta.tables WHERE database = 'flywheel' AND name LIKE 'part\\_%' ESCAPE '\\' ORDER BY name");
  catalogTables = rows.map((r) => String(r.name));
});
let closed = false;
afterAll(() => {
  if (!closed) rt.close();
});

const reportDir = () => path.join(home, 'lake', 'analysis', 'cleanrooms-reports');
/** The three files of the report written at `at`. */
function readReport(at: Date) {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  const base = path.join(reportDir(), `ACX_Cleanroom_Report_${stamp}`);
  return {
    json: JSON.parse(readFileSync(`${base}.json`, 'utf8')) as CleanroomsReport,
    tables: parse(readFileSync(`${base}_Tables.csv`, 'utf8'), { columns: true }) as Array<Record<string, string>>,
    identity: parse(readFileSync(`${base}_IdentityResolution.csv`, 'utf8'), { columns: true }) as Array<Record<string, string>>,
  };
}
async function writeDescription(name: string, d: unknown): Promise<string> {
  const file = path.join(home, name);
  await fs.writeFile(file, typeof d === 'string' ? d : JSON.stringify(d, null, 2));
  return file;
}
const newMail = async (before: number) => (await outbox(home)).slice(before);

test('the sample lake has plain and _er part_ tables in the catalog', () => {
  expect(catalogTables.length).toBeGreaterThanOrEqual(6);
  expect(catalogTables.some((t) => t.endsWith('_er'))).toBe(true);
});

test('the scheduled event writes the report; counts match the catalog and the description; the throttled row is e-mailed once', async () => {
  now = new Date('2025-11-09T08:00:00Z');
  const description = sampleCleanroomsDescription(catalogTables) as CleanroomsDescription;
  const file = await writeDescription('cleanrooms.json', description);
  const mailBefore = (await outbox(home)).length;

  const { summary } = await runCleanroomsReportLocal(rt, { description: file, event: scheduled });
  expect((summary as CleanroomsReportSummary).status).toBe('SUCCEEDED_WITH_FAILED_ROWS');
  expect(readdirSync(reportDir()).sort()).toEqual([
    'ACX_Cleanroom_Report_20251109_080000.json',
    'ACX_Cleanroom_Report_20251109_080000_IdentityResolution.csv',
    'ACX_Cleanroom_Report_20251109_080000_Tables.csv',
  ]);
  const { json, tables, identity } = readReport(now);

  // independent expectations, from the description itself
  const configured = description.configuredTables!.filter((t) => catalogTables.includes(t.glue!.table));
  const associated = new Set(
    description.associations!.filter((a) => (a.membershipId ?? description.membershipId) === LOCAL_MEMBERSHIP_ID).map((a) => a.configuredTableId),
  );
  const readable = configured.filter((t) => !t.error && !t.analysisRuleError && t.analysisRule && associated.has(t.id));
  const throttled = configured.filter((t) => t.analysisRuleError).map((t) => t.glue!.table);
  const notConfigured = catalogTables.filter((t) => !configured.some((c) => c.glue!.table === t));
  expect(throttled).toHaveLength(1);
  expect(notConfigured).toHaveLength(1);

  expect(tables.map((r) => r['Table Name'])).toEqual(catalogTables);
  expect(json.tables.map((r) => r.table)).toEqual(catalogTables);
  expect(json.summary).toMatchObject({
    tables: catalogTables.length,
    ready: readable.length,
    not_ready: notConfigured.length,
    unknown: throttled.length,
    failed_table_rows: 1,
    configured_tables: configured.length,
  });
  expect(tables.filter((r) => r['Ready for Analysis'] === 'Yes')).toHaveLength(readable.length);
  const missing = tables.find((r) => r['Table Name'] === notConfigured[0])!;
  expect(missing).toMatchObject({
    'Configured Table Status': 'NOT_CONFIGURED',
    'Ready for Analysis': 'No',
    Reason: `not configured in Clean Rooms (no configured table references flywheel.${notConfigured[0]})`,
  });
  const slow = tables.find((r) => r['Table Name'] === throttled[0])!;
  expect(slow).toMatchObject({
    'Configured Table Status': 'CONFIGURED',
    'Analysis Rule': 'ERROR',
    'Association Status': 'ASSOCIATED',
    'Ready for Analysis': 'Unknown',
  });
  expect(slow.Reason).toContain('ThrottlingException: Rate exceeded');
  for (const r of tables.filter((x) => x['Ready for Analysis'] === 'Yes')) expect(r['Analysis Providers']).toMatch(/^\d{12}(; \d{12})*$/);

  // identity resolution: one row per mapped field of the namespace's schema mapping
  const fields = description.schemaMappings!.flatMap((m) => m.mappedInputFields ?? []);
  expect(identity).toHaveLength(description.idNamespaces!.length * fields.length);
  expect(identity.map((r) => r['Input Field'])).toEqual(fields.map((f) => f.fieldName));
  expect(identity[0]).toMatchObject({
    'ID Namespace': 'flywheel-customer-ids',
    Method: 'RULE_BASED',
    'Source Database': 'flywheel',
    Region: 'us-east-1',
    'Schema Mapping': 'flywheel_customer_ids',
    'Unique ID': 'row_id',
    Error: '',
  });
  expect(catalogTables).toContain(identity[0]!.Table);

  const mail = await newMail(mailBefore);
  expect(mail).toHaveLength(1);
  expect(mail[0]).toContain('Subject: [Flywheel] cleanrooms-report: 1 failed row(s)');
  expect(mail[0]).toContain(`table ${throttled[0]}: GetConfiguredTableAnalysisRule`);
});

test('a failed ListConfiguredTables marks every table row as failed; the report is still written', async () => {
  now = new Date('2025-11-09T09:00:00Z');
  const description = {
    ...sampleCleanroomsDescription(catalogTables),
    listErrors: { configuredTables: 'AccessDeniedException: not authorized to perform: cleanrooms:ListConfiguredTables' },
  };
  const file = await writeDescription('denied.json', description);
  const mailBefore = (await outbox(home)).length;
  const { summary } = await runCleanroomsReportLocal(rt, { description: file, event: scheduled });
  expect((summary as CleanroomsReportSummary).status).toBe('SUCCEEDED_WITH_FAILED_ROWS');
  const { json, tables } = readReport(now);
  expect(tables).toHaveLength(catalogTables.length);
  expect(tables.every((r) => r['Configured Table Status'] === 'ERROR' && r['Ready for Analysis'] === 'Unknown')).toBe(true);
  expect(json.list_errors.configured_tables).toMatch(/^ListConfiguredTables: AccessDeniedException/);
  const mail = await newMail(mailBefore);
  expect(mail).toHaveLength(1);
  expect(mail[0]).toContain(`${catalogTables.length} failed row(s)`);
});

test('another membership: nothing is associated, nothing is ready', async () => {
  now = new Date('2025-11-09T10:00:00Z');
  const file = await writeDescription('cleanrooms.json', sampleCleanroomsDescription(catalogTables));
  const { summary } = await runCleanroomsReportLocal(rt, { description: file, event: { membershipId: 'some-other-membership' } });
  expect(summary).toMatchObject({ membershipId: 'some-other-membership', ready: 0 });
  const { tables } = readReport(now);
  expect(tables.filter((r) => r['Association Status'] === 'ASSOCIATED')).toHaveLength(0);
});

test('an invalid description fails the run: one alert naming the file and the fix, no report', async () => {
  now = new Date('2025-11-09T11:00:00Z');
  const file = await writeDescription('broken.json', { configuredTables: [{ id: 'ct-1', name: 'part_x', analysisRule: { type: 'SOMETIMES' } }] });
  const mailBefore = (await outbox(home)).length;
  const { summary } = await runCleanroomsReportLocal(rt, { description: file, event: scheduled });
  expect((summary as CleanroomsReportSummary).status).toBe('FAILED');
  expect((summary as CleanroomsReportSummary).error).toContain(`Clean Rooms description ${file} is invalid: configuredTables.0.analysisRule.type`);
  expect(readdirSync(reportDir()).some((f) => f.includes('20251109_110000'))).toBe(false);
  const mail = await newMail(mailBefore);
  expect(mail).toHaveLength(1);
  expect(mail[0]).toContain('Subject: [Flywheel] cleanrooms-report FAILED');
  expect(mail[0]).toContain('Fix: correct the file');
  expect(mail[0]).toContain('npx flywheel cleanrooms-report');
});

test('a report that cannot be written fails the run and alerts', async () => {
  now = new Date('2025-11-09T12:00:00Z');
  const file = await writeDescription('cleanrooms.json', sampleCleanroomsDescription(catalogTables));
  // the local store, except that every write is denied
  const store: ObjectStore = Object.assign(Object.create(rt.store) as ObjectStore, {
    put: async () => {
      throw new Error('AccessDenied: s3:PutObject');
    },
  });
  const mailBefore = (await outbox(home)).length;
  const broken = { ...rt, deps: { ...rt.deps, store } } as LocalRuntime;
  const { summary } = await runCleanroomsReportLocal(broken, { description: file, event: scheduled });
  expect(summary).toMatchObject({ status: 'FAILED', error: 'writing the report to s3://analysis/cleanrooms-reports/: AccessDenied: s3:PutObject' });
  const mail = await newMail(mailBefore);
  expect(mail).toHaveLength(1);
  expect(mail[0]).toContain('Cause:      writing the report to s3://analysis/cleanrooms-reports/: AccessDenied: s3:PutObject');
});

test('an invalid invocation is rejected and alerted; nothing runs', async () => {
  const mailBefore = (await outbox(home)).length;
  const { summary } = await runCleanroomsReportLocal(rt, { event: { tablePrefix: 'PART_', bogus: 1 } });
  expect(summary).toMatchObject({ declined: 'rejected', reason: expect.stringContaining('Unrecognized key: "bogus"') });
  const mail = await newMail(mailBefore);
  expect(mail).toHaveLength(1);
  expect(mail[0]).toContain('cleanrooms-report rejected an invalid event');
});

test('without a description file, the CLI path writes the sample for the catalog tables first', async () => {
  now = new Date('2025-11-09T13:00:00Z');
  const file = path.join(home, 'fresh', 'cleanrooms.json');
  expect(existsSync(file)).toBe(false);
  const { summary, sampleWritten } = await runCleanroomsReportLocal(rt, { description: file, createSample: true });
  expect(sampleWritten).toBe(true);
  expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(JSON.parse(JSON.stringify(sampleCleanroomsDescription(catalogTables))));
  expect(summary).toMatchObject({ status: 'SUCCEEDED_WITH_FAILED_ROWS', tables: catalogTables.length, ready: catalogTables.length - 2 });
});

test('the CLI command: counts, failed rows and file paths printed; exit 0 when written, 1 when not', async () => {
  rt.close(); // the command opens the home itself
  closed = true;
  const lines: string[] = [];
  const code = await cleanroomsReportCommand({ home }, (l = '') => lines.push(l));
  expect(code).toBe(0);
  expect(lines.join('\n')).toMatch(
    new RegExp(
      `^Membership ${LOCAL_MEMBERSHIP_ID}: ${catalogTables.length} table\\(s\\), ${catalogTables.length - 2} ready for analysis, 1 not ready, 1 unknown\\.$`,
      'm',
    ),
  );
  expect(lines.filter((l) => l.includes(path.join(home, 'lake', 'analysis', 'cleanrooms-reports')))).toHaveLength(3);
  const failedCode = await cleanroomsReportCommand({ home, description: path.join(home, 'nowhere.json') }, (l = '') => lines.push(l));
  expect(failedCode).toBe(1);
  expect(lines.at(-1)).toContain('nowhere.json does not exist. Fix: write it');
});
