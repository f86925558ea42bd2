// What the monitor e-mails and what it only reports: concentrations of rows on one key or in one bucket (bad data,
// e-mailed with the evidence) against the bucket function's own skew of a key population (reported; e-mailed only
// when worse than the previous snapshot's). Pure functions; the local run is test/local/monitor-alerts.test.ts.
import path from 'node:path';
import { bucketOf } from '../shared/domain/bucket.js';
import {
  checkBuckets,
  checkConcentration,
  checkKeys,
  checkPartitions,
  missingButEmpty,
  projectionOf,
  showKey,
  type KeyFigures,
  type ScanFacts,
  type TopKey,
} from '../shared/domain/monitor/checks.js';
import { compareUtf8 } from '../shared/domain/monitor/queries.js';
import { parseMonitorOptions } from '../shared/domain/monitor/options.js';
import { previousSkew, reportEmail, type MonitorReport, type TableReport } from '../shared/domain/monitor/report.js';
import { localLocation } from '../shared/composition/local.js';
import { renderHtmlReport } from '../shared/domain/monitor/html-report.js';

const options = parseMonitorOptions({ database: 'db', report_bucket: 'analysis' });

/** The scan's figures of a table holding `rows` rows per key (NULL keys in bucket 0), as the scan SQL computes them. */
function scanOf(entries: Array<{ key: string | null; rows: number; bucket?: number }>): ScanFacts {
  const perBucket = new Map<number, number>();
  const keys: KeyFigures = { perBucket: new Map(), nulls: new Map(), dupes: new Map(), tops: new Map(), distinct: 0 };
  let [rows, pkNulls, pkDupes] = [0, 0, 0];
  const add = (m: Map<number, number>, b: number, n: number) => m.set(b, (m.get(b) ?? 0) + n);
  // the scan's order: rows, then the value's UTF-8 bytes (a value of one row is not named)
  const better = (a: TopKey, b: TopKey | undefined) =>
    !b || a.rows > b.rows || (a.rows === b.rows && a.key !== undefined && (b.key === undefined || compareUtf8(a.key, b.key) > 0));
  for (const e of entries) {
    const b = e.bucket ?? (e.key === null ? 0 : bucketOf(e.key));
    add(perBucket, b, e.rows);
    rows += e.rows;
    if (e.key === null) {
      pkNulls += e.rows;
      add(keys.nulls, b, e.rows);
      continue;
    }
    add(keys.perBucket, b, 1);
    keys.distinct++;
    if (e.rows > 1) {
      pkDupes += e.rows;
      add(keys.dupes, b, e.rows);
    }
    const top = { rows: e.rows, key: e.rows > 1 ? e.key : undefined };
    if (better(top, keys.tops.get(b))) keys.tops.set(b, top);
    if (better(top, keys.top)) keys.top = top;
  }
  return { perBucket, rows, pkNulls, pkDupes, wrongBucket: 0, keys };
}

/** `n` sequential ids as the sample lake makes them (`cust_00000000`…): the bucket function spreads them unevenly. */
const sequential = (n: number, rows = 1) => Array.from({ length: n }, (_, i) => ({ key: `cust_${String(i).padStart(8, '0')}`, rows }));
const withoutKeys = (scan: ScanFacts): ScanFacts => ({ ...scan, keys: undefined });

describe('options', () => {
  test('the new thresholds have documented defaults and are validated; the skew thresholds keep their names', () => {
    expect(options).toMatchObject({ skew_max_min_ratio: 3, skew_max_cv: 0.5, skew_change_pct: 25, concentration_ratio: 10, concentration_min_pct: 0.1 });
    expect(
      parseMonitorOptions({ database: 'db', report_bucket: 'a', skew_change_pct: '40', concentration_ratio: '50', concentration_min_pct: '1' }),
    ).toMatchObject({ skew_change_pct: 40, concentration_ratio: 50, concentration_min_pct: 1 });
    expect(() => parseMonitorOptions({ database: 'db', report_bucket: 'a', skew_change_pct: '-1' })).toThrow(/--skew_change_pct/);
    expect(() => parseMonitorOptions({ database: 'db', report_bucket: 'a', concentration_ratio: '0.5' })).toThrow(/--concentration_ratio/);
    expect(() => parseMonitorOptions({ database: 'db', report_bucket: 'a', concentration_min_pct: '101' })).toThrow(/--concentration_min_pct/);
    expect(() => parseMonitorOptions({ database: 'db', report_bucket: 'a', skew_change_pct: 'lots' })).toThrow(/--skew_change_pct/);
  });
});

