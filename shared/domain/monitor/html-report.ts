/** The monitor report as one self-contained HTML page: alerts by severity, per table counts, a 16×16 bucket heatmap and the trend. */
import type { Alert, Severity } from './checks.js';
import type { MonitorReport, TableReport } from './report.js';

const ORDER: Record<Severity, number> = { High: 0, Medium: 1, Low: 2 };
const COLOURS: Record<Severity, string> = { High: '#b42318', Medium: '#b54708', Low: '#475467' };
const EMPTY_CELL = '#f2f4f7';

/** Escapes text for HTML element and attribute content. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Heatmap colour of a bucket's row count between the table's min and max (light → dark blue); empty buckets grey. */
export function cellColour(rows: number, min: number, max: number): string {
  if (rows === 0) return EMPTY_CELL;
  const t = max === min ? 1 : (rows - min) / (max - min);
  const lightness = Math.round(92 - t * 62); // 92% (few rows) … 30% (most rows)
  return `hsl(214, 80%, ${lightness}%)`;
}

const fmt = (v: number | string | '') => (typeof v === 'number' ? v.toLocaleString('en-US') : escapeHtml(v));

function alertRows(alerts: Alert[]): string {
  const sorted = [...alerts].sort((a, b) => ORDER[a.severity] - ORDER[b.severity]);
  if (sorted.length === 0) return '<p class="ok">No issues.</p>';
  return `<table class="alerts"><thead><tr><th scope="col">Severity</th><th scope="col">Check</th><th scope="col">Table</th><th scope="col">Detail</th></tr></thead><tbody>${sorted
    .map((a) => `<tr data-severity="${a.severity}"><td><span class="badge" style="background:${COLOURS[a.severity]}">${a.severity}</span></td><td><code>[${escapeHtml(a.code)}]</code></td><td>${escapeHtml(a.table ?? '—')}</td><td>${escapeHtml(a.message)}</td></tr>`)
    .join('')}</tbody></table>`;
}

function heatmap(t: TableReport): string {
  const h = t.bucket_histogram;
  if (h.length === 0) return '<p>No bucket histogram (the scan did not complete).</p>';
  const nonZero = h.filter((c) => c > 0);
  const min = nonZero.length ? Math.min(...nonZero) : 0;
  const max = Math.max(0, ...h);
  const columns = Math.ceil(Math.sqrt(h.length));
  const cells = h.map((rows, b) => `<div class="cell" data-bucket="${b}" data-rows="${rows}" title="bucket ${b}: ${rows.toLocaleString('en-US')} rows" style="background:${cellColour(rows, min, max)}"></div>`).join('');
  return `<figure><div class="heatmap" style="grid-template-columns:repeat(${columns}, 14px)" role="img" aria-label="row counts of ${h.length} buckets of ${escapeHtml(t.table)}">${cells}</div>
<figcaption>${h.length} buckets, row counts from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')} (empty: ${t.bucket_empty}, cv ${escapeHtml(t.bucket_cv)})</figcaption></figure>`;
}

function trend(t: TableReport): string {
  if (t.trend.length === 0) return '';
  return `<table class="trend"><caption>Trend</caption><thead><tr><th scope="col">Report</th><th scope="col">snapshot_dt</th><th scope="col">Rows</th></tr></thead><tbody>${t.trend
    .map((p) => `<tr><td>${escapeHtml(p.generated_at.slice(0, 10))}</td><td>${escapeHtml(p.snapshot_dt ?? '')}</td><td class="num">${fmt(p.count_part ?? '')}</td></tr>`)
    .join('')}</tbody></table>`;
}

function tableSection(t: TableReport): string {
  const facts: Array<[string, string]> = [
    ['Rows (part)', fmt(t.count_part)],
    ['Rows (source)', fmt(t.count_src)],
    ['Δ %', escapeHtml(t.count_diff_pct)],
    ['NULL keys', fmt(t.pk_nulls)],
    ['Duplicate rows', fmt(t.pk_dupes)],
    ['Wrong bucket', fmt(t.wrong_bucket_rows)],
    ['Partitions S3 / catalog', `${t.s3_partitions} / ${t.glue_partitions}`],
    ['Bytes scanned', fmt(t.bytes_scanned)],
  ];
  return `<section class="table" id="${escapeHtml(t.table)}"><h2>${escapeHtml(t.table)}</h2><p class="loc">${escapeHtml(t.location)}</p>
<dl>${facts.map(([k, v]) => `<div><dt>${k}</dt><dd>${v}</dd></div>`).join('')}</dl>
${alertRows(t.alerts)}${heatmap(t)}${trend(t)}</section>`;
}

/** The whole page. */
export function renderHtmlReport(report: MonitorReport): string {
  const counts = (['High', 'Medium', 'Low'] as const).map((s) => [s, report.alert_details.filter((a) => a.severity === s).length] as const);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Data monitor — ${escapeHtml(report.database)} ${escapeHtml(report.prefix)}* — ${escapeHtml(report.generated_at)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;color:#101828;margin:24px;max-width:1100px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 2px}.meta{color:#475467;margin:0 0 12px}
.summary span{display:inline-block;margin-right:10px;padding:2px 10px;border-radius:10px;color:#fff}
table{border-collapse:collapse;margin:8px 0;width:100%}th,td{border-bottom:1px solid #eaecf0;padding:4px 8px;text-align:left;vertical-align:top}
.badge{color:#fff;border-radius:8px;padding:1px 8px;font-size:12px}.ok{color:#067647}.loc{color:#475467;font-family:monospace;margin:0}
dl{display:grid;grid-template-columns:repeat(4,1fr);gap:6px 16px;margin:10px 0}dl div{background:#f9fafb;padding:6px 8px;border-radius:6px}dt{color:#475467;font-size:12px}dd{margin:0;font-weight:600}
.heatmap{display:grid;gap:1px;margin:8px 0}.cell{width:14px;height:14px}figcaption{color:#475467;font-size:12px}
.trend{width:auto}.num{text-align:right}
</style></head><body>
<h1>Data monitor: ${escapeHtml(report.database)} <code>${escapeHtml(report.prefix)}*</code></h1>
<p class="meta">Generated ${escapeHtml(report.generated_at)} · snapshot_dt ${escapeHtml(report.snapshot_dt ?? 'unknown')} · run ${escapeHtml(report.run_id)} · ${report.tables.length} tables · auto-repair ${escapeHtml(report.auto_repair)}${report.dry_run ? ' (dry run)' : ''}</p>
<p class="summary">${counts.map(([s, n]) => `<span style="background:${COLOURS[s]}">${n} ${s}</span>`).join('')}</p>
<h2>Alerts</h2>${alertRows(report.alert_details)}
${report.tables.map(tableSection).join('\n')}
</body></html>
`;
}
