/** Reading back what a job wrote to the emulator's S3: listings, downloads, and DuckDB's read_parquet over the files. */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { DuckDBConnection } from '@duckdb/node-api';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Every object under `prefix` (all pages), in key order. */
export async function listObjects(s3: S3Client, bucket: string, prefix: string): Promise<Array<{ key: string; size: number; etag: string }>> {
  const out: Array<{ key: string; size: number; etag: string }> = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    out.push(...(page.Contents ?? []).map((o) => ({ key: o.Key!, size: o.Size!, etag: o.ETag! })));
    token = page.NextContinuationToken;
  } while (token);
  return out;
}

/** Downloads `keys` into `to` (by their base names); the local paths, sorted. */
export async function downloadObjects(s3: S3Client, bucket: string, keys: string[], to: string): Promise<string[]> {
  mkdirSync(to, { recursive: true });
  const files: string[] = [];
  for (const key of keys) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const file = path.join(to, path.basename(key));
    writeFileSync(file, await got.Body!.transformToByteArray());
    files.push(file);
  }
  return files.sort();
}

/** read_parquet over files; their folders' key=value names are not columns (no hive partitioning). */
export const readParquet = (files: string[], options = '') =>
  `read_parquet([${files.map((f) => `'${f.replace(/'/g, "''")}'`).join(', ')}], hive_partitioning = false${options ? `, ${options}` : ''})`;

/** Every file below a local folder. */
export function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => (statSync(path.join(dir, f)).isDirectory() ? walk(path.join(dir, f)) : [path.join(dir, f)]));
}

/** The rows of a DuckDB query as JSON values, integers as numbers (DuckDB gives BIGINT as strings). */
export async function queryRows(duck: DuckDBConnection, sql: string): Promise<Array<Record<string, unknown>>> {
  const out = (await duck.runAndReadAll(sql)).getRowObjectsJson() as Array<Record<string, unknown>>;
  return out.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v])));
}
