/** S3 as the object store: paginated listings, ranged reads, conditional writes (If-None-Match / If-Match). */
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { StoreMethod } from '../../domain/access.js';
import { PreconditionFailedError, type Listing, type ObjectCopy, type ObjectInfo, type ObjectStore } from '../../ports.js';
import { mapLimit } from '../../domain/map-limit.js';

/**
 * The IAM actions behind each method: on the object (`copy`: the destination; its source needs `get`),
 * on the bucket, and on the bucket's SSE-KMS key. `get` and `head` need s3:ListBucket so that a missing
 * key answers 404 and reads as absent: without it S3 answers 403 for a missing key too.
 */
export const S3_ACTIONS: Record<StoreMethod, { object: string[]; bucket: string[]; key: string[] }> = {
  list: { object: [], bucket: ['s3:ListBucket'], key: [] },
  get: { object: ['s3:GetObject'], bucket: ['s3:ListBucket'], key: ['kms:Decrypt'] },
  getRange: { object: ['s3:GetObject'], bucket: [], key: ['kms:Decrypt'] },
  head: { object: ['s3:GetObject'], bucket: ['s3:ListBucket'], key: [] },
  put: { object: ['s3:PutObject'], bucket: [], key: ['kms:GenerateDataKey'] },
  delete: { object: ['s3:DeleteObject'], bucket: [], key: [] },
  copy: { object: ['s3:PutObject'], bucket: [], key: ['kms:GenerateDataKey'] },
};

/** DeleteObjects takes at most 1000 keys a request. */
const DELETE_BATCH = 1000;
/** CopyObject requests in flight at once in copyMany. */
const COPY_CONCURRENCY = 16;

const nameOf = (err: unknown) => (err as { name?: string } | undefined)?.name;
const statusOf = (err: unknown) => (err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined);
/**
 * GetObject answers NoSuchKey; HeadObject has no body, so only NotFound / 404. A missing bucket
 * (NoSuchBucket, a deployment error) is never an absent object.
 */
const isMissing = (err: unknown) => nameOf(err) !== 'NoSuchBucket' && (nameOf(err) === 'NoSuchKey' || nameOf(err) === 'NotFound' || statusOf(err) === 404);
/**
 * A failed condition is 412 PreconditionFailed; 409 ConditionalRequestConflict means a concurrent
 * conditional write to the same key won the race. Either way the caller must re-read, not overwrite.
 */
const isPrecondition = (err: unknown) => statusOf(err) === 412 || nameOf(err) === 'PreconditionFailed' || nameOf(err) === 'ConditionalRequestConflict';

/** ObjectStore over S3 (the client comes from the composition root). */
export class S3ObjectStore implements ObjectStore {
  constructor(private readonly client: S3Client) {}

  async list(bucket: string, prefix: string, options: { delimiter?: string } = {}): Promise<Listing> {
    const objects: ObjectInfo[] = [];
    const prefixes: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: options.delimiter, ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key !== undefined) objects.push({ key: o.Key, size: o.Size ?? 0, etag: o.ETag, lastModified: o.LastModified });
      for (const p of page.CommonPrefixes ?? []) if (p.Prefix !== undefined) prefixes.push(p.Prefix);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return { objects, prefixes };
  }

  async get(bucket: string, key: string): Promise<{ body: Uint8Array; etag: string } | undefined> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!res.Body) throw new Error(`S3 GetObject s3://${bucket}/${key} returned no body`);
      return { body: await res.Body.transformToByteArray(), etag: res.ETag ?? '' };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** HTTP ranges are inclusive, the port's `end` is exclusive. */
  async getRange(bucket: string, key: string, start: number, end: number): Promise<Uint8Array> {
    if (end <= start) return new Uint8Array(0);
    const res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end - 1}` }));
    if (!res.Body) throw new Error(`S3 GetObject s3://${bucket}/${key} (bytes ${start}-${end - 1}) returned no body`);
    return res.Body.transformToByteArray();
  }

  async head(bucket: string, key: string): Promise<ObjectInfo | undefined> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return { key, size: res.ContentLength ?? 0, etag: res.ETag, lastModified: res.LastModified };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async put(bucket: string, key: string, body: string | Uint8Array, condition: { ifNoneMatch?: true; ifMatch?: string } = {}): Promise<{ etag: string }> {
    try {
      const res = await this.client.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, IfNoneMatch: condition.ifNoneMatch ? '*' : undefined, IfMatch: condition.ifMatch }),
      );
      return { etag: res.ETag ?? '' };
    } catch (err) {
      if (isPrecondition(err)) throw new PreconditionFailedError(bucket, key);
      throw err;
    }
  }

  /** Quiet DeleteObjects in batches of 1000: the answer lists only the keys that failed, and any failure is raised. */
  async delete(bucket: string, keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const res = await this.client.send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + DELETE_BATCH).map((Key) => ({ Key })), Quiet: true } }),
      );
      if (res.Errors?.length) {
        throw new Error(
          `could not delete ${res.Errors.length} object(s) from s3://${bucket}: ${res.Errors.map((e) => `${e.Key} (${e.Code}: ${e.Message})`).join(', ')}`,
        );
      }
    }
  }

  /** Server-side CopyObject (objects up to 5 GB; split output files are sized far below that). */
  async copy(fromBucket: string, fromKey: string, toBucket: string, toKey: string): Promise<void> {
    await this.client.send(
      new CopyObjectCommand({ Bucket: toBucket, Key: toKey, CopySource: `${fromBucket}/${fromKey.split('/').map(encodeURIComponent).join('/')}` }),
    );
  }

  /** One CopyObject per copy, at most 16 in flight (S3 has no batch copy). */
  async copyMany(copies: readonly ObjectCopy[]): Promise<void> {
    await mapLimit(copies, COPY_CONCURRENCY, (c) => this.copy(c.fromBucket, c.fromKey, c.toBucket, c.toKey));
  }
}
