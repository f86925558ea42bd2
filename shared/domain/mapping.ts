/**
 * The column-mapping CSV (`source_table,source_column,target_table,target_column`): which source
 * columns feed which target tables, under which lower-case names. One source table may feed
 * several target tables (a split); source columns not listed are dropped.
 */
import { parse } from 'csv-parse/sync';
import { PipelineError } from './errors.js';

export interface MappingRow {
  sourceTable: string;
  sourceColumn: string;
  targetTable: string;
  targetColumn: string;
}

export interface TargetMapping {
  target: string;
  source: string;
  columns: Array<{ source: string; target: string }>;
}

export interface Mapping {
  targets: TargetMapping[];
  /** Target tables the mapping itself makes impossible (e.g. duplicate target columns). */
  invalid: Array<{ target: string; source?: string; reason: string; fix: string }>;
}

const HEADER = ['source_table', 'source_column', 'target_table', 'target_column'];
const TARGET_NAME = /^[a-z_][a-z0-9_]*$/;

/** Parses and validates the mapping CSV; a malformed file is a PipelineError naming the fix. */
export function parseMapping(csv: string, where: { snapshotDt?: string; key: string }): Mapping {
  const fail = (message: string, fix: string): never => {
    throw new PipelineError(`mapping CSV ${where.key}: ${message}`, { snapshotDt: where.snapshotDt, stage: 'snapshot-trigger', fix });
  };
  let records: string[][];
  try {
    records = parse(csv.replace(/^\uFEFF/, ''), { skip_empty_lines: true, trim: true, relax_column_count: false });
  } catch (err) {
    return fail(`not valid CSV (${(err as Error).message})`, 'fix the CSV syntax and re-upload it');
  }
  const header = records.shift()?.map((h) => h.toLowerCase());
  if (!header || HEADER.some((h, i) => header[i] !== h)) {
    fail(`header must be ${HEADER.join(',')}, got ${header?.join(',') ?? 'nothing'}`, 'put the four-column header on the first line');
  }
  if (records.length === 0) fail('has no mapping rows', 'add at least one source_table,source_column,target_table,target_column row');

  const byTarget = new Map<string, TargetMapping>();
  const invalid: Mapping['invalid'] = [];
  records.forEach((r, i) => {
    const [sourceTable, sourceColumn, targetTable, targetColumn] = r as [string, string, string, string];
    if (!sourceTable || !sourceColumn || !targetTable || !targetColumn) {
      fail(`line ${i + 2} has an empty field`, 'fill every field or delete the line');
    }
    const target = targetTable.toLowerCase();
    const column = targetColumn.toLowerCase();
    if (!TARGET_NAME.test(target) || !TARGET_NAME.test(column)) {
      fail(`line ${i + 2}: target ${targetTable}.${targetColumn} is not a valid lower-case identifier`, 'use letters, digits and _ only');
    }
    const mapping = byTarget.get(target) ?? { target, source: sourceTable, columns: [] };
    if (mapping.source !== sourceTable) {
      invalid.push({
        target,
        source: sourceTable,
        reason: `target ${target} is fed by two source tables (${mapping.source}, ${sourceTable})`,
        fix: 'map each target table from one source table',
      });
    }
    mapping.columns.push({ source: sourceColumn, target: column });
    byTarget.set(target, mapping);
  });

  for (const m of byTarget.values()) {
    const seen = new Set<string>();
    const dupes = m.columns.filter((c) => (seen.has(c.target) ? true : (seen.add(c.target), false))).map((c) => c.target);
    if (dupes.length > 0) {
      invalid.push({
        target: m.target,
        source: m.source,
        reason: `duplicate target columns ${[...new Set(dupes)].join(', ')}`,
        fix: 'give each target column one mapping row',
      });
    }
  }
  const bad = new Set(invalid.map((i) => i.target));
  return { targets: [...byTarget.values()].filter((t) => !bad.has(t.target)), invalid: dedupe(invalid) };
}

function dedupe<T extends { target: string; reason: string }>(items: T[]): T[] {
  const seen = new Set<string>();
  return items.filter((i) => !seen.has(`${i.target}|${i.reason}`) && (seen.add(`${i.target}|${i.reason}`), true));
}
