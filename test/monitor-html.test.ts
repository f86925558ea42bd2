// The monitor's HTML report as a person sees it: rendered by headless Chromium (Debian's chromium
// package, driven by playwright-core) and asserted on the page, plus unit tests of escaping and colours.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Alert } from '../shared/domain/monitor/checks.js';
import { EMPTY_BUCKET_COLOUR, cellColour, escapeHtml, renderHtmlReport } from '../shared/domain/monitor/html-report.js';
import type { MonitorReport, TableReport } from '../shared/domain/monitor/report.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HOSTILE = '<script>window.__xss = 1</script>';
const DARKEST = '#08306b';

/** `#rrggbb` as Chromium's computed `rgb(r, g, b)`. */
const computed = (hex: string) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;

// ---------------------------------------------------------------- a realistic report

const EMPTY = [200, 201, 202, 203];
const HOT = 77;
const histogram = Array.from({ length: 256 }, (_, b) => (EMPTY.includes(b) ? 0 : b === HOT ? 41_250 : 3_900 + ((b * 37) % 200)));
const rows = histogram.reduce((a, b) => a + b, 0);
const tableAlerts: Alert[] = [
  { code: 'FILE_SIZE', severity: 'Low', table: 'part_customers', message: '3 sampled files outside 64–1024 MB, e.g. id_bucket=12/part-0001.parquet (3.2 MB)' },
  { code: 'BUCKET_SKEW', severity: 'Medium', table: 'part_customers', message: '4 empty buckets (200-203); max/min ratio 10.58 > 3' },
  { code: 'PARTITION_MISSING_S3', severity: 'Medium', table: 'part_customers', message: '4 of 256 id_bucket partitions have no data on S3: 200-203' },
  { code: 'PK_DUPES', severity: 'High', table: 'part_customers', message: 'customer_user_id duplicate rows=17 <img src=x onerror="window.__xss=2">' },
];
const freshness: Alert = {
  code: 'FRESHNESS',
  severity: 'Medium',
  message: 'processed snapshot_dt=2025-10-31 is behind the newest raw_input snapshot_dt=2025-11-07',
};
/** Two earlier reports' counts (about 1 % and 0.5 % below), then this report's. */
const trend = (current: number, earlier = [Math.round(current * 0.99), Math.round(current * 0.995)]) => [
  { generated_at: '2025-09-10T06:00:00Z', snapshot_dt: '2025-08-31', count_part: earlier[0]! },
  { generated_at: '2025-10-10T06:00:00Z', snapshot_dt: '2025-09-30', count_part: earlier[1]! },
  { generated_at: '2025-11-10T06:00:12.345Z', snapshot_dt: '2025-10-31', count_part: current },
];
const base = (name: string, hist: number[]): TableReport => ({
  table: name,
  location: `s3://flywheel-dev-data/processed/snapshot_dt=2025-10-31/${name}/`,
  s3_partitions: 256,
  glue_partitions: 256,
  missing_glue_count: 0,
  table_type_ok: true,
  contract_ok: true,
  raw_input_snapshot_dt: '2025-10-31',
  count_src: hist.reduce((a, b) => a + b, 0),
  count_part: hist.reduce((a, b) => a + b, 0),
  count_diff_pct: '0.000000',
  pk_nulls: 0,
  pk_dupes: 0,
  file_issues_sample: '',
  checked_at: '2025-11-10T06:00:12Z',
  partition_projection: false,
  missing_s3_partitions: '',
  stale_partitions: '',
  wrong_bucket_rows: 0,
  bucket_empty: hist.filter((c) => c === 0).length,
  bucket_low: 0,
  bucket_max_min_ratio: '1.05',
  bucket_cv: '0.015',
  volume_change_pct: '',
  bytes_scanned: 48_213_004,
  query_ids: ['5d1c3a8e-q1', '5d1c3a8e-q2'],
  repaired: '',
  bucket_histogram: hist,
  trend: trend(hist.reduce((a, b) => a + b, 0)),
  alerts: [],
});
const report: MonitorReport = {
  database: 'flywheel_dev',
  prefix: 'part_',
  bucket_count: 256,
  generated_at: '2025-11-10T06:00:12Z',
  freshness_window_days: 45,
  compare: { enabled: true, type: 'ext', db: 'flywheel_dev', tolerance_pct: 0 },
  pk_column: 'customer_user_id',
  file_size_check: true,
  alerts: [...tableAlerts, freshness].map((a) => a.message),
  run_id: 'monitor-2025-11-10-8f3a',
  snapshot_dt: '2025-10-31',
  newest_raw_snapshot_dt: '2025-11-07',
  auto_repair: 'athena',
  dry_run: false,
  alert_details: [...tableAlerts, freshness],
  bytes_scanned_total: 96_426_008,
  tables: [
    {
      ...base('part_customers', histogram),
      pk_dupes: 17,
      s3_partitions: 252,
      missing_s3_partitions: '200-203',
      bucket_empty: 4,
      bucket_max_min_ratio: '10.58',
      bucket_cv: '0.612',
      trend: trend(rows, [1_012_345, 1_020_001]),
      alerts: tableAlerts,
    },
    base(
      HOSTILE,
      Array.from({ length: 256 }, (_, b) => 2_000 + (b % 5)),
    ),
  ],
};

