/**
 * The bucket function (docs/ARCHITECTURE.md, "Bucket function"): Hive bucketing v1's string hash, modulo the
 * bucket count. h = 31*h + b over the UTF-8 bytes taken as signed, (h & 0x7fffffff) % 256. Because 256 divides
 * 2^32 this equals fold(acc = (acc*31 + b) % 256) over the unsigned bytes, which is the form every
 * SQL engine below evaluates without overflow handling.
 *
 * The bucket count is configurable to a power of two from 2 to 256 (BUCKET_COUNTS): such a count N divides 256,
 * so (h & 0x7fffffff) % N — what Athena assigns in a table with bucket_count = N — is the 256-bucket value % N,
 * and every form below stays the same fold with `% N` after it. Other counts would need the full 31-bit hash in
 * SQL, which the folds avoid.
 */

/** The default, and the largest, bucket count. */
export const BUCKET_COUNT = 256;
/** The bucket counts a deployment may set: the powers of two from 2 to 256. */
export const BUCKET_COUNTS: readonly number[] = [2, 4, 8, 16, 32, 64, 128, 256];

/** `value` (a number, or its digits as set in a parameter) checked to be a bucket count; throws naming `what` otherwise. */
export function checkedBucketCount(value: unknown, what = 'bucket count'): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n === 'number' && BUCKET_COUNTS.includes(n)) return n;
  throw new Error(
    `${what} must be a power of two from 2 to 256 (${BUCKET_COUNTS.join(', ')}), got ${JSON.stringify(n)}: only a count dividing 256 keeps every engine's bucket function the same fold`,
  );
}

/** A bucket count set as text (an environment variable named by `what`): absent or empty → undefined, else checked. */
export function bucketCountSetting(value: string | undefined, what: string): number | undefined {
  return value === undefined || value === '' ? undefined : checkedBucketCount(value, what);
}

const encoder = new TextEncoder();

/** Bucket of one customer_user_id among `count` buckets; NULL/undefined keys go to bucket 0. */
export function bucketOf(id: string | null | undefined, count = BUCKET_COUNT): number {
  if (id === null || id === undefined) return 0;
  let h = 0;
  for (const byte of encoder.encode(id)) h = (Math.imul(h, 31) + ((byte << 24) >> 24)) | 0;
  return (h & 0x7fffffff) % count;
}

/** A 256-bucket SQL expression narrowed to `count` buckets (unchanged for 256). */
export function narrowedBucketSql(expression: string, count = BUCKET_COUNT): string {
  checkedBucketCount(count);
  return count === BUCKET_COUNT ? expression : `(${expression} % ${count})`;
}

// 31^k mod 256 has period 8 (31^8 ≡ 1 mod 256); a UTF-8 character of k bytes shifts the
// accumulator by 31^k. The per-character folding below keeps every intermediate value < 2^31.

/** SQL dialect pieces that differ between DuckDB and Trino (Athena). */
interface Dialect {
  map: string;
  chars: (column: string) => string;
  codepoint: string;
  idiv: string;
  fold: (list: string, lambda: string) => string;
}

const DUCKDB: Dialect = {
  map: 'list_transform',
  chars: (column) => `string_split(${column}, '')`,
  codepoint: 'unicode(c)',
  idiv: '//',
  fold: (list, lambda) => `list_reduce(${list}, ${lambda}, 0)`,
};

const TRINO: Dialect = {
  map: 'transform',
  chars: (column) => `regexp_extract_all(${column}, '(?s).')`,
  codepoint: 'codepoint(CAST(c AS varchar(1)))',
  idiv: '/',
  fold: (list, lambda) => `reduce(${list}, 0, ${lambda}, acc -> acc)`,
};

/**
 * DuckDB SQL expression for the bucket of `column` (VARCHAR); NULL and '' → 0. An ASCII key (as many
 * bytes as characters, nearly every real id) takes a fold over its character codes, ~30% cheaper than
 * the general UTF-8 form below, which every other key takes.
 */
export function duckdbBucketSql(column: string, count = BUCKET_COUNT): string {
  const ascii = `list_reduce(list_transform(string_split(${column}, ''), c -> ascii(c)), (acc, b) -> (acc * 31 + b) % 256, 0)`;
  return narrowedBucketSql(
    `(CASE WHEN ${column} IS NULL OR ${column} = '' THEN 0 WHEN strlen(${column}) = length(${column}) THEN ${ascii} ELSE ${bucketSql(column, DUCKDB)} END)`,
    count,
  );
}

/** Trino/Athena SQL expression for the bucket of `column` (used by checks that recompute id_bucket). */
export function athenaBucketSql(column: string, count = BUCKET_COUNT): string {
  return narrowedBucketSql(bucketSql(column, TRINO), count);
}

/**
 * Folds over the characters' code points, expanding each into its UTF-8 bytes arithmetically.
 * Each character maps to multiplier*1000 + value: multiplier = 31^k mod 256 for its k bytes
 * (31^k mod 256 has period 8 and 31, 193, 95, 129 for k = 1..4), value = its bytes folded
 * (b1*31^(k-1) + … + bk) mod 256; packing both in one integer lets a plain reduce carry them.
 */
function bucketSql(column: string, d: Dialect): string {
  const cp = d.codepoint;
  const byte = (shift: number, mod: number, lead: number) =>
    shift === 0 ? `(${lead} + ${cp} % ${mod})` : `(${lead} + (${cp} ${d.idiv} ${2 ** shift}) % ${mod})`;
  const one = `31000 + ${cp}`;
  const two = `193000 + (${byte(6, 32, 192)} * 31 + ${byte(0, 64, 128)}) % 256`;
  const three = `95000 + (${byte(12, 16, 224)} * 193 + ${byte(6, 64, 128)} * 31 + ${byte(0, 64, 128)}) % 256`;
  const four = `129000 + (${byte(18, 8, 240)} * 95 + ${byte(12, 64, 128)} * 193 + ${byte(6, 64, 128)} * 31 + ${byte(0, 64, 128)}) % 256`;
  const perChar = `c -> CASE WHEN ${cp} < 128 THEN ${one} WHEN ${cp} < 2048 THEN ${two} WHEN ${cp} < 65536 THEN ${three} ELSE ${four} END`;
  const step = `(acc, x) -> (acc * (x ${d.idiv} 1000) + x % 1000) % 256`;
  const list = `${d.map}(${d.chars(column)}, ${perChar})`;
  return `(CASE WHEN ${column} IS NULL OR ${column} = '' THEN 0 ELSE ${d.fold(list, step)} END)`;
}
