// S3ObjectStore against a mocked S3 client: request shapes, pagination, chunking and error mapping.
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-object-store.js';
import { PreconditionFailedError } from '../../shared/ports.js';

const s3 = mockClient(S3Client);
const store = new S3ObjectStore(new S3Client({ region: 'us-east-1' }));
/** A GetObject body as the SDK hands it over (a stream with transformToByteArray). */
const body = (text: string) => ({ transformToByteArray: async () => new TextEncoder().encode(text) });
/** A service error as the SDK raises it: the XML error Code as `name`, the HTTP status in $metadata. */
const failure = (name: string, status: number) => new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message: name });

beforeEach(() => s3.reset());

describe('list', () => {
  test('follows NextContinuationToken over every page and returns CommonPrefixes with a delimiter', async () => {
    const modified = new Date('2025-10-31T23:00:00Z');
    s3.on(ListObjectsV2Command, { ContinuationToken: undefined }).resolves({
      IsTruncated: true,
      NextContinuationToken: 't1',
      KeyCount: 2,
      Prefix: 'raw/',
      Delimiter: '/',
      CommonPrefixes: [{ Prefix: 'raw/snapshot_dt=2025-09-30/' }],
      Contents: [{ Key: 'raw/README.txt', Size: 3, ETag: '"0cc175b9c0f1b6a831c399e269772661"', LastModified: modified, StorageClass: 'STANDARD' }],
    });
    s3.on(ListObjectsV2Command, { ContinuationToken: 't1' }).resolves({
      IsTruncated: true,
      NextContinuationToken: 't2',
      KeyCount: 1,
      CommonPrefixes: [{ Prefix: 'raw/snapshot_dt=2025-10-31/' }],
    });
    s3.on(ListObjectsV2Command, { ContinuationToken: 't2' }).resolves({
      IsTruncated: false,
      KeyCount: 1,
      CommonPrefixes: [{ Prefix: 'raw/snapshot_dt=not-a-date/' }],
    });

    const listing = await store.list('data', 'raw/', { delimiter: '/' });

    expect(listing.prefixes).toEqual(['raw/snapshot_dt=2025-09-30/', 'raw/snapshot_dt=2025-10-31/', 'raw/snapshot_dt=not-a-date/']);
    expect(listing.objects).toEqual([{ key: 'raw/README.txt', size: 3, etag: '"0cc175b9c0f1b6a831c399e269772661"', lastModified: modified }]);
    expect(s3).toHaveReceivedCommandTimes(ListObjectsV2Command, 3);
    expect(s3).toHaveReceivedNthSpecificCommandWith(1, ListObjectsV2Command, { Bucket: 'data', Prefix: 'raw/', Delimiter: '/', ContinuationToken: undefined });
    expect(s3).toHaveReceivedNthSpecificCommandWith(3, ListObjectsV2Command, { Bucket: 'data', Prefix: 'raw/', Delimiter: '/', ContinuationToken: 't2' });
  });

  test('without a delimiter lists every object under the prefix', async () => {
    s3.on(ListObjectsV2Command).resolves({
      IsTruncated: false,
      KeyCount: 2,
      Contents: [
        { Key: 'p/a.parquet', Size: 10 },
        { Key: 'p/sub/b.parquet', Size: 20 },
      ],
    });
    const listing = await store.list('data', 'p/');
    expect(listing.objects.map((o) => [o.key, o.size])).toEqual([
      ['p/a.parquet', 10],
      ['p/sub/b.parquet', 20],
    ]);
    expect(listing.prefixes).toEqual([]);
    expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, { Bucket: 'data', Prefix: 'p/', Delimiter: undefined });
  });
});

describe('get, getRange, head', () => {
  test('get returns the bytes and the ETag; NoSuchKey is undefined; other errors propagate', async () => {
    s3.on(GetObjectCommand, { Key: 'run.json' }).resolves({ Body: body('{"a":1}'), ETag: '"e1"', ContentLength: 7 } as never);
    s3.on(GetObjectCommand, { Key: 'missing' }).rejects(new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'The specified key does not exist.' }));
    s3.on(GetObjectCommand, { Key: 'forbidden' }).rejects(failure('AccessDenied', 403));
    const got = await store.get('data', 'run.json');
    expect(new TextDecoder().decode(got!.body)).toBe('{"a":1}');
    expect(got!.etag).toBe('"e1"');
    expect(await store.get('data', 'missing')).toBeUndefined();
    await expect(store.get('data', 'forbidden')).rejects.toThrow('AccessDenied');
  });

  test('getRange asks for the inclusive HTTP range of the half-open [start, end)', async () => {
    s3.on(GetObjectCommand).resolves({ Body: body('PAR1'), ContentRange: 'bytes 100-163/164', ContentLength: 64 } as never);
    await store.getRange('data', 'f.parquet', 100, 164);
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: 'data', Key: 'f.parquet', Range: 'bytes=100-163' });
    expect(await store.getRange('data', 'f.parquet', 5, 5)).toHaveLength(0);
    expect(s3).toHaveReceivedCommandTimes(GetObjectCommand, 1);
  });

  test('head maps ContentLength / ETag; NotFound is undefined, 403 propagates', async () => {
    const modified = new Date('2025-10-31T00:00:00Z');
    s3.on(HeadObjectCommand, { Key: '_SUCCESS' }).resolves({ ContentLength: 0, ETag: '"d41d8cd98f00b204e9800998ecf8427e"', LastModified: modified });
    s3.on(HeadObjectCommand, { Key: 'x' }).rejects(failure('NotFound', 404));
    s3.on(HeadObjectCommand, { Key: 'y' }).rejects(failure('Forbidden', 403));
    expect(await store.head('data', '_SUCCESS')).toEqual({ key: '_SUCCESS', size: 0, etag: '"d41d8cd98f00b204e9800998ecf8427e"', lastModified: modified });
    expect(await store.head('data', 'x')).toBeUndefined();
    await expect(store.head('data', 'y')).rejects.toThrow('Forbidden');
  });
});