// ---------------------------------------------------------------- the browser

let context: BrowserContext;
let page: Page;
beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get update && apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'monitor-html-'));
  const file = path.join(dir, 'report.html');
  writeFileSync(file, renderHtmlReport(report));
  context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1200, height: 1000 },
    timeout: 15_000,
  });
  page = await context.newPage();
  await page.goto(`file://${file}`);
}, 20_000);
afterAll(async () => context?.close());

const section = (n: number) => page.locator('section.table').nth(n);
const cell = (n: number, bucket: number) => section(n).locator(`td.cell[data-bucket="${bucket}"]`);

test('the page is titled by database, prefix and time, and counts the alerts by severity', async () => {
  expect(await page.title()).toBe('Data monitor — flywheel_dev part_* — 2025-11-10T06:00:12Z');
  expect(await page.locator('html').getAttribute('lang')).toBe('en');
  expect(await page.locator('.summary').innerText()).toMatch(/1 High\s*3 Medium\s*1 Low/);
  const header = await page.locator('header').innerText();
  for (const text of ['flywheel_dev', 'part_*', '2025-10-31', 'monitor-2025-11-10-8f3a', '92.0 MiB']) expect(header).toContain(text);
});

test('alerts read High → Medium → Low with a coloured badge, [CODE] and message', async () => {
  const all = page.locator('main > table.alerts tbody tr');
  expect(await all.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-severity')))).toEqual(['High', 'Medium', 'Medium', 'Medium', 'Low']);
  expect(await all.first().innerText()).toMatch(/^High\s+\[PK_DUPES\]\s+part_customers\s+customer_user_id duplicate rows=17 <img src=x/);
  expect(await all.nth(3).innerText()).toContain('all tables'); // FRESHNESS has no table
  const badges = await all.locator('.badge').evaluateAll((els) => els.map((e) => [e.textContent, getComputedStyle(e).backgroundColor]));
  expect(badges[0]).toEqual(['High', 'rgb(180, 35, 24)']);
  expect(badges[1]).toEqual(['Medium', 'rgb(180, 83, 9)']);
  expect(badges[4]).toEqual(['Low', 'rgb(79, 101, 130)']);
  // The table's own section repeats its alerts, same order.
  expect(
    await section(0)
      .locator('table.alerts tbody tr')
      .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-severity'))),
  ).toEqual(['High', 'Medium', 'Medium', 'Low']);
  expect(await section(1).locator('table.alerts').count()).toBe(0);
  expect(await section(1).getByText('No issues.').isVisible()).toBe(true);
});

test('per table: the counts a data engineer checks first', async () => {
  const facts = await section(0).locator('dl.facts').innerText();
  expect(facts).toContain(`Rows (part)\n${rows.toLocaleString('en-US')}`);
  expect(facts).toContain(`Rows (source)\n${rows.toLocaleString('en-US')}`);
  expect(facts).toMatch(/Δ %\n0\.000000/);
  expect(facts).toMatch(/Duplicate rows\n17/);
  expect(facts).toMatch(/Partitions S3 \/ catalog\n252 \/ 256/);
  expect(facts).toMatch(/Bytes scanned\n46\.0 MiB/);
  expect(await section(0).locator('dl.facts div.bad').count()).toBeGreaterThanOrEqual(2); // duplicates, partitions
});

test('a 16×16 heatmap of the 256 buckets: empty buckets stand out, the hot bucket is darkest', async () => {
  expect(await section(0).locator('td.cell').count()).toBe(256);
  expect(await section(1).locator('td.cell').count()).toBe(256);
  const colours = await section(0)
    .locator('td.cell')
    .evaluateAll((tds) =>
      tds.map((td) => ({
        bucket: Number(td.getAttribute('data-bucket')),
        rows: Number(td.getAttribute('data-rows')),
        bg: getComputedStyle(td).backgroundColor,
      })),
    );
  expect(colours.filter((c) => c.bg === computed(EMPTY_BUCKET_COLOUR)).map((c) => c.bucket)).toEqual(EMPTY);
  expect(colours.find((c) => c.bucket === HOT)).toEqual({ bucket: HOT, rows: 41_250, bg: computed(DARKEST) });
  const luminance = (bg: string) =>
    bg
      .match(/\d+/g)!
      .map(Number)
      .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i]!, 0);
  const darkest = [...colours].sort((a, b) => luminance(a.bg) - luminance(b.bg));
  expect(darkest[0]!.bucket).toBe(HOT);
  expect(luminance(darkest[1]!.bg)).toBeGreaterThan(luminance(darkest[0]!.bg) + 50); // the others are far lighter
  expect(await cell(0, HOT).getAttribute('title')).toBe('bucket 77: 41,250 rows');
  // 16 to a row, 16 rows: bucket 16 starts the second row under bucket 0, bucket 255 ends the last.
  const at = async (b: number) => (await cell(0, b).boundingBox())!;
  const [c0, c15, c16, c255] = await Promise.all([at(0), at(15), at(16), at(255)]);
  expect(c15.y).toBe(c0.y);
  expect(c16.x).toBe(c0.x);
  expect(c16.y).toBeGreaterThan(c0.y);
  expect(c255.x).toBe(c15.x);
  expect(c255.y).toBeCloseTo(c0.y + 15 * (c16.y - c0.y), 0);
  expect(c0.width).toBeGreaterThanOrEqual(12);
  // The clean table's buckets differ by 0.2 %: they stay at the light end instead of looking skewed.
  const clean = await section(1)
    .locator('td.cell')
    .evaluateAll((tds) => tds.map((td) => getComputedStyle(td).backgroundColor.match(/\d+/g)!.map(Number)));
  const lightest = computed('#deebf7').match(/\d+/g)!.map(Number);
  expect(Math.max(...clean.flatMap((c) => c.map((v, i) => Math.abs(v - lightest[i]!))))).toBeLessThanOrEqual(2);
});

