/** Renders build steps and DDL as Athena (Trino) SQL. Every identifier is checked before interpolation. */
import { rangeSelectSql, type BuildStep } from './build-steps.js';
import { identifier, literal, location } from './sql-identifiers.js';

const q = (name: string) => `"${identifier(name)}"`;

/** Athena SQL for one build step. */
export function renderAthenaStep(step: BuildStep): string {
  const db = q(step.database);
  const select = rangeSelectSql(step, 'trino');
  if (!step.first) return `INSERT INTO ${db}.${q(step.stagingTable)} ${select}`;
  return (
    `CREATE TABLE ${db}.${q(step.stagingTable)} WITH (format = 'PARQUET', write_compression = 'SNAPPY', ` +
    `external_location = ${literal(location(step.location))}, partitioned_by = ARRAY['id_bucket']) AS ${select}`
  );
}
