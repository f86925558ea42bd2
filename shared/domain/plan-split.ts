/** Builds the split plan from the mapping and what the snapshot's source tables hold. Pure. */
import type { ColumnDef } from './catalog-types.js';
import type { Mapping } from './mapping.js';
import { fileCountFor } from './sizing.js';
import type { SkippedTable, SplitPlan, SplitTablePlan } from './split-plan.js';

/** What inspecting one source table folder found. */
export interface SourceTable {
  name: string;
  /** Parquet files (s3:// URIs) with their sizes. */
  files: Array<{ uri: string; size: number }>;
  /** Columns of the first file; undefined when no file could be read. */
  columns?: ColumnDef[];
  rowCount: number;
  /** Compressed bytes per column (names as in the files) over every file; sizes the output of a column subset. */
  columnBytes?: Record<string, number>;
  /** Problems that make the whole source unusable (non-parquet files, schema drift, unreadable footer). */
  problems: Array<{ reason: string; fix: string }>;
}

export interface PlanInput {
  dataset: string;
  snapshotDt: string;
  runId: string;
  mapping: Mapping;
  sources: SourceTable[];
  keyColumn: string;
  bucketCount: number;
  targetFileBytes: number;
  /** `(target) => s3 URI of the folder to write`, e.g. `.../<t>/snapshot_dt=D/run_id=R/`. */
  outputUri: (target: string) => string;
  metadataUri: string;
  tablesFilter?: string[];
}

/** Target tables to build, those skipped (with reason and fix), and the source columns dropped. */
export function planSplit(input: PlanInput): SplitPlan {
  const sources = new Map(input.sources.map((s) => [s.name.toLowerCase(), s]));
  const filter = input.tablesFilter && new Set(input.tablesFilter.map((t) => t.toLowerCase()));
  const tables: SplitTablePlan[] = [];
  const skipped: SkippedTable[] = input.mapping.invalid.map((i) => ({ ...i }));
  const used = new Map<string, Set<string>>();

  for (const m of input.mapping.targets) {
    if (filter && !filter.has(m.target)) continue;
    const skip = (reason: string, fix: string) => skipped.push({ target: m.target, source: m.source, reason, fix });
    const src = sources.get(m.source.toLowerCase());
    if (!src) {
      skip(
        `source table ${m.source} is not in snapshot_dt=${input.snapshotDt}`,
        `upload ${m.source}/ under the snapshot or remove its rows from the mapping CSV`,
      );
      continue;
    }
    if (src.problems.length > 0) {
      for (const p of src.problems) skip(`source table ${src.name}: ${p.reason}`, p.fix);
      continue;
    }
    if (src.files.length === 0 || src.rowCount === 0 || !src.columns) {
      skip(
        `source table ${src.name} is empty (${src.files.length} parquet files, ${src.rowCount} rows)`,
        `re-deliver ${src.name} for snapshot_dt=${input.snapshotDt}`,
      );
      continue;
    }
    const byName = new Map(src.columns.map((c) => [c.name.toLowerCase(), c.name]));
    const key = byName.get(input.keyColumn);
    if (!key) {
      skip(`source table ${src.name} has no ${input.keyColumn} column`, `deliver ${src.name} with a ${input.keyColumn} column`);
      continue;
    }
    const missing = m.columns.filter((c) => !byName.has(c.source.toLowerCase())).map((c) => c.source);
    if (missing.length > 0) {
      skip(`mapping names columns ${missing.join(', ')} that ${src.name} does not have`, `correct the mapping CSV rows for ${m.target} or deliver the columns`);
      continue;
    }
    const columns = [
      { source: key, target: input.keyColumn },
      ...m.columns.filter((c) => c.target !== input.keyColumn).map((c) => ({ source: byName.get(c.source.toLowerCase())!, target: c.target })),
    ];
    const usedCols = used.get(src.name) ?? new Set<string>();
    for (const c of columns) usedCols.add(c.source);
    used.set(src.name, usedCols);
    const sourceBytes = src.files.reduce((sum, f) => sum + f.size, 0);
    const estimatedBytes = bytesOfColumns(
      sourceBytes,
      src.columnBytes,
      columns.map((c) => c.source),
    );
    tables.push({
      target: m.target,
      source: src.name,
      sourceFiles: src.files.map((f) => f.uri),
      sourceBytes,
      estimatedBytes,
      columns,
      keySourceColumn: key,
      fileCount: fileCountFor(estimatedBytes, input.targetFileBytes, input.bucketCount),
      outputUri: input.outputUri(m.target),
    });
  }
  if (filter) {
    const known = new Set(input.mapping.targets.map((t) => t.target));
    for (const t of filter)
      if (!known.has(t)) skipped.push({ target: t, reason: `table ${t} is not in the mapping CSV`, fix: 'use target table names from the mapping CSV' });
  }

  const droppedColumns: Record<string, string[]> = {};
  for (const src of input.sources) {
    const usedCols = used.get(src.name);
    if (!usedCols || !src.columns) continue;
    const dropped = src.columns.map((c) => c.name).filter((c) => !usedCols.has(c));
    if (dropped.length > 0) droppedColumns[src.name] = dropped;
  }
  return {
    version: 1,
    dataset: input.dataset,
    snapshotDt: input.snapshotDt,
    runId: input.runId,
    bucketCount: input.bucketCount,
    keyColumn: input.keyColumn,
    metadataUri: input.metadataUri,
    tables,
    skipped,
    droppedColumns,
  };
}

/** Per-column compressed bytes of a source: the sum over its files' footers. */
export function totalColumnBytes(footers: Array<{ columnBytes: Record<string, number> }>): Record<string, number> {
  const total: Record<string, number> = {};
  for (const f of footers) for (const [c, b] of Object.entries(f.columnBytes)) total[c] = (total[c] ?? 0) + b;
  return total;
}

/**
 * Bytes of a target table that carries `used` columns of its source: the source's bytes times the
 * used columns' share of the compressed column bytes (from the footers). A table taking half of a
 * source's columns gets files sized for its half, not for the whole source. Without column sizes
 * (or with none of them), the whole source.
 */
export function bytesOfColumns(sourceBytes: number, columnBytes: Record<string, number> | undefined, used: string[]): number {
  const total = Object.values(columnBytes ?? {}).reduce((sum, b) => sum + b, 0);
  if (!columnBytes || !(total > 0)) return sourceBytes;
  const share = [...new Set(used)].reduce((sum, c) => sum + (columnBytes[c] ?? 0), 0) / total;
  return Math.round(sourceBytes * Math.min(1, share));
}