describe('key values in messages', () => {
  test('quoted, truncated, control and invisible characters escaped', () => {
    expect(showKey('UNKNOWN')).toBe("'UNKNOWN'");
    expect(showKey('')).toBe("''");
    expect(showKey("O'Brien\\x")).toBe("'O\\'Brien\\\\x'");
    expect(showKey('a\nb\u0000c\u200bd')).toBe("'a\\u000ab\\u0000c\\u200bd'");
    expect(showKey('客户😀'.repeat(30))).toBe(`'${[...'客户😀'.repeat(30)].slice(0, 40).join('')}…'`);
  });
});

describe('concentration: rows piled on one key or in one bucket', () => {
  const plain = sequential(4000);

  test('a default value on 5% of the rows is a High KEY_CONCENTRATION naming the value, its rows and share, and the fair share', () => {
    const scan = scanOf([...plain.slice(0, 3800), { key: 'UNKNOWN', rows: 200 }]);
    const c = checkConcentration('part_t', scan, options);
    expect(c.keys).toEqual([{ bucket: bucketOf('UNKNOWN'), key: 'UNKNOWN', rows: 200 }]);
    expect(c.buckets).toEqual([]); // its bucket's other rows are as many as its keys
    expect(c.alerts).toEqual([
      {
        code: 'KEY_CONCENTRATION',
        severity: 'High',
        table: 'part_t',
        message: `one customer_user_id value holds far more than a key's share of the rows: 'UNKNOWN' 200 rows (5.00% of 4000, bucket ${bucketOf('UNKNOWN')}); a key's fair share is ~1 row (0.025%) over 3801 distinct keys — a default or placeholder standing in for a missing key?`,
      },
    ]);
  });

  test('several defaults are named, heaviest first; an empty string is shown as such', () => {
    const scan = scanOf([...plain, { key: '0', rows: 300 }, { key: '-1', rows: 90 }, { key: '', rows: 120 }]);
    const c = checkConcentration('part_t', scan, options);
    expect(new Set([bucketOf('0'), bucketOf('-1'), bucketOf('')]).size).toBe(3);
    expect(c.keys.map((k) => [k.key, k.rows])).toEqual([
      ['0', 300],
      ['', 120],
      ['-1', 90],
    ]);
    expect(c.alerts[0]!.message).toMatch(
      /^3 customer_user_id values hold far more than a key's share of the rows: '0' 300 rows \(6\.65% of 4510, bucket \d+\), '' 120 rows \(2\.66% of 4510, bucket 0\), '-1' 90 rows/,
    );
  });

  test('not concentrated: a few duplicates (PK_DUPES names them), keys of several rows each, a heavy key under the share floor', () => {
    const dupes = scanOf([...plain, { key: 'cust_dup', rows: 4 }]);
    expect(checkConcentration('part_t', dupes, options).alerts).toEqual([]);
    expect(checkKeys('part_t', dupes, 'customer_user_id')).toEqual([
      {
        code: 'PK_DUPES',
        severity: 'High',
        table: 'part_t',
        message: `customer_user_id duplicate rows=4 in 1 bucket (${bucketOf('cust_dup')}); most repeated 'cust_dup' (4 rows)`,
      },
    ]);
    expect(checkConcentration('part_t', scanOf(sequential(4000, 3)), options).alerts).toEqual([]);
    // 30 rows of 40,000 (0.075%) is above 10× the fair share but below concentration_min_pct
    const big = scanOf([...sequential(40_000), { key: 'UNKNOWN', rows: 30 }]);
    expect(checkConcentration('part_t', big, options).alerts).toEqual([]);
    expect(checkConcentration('part_t', big, { ...options, concentration_min_pct: 0.05 }).keys.map((k) => k.key)).toEqual(['UNKNOWN']);
    // an older scan without key figures: nothing to judge by
    expect(checkConcentration('part_t', withoutKeys(scanOf([...plain, { key: 'UNKNOWN', rows: 500 }])), options)).toEqual({
      keys: [],
      buckets: [],
      alerts: [],
    });
  });

  test('a bucket whose rows are many times what its keys account for is a BUCKET_CONCENTRATION with its figures', () => {
    const b = bucketOf(plain[0]!.key);
    // every key of one bucket written 12 times (a file appended again and again); NULL keys in bucket 0 do not count
    const scan = scanOf([...plain.map((e) => (bucketOf(e.key) === b ? { ...e, rows: 12 } : e)), { key: null, rows: 50 }]);
    const c = checkConcentration('part_t', scan, options);
    const keysInB = plain.filter((e) => bucketOf(e.key) === b).length;
    expect(c.keys).toEqual([]); // each key has 12 rows, but so has every other key of the bucket: no single key
    expect(c.buckets).toEqual([{ bucket: b, rows: keysInB * 12, keys: keysInB, expected: keysInB }]);
    expect(c.alerts.map((a) => [a.code, a.severity])).toEqual([['BUCKET_CONCENTRATION', 'Medium']]);
    expect(c.alerts[0]!.message).toMatch(
      new RegExp(
        `^bucket ${b} holds ${keysInB * 12} rows \\([\\d.]+%\\) where its ${keysInB} distinct keys account for ~${keysInB} \\([\\d.]+%\\): 12 rows per key \\(table: 1 row per key\\) — rows written more than once`,
      ),
    );
  });
});

