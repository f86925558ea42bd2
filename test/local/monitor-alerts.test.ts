// The monitor's e-mail on a local run: what needs action, with its evidence; the bucket function's own skew of the
// sample's sequential ids only in the report. Two snapshots of a small sample lake, the second with a default key
// value ('UNKNOWN') planted on 5% of one source table's rows.
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import type { LocalEngineRuntime as LocalRuntime } from '../../shared/composition/local.js';
import { bucketOf } from '../../shared/domain/bucket.js';
import type { MonitorReport, TableReport } from '../../shared/domain/monitor/report.js';
import { count, lakePath, open, outbox, RAW, runPipeline, sampleHome } from './harness.js';

const HOOK_TIMEOUT_MS = 600_000;
let now = new Date('2025-10-01T06:00:00Z');
const clock = { now: () => now };

/** The report of the latest Monitor Completed (the run Pipeline Completed started) and the e-mail it sent. */
async function latest(rt: LocalRuntime): Promise<{ report: MonitorReport; reportFile: string; mail: string }> {
  const done = rt.bus.published.filter((e) => e['detail-type'] === 'Monitor Completed').at(-1);
  if (!done) throw new Error('monitor did not complete');
  const reportFile = path.join(rt.home, 'lake', (done.detail as { reportUri: string }).reportUri.replace('s3://', ''));
  const mails = (await outbox(rt.home)).filter((m) => m.startsWith('Subject: [DATA MONITOR]'));
  return { report: JSON.parse(readFileSync(reportFile, 'utf8')) as MonitorReport, reportFile, mail: mails.at(-1)! };
}

const row = (r: MonitorReport, t: string) => r.tables.find((x) => x.table === t) as TableReport;
const PLAIN = ['part_ibe_01a', 'part_ibe_01b', 'part_miacs_01', 'part_miacs_02'];

/** Sets CUSTOMER_USER_ID to `value` on the rows of ids `cust_<n>` with n ≡ 3 (mod 20) of a raw source table. */
async function plantDefault(rt: LocalRuntime, snapshot: string, table: string, value: string): Promise<void> {
  const dir = lakePath(rt.home, `${RAW}snapshot_dt=${snapshot}/${table}`);
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.parquet')).map((f) => path.join(dir, f));
  const planted = path.join(dir, 'planted.tmp');
  const list = files.map((f) => `'${f}'`).join(', ');
  await rt.db.run(
    `COPY (SELECT * REPLACE (CASE WHEN regexp_full_match(CUSTOMER_USER_ID, 'cust_[0-9]+') AND CAST(substr(CUSTOMER_USER_ID, 6) AS INTEGER) % 20 = 3 THEN '${value}' ELSE CUSTOMER_USER_ID END AS CUSTOMER_USER_ID)
      FROM read_parquet([${list}])) TO '${planted}' (FORMAT parquet)`,
  );
  for (const f of files) await fs.rm(f);
  await fs.rename(planted, path.join(dir, 'part-0.parquet'));
}

