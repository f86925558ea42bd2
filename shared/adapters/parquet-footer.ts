/**
 * Reads a parquet file's schema and row count from its footer alone: one ranged read of the file's
 * tail (a second, of exactly the footer, only when the footer is larger than that), decoded with
 * hyparquet. Used in both modes through the ObjectStore port, so registering a table costs a
 * footer, not a crawler.
 */
import { parquetMetadata, parquetSchema, type SchemaElement } from 'hyparquet';
import type { ParquetFooter } from '../ports.js';
import type { ColumnDef, ObjectStore } from '../ports.js';

/** A parquet file ends with the footer, its 4-byte little-endian length and the magic `PAR1`. */
const TRAILER_BYTES = 8;
const MAGIC = 'PAR1';
/** The leading magic, a footer length and the trailing magic. */
const MIN_FILE_BYTES = MAGIC.length + TRAILER_BYTES;

/** Hive type name of a flat parquet column; nested columns and types Hive cannot hold are errors naming the column. */
export function hiveType(e: SchemaElement): string {
  const unsupported = (what: string) => new Error(`column ${e.name} is ${what}; Flywheel tables take flat columns of Hive types only`);
  const logical = e.logical_type;
  if (e.num_children || e.repetition_type === 'REPEATED' || logical?.type === 'LIST' || logical?.type === 'MAP') {
    throw unsupported(`nested (${logical?.type ?? e.converted_type ?? (e.num_children ? 'struct' : 'repeated')})`);
  }
  switch (logical?.type) {
    case 'STRING':
    case 'ENUM':
    case 'JSON':
      return 'string';
    case 'DATE':
      return 'date';
    case 'DECIMAL':
      return `decimal(${logical.precision},${logical.scale ?? 0})`;
    case 'TIMESTAMP':
      return 'timestamp';
    case 'INTEGER':
      return integerType(logical.bitWidth, logical.isSigned, unsupported);
    case 'TIME':
    case 'FLOAT16':
    case 'INTERVAL':
      throw unsupported(`of parquet type ${logical.type}, which has no Hive type`);
  }
  switch (e.converted_type) {
    case 'UTF8':
    case 'ENUM':
    case 'JSON':
      return 'string';
    case 'DATE':
      return 'date';
    case 'DECIMAL':
      if (e.precision === undefined) throw unsupported('a DECIMAL without a precision');
      return `decimal(${e.precision},${e.scale ?? 0})`;
    case 'TIMESTAMP_MILLIS':
    case 'TIMESTAMP_MICROS':
      return 'timestamp';
    case 'INT_8':
    case 'INT_16':
    case 'INT_32':
    case 'INT_64':
    case 'UINT_8':
    case 'UINT_16':
    case 'UINT_32':
    case 'UINT_64':
      return integerType(Number(e.converted_type.replace(/^U?INT_/, '')), !e.converted_type.startsWith('U'), unsupported);
    case 'TIME_MILLIS':
    case 'TIME_MICROS':
    case 'INTERVAL':
      throw unsupported(`of parquet type ${e.converted_type}, which has no Hive type`);
  }
  switch (e.type) {
    case 'BOOLEAN':
      return 'boolean';
    case 'INT32':
      return 'int';
    case 'INT64':
      return 'bigint';
    case 'INT96':
      return 'timestamp'; // legacy Impala/Spark timestamps
    case 'FLOAT':
      return 'float';
    case 'DOUBLE':
      return 'double';
    default:
      return 'binary'; // BYTE_ARRAY / FIXED_LEN_BYTE_ARRAY without a string or decimal annotation (also UUID, BSON)
  }
}

/** Signed integers by width; unsigned ones in the next wider signed type (no Hive type holds an unsigned 64-bit). */
function integerType(bits: number, signed: boolean, unsupported: (what: string) => Error): string {
  const signedTypes: Record<number, string> = { 8: 'tinyint', 16: 'smallint', 32: 'int', 64: 'bigint' };
  const type = signedTypes[signed ? bits : bits * 2];
  if (!type) throw unsupported(`${signed ? 'a signed' : 'an unsigned'} ${bits}-bit integer, which no Hive type holds`);
  return type;
}

/** Columns (Hive types, names as in the file), row count and per-column bytes of one parquet object, from its footer only. */
export async function readParquetFooter(store: ObjectStore, bucket: string, key: string, size: number): Promise<ParquetFooter> {
  if (size < MIN_FILE_BYTES) throw new Error(`${key} is ${size} bytes: too small to be parquet`);
  // two ranged reads of exactly what is needed: the 8-byte trailer (footer length + magic), then the footer
  const trailer = await store.getRange(bucket, key, size - TRAILER_BYTES, size);
  if (trailer.byteLength !== TRAILER_BYTES || new TextDecoder().decode(trailer.subarray(TRAILER_BYTES - MAGIC.length)) !== MAGIC)
    throw new Error(`${key} is not a parquet file (no PAR1 magic at its end)`);
  const footerLength = new DataView(trailer.buffer, trailer.byteOffset, trailer.byteLength).getUint32(0, true);
  if (footerLength + TRAILER_BYTES + MAGIC.length > size)
    throw new Error(`${key} has a corrupt parquet footer length (${footerLength} bytes in a ${size}-byte file)`);
  const footer = await store.getRange(bucket, key, size - TRAILER_BYTES - footerLength, size - TRAILER_BYTES);
  const whole = new Uint8Array(footerLength + TRAILER_BYTES);
  whole.set(footer, 0);
  whole.set(trailer, footerLength);
  const metadata = parquetMetadata(whole.buffer);
  const columns: ColumnDef[] = parquetSchema(metadata).children.map((c) => ({ name: c.element.name, type: hiveType(c.element) }));
  const columnBytes: Record<string, number> = Object.fromEntries(columns.map((c) => [c.name, 0]));
  for (const group of metadata.row_groups) {
    for (const chunk of group.columns) {
      const name = chunk.meta_data?.path_in_schema[0];
      if (name !== undefined && name in columnBytes) columnBytes[name]! += Number(chunk.meta_data!.total_compressed_size);
    }
  }
  return { columns, rowCount: Number(metadata.num_rows), columnBytes };
}

/** Columns (Hive types, names as in the file) of one parquet object, from its footer only. */
export async function readParquetColumns(store: ObjectStore, bucket: string, key: string, size: number): Promise<ColumnDef[]> {
  return (await readParquetFooter(store, bucket, key, size)).columns;
}