describe('bucket skew: e-mailed when it needs action, otherwise in the report', () => {
  const plain = scanOf(sequential(20_000));

  test('the bucket function on sequential ids, first snapshot: the figures reported, no e-mail', () => {
    const h = checkBuckets('part_t', plain, options);
    expect(h.maxMinRatio!).toBeGreaterThan(3);
    expect(h.cv).toBeGreaterThan(0.5);
    expect(h.keyCv).toBe(h.cv); // one row per key: the rows are spread exactly as the keys
    expect(h.verdict).toBe('inherent');
    expect(h.alerts).toEqual([]);
    expect(h.reportOnly).toHaveLength(1);
    expect(h.reportOnly[0]).toMatchObject({ code: 'BUCKET_SKEW', severity: 'Medium', table: 'part_t' });
    expect(h.reportOnly[0]!.message).toMatch(
      /max\/min ratio [\d.]+ > 3; coefficient of variation [\d.]+ > 0\.5 — the bucket function's own spread of the 20000 distinct keys \(max\/min [\d.]+, cv [\d.]+\); a uniformly spreading hash would give cv ≈ 0\.113; no previous snapshot to compare with$/,
    );
  });

  test("no worse than the previous snapshot: reported; materially worse: e-mailed with both snapshots' figures", () => {
    const h0 = checkBuckets('part_t', plain, options);
    const same = checkBuckets('part_t', plain, options, { previous: { snapshotDt: '2025-09-30', maxMinRatio: h0.maxMinRatio, cv: h0.cv * 0.9 } });
    expect(same.verdict).toBe('unchanged');
    expect(same.alerts).toEqual([]);
    expect(same.reportOnly[0]!.message).toMatch(/ — no worse than snapshot_dt=2025-09-30 \(max\/min [\d.]+ → [\d.]+, cv [\d.]+ → [\d.]+\)$/);
    const worse = checkBuckets('part_t', plain, options, { previous: { snapshotDt: '2025-09-30', maxMinRatio: h0.maxMinRatio, cv: h0.cv / 1.3 } });
    expect(worse.verdict).toBe('worse');
    expect(worse.reportOnly).toEqual([]);
    expect(worse.alerts[0]!.message).toMatch(/ — worse than snapshot_dt=2025-09-30 \(.*\) by more than 25%$/);
    // the tolerance is an option
    expect(
      checkBuckets(
        'part_t',
        plain,
        { ...options, skew_change_pct: 50 },
        { previous: { snapshotDt: '2025-09-30', maxMinRatio: h0.maxMinRatio, cv: h0.cv / 1.3 } },
      ).verdict,
    ).toBe('unchanged');
    // a previous snapshot without a max/min figure is compared by its cv
    expect(checkBuckets('part_t', plain, options, { previous: { snapshotDt: '2025-09-30', cv: h0.cv } }).verdict).toBe('unchanged');
  });

  test('first snapshot, rows more skewed than the keys: e-mailed; accounted for by a concentration alert: reported', () => {
    const b = [...plain.perBucket.entries()].sort((x, y) => y[1] - x[1])[0]![0];
    const piled = scanOf([...sequential(20_000), ...Array.from({ length: 50 }, (_, i) => ({ key: `x${i}`, rows: 40, bucket: b }))]);
    const h = checkBuckets('part_t', piled, options);
    expect(h.verdict).toBe('beyond-keys');
    expect(h.alerts[0]!.message).toMatch(
      / — the rows are more skewed than the bucket function spreads the 20050 distinct keys \(.*\), by more than 25%; no previous snapshot to compare with$/,
    );
    expect(checkBuckets('part_t', piled, options, { explained: true })).toMatchObject({ verdict: 'explained', alerts: [] });
  });

  test('the thresholds still decide what is skew at all; without key figures or a previous snapshot it is e-mailed as before', () => {
    expect(checkBuckets('part_t', plain, { ...options, skew_max_min_ratio: 1000, skew_max_cv: 10, low_bucket_pct: 0 })).toMatchObject({
      verdict: 'none',
      alerts: [],
      reportOnly: [],
    });
    const old = checkBuckets('part_t', withoutKeys(plain), options);
    expect(old.verdict).toBe('unjudged');
    expect(old.alerts[0]!.message).toMatch(
      /^\d+ buckets below 10% of the mean \([\d, -]+\); max\/min ratio [\d.]+ > 3; coefficient of variation [\d.]+ > 0\.5$/,
    );
  });
});

