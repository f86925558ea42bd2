/** S3 as the object store: paginated listings, ranged reads, conditional writes (If-None-Match / If-Match). */
import {
  CopyObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand,
  S3ServiceException, type S3Client,
} from '@aws-sdk/client-s3';
import { PreconditionFailedError, type Listing, type ObjectInfo, type ObjectStore } from '../../ports.js';

const status = (err: unknown) => (err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined);
const isMissing = (err: unknown) => (err as { name?: string }).name === 'NoSuchKey' || (err as { name?: string }).name === 'NotFound' || status(err) === 404;

export class S3ObjectStore implements ObjectStore {
  constructor(private readonly client: S3Client) {}

  async list(bucket: string, prefix: string, options: { delimiter?: string } = {}): Promise<Listing> {
    const objects: ObjectInfo[] = [];
    const prefixes: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: options.delimiter, ContinuationToken: token }));
      for (const o of page.Contents ?? []) objects.push({ key: o.Key!, size: o.Size ?? 0, etag: o.ETag, lastModified: o.LastModified });
      for (const p of page.CommonPrefixes ?? []) prefixes.push(p.Prefix!);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return { objects, prefixes };
  }

  async get(bucket: string, key: string): Promise<{ body: Uint8Array; etag: string } | undefined> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return { body: await res.Body!.transformToByteArray(), etag: res.ETag ?? '' };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async getRange(bucket: string, key: string, start: number, end: number): Promise<Uint8Array> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end - 1}` }));
    return res.Body!.transformToByteArray();
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

  /** S3 answers 412 when the condition fails and 409 when a concurrent conditional write won. */
  async put(bucket: string, key: string, body: string | Uint8Array, condition: { ifNoneMatch?: true; ifMatch?: string } = {}): Promise<{ etag: string }> {
    try {
      const res = await this.client.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, IfNoneMatch: condition.ifNoneMatch ? '*' : undefined, IfMatch: condition.ifMatch }),
      );
      return { etag: res.ETag ?? '' };
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (status(err) === 412 || status(err) === 409 || name === 'PreconditionFailed' || name === 'ConditionalRequestConflict') throw new PreconditionFailedError(bucket, key);
      throw err;
    }
  }

  /** DeleteObjects takes at most 1000 keys a call; per-key errors are raised. */
  async delete(bucket: string, keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const res = await this.client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }));
      if (res.Errors?.length) throw new Error(`could not delete ${res.Errors.map((e) => `${e.Key} (${e.Code}: ${e.Message})`).join(', ')}`);
    }
  }

  async copy(fromBucket: string, fromKey: string, toBucket: string, toKey: string): Promise<void> {
    await this.client.send(new CopyObjectCommand({ Bucket: toBucket, Key: toKey, CopySource: `${fromBucket}/${fromKey.split('/').map(encodeURIComponent).join('/')}` }));
  }
}
