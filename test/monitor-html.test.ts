// The HTML report as a person sees it: rendered by headless Chromium (Debian's chromium package),
// asserted on the page.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Alert } from '../shared/domain/monitor/checks.js';
import { cellColour, escapeHtml, renderHtmlReport } from '../shared/domain/monitor/html-report.js';
import type { MonitorReport, TableReport } from '../shared/domain/monitor/report.js';

const HOSTILE = '<script>window.__xss = 1</script>';
const alerts: Alert[] = [
  { code: 'FILE_SIZE', severity: 'Low', table: 'part_a', message: '3 sampled files outside 64–1024 MB' },
  { code: 'PARTITION_STALE', severity: 'Medium', table: 'part_a', message: '1 catalog partitions have no data on S3: 5' },
  { code: 'PK_DUPES', severity: 'High', table: 'part_a', message: 'customer_user_id duplicate rows=4' },
];
const table = (name: string, histogram: number[], own: Alert[]): TableReport => ({
  table: name, location: 's3://data/part/', s3_partitions: 255, glue_partitions: 256, missing_glue_count: 0, table_type_ok: true, contract_ok: true,
  raw_input_snapshot_dt: '2025-10-31', count_src: 1000, count_part: histogram.reduce((a, b) => a + b, 0), count_diff_pct: '0.000000', pk_nulls: 0, pk_dupes: 4,
  file_issues_sample: '', checked_at: '2025-11-10T06:00:00Z', partition_projection: false, missing_s3_partitions: '5', stale_partitions: '5', wrong_bucket_rows: 0,
  bucket_empty: histogram.filter((c) => c === 0).length, bucket_low: 0, bucket_max_min_ratio: '', bucket_cv: '0.1', volume_change_pct: '', bytes_scanned: 12345,
  query_ids: ['q1'], repaired: '', bucket_histogram: histogram,
  trend: [{ generated_at: '2025-10-10T06:00:00Z', snapshot_dt: '2025-09-30', count_part: 987654 }, { generated_at: '2025-11-10T06:00:00Z', snapshot_dt: '2025-10-31', count_part: 1000 }],
  alerts: own,
});
const report: MonitorReport = {
  database: 'flywheel_dev', prefix: 'part_', bucket_count: 256, generated_at: '2025-11-10T06:00:00Z', freshness_window_days: 45,
  compare: { enabled: true, type: 'ext', db: 'flywheel_dev', tolerance_pct: 0 }, pk_column: 'customer_user_id', file_size_check: true,
  alerts: alerts.map((a) => a.message), run_id: 'monitor-1', snapshot_dt: '2025-10-31', auto_repair: 'athena', dry_run: false, alert_details: alerts, bytes_scanned_total: 12345,
  tables: [table('part_a', Array.from({ length: 256 }, (_, b) => (b === 5 ? 0 : b === 77 ? 50 : 4)), alerts), table(HOSTILE, Array.from({ length: 256 }, () => 3), [])],
};

let browser: Browser;
let page: Page;
beforeAll(async () => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'report-')), 'report.html');
  writeFileSync(file, renderHtmlReport(report));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1200, height: 1600 } });
  await page.goto(`file://${file}`);
}, 60000);
afterAll(async () => browser?.close());

test('the title and the severity summary', async () => {
  expect(await page.title()).toBe('Data monitor — flywheel_dev part_* — 2025-11-10T06:00:00Z');
  expect(await page.locator('.summary').innerText()).toMatch(/1 High\s*1 Medium\s*1 Low/);
});

test('alerts read High → Medium → Low', async () => {
  const severities = await page.locator('table.alerts').first().locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-severity')));
  expect(severities).toEqual(['High', 'Medium', 'Low']);
  expect(await page.locator('table.alerts').first().locator('tbody tr').first().innerText()).toContain('[PK_DUPES]');
});

test('a 16×16 heatmap of the 256 buckets: empty buckets grey, the hottest darkest', async () => {
  const cells = page.locator('section.table').first().locator('.cell');
  expect(await cells.count()).toBe(256);
  const colour = (b: number) => page.locator(`section.table >> nth=0 >> .cell[data-bucket="${b}"]`).evaluate((el) => getComputedStyle(el).backgroundColor);
  const lightness = async (b: number) => {
    const [r, g, bl] = (await colour(b)).match(/\d+/g)!.map(Number) as [number, number, number];
    return r + g + bl;
  };
  expect(await colour(5)).toBe('rgb(242, 244, 247)');
  expect(await lightness(77)).toBeLessThan(await lightness(0));
  const at = async (b: number) => (await page.locator(`section.table >> nth=0 >> .cell[data-bucket="${b}"]`).boundingBox())!;
  const [c0, c15, c16, c255] = await Promise.all([at(0), at(15), at(16), at(255)]);
  expect([c16.x, c16.y > c0.y, c15.y, c15.x > c0.x]).toEqual([c0.x, true, c0.y, true]); // 16 to a row
  expect([c255.x, c255.y]).toEqual([c15.x, c0.y + 15 * (c16.y - c0.y)]); // 16 rows
  expect(await page.locator('section.table >> nth=0 >> .cell[data-bucket="77"]').getAttribute('title')).toBe('bucket 77: 50 rows');
});

test('a hostile table name is shown as text and runs nothing', async () => {
  expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  expect(await page.locator('section.table h2').nth(1).innerText()).toBe(HOSTILE);
});

test('counts and the trend are on the page', async () => {
  const first = page.locator('section.table').first();
  expect(await first.innerText()).toContain('Duplicate rows\n4');
  expect(await first.locator('table.trend').innerText()).toMatch(/2025-09-30\s+987,654/);
  await page.screenshot({ path: path.join(os.tmpdir(), 'flywheel-monitor-report.png'), fullPage: false });
});

test('escaping and the colour scale', () => {
  expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  expect(cellColour(0, 1, 10)).toBe('#f2f4f7');
  expect(cellColour(1, 1, 10)).toBe('hsl(214, 80%, 92%)');
  expect(cellColour(10, 1, 10)).toBe('hsl(214, 80%, 30%)');
});
