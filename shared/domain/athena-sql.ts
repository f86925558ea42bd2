/** Renders build steps and DDL as Athena (Trino) SQL. Every identifier is checked before interpolation. */
import { erRowIdSql, type BuildStep } from './build-steps.js';
import { identifier, literal, location } from './sql-identifiers.js';

const q = (name: string) => `"${identifier(name)}"`;

/** Athena SQL for one build step. */
export function renderAthenaStep(step: BuildStep): string {
  const db = q(step.database);
  const cols = step.columns.map((c) => q(c.name)).join(', ');
  const items = step.er ? `${erRowIdSql(step.er.snapshotDt, q(step.er.keyColumn), 'trino')} AS "row_id", ${q(step.er.keyColumn)}` : cols;
  const select = `SELECT ${items}, "id_bucket" FROM ${db}.${q(step.sourceTable)} WHERE "id_bucket" BETWEEN ${int(step.fromBucket)} AND ${int(step.toBucket)}`;
  if (!step.first) return `INSERT INTO ${db}.${q(step.stagingTable)} ${select}`;
  return (
    `CREATE TABLE ${db}.${q(step.stagingTable)} WITH (format = 'PARQUET', write_compression = 'SNAPPY', ` +
    `external_location = ${literal(location(step.location))}, partitioned_by = ARRAY['id_bucket']) AS ${select}`
  );
}

function int(n: number): string {
  if (!Number.isInteger(n) || n < 0) throw new Error(`expected a non-negative integer, got ${n}`);
  return String(n);
}
