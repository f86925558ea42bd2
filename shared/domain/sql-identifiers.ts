/** Guards for everything that reaches SQL text: identifiers by pattern, string values escaped. */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,254}$/;
const LOCATION = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,62}\/[A-Za-z0-9_\-./=]*$/;
const HIVE_TYPE = /^[a-z]+(\(\d+(,\d+)?\))?$|^(array|map|struct)<[a-z0-9_<>:,() ]+>$/;

/** Returns `name` when it is a lower-case SQL identifier, else throws. */
export function identifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`unsafe SQL identifier: ${JSON.stringify(name)}`);
  return name;
}

/** Returns `uri` when it is a plain s3:// folder URI, else throws. */
export function location(uri: string): string {
  if (!LOCATION.test(uri) || uri.includes('..') || uri.slice('s3://'.length).includes('//')) throw new Error(`unsafe table location: ${JSON.stringify(uri)}`);
  return uri;
}

/** Returns `type` when it looks like a Hive column type, else throws. */
export function columnType(type: string): string {
  if (!HIVE_TYPE.test(type)) throw new Error(`unsafe column type: ${JSON.stringify(type)}`);
  return type;
}

/** A single-quoted SQL string literal. */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** `n` as SQL text when it is a non-negative integer, else throws. */
export function nonNegativeInt(n: number): string {
  if (!Number.isInteger(n) || n < 0) throw new Error(`expected a non-negative integer, got ${n}`);
  return String(n);
}
