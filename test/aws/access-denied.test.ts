/**
 * "Denied" is never "missing": the real SDK clients, as the composition root builds them, against a
 * local HTTP server answering what S3 and Glue answer on the wire (S3's XML AccessDenied, a bare 403 to a
 * HEAD, 404 NoSuchKey; Glue's JSON AccessDeniedException). The adapters get AccessDeniedError naming the
 * action, the resource and the role; a 404 is still an absent object.
 */
import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nameAccessDenials } from '../../shared/adapters/aws/access-denied.js';
import { buildAwsDeps } from '../../shared/composition/aws.js';
import { LAMBDA_ENV } from './lambda-env.js';
import { GlueCatalog } from '../../shared/adapters/aws/glue-catalog.js';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-object-store.js';
import { AccessDeniedError } from '../../shared/ports.js';

const ROLE = 'flywheel-dev-compaction-us-east-1-lambdaRole';
const S3_DENIED = (key: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/${ROLE}/flywheel-dev-compaction is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::data/${key}" because no identity-based policy allows the s3:GetObject action</Message><RequestId>R</RequestId></Error>`;
const NO_SUCH_KEY = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>';

let server: Server;
let endpoint: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? '';
    if (req.headers['x-amz-target']?.toString().startsWith('AWSGlue.')) {
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'AccessDeniedException' });
      res.end(
        JSON.stringify({
          __type: 'AccessDeniedException',
          Message: `User: arn:aws:sts::123456789012:assumed-role/${ROLE}/s is not authorized to perform: glue:GetTable on resource: arn:aws:glue:us-east-1:123456789012:table/flywheel_dev/part_x`,
        }),
      );
    } else if (url.startsWith('/nobucket/')) {
      res.writeHead(404, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>');
    } else if (url.includes('missing')) {
      res.writeHead(404, { 'content-type': 'application/xml' });
      res.end(req.method === 'HEAD' ? undefined : NO_SUCH_KEY);
    } else {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end(req.method === 'HEAD' ? undefined : S3_DENIED(decodeURIComponent(url.split('?')[0]!.replace(/^\/data\//, ''))));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };
const s3Store = () => {
  const client = new S3Client({ region: 'us-east-1', endpoint, credentials, forcePathStyle: true, maxAttempts: 1 });
  nameAccessDenials(client, 's3');
  return new S3ObjectStore(client);
};

test('a 403 on GetObject is AccessDeniedError naming the action, the object and the role; never an absent object', async () => {
  const err = await s3Store()
    .get('data', '_runs/index/jobs/jr_1.json')
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AccessDeniedError);
  const denied = err as AccessDeniedError;
  expect([denied.action, denied.resource, denied.principal]).toEqual(['s3:GetObject', 'arn:aws:s3:::data/_runs/index/jobs/jr_1.json', `role ${ROLE}`]);
  // the operator learns a 403 may also be a missing key the role cannot list
  expect(denied.message).toMatch(/S3 also answers 403 for a missing key when the role lacks s3:ListBucket/);
  expect(denied.message).toMatch(/Fix: allow s3:GetObject/);
});

test('a bare 403 to a HEAD is AccessDeniedError too (S3 sends no body to name it)', async () => {
  const err = await s3Store()
    .head('data', 'omc/raw_input/snapshot_dt=2025-10-31/_SUCCESS')
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AccessDeniedError);
  expect((err as AccessDeniedError).action).toBe('s3:GetObject');
});

test('a listing refused names s3:ListBucket and the prefix', async () => {
  const err = await s3Store()
    .list('data', 'omc_cleanroom_data/split_cluster/')
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AccessDeniedError);
  expect([(err as AccessDeniedError).action, (err as AccessDeniedError).resource]).toEqual([
    's3:ListBucket',
    'arn:aws:s3:::data/omc_cleanroom_data/split_cluster/*',
  ]);
});

test('a 404 is still an absent object, through the same client', async () => {
  await expect(s3Store().get('data', 'missing/key.json')).resolves.toBeUndefined();
  await expect(s3Store().head('data', 'missing/key.json')).resolves.toBeUndefined();
});

test('a missing bucket (a deployment error) is an error, not an absent object', async () => {
  await expect(s3Store().get('nobucket', '_runs/infobase/snapshot_dt=2025-10-31/run.json')).rejects.toMatchObject({ name: 'NoSuchBucket' });
});

test('Glue\'s AccessDeniedException names glue:GetTable and the table (and is not "no such table")', async () => {
  const client = new GlueClient({ region: 'us-east-1', endpoint, credentials, maxAttempts: 1 });
  nameAccessDenials(client, 'glue');
  const err = await new GlueCatalog(client).getTable('flywheel_dev', 'part_x').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AccessDeniedError);
  expect([(err as AccessDeniedError).action, (err as AccessDeniedError).resource, (err as AccessDeniedError).principal]).toEqual([
    'glue:GetTable',
    'Glue table flywheel_dev.part_x',
    `role ${ROLE}`,
  ]);
});

test('the AWS composition root builds every client this way', async () => {
  const deps = buildAwsDeps({ ...LAMBDA_ENV, AWS_REGION: 'us-east-1' }, { endpoint, credentials, forcePathStyle: true });
  await expect(deps.store.get('data', '_runs/infobase/snapshot_dt=2025-10-31/run.json')).rejects.toBeInstanceOf(AccessDeniedError);
  await expect(deps.catalog.getTable('flywheel_dev', 'part_x')).rejects.toBeInstanceOf(AccessDeniedError);
});
