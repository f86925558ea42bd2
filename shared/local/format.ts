/** Formats query results as an aligned table, JSON (array of row objects) or CSV. */
export function formatRows(columns: string[], rows: Record<string, unknown>[], format: 'table' | 'json' | 'csv'): string {
  const plain = rows.map((r) => Object.fromEntries(columns.map((c) => [c, toPlain(r[c])])));
  if (format === 'json') return JSON.stringify(plain);
  const text = (v: unknown) => (v === null || v === undefined ? (format === 'csv' ? '' : 'NULL') : typeof v === 'object' ? JSON.stringify(v) : String(v));
  if (format === 'csv') {
    const cell = (v: unknown) => {
      const s = text(v);
      return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    return [columns.map(cell).join(','), ...plain.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n');
  }
  return table(
    columns,
    plain.map((r) => columns.map((c) => text(r[c]))),
  );
}

/** An aligned text table with a header rule. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (/^-?[\d,.]+( s| ms)?$/.test(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function toPlain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(toPlain);
  if (v && typeof v === 'object' && v.constructor === Object) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPlain(x)]));
  return v;
}