describe('buckets without data', () => {
  const def = { name: 'part_t', location: 's3://data/part_t/', columns: [], partitionKeys: [{ name: 'id_bucket', type: 'int' }], parameters: {} };
  const all = [...Array(256).keys()];
  const parts = (s3: number[], catalog = s3) =>
    checkPartitions('part_t', { s3, catalog: catalog.map((b) => ({ values: [String(b)], location: '' })) }, 256, projectionOf(def, 256), 100);

  test('are empty, not lost, when the table holds every row of its source: reported, with the reason', () => {
    const few = parts(all.filter((b) => b % 50 !== 7));
    const empty = missingButEmpty(few, { diffPct: 0, source: 'ext_t' });
    expect(empty).toEqual({
      code: 'PARTITION_MISSING_S3',
      severity: 'Medium',
      table: 'part_t',
      message:
        '5 of 256 id_bucket partitions have no data on S3: 7, 57, 107, 157, 207 — empty, not lost: every row of ext_t is in the table, so no key of this snapshot falls in these buckets',
    });
  });

  test('stay e-mailed when rows are missing, the count did not run or compared the table with itself, or a catalog partition is stale', () => {
    const few = parts(all.filter((b) => b % 50 !== 7));
    expect(missingButEmpty(few, { diffPct: 0.5, source: 'ext_t' })).toBeUndefined();
    expect(missingButEmpty(few, { diffPct: undefined, source: 'ext_t' })).toBeUndefined();
    expect(missingButEmpty(few, { diffPct: 0, source: undefined })).toBeUndefined();
    expect(
      missingButEmpty(
        parts(
          all.filter((b) => b !== 7),
          all,
        ),
        { diffPct: 0, source: 'ext_t' },
      ),
    ).toBeUndefined();
    expect(missingButEmpty(parts(all), { diffPct: 0, source: 'ext_t' })).toBeUndefined();
  });
});

describe("the previous snapshot's figures", () => {
  const t = (over: Partial<TableReport>): TableReport =>
    ({ table: 'part_t', raw_input_snapshot_dt: '2025-10-31', bucket_max_min_ratio: '9.150', bucket_cv: '0.5910', ...over }) as TableReport;
  const report = (...tables: TableReport[]) => ({ tables }) as MonitorReport;

  test('from the latest report of another snapshot, or the baseline a report of this snapshot carried', () => {
    const september = report(t({ raw_input_snapshot_dt: '2025-09-30', bucket_max_min_ratio: '9.040', bucket_cv: '0.5890' }));
    expect(previousSkew([september], 'part_t', '2025-10-31')).toEqual({ snapshotDt: '2025-09-30', maxMinRatio: 9.04, cv: 0.589 });
    // a month of daily runs on 2025-10-31: the reports in the window all of this snapshot, each carrying September's figures
    const carried = report(t({ skew_previous: { snapshot_dt: '2025-09-30', max_min_ratio: 9.04, cv: 0.589 } }));
    expect(previousSkew([carried, carried, carried], 'part_t', '2025-10-31')).toEqual({ snapshotDt: '2025-09-30', maxMinRatio: 9.04, cv: 0.589 });
    expect(previousSkew([september, report(t({}))], 'part_t', '2025-10-31')).toEqual({ snapshotDt: '2025-09-30', maxMinRatio: 9.04, cv: 0.589 });
    // none: only this snapshot, another table, a table whose scan failed
    expect(previousSkew([report(t({}))], 'part_t', '2025-10-31')).toBeUndefined();
    expect(previousSkew([september], 'part_other', '2025-10-31')).toBeUndefined();
    expect(previousSkew([report(t({ raw_input_snapshot_dt: '2025-09-30', bucket_cv: '', bucket_max_min_ratio: '' }))], 'part_t', '2025-10-31')).toBeUndefined();
  });
});