describe('monitor e-mail: action, with evidence; inherent skew in the report only', () => {
  let rt: LocalRuntime;
  let first: Awaited<ReturnType<typeof latest>>;
  let second: Awaited<ReturnType<typeof latest>>;
  let planted: number;

  beforeAll(async () => {
    const home = await sampleHome(2000);
    rt = await open(home, { clock, keyedRowsPerQuery: 700 }); // the scans run in bucket sub-ranges, merged
    await plantDefault(rt, '2025-10-31', 'IBE_04', 'UNKNOWN');
    // September's snapshot: every table's first, plain
    await runPipeline(rt, { dataset: 'infobase', snapshotDt: '2025-09-30', rerun: true });
    first = await latest(rt);
    // a month later, October's, with the planted default in ibe_04
    now = new Date('2025-11-01T06:00:00Z');
    await runPipeline(rt, { dataset: 'infobase', snapshotDt: '2025-10-31', rerun: true });
    second = await latest(rt);
    planted = await count(rt, "SELECT count(*) FROM part_ibe_04 WHERE customer_user_id = 'UNKNOWN'");
  }, HOOK_TIMEOUT_MS);
  afterAll(() => rt?.close());

  test('first snapshot: the skew of the sequential ids is in the report (figures, heatmap, finding), not in the e-mail', () => {
    expect(first.report.tables.map((t) => t.raw_input_snapshot_dt)).toEqual(Array(5).fill('2025-09-30'));
    for (const t of first.report.tables) {
      expect(t.bucket_skew).toBe('inherent');
      expect(Number(t.bucket_max_min_ratio)).toBeGreaterThan(3);
      expect(Number(t.bucket_keys_cv)).toBeCloseTo(Number(t.bucket_cv), 2); // one row per key (and the NULL key's row)
      expect(t.bucket_histogram.reduce((a, b) => a + b, 0)).toBe(t.count_part);
      expect(t.distinct_keys).toBe(1979); // 1,980 rows, one NULL key
      expect(t.alerts.map((a) => a.code)).not.toContain('BUCKET_SKEW');
      // 1,979 keys leave buckets empty: every row of ext_<t> is in part_<t>, so they are empty, not lost
      expect(t.bucket_empty).toBeGreaterThan(0);
      expect(t.report_only).toEqual([
        expect.objectContaining({
          code: 'PARTITION_MISSING_S3',
          table: t.table,
          message: expect.stringMatching(
            new RegExp(
              `^${t.bucket_empty} of 256 id_bucket partitions have no data on S3: .* — empty, not lost: every row of ext_${t.table.slice(5)} is in the table, so no key of this snapshot falls in these buckets$`,
            ),
          ),
        }),
        expect.objectContaining({
          code: 'BUCKET_SKEW',
          table: t.table,
          message: expect.stringMatching(/the bucket function's own spread of the 1979 distinct keys .*; no previous snapshot to compare with$/),
        }),
      ]);
    }
    expect(first.report.report_only).toHaveLength(10);
    expect(first.mail).not.toMatch(/BUCKET_SKEW\]|PARTITION_MISSING_S3\]/);
    expect(first.mail).toContain('In the report only (inherent or unchanged, no action needed): PARTITION_MISSING_S3 ×5, BUCKET_SKEW ×5');
    expect(readFileSync(first.reportFile.replace(/\.json$/, '.html'), 'utf8')).toContain('Reported, not e-mailed');
  });

  test('the e-mail names the local report file, not an s3:// URI', () => {
    expect(first.mail).toContain(`\nReport: ${first.reportFile}\n`);
    expect(second.mail).toContain(`\nReport: ${second.reportFile}\n`);
    expect(second.mail).not.toContain('s3://');
  });

  test('the planted default value is e-mailed with its evidence: the value, its rows and share, the fair share', () => {
    expect(planted).toBeGreaterThan(80);
    const t = row(second.report, 'part_ibe_04');
    expect(t.top_key_rows).toBe(planted);
    const line = `[KEY_CONCENTRATION] part_ibe_04: one customer_user_id value holds far more than a key's share of the rows: 'UNKNOWN' ${planted} rows (${((planted * 100) / 2000).toFixed(2)}% of 2000, bucket ${bucketOf('UNKNOWN')}); a key's fair share is ~1 row (0.050%) over ${t.distinct_keys} distinct keys — a default or placeholder standing in for a missing key?`;
    expect(second.report.alerts).toContain(line);
    expect(second.mail).toContain(`High   ${line}`);
    // the duplicates it makes name it too; the skew it causes is accounted for, not e-mailed again
    expect(second.mail).toMatch(
      new RegExp(
        `\\[PK_DUPES\\] part_ibe_04: customer_user_id duplicate rows=${planted} in 1 bucket \\(${bucketOf('UNKNOWN')}\\); most repeated 'UNKNOWN' \\(${planted} rows\\)`,
      ),
    );
    expect(t.bucket_skew).toBe('explained');
    expect(second.report.alert_details.filter((a) => a.code === 'KEY_CONCENTRATION').map((a) => a.table)).toEqual(['part_ibe_04']);
  });

  test("second snapshot: the plain tables' skew is no worse than September's, so it stays in the report", () => {
    for (const name of PLAIN) {
      const t = row(second.report, name);
      expect(t.raw_input_snapshot_dt).toBe('2025-10-31');
      expect(t.bucket_skew).toBe('unchanged');
      expect(t.skew_previous).toEqual({
        snapshot_dt: '2025-09-30',
        max_min_ratio: Number(row(first.report, name).bucket_max_min_ratio),
        cv: Number(row(first.report, name).bucket_cv),
      });
      expect(t.report_only![1]!.message).toMatch(/ — no worse than snapshot_dt=2025-09-30 \(max\/min [\d.]+ → [\d.]+, cv [\d.]+ → [\d.]+\)$/);
      expect(Number(t.bucket_cv)).toBeGreaterThan(0.5);
    }
    expect(second.mail).not.toMatch(/BUCKET_SKEW\]|PARTITION_MISSING_S3\]/);
    // what is left in the e-mail needs action: the sample's one NULL key per table, and the planted default
    expect(second.report.alert_details.map((a) => `${a.code} ${a.table}`).sort()).toEqual(
      [...PLAIN, 'part_ibe_04']
        .map((t) => `PK_NULL ${t}`)
        .concat(['KEY_CONCENTRATION part_ibe_04', 'PK_DUPES part_ibe_04'])
        .sort(),
    );
    expect(
      second.report.alert_details.filter((a) => ['KEY_CONCENTRATION', 'BUCKET_CONCENTRATION', 'BUCKET_SKEW'].includes(a.code)).map((a) => a.table),
    ).toEqual(['part_ibe_04']);
  });
});
