import { CopyObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-object-store.js';
import { PreconditionFailedError } from '../../shared/ports.js';

const s3 = mockClient(S3Client);
const store = new S3ObjectStore(new S3Client({ region: 'us-east-1' }));
/** A GetObject body as the SDK hands it over (a stream with transformToByteArray). */
const body = (text: string) => ({ transformToByteArray: async () => new TextEncoder().encode(text) });
const failure = (name: string, status: number) => new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message: name });

beforeEach(() => s3.reset());

test('list follows continuation tokens and returns common prefixes with a delimiter', async () => {
  s3.on(ListObjectsV2Command, { ContinuationToken: undefined }).resolves({ IsTruncated: true, NextContinuationToken: 't1', CommonPrefixes: [{ Prefix: 'raw/snapshot_dt=2025-09-30/' }], Contents: [{ Key: 'raw/README.txt', Size: 3 }] });
  s3.on(ListObjectsV2Command, { ContinuationToken: 't1' }).resolves({ IsTruncated: false, CommonPrefixes: [{ Prefix: 'raw/snapshot_dt=2025-10-31/' }] });
  const listing = await store.list('data', 'raw/', { delimiter: '/' });
  expect(listing.prefixes).toEqual(['raw/snapshot_dt=2025-09-30/', 'raw/snapshot_dt=2025-10-31/']);
  expect(listing.objects).toEqual([{ key: 'raw/README.txt', size: 3, etag: undefined, lastModified: undefined }]);
  expect(s3.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input)).toEqual([
    { Bucket: 'data', Prefix: 'raw/', Delimiter: '/', ContinuationToken: undefined },
    { Bucket: 'data', Prefix: 'raw/', Delimiter: '/', ContinuationToken: 't1' },
  ]);
});

test('get returns bytes and ETag; a missing key is undefined', async () => {
  s3.on(GetObjectCommand, { Key: 'a.json' }).resolves({ Body: body('{"a":1}'), ETag: '"e1"' } as never);
  s3.on(GetObjectCommand, { Key: 'missing' }).rejects(new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'NoSuchKey' }));
  const got = await store.get('data', 'a.json');
  expect(new TextDecoder().decode(got!.body)).toBe('{"a":1}');
  expect(got!.etag).toBe('"e1"');
  expect(await store.get('data', 'missing')).toBeUndefined();
});

test('getRange asks for an inclusive byte range', async () => {
  s3.on(GetObjectCommand).resolves({ Body: body('PAR1') } as never);
  await store.getRange('data', 'f.parquet', 100, 164);
  expect(s3.commandCalls(GetObjectCommand)[0]!.args[0].input).toEqual({ Bucket: 'data', Key: 'f.parquet', Range: 'bytes=100-163' });
});

test('head: NotFound is undefined', async () => {
  s3.on(HeadObjectCommand).rejects(failure('NotFound', 404));
  expect(await store.head('data', 'x')).toBeUndefined();
});

test('conditional writes send If-None-Match / If-Match; 412 and 409 become PreconditionFailedError', async () => {
  s3.on(PutObjectCommand).resolvesOnce({ ETag: '"v1"' }).rejectsOnce(failure('PreconditionFailed', 412)).rejectsOnce(failure('ConditionalRequestConflict', 409)).rejectsOnce(failure('AccessDenied', 403));
  expect(await store.put('data', 'run.json', '{}', { ifNoneMatch: true })).toEqual({ etag: '"v1"' });
  await expect(store.put('data', 'run.json', '{}', { ifNoneMatch: true })).rejects.toBeInstanceOf(PreconditionFailedError);
  await expect(store.put('data', 'run.json', '{}', { ifMatch: '"v1"' })).rejects.toBeInstanceOf(PreconditionFailedError);
  await expect(store.put('data', 'run.json', '{}')).rejects.toThrow('AccessDenied');
  const inputs = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
  expect(inputs[0]).toMatchObject({ IfNoneMatch: '*', IfMatch: undefined });
  expect(inputs[2]).toMatchObject({ IfMatch: '"v1"', IfNoneMatch: undefined });
});

test('delete chunks by 1000 keys and raises per-key errors', async () => {
  s3.on(DeleteObjectsCommand).resolvesOnce({}).resolvesOnce({ Errors: [{ Key: 'k1001', Code: 'AccessDenied', Message: 'no' }] });
  const keys = Array.from({ length: 1500 }, (_, i) => `k${i}`);
  await expect(store.delete('data', keys)).rejects.toThrow(/k1001 \(AccessDenied: no\)/);
  expect(s3.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input.Delete!.Objects!.length)).toEqual([1000, 500]);
});

test('copy is a server-side CopyObject with a URL-encoded source', async () => {
  s3.on(CopyObjectCommand).resolves({});
  await store.copy('data', 'part_t/id_bucket=3/20251031 x.parquet', 'data', 'bucketed_t/000003_0_x.parquet');
  expect(s3.commandCalls(CopyObjectCommand)[0]!.args[0].input).toEqual({ Bucket: 'data', Key: 'bucketed_t/000003_0_x.parquet', CopySource: 'data/part_t/id_bucket%3D3/20251031%20x.parquet' });
});