describe('the e-mail', () => {
  const base = {
    database: 'flywheel',
    prefix: 'part_',
    alerts: ['[KEY_CONCENTRATION] part_t: x'],
    alert_details: [{ code: 'KEY_CONCENTRATION', severity: 'High', table: 'part_t', message: 'x' }],
  } as MonitorReport;

  test('carries the alerts, counts what only the report holds, and names the report as the deployment reaches it', () => {
    const notes = [1, 2, 3].map((i) => ({ code: 'BUCKET_SKEW' as const, severity: 'Medium' as const, table: `part_${i}`, message: 'inherent' }));
    const mail = reportEmail({ ...base, report_only: notes }, '.flywheel/lake/analysis/data-monitor/omc_monitor_report_2025-11-10.json');
    expect(mail.subject).toBe('[DATA MONITOR] flywheel part_* — 1 issue(s)');
    expect(mail.body).toBe(
      [
        '[DATA MONITOR] 1 issue(s) in flywheel (part_*)',
        '',
        'High   [KEY_CONCENTRATION] part_t: x',
        '',
        'In the report only (inherent or unchanged, no action needed): BUCKET_SKEW ×3',
        '',
        'Report: .flywheel/lake/analysis/data-monitor/omc_monitor_report_2025-11-10.json',
      ].join('\n'),
    );
    // nothing report-only (and in AWS): the e-mail as it was
    expect(reportEmail(base, 's3://analysis/data-monitor/r.json').body).toBe(
      '[DATA MONITOR] 1 issue(s) in flywheel (part_*)\n\nHigh   [KEY_CONCENTRATION] part_t: x\n\nReport: s3://analysis/data-monitor/r.json',
    );
  });

  test("the HTML report shows what was not e-mailed in its own section, beside the keys' spread", () => {
    const note = { code: 'BUCKET_SKEW' as const, severity: 'Medium' as const, table: 'part_t', message: 'max/min ratio 9.04 > 3 — <no worse>' };
    const table = {
      table: 'part_t',
      location: 's3://data/part_t/',
      bucket_histogram: [1, 2, 3],
      trend: [],
      alerts: [],
      report_only: [note],
      bucket_keys_max_min_ratio: '9.040',
      bucket_keys_cv: '0.5890',
      bucket_skew: 'unchanged',
      skew_previous: { snapshot_dt: '2025-09-30', max_min_ratio: 9.0, cv: 0.588 },
    } as unknown as TableReport;
    const html = renderHtmlReport({ ...base, alerts: [], alert_details: [], tables: [table], report_only: [note] });
    expect(html.match(/<h2>Reported, not e-mailed<\/h2>/g)).toHaveLength(1);
    expect(html.match(/<h3>Reported, not e-mailed<\/h3>/g)).toHaveLength(1);
    expect(html).toContain('max/min ratio 9.04 &gt; 3 — &lt;no worse&gt;');
    expect(html).toContain(
      'Distinct keys per bucket: max/min 9.040 · cv 0.5890 · previous snapshot 2025-09-30: max/min 9.00 · cv 0.588 · skew: no worse than the previous snapshot: reported, not e-mailed',
    );
    expect(html).not.toContain('<script');
  });

  test('a local report location is the file under the home: relative to the working directory when under it', () => {
    const lake = path.join(process.cwd(), '.flywheel', 'lake');
    expect(localLocation(lake, 's3://analysis/data-monitor/omc_monitor_report_2025-11-10.json')).toBe(
      path.join('.flywheel', 'lake', 'analysis', 'data-monitor', 'omc_monitor_report_2025-11-10.json'),
    );
    expect(localLocation('/elsewhere/lake', 's3://analysis/data-monitor/r.json')).toBe('/elsewhere/lake/analysis/data-monitor/r.json');
    expect(localLocation(lake, 'https://example.com/x')).toBe('https://example.com/x');
  });
});
