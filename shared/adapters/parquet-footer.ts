/**
 * Reads a parquet file's schema and row count from its footer alone: one ranged read of the file's
 * tail (a second only when the footer is larger than that), decoded with hyparquet. Used in both
 * modes through the ObjectStore port, so registering a table costs a footer, not a crawler.
 */
import { parquetMetadata, parquetSchema } from 'hyparquet';
import type { ParquetFooter } from '../deps.js';
import type { ColumnDef, ObjectStore } from '../ports.js';

/** Bytes read first from the end of the file: most footers fit. */
export const FOOTER_PROBE_BYTES = 64 * 1024;

interface SchemaElement {
  name: string;
  type?: string;
  converted_type?: string;
  logical_type?: { type: string; precision?: number; scale?: number; bitWidth?: number; isSigned?: boolean };
  precision?: number;
  scale?: number;
  num_children?: number;
}

/** Hive type name of a flat parquet column; nested columns are not supported by this pipeline. */
export function hiveType(e: SchemaElement): string {
  const logical = e.logical_type?.type ?? e.converted_type;
  if (e.num_children) throw new Error(`column ${e.name} is nested (${logical ?? 'group'}); Flywheel tables take flat columns only`);
  switch (logical) {
    case 'STRING':
    case 'UTF8':
    case 'ENUM':
    case 'JSON':
      return 'string';
    case 'DATE':
      return 'date';
    case 'DECIMAL':
      return `decimal(${e.precision ?? e.logical_type?.precision},${e.scale ?? e.logical_type?.scale ?? 0})`;
    case 'TIMESTAMP':
    case 'TIMESTAMP_MILLIS':
    case 'TIMESTAMP_MICROS':
      return 'timestamp';
    case 'INT_8':
      return 'tinyint';
    case 'INT_16':
      return 'smallint';
    case 'INTEGER':
      return e.logical_type?.bitWidth === 8 ? 'tinyint' : e.logical_type?.bitWidth === 16 ? 'smallint' : e.logical_type?.bitWidth === 64 ? 'bigint' : 'int';
  }
  switch (e.type) {
    case 'BOOLEAN':
      return 'boolean';
    case 'INT32':
      return 'int';
    case 'INT64':
      return 'bigint';
    case 'INT96':
      return 'timestamp';
    case 'FLOAT':
      return 'float';
    case 'DOUBLE':
      return 'double';
    default:
      return 'binary';
  }
}

/** Columns (Hive types) and row count of one parquet object. */
export async function readParquetFooter(store: ObjectStore, bucket: string, key: string, size: number): Promise<ParquetFooter> {
  if (size < 12) throw new Error(`${key} is ${size} bytes: too small to be parquet`);
  let tail = await store.getRange(bucket, key, Math.max(0, size - FOOTER_PROBE_BYTES), size);
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  if (new TextDecoder().decode(tail.subarray(tail.byteLength - 4)) !== 'PAR1') throw new Error(`${key} is not a parquet file (no PAR1 magic at its end)`);
  const footerLength = view.getUint32(tail.byteLength - 8, true);
  if (footerLength + 8 > size) throw new Error(`${key} has a corrupt footer length ${footerLength}`);
  if (footerLength + 8 > tail.byteLength) tail = await store.getRange(bucket, key, size - footerLength - 8, size);
  const bytes = tail.slice(tail.byteLength - footerLength - 8);
  const metadata = parquetMetadata(bytes.buffer as ArrayBuffer);
  const columns: ColumnDef[] = parquetSchema(metadata).children.map((c) => ({ name: c.element.name, type: hiveType(c.element as SchemaElement) }));
  return { columns, rowCount: Number(metadata.num_rows) };
}