test('a hostile table name is shown as text and runs nothing', async () => {
  expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  expect(await page.evaluate(() => document.querySelectorAll('script, img').length)).toBe(0);
  expect(await section(1).locator('h2').innerText()).toBe(HOSTILE);
  expect(await page.locator('table.overview tbody th').nth(1).innerText()).toBe(HOSTILE);
});

test('the trend: rows per snapshot are visible text, with the change and a sparkline', async () => {
  const trendTable = section(0).locator('table.trend');
  expect(await trendTable.isVisible()).toBe(true);
  const text = await trendTable.innerText();
  expect(text).toMatch(/2025-08-31\s+1,012,345/);
  expect(text).toMatch(/2025-09-30\s+1,020,001\s+\+0\.76 %/);
  expect(text).toContain(`2025-10-31\t${rows.toLocaleString('en-US')}`);
  expect(await section(0).locator('svg.spark circle').count()).toBe(3);
  await page.screenshot({ path: '/tmp/monitor-report.png', fullPage: true });
});

test('other bucket counts: a grid of ceil(√n) columns', async () => {
  const small = (n: number): MonitorReport => ({
    ...report,
    bucket_count: n,
    tables: [
      {
        ...base(
          'part_small',
          Array.from({ length: n }, (_, b) => b),
        ),
        alerts: [],
      },
    ],
  });
  const other = await context.newPage();
  try {
    for (const [n, columns] of [
      [100, 10],
      [10, 4],
    ] as const) {
      await other.setContent(renderHtmlReport(small(n)));
      expect(await other.locator('td.cell').count()).toBe(n);
      const rowsOfCells = await other.locator('table.heatmap tbody tr').evaluateAll((trs) => trs.map((tr) => tr.querySelectorAll('td.cell').length));
      expect(rowsOfCells).toEqual(Array.from({ length: Math.ceil(n / columns) }, (_, r) => Math.min(columns, n - r * columns)));
      const [first, next] = [
        (await other.locator('td.cell[data-bucket="0"]').boundingBox())!,
        (await other.locator(`td.cell[data-bucket="${columns}"]`).boundingBox())!,
      ];
      expect([next.x, next.y > first.y]).toEqual([first.x, true]);
    }
  } finally {
    await other.close();
  }
});

// ---------------------------------------------------------------- units

test('escapeHtml escapes the five characters that matter, and only them', () => {
  expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  expect(escapeHtml('part_customers Δ – ü')).toBe('part_customers Δ – ü');
  expect(escapeHtml(undefined)).toBe('');
  expect(escapeHtml(42)).toBe('42');
  const html = renderHtmlReport(report);
  expect(html).not.toMatch(/<script|<img/i);
  expect(html).toContain('&lt;script&gt;window.__xss = 1&lt;/script&gt;');
});

test('the colour scale: empty apart, min lightest, max darkest, darker with more rows', () => {
  expect(cellColour(0, 10, 100)).toBe(EMPTY_BUCKET_COLOUR);
  expect(cellColour(10, 10, 100)).toBe('#deebf7');
  expect(cellColour(100, 10, 100)).toBe(DARKEST);
  expect(cellColour(7, 7, 7)).toBe('#deebf7'); // one size everywhere: nothing to darken
  const sum = (hex: string) => [1, 3, 5].reduce((s, i) => s + parseInt(hex.slice(i, i + 2), 16), 0);
  const steps = [10, 20, 35, 50, 65, 80, 100].map((r) => sum(cellColour(r, 10, 100)));
  expect(steps).toEqual([...steps].sort((a, b) => b - a));
  expect(new Set(steps).size).toBe(steps.length);
});
