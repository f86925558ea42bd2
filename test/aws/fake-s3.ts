/**
 * An in-memory S3 behind aws-sdk-client-mock, with the semantics the adapters rely on: paginated
 * listings with delimiters, ranged GETs, conditional PUTs (412 on a failed If-None-Match / If-Match),
 * copies. Every request is counted, so tests can assert the cost shape (LISTs, bytes read).
 */
import {
  CopyObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { createHash } from 'node:crypto';

export function fakeS3() {
  const objects = new Map<string, Uint8Array>();
  const id = (b: string, k: string) => `${b}/${k}`;
  const etag = (body: Uint8Array) => `"${createHash('md5').update(body).digest('hex')}"`;
  const stats = { lists: 0, gets: 0, bytesRead: 0, puts: 0, copies: 0 };
  const mock = mockClient(S3Client);
  const notFound = () => new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'NoSuchKey' });
  const failed = () =>
    new S3ServiceException({
      name: 'PreconditionFailed',
      $fault: 'client',
      $metadata: { httpStatusCode: 412 },
      message: 'At least one of the pre-conditions you specified did not hold',
    });

  mock.on(ListObjectsV2Command).callsFake((input) => {
    stats.lists++;
    const prefix = input.Prefix ?? '';
    const keys = [...objects.keys()]
      .filter((k) => k.startsWith(`${input.Bucket}/${prefix}`))
      .map((k) => k.slice(input.Bucket.length + 1))
      .sort();
    const contents: Array<{ Key: string; Size: number }> = [];
    const common = new Set<string>();
    for (const k of keys) {
      const rest = k.slice(prefix.length);
      const cut = input.Delimiter ? rest.indexOf(input.Delimiter) : -1;
      if (cut >= 0) common.add(prefix + rest.slice(0, cut + 1));
      else contents.push({ Key: k, Size: objects.get(id(input.Bucket, k))!.byteLength });
    }
    return { Contents: contents, CommonPrefixes: [...common].map((Prefix) => ({ Prefix })), IsTruncated: false, KeyCount: contents.length };
  });
  mock.on(GetObjectCommand).callsFake((input) => {
    stats.gets++;
    const body = objects.get(id(input.Bucket, input.Key));
    if (!body) throw notFound();
    const m = /^bytes=(\d+)-(\d+)$/.exec(input.Range ?? '');
    const slice = m ? body.subarray(Number(m[1]), Number(m[2]) + 1) : body;
    stats.bytesRead += slice.byteLength;
    return { Body: { transformToByteArray: async () => slice }, ETag: etag(body), ContentLength: slice.byteLength };
  });
  mock.on(HeadObjectCommand).callsFake((input) => {
    const body = objects.get(id(input.Bucket, input.Key));
    if (!body) throw new S3ServiceException({ name: 'NotFound', $fault: 'client', $metadata: { httpStatusCode: 404 }, message: 'Not Found' });
    return { ContentLength: body.byteLength, ETag: etag(body) };
  });
  mock.on(PutObjectCommand).callsFake((input) => {
    stats.puts++;
    const key = id(input.Bucket, input.Key);
    const current = objects.get(key);
    if (input.IfNoneMatch === '*' && current) throw failed();
    if (input.IfMatch !== undefined && (!current || etag(current) !== input.IfMatch)) throw failed();
    const body = typeof input.Body === 'string' ? new TextEncoder().encode(input.Body) : (input.Body as Uint8Array);
    objects.set(key, body);
    return { ETag: etag(body) };
  });
  mock.on(CopyObjectCommand).callsFake((input) => {
    stats.copies++;
    const source = decodeURIComponent(input.CopySource);
    const body = objects.get(source);
    if (!body) throw notFound();
    objects.set(id(input.Bucket, input.Key), body);
    return {};
  });

  return {
    mock,
    stats,
    objects,
    put: (bucket: string, key: string, body: string | Uint8Array) =>
      objects.set(id(bucket, key), typeof body === 'string' ? new TextEncoder().encode(body) : body),
    text: (bucket: string, key: string) => {
      const b = objects.get(id(bucket, key));
      return b && new TextDecoder().decode(b);
    },
    keys: (bucket: string, prefix = '') => [...objects.keys()].filter((k) => k.startsWith(`${bucket}/${prefix}`)).map((k) => k.slice(bucket.length + 1)),
  };
}