describe('conditional put', () => {
  test('creates with If-None-Match: * and updates with If-Match: <etag>', async () => {
    s3.on(PutObjectCommand).resolves({ ETag: '"v2"' });
    expect(await store.put('data', 'run.json', '{}', { ifNoneMatch: true })).toEqual({ etag: '"v2"' });
    await store.put('data', 'run.json', '{}', { ifMatch: '"v1"' });
    await store.put('data', 'plain.txt', 'x');
    expect(s3).toHaveReceivedNthSpecificCommandWith(1, PutObjectCommand, { Bucket: 'data', Key: 'run.json', Body: '{}', IfNoneMatch: '*', IfMatch: undefined });
    expect(s3).toHaveReceivedNthSpecificCommandWith(2, PutObjectCommand, { Bucket: 'data', Key: 'run.json', IfMatch: '"v1"', IfNoneMatch: undefined });
    expect(s3).toHaveReceivedNthSpecificCommandWith(3, PutObjectCommand, { IfMatch: undefined, IfNoneMatch: undefined });
  });

  test.each([
    ['412 PreconditionFailed', failure('PreconditionFailed', 412)],
    ['409 ConditionalRequestConflict', failure('ConditionalRequestConflict', 409)],
  ])('%s becomes PreconditionFailedError naming the object', async (_, err) => {
    s3.on(PutObjectCommand).rejects(err);
    const thrown = await store.put('data', '_runs/run.json', '{}', { ifMatch: '"v1"' }).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(PreconditionFailedError);
    expect(thrown).toMatchObject({ bucket: 'data', key: '_runs/run.json' });
  });

  test('other failures, a different 409 included, propagate as they are', async () => {
    s3.on(PutObjectCommand).rejectsOnce(failure('AccessDenied', 403)).rejectsOnce(failure('OperationAborted', 409));
    await expect(store.put('data', 'run.json', '{}')).rejects.toThrow('AccessDenied');
    const thrown = await store.put('data', 'run.json', '{}').catch((e: unknown) => e);
    expect(thrown).not.toBeInstanceOf(PreconditionFailedError);
  });
});

describe('delete', () => {
  test('sends quiet DeleteObjects of at most 1000 keys and raises the per-key errors', async () => {
    s3.on(DeleteObjectsCommand)
      .resolvesOnce({})
      .resolvesOnce({})
      .resolvesOnce({ Errors: [{ Key: 'k2001', Code: 'AccessDenied', Message: 'Access Denied' }] });
    const keys = Array.from({ length: 2500 }, (_, i) => `k${i}`);
    await expect(store.delete('data', keys)).rejects.toThrow(/s3:\/\/data: k2001 \(AccessDenied: Access Denied\)/);
    const batches = s3.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input.Delete!);
    expect(batches.map((d) => d.Objects!.length)).toEqual([1000, 1000, 500]);
    expect(batches.every((d) => d.Quiet)).toBe(true);
    expect(batches.flatMap((d) => d.Objects!.map((o) => o.Key))).toEqual(keys);
  });

  test('no keys, no request', async () => {
    await store.delete('data', []);
    expect(s3).not.toHaveReceivedCommand(DeleteObjectsCommand);
  });
});

test('copyMany is one CopyObject per copy, at most 16 in flight', async () => {
  let inFlight = 0;
  let most = 0;
  s3.on(CopyObjectCommand).callsFake(async () => {
    most = Math.max(most, ++inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    return { CopyObjectResult: { ETag: '"c"' } };
  });
  const copies = Array.from({ length: 40 }, (_, i) => ({
    fromBucket: 'data',
    fromKey: `part_t/id_bucket=${i}/x.parquet`,
    toBucket: 'data',
    toKey: `bucketed_t/${String(i).padStart(6, '0')}_0_x.parquet`,
  }));
  await store.copyMany(copies);
  expect(s3).toHaveReceivedCommandTimes(CopyObjectCommand, 40);
  expect(s3).toHaveReceivedCommandWith(CopyObjectCommand, {
    Bucket: 'data',
    Key: 'bucketed_t/000039_0_x.parquet',
    CopySource: 'data/part_t/id_bucket%3D39/x.parquet',
  });
  expect(most).toBe(16);
});

test('copy is a server-side CopyObject with a URL-encoded source', async () => {
  s3.on(CopyObjectCommand).resolves({ CopyObjectResult: { ETag: '"c"' } });
  await store.copy('data', 'part_t/id_bucket=3/20251031 x.parquet', 'data', 'bucketed_t/000003_0_x.parquet');
  expect(s3).toHaveReceivedCommandWith(CopyObjectCommand, {
    Bucket: 'data',
    Key: 'bucketed_t/000003_0_x.parquet',
    CopySource: 'data/part_t/id_bucket%3D3/20251031%20x.parquet',
  });
});
