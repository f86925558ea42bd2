/**
 * The monitor report as one self-contained HTML page (inline CSS, no scripts, no external resources):
 * a header with the run and its alert counts, every alert by severity, the findings reported but not
 * e-mailed, an overview of the tables, then per table its counts, its alerts, a heatmap of the buckets'
 * row counts (with the spread of its distinct keys) and the row-count trend.
 * Every string that comes from the report is escaped; a Content-Security-Policy forbids scripts anyway.
 */
import type { Alert, Severity } from './checks.js';
import type { MonitorReport, TableReport } from './report.js';

const SEVERITIES: readonly Severity[] = ['High', 'Medium', 'Low'];
const ORDER: Record<string, number> = { High: 0, Medium: 1, Low: 2 };
/** Badge colours, each ≥ 4.5:1 against white text: red, amber, grey-blue. */
export const SEVERITY_COLOURS: Record<Severity, string> = { High: '#b42318', Medium: '#b45309', Low: '#4f6582' };
/** Empty buckets: a pale red, outside the blue scale (and outlined in red on the page). */
export const EMPTY_BUCKET_COLOUR = '#fde4e1';
/** The row-count scale, light (fewest rows) to dark (most rows): ColorBrewer Blues. */
const SCALE = ['#deebf7', '#c6dbef', '#9ecae1', '#6baed6', '#4292c6', '#2171b5', '#08519c', '#08306b'] as const;

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Heatmap colour (`#rrggbb`) of a bucket's rows between the table's smallest non-empty and largest bucket; 0 rows is the empty colour. */
export function cellColour(rows: number, min: number, max: number): string {
  if (!(rows > 0)) return EMPTY_BUCKET_COLOUR;
  const t = max <= min ? 0 : Math.min(1, Math.max(0, (rows - min) / (max - min)));
  const at = t * (SCALE.length - 1);
  const i = Math.min(SCALE.length - 2, Math.floor(at));
  const [a, b] = [rgb(SCALE[i]!), rgb(SCALE[i + 1]!)];
  return `#${a
    .map((v, k) =>
      Math.round(v + (b[k]! - v) * (at - i))
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}

/** The heatmap's scale runs from the smallest non-empty bucket to at least this many times it. */
const MIN_SPREAD = 2;

const rgb = (hex: string): number[] => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

// ---------------------------------------------------------------- formatting

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
/** A number with thousands separators, a string escaped, nothing as a dash. */
const fmt = (v: unknown): string => (isNum(v) ? v.toLocaleString('en-US') : v === '' || v === undefined || v === null ? '—' : escapeHtml(v));

function bytes(n: unknown): string {
  if (!isNum(n)) return fmt(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `<span title="${n.toLocaleString('en-US')} bytes">${u === 0 ? v : v.toFixed(1)} ${units[u]}</span>`;
}

const badge = (severity: string) =>
  `<span class="badge" style="background:${SEVERITY_COLOURS[severity as Severity] ?? '#344054'}">${escapeHtml(severity)}</span>`;

const bySeverity = (alerts: Alert[]) => [...alerts].sort((a, b) => (ORDER[a.severity] ?? 3) - (ORDER[b.severity] ?? 3));

const countBy = (alerts: Alert[]) => SEVERITIES.map((s) => [s, alerts.filter((a) => a.severity === s).length] as const);

// ---------------------------------------------------------------- parts

function alertsTable(alerts: Alert[], anchors: Map<string, string> | undefined, caption: string): string {
  if (alerts.length === 0) return '<p class="ok">No issues.</p>';
  const withTable = anchors !== undefined;
  const head = `<tr><th scope="col">Severity</th><th scope="col">Check</th>${withTable ? '<th scope="col">Table</th>' : ''}<th scope="col">Detail</th></tr>`;
  const rows = bySeverity(alerts).map((a) => {
    const anchor = a.table === undefined ? undefined : anchors?.get(a.table);
    const table =
      a.table === undefined ? '<span class="muted">all tables</span>' : anchor ? `<a href="#${anchor}">${escapeHtml(a.table)}</a>` : escapeHtml(a.table);
    return `<tr data-severity="${escapeHtml(a.severity)}"><td>${badge(a.severity)}</td><td><code>[${escapeHtml(a.code)}]</code></td>${withTable ? `<td>${table}</td>` : ''}<td class="msg">${escapeHtml(a.message)}</td></tr>`;
  });
  return `<table class="alerts"><caption class="sr">${escapeHtml(caption)}</caption><thead>${head}</thead><tbody>${rows.join('')}</tbody></table>`;
}

function overview(tables: TableReport[], anchors: Map<string, string>): string {
  if (tables.length === 0) return '<p class="muted">No tables matched.</p>';
  const rows = tables.map((t) => {
    const counts = countBy(t.alerts).filter(([, n]) => n > 0);
    const status =
      counts.length === 0
        ? '<span class="ok">clean</span>'
        : counts.map(([s, n]) => `<span class="pill" style="background:${SEVERITY_COLOURS[s]}">${n} ${s}</span>`).join(' ');
    return `<tr><th scope="row"><a href="#${anchors.get(t.table)}">${escapeHtml(t.table)}</a></th><td class="num">${fmt(t.count_part)}</td><td class="num">${fmt(t.count_src)}</td><td class="num">${fmt(t.count_diff_pct)}</td><td class="num">${fmt(t.bucket_empty)}</td><td>${status}</td></tr>`;
  });
  return `<table class="overview"><caption class="sr">Tables</caption><thead><tr><th scope="col">Table</th><th scope="col" class="num">Rows (part)</th><th scope="col" class="num">Rows (source)</th><th scope="col" class="num">Δ %</th><th scope="col" class="num">Empty buckets</th><th scope="col">Alerts</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function facts(t: TableReport): string {
  const positive = (v: unknown) => isNum(v) && v > 0;
  const items: Array<[label: string, value: string, bad: boolean]> = [
    ['Rows (part)', fmt(t.count_part), false],
    ['Rows (source)', fmt(t.count_src), false],
    ['Δ %', fmt(t.count_diff_pct), t.alerts.some((a) => a.code === 'COUNT_MISMATCH')],
    ['NULL keys', fmt(t.pk_nulls), positive(t.pk_nulls)],
    ['Duplicate rows', fmt(t.pk_dupes), positive(t.pk_dupes)],
    ['Rows in the wrong bucket', fmt(t.wrong_bucket_rows), positive(t.wrong_bucket_rows)],
    [
      'Partitions S3 / catalog',
      `${fmt(t.s3_partitions)} / ${t.partition_projection ? 'projection' : fmt(t.glue_partitions)}`,
      !t.partition_projection && t.s3_partitions !== t.glue_partitions,
    ],
    ['Bytes scanned', bytes(t.bytes_scanned), false],
  ];
  if (t.volume_change_pct !== '') items.push(['Rows vs previous snapshot', `${fmt(t.volume_change_pct)} %`, t.alerts.some((a) => a.code === 'VOLUME_CHANGE')]);
  if (t.distinct_keys !== undefined && t.distinct_keys !== '') items.push(['Distinct keys', fmt(t.distinct_keys), false]);
  if (t.top_key_rows !== undefined && t.top_key_rows !== '')
    items.push(['Rows of the most frequent key', fmt(t.top_key_rows), t.alerts.some((a) => a.code === 'KEY_CONCENTRATION')]);
  if (t.missing_s3_partitions !== '') items.push(['Buckets missing on S3', fmt(t.missing_s3_partitions), true]);
  if (t.stale_partitions !== '') items.push(['Stale catalog partitions', fmt(t.stale_partitions), true]);
  if (t.repaired !== '') items.push(['Repair', fmt(t.repaired), /failed/.test(t.repaired)]);
  return `<dl class="facts">${items.map(([k, v, bad]) => `<div${bad ? ' class="bad"' : ''}><dt>${k}</dt><dd>${v}</dd></div>`).join('')}</dl>`;
}

function heatmap(t: TableReport): string {
  const h = t.bucket_histogram.map((c) => (isNum(c) && c > 0 ? c : 0));
  if (h.length === 0) return '<p class="muted">No bucket histogram: the scan of this table did not complete.</p>';
  const min = h.reduce((m, c) => (c > 0 && c < m ? c : m), Infinity);
  const max = h.reduce((m, c) => Math.max(m, c), 0);
  const lo = Number.isFinite(min) ? min : 0;
  // Min–max shading would paint a 0.2 % spread as loudly as a 10× skew: the scale spans at least a factor of two.
  const top = Math.max(max, lo * MIN_SPREAD);
  const columns = Math.ceil(Math.sqrt(h.length));
  const size = Math.max(4, Math.min(18, Math.floor(384 / columns)));
  const labels = size >= 14;
  const head = labels ? `<thead><tr><td></td>${Array.from({ length: columns }, (_, c) => `<th scope="col">${c}</th>`).join('')}</tr></thead>` : '';
  const rows: string[] = [];
  for (let start = 0; start < h.length; start += columns) {
    const cells = h.slice(start, start + columns).map((rows, k) => {
      const b = start + k;
      return `<td class="cell${rows === 0 ? ' empty' : ''}" data-bucket="${b}" data-rows="${rows}" title="bucket ${b}: ${rows.toLocaleString('en-US')} rows" style="background-color:${cellColour(rows, lo, top)}"></td>`;
    });
    rows.push(`<tr><th scope="row">${start}</th>${cells.join('')}</tr>`);
  }
  const hot = max > 0 ? h.flatMap((c, b) => (c === max ? [b] : [])) : [];
  const largest = hot.length === 0 || hot.length > 8 ? '' : `Largest: bucket ${hot.join(', ')} (${max.toLocaleString('en-US')} rows) · `;
  const empties = h.filter((c) => c === 0).length;
  const gradient = `linear-gradient(to right, ${SCALE.join(', ')})`;
  return `<figure class="heat">
<figcaption>Rows per bucket (${h.length} buckets; the row label is the row's first bucket, the column adds to it)</figcaption>
<table class="heatmap" style="--cell:${size}px" aria-label="rows per bucket of ${escapeHtml(t.table)}">${head}<tbody>${rows.join('')}</tbody></table>
<p class="legend"><span class="swatch empty" style="background-color:${EMPTY_BUCKET_COLOUR}"></span> empty (${empties})
<span class="ramp-label">${lo.toLocaleString('en-US')}</span><span class="ramp" style="background:${gradient}"></span><span class="ramp-label">${top.toLocaleString('en-US')} rows</span></p>
<p class="legend">${largest}max/min ${fmt(t.bucket_max_min_ratio)} · cv ${fmt(t.bucket_cv)} · low buckets ${fmt(t.bucket_low)}</p>
${keySpread(t)}
</figure>`;
}

/** What the skew verdict means to the reader. */
const SKEW_TEXT: Record<string, string> = {
  none: 'within the thresholds',
  inherent: 'the bucket function’s own spread of these keys: reported, not e-mailed',
  unchanged: 'no worse than the previous snapshot: reported, not e-mailed',
  explained: 'accounted for by a concentration alert',
  worse: 'worse than the previous snapshot: e-mailed',
  'beyond-keys': 'beyond the spread of the distinct keys: e-mailed',
  unjudged: 'no key figures or previous snapshot to judge it by: e-mailed',
};

function keySpread(t: TableReport): string {
  if (t.bucket_keys_cv === undefined || t.bucket_keys_cv === '') return '';
  const previous = t.skew_previous
    ? ` · previous snapshot ${escapeHtml(t.skew_previous.snapshot_dt)}: max/min ${fmt(t.skew_previous.max_min_ratio?.toFixed(2))} · cv ${fmt(t.skew_previous.cv.toFixed(3))}`
    : '';
  const verdict = t.bucket_skew ? ` · skew: ${escapeHtml(SKEW_TEXT[t.bucket_skew] ?? t.bucket_skew)}` : '';
  return `<p class="legend">Distinct keys per bucket: max/min ${fmt(t.bucket_keys_max_min_ratio)} · cv ${fmt(t.bucket_keys_cv)}${previous}${verdict}</p>`;
}

function sparkline(points: Array<{ label: string; rows: number }>): string {
  if (points.length < 2) return '';
  const [w, hgt, pad] = [240, 56, 6];
  const values = points.map((p) => p.rows);
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  const x = (i: number) => pad + (i * (w - 2 * pad)) / (points.length - 1);
  const y = (v: number) => (hi === lo ? hgt / 2 : hgt - pad - ((v - lo) * (hgt - 2 * pad)) / (hi - lo));
  const xy = points.map((p, i) => `${x(i).toFixed(1)},${y(p.rows).toFixed(1)}`);
  const dots = points.map(
    (p, i) =>
      `<circle cx="${x(i).toFixed(1)}" cy="${y(p.rows).toFixed(1)}" r="${i === points.length - 1 ? 3.5 : 2.5}"><title>${escapeHtml(p.label)}: ${p.rows.toLocaleString('en-US')} rows</title></circle>`,
  );
  return `<svg class="spark" width="${w}" height="${hgt}" viewBox="0 0 ${w} ${hgt}" role="img" aria-label="rows per snapshot, ${lo.toLocaleString('en-US')} to ${hi.toLocaleString('en-US')}"><polyline points="${xy.join(' ')}"/>${dots.join('')}</svg>`;
}

function trend(t: TableReport): string {
  if (t.trend.length === 0) return '<p class="muted">No earlier reports.</p>';
  let previous: number | undefined;
  const rows = t.trend.map((p) => {
    const rowsNow = isNum(p.count_part) ? p.count_part : undefined;
    const change = rowsNow !== undefined && previous ? ((rowsNow - previous) * 100) / previous : undefined;
    if (rowsNow !== undefined) previous = rowsNow;
    const changeText = change === undefined ? '' : `${change >= 0 ? '+' : ''}${change.toFixed(2)} %`;
    return `<tr><td>${escapeHtml(String(p.generated_at ?? '').slice(0, 10))}</td><td>${fmt(p.snapshot_dt)}</td><td class="num">${fmt(rowsNow)}</td><td class="num">${changeText}</td></tr>`;
  });
  const points = t.trend.flatMap((p) => (isNum(p.count_part) ? [{ label: String(p.snapshot_dt ?? p.generated_at), rows: p.count_part }] : []));
  return `<div class="trend-box"><table class="trend"><caption>Rows per snapshot</caption><thead><tr><th scope="col">Report</th><th scope="col">snapshot_dt</th><th scope="col" class="num">Rows</th><th scope="col" class="num">Change</th></tr></thead><tbody>${rows.join('')}</tbody></table>${sparkline(points)}</div>`;
}

function tableSection(t: TableReport, anchor: string): string {
  return `<section class="table" id="${anchor}" aria-labelledby="${anchor}-h">
<h2 id="${anchor}-h">${escapeHtml(t.table)}</h2>
<p class="loc">${escapeHtml(t.location)}</p>
${facts(t)}
<h3>Alerts</h3>
${alertsTable(t.alerts, undefined, `Alerts of ${t.table}`)}
${(t.report_only ?? []).length > 0 ? `<h3>Reported, not e-mailed</h3>\n${alertsTable(t.report_only ?? [], undefined, `Findings of ${t.table} not e-mailed`)}` : ''}
<div class="pair">${heatmap(t)}<div><h3>Trend</h3>${trend(t)}</div></div>
</section>`;
}

const CSS = `
:root{color-scheme:light}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#101828;margin:24px auto;max-width:1120px;padding:0 24px}
h1{font-size:22px;margin:0 0 6px}h1 code{font-size:inherit}h2{font-size:18px;margin:0}h3{font-size:14px;margin:14px 0 4px;color:#344054}
a{color:#175cd3}code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.muted{color:#667085}.ok{color:#067647;font-weight:600}.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.meta{display:flex;flex-wrap:wrap;gap:4px 22px;margin:0 0 12px;color:#475467}.meta dt{display:inline;font-size:12px}.meta dd{display:inline;margin:0 0 0 6px;color:#101828;font-weight:600}
.summary{display:flex;gap:8px;margin:10px 0 18px}.summary span{padding:3px 12px;border-radius:12px;color:#fff;font-weight:600}.summary .none{opacity:.35}
table{border-collapse:collapse;margin:6px 0 12px;width:100%}th,td{border-bottom:1px solid #eaecf0;padding:5px 8px;text-align:left;vertical-align:top}thead th{font-size:12px;color:#475467;background:#f9fafb}
td.msg{overflow-wrap:anywhere}.num{text-align:right;font-variant-numeric:tabular-nums}
.badge,.pill{display:inline-block;color:#fff;border-radius:9px;padding:0 8px;font-size:12px;font-weight:600;white-space:nowrap}
section.table{border-top:2px solid #eaecf0;margin-top:28px;padding-top:14px}
.loc{color:#475467;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;margin:2px 0 10px;overflow-wrap:anywhere}
.facts{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:8px;margin:0}.facts div{background:#f9fafb;padding:6px 10px;border-radius:6px;border-left:3px solid #d0d5dd}
.facts div.bad{background:#fef3f2;border-left-color:#b42318}.facts dt{color:#475467;font-size:12px}.facts dd{margin:0;font-weight:600;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.pair{display:flex;flex-wrap:wrap;gap:16px 40px;align-items:flex-start}
figure.heat{margin:8px 0 0}figure.heat figcaption{font-size:12px;color:#475467;margin-bottom:4px}
table.heatmap{width:auto;border-collapse:separate;border-spacing:1px;margin:0}
table.heatmap th{border:0;padding:0 4px 0 0;font:10px/1 ui-monospace,Menlo,Consolas,monospace;color:#667085;background:none;text-align:right;vertical-align:middle}
table.heatmap thead th{text-align:center;padding:0 0 2px}
table.heatmap td.cell{border:0;padding:0;width:var(--cell);height:var(--cell)}table.heatmap td.empty{box-shadow:inset 0 0 0 1px #d92d20}
.legend{font-size:12px;color:#475467;margin:6px 0 0;display:flex;align-items:center;gap:6px;flex-wrap:wrap}
.swatch{display:inline-block;width:12px;height:12px}.swatch.empty{box-shadow:inset 0 0 0 1px #d92d20}
.ramp{display:inline-block;width:120px;height:10px;border-radius:2px}.ramp-label{margin-left:10px;font-variant-numeric:tabular-nums}.ramp+.ramp-label{margin-left:0}
table.trend{width:auto}table.trend caption{text-align:left;font-size:12px;color:#475467;padding-bottom:2px}
svg.spark polyline{fill:none;stroke:#2171b5;stroke-width:2}svg.spark circle{fill:#08306b}
@media print{body{margin:0;max-width:none}section.table{break-inside:avoid}}
`;

/** The whole page. */
export function renderHtmlReport(report: MonitorReport): string {
  const anchors = new Map<string, string>();
  for (const [i, t] of report.tables.entries()) anchors.set(t.table, anchors.get(t.table) ?? `table-${i + 1}`);
  const details = report.alert_details ?? [];
  const notes = report.report_only ?? [];
  const summary = countBy(details).map(([s, n]) => `<span${n === 0 ? ' class="none"' : ''} style="background:${SEVERITY_COLOURS[s]}">${n} ${s}</span>`);
  const meta: Array<[string, string]> = [
    ['Generated', fmt(report.generated_at)],
    ['snapshot_dt', fmt(report.snapshot_dt)],
    ['Newest raw snapshot_dt', fmt(report.newest_raw_snapshot_dt)],
    ['Run', fmt(report.run_id)],
    ['Tables', fmt(report.tables.length)],
    ['Buckets', fmt(report.bucket_count)],
    [
      'Compared with',
      report.compare?.enabled ? `${fmt(report.compare.type)} in ${fmt(report.compare.db)}, tolerance ${fmt(report.compare.tolerance_pct)} %` : 'off',
    ],
    ['Auto-repair', `${fmt(report.auto_repair)}${report.dry_run ? ' (dry run)' : ''}`],
    ['Bytes scanned', bytes(report.bytes_scanned_total)],
  ];
  const title = `Data monitor — ${report.database} ${report.prefix}* — ${report.generated_at}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style></head><body>
<header>
<h1>Data monitor: ${escapeHtml(report.database)} <code>${escapeHtml(report.prefix)}*</code></h1>
<dl class="meta">${meta.map(([k, v]) => `<div><dt>${k}</dt><dd>${v}</dd></div>`).join('')}</dl>
<p class="summary" aria-label="alerts by severity">${summary.join('')}</p>
</header>
<main>
<h2>Alerts</h2>
${alertsTable(details, anchors, 'All alerts, most severe first')}
${notes.length > 0 ? `<h2>Reported, not e-mailed</h2>\n<p class="muted">Inherent or unchanged, no action needed: the bucket function’s spread of the keys (no worse than the previous snapshot), buckets no key falls in.</p>\n${alertsTable(notes, anchors, 'Findings not e-mailed')}` : ''}
<h2>Tables</h2>
${overview(report.tables, anchors)}
${report.tables.map((t, i) => tableSection(t, `table-${i + 1}`)).join('\n')}
</main>
</body></html>
`;
}
