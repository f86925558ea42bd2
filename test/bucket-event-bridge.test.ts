/**
 * The custom resource that turns on S3 → EventBridge delivery of an adopted data bucket (shared/use-cases/
 * bucket-event-bridge.ts, services/bucket-event-bridge/): the bucket's other notifications are kept, Delete undoes
 * only what the stack did, and CloudFormation always gets an answer.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { BucketNotificationConfig, BucketNotifications } from '../shared/ports.js';
import { makeBucketEventBridge, parsePhysicalId } from '../shared/use-cases/bucket-event-bridge.js';
import { makeBucketEventBridgeHandler } from '../services/bucket-event-bridge/bucket-event-bridge.js';
import type { CfnResponse } from '../services/bucket-event-bridge/cfn-response.js';

/** Buckets' notification configurations in memory, with every write recorded. */
class FakeNotifications implements BucketNotifications {
  readonly puts: Array<{ bucket: string; config: BucketNotificationConfig }> = [];
  constructor(readonly configs: Record<string, BucketNotificationConfig>) {}
  async get(bucket: string) {
    const c = this.configs[bucket];
    if (!c) throw new Error(`NoSuchBucket: ${bucket}`);
    return structuredClone(c);
  }
  async put(bucket: string, config: BucketNotificationConfig) {
    this.puts.push({ bucket, config: structuredClone(config) });
    this.configs[bucket] = structuredClone(config);
  }
}

const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
const QUEUE = { QueueConfigurations: [{ Id: 'existing-consumer', QueueArn: 'arn:aws:sqs:us-east-1:123456789012:q', Events: ['s3:ObjectCreated:*'] }] };

describe('the use case', () => {
  test('Create turns EventBridge on and writes the other notifications back unchanged; Delete turns it off, keeping them', async () => {
    const n = new FakeNotifications({ data: { eventBridge: false, others: QUEUE } });
    const onRequest = makeBucketEventBridge({ notifications: n, logger });
    const id = await onRequest({ type: 'Create', bucket: 'data' });
    expect(parsePhysicalId(id)).toEqual({ bucket: 'data', enabledByStack: true });
    expect(n.configs.data).toEqual({ eventBridge: true, others: QUEUE });
    await onRequest({ type: 'Delete', physicalId: id });
    expect(n.configs.data).toEqual({ eventBridge: false, others: QUEUE });
    expect(n.puts).toHaveLength(2);
  });

  test('a bucket that already sends to EventBridge is not written, and Delete leaves it on', async () => {
    const n = new FakeNotifications({ data: { eventBridge: true, others: QUEUE } });
    const onRequest = makeBucketEventBridge({ notifications: n, logger });
    const id = await onRequest({ type: 'Create', bucket: 'data' });
    expect(parsePhysicalId(id)).toEqual({ bucket: 'data', enabledByStack: false });
    await onRequest({ type: 'Delete', physicalId: id });
    expect(n.configs.data).toEqual({ eventBridge: true, others: QUEUE });
    expect(n.puts).toEqual([]);
  });

  test('Update to another bucket enables that one under a new id (CloudFormation then deletes the old); the same bucket keeps its id', async () => {
    const n = new FakeNotifications({ a: { eventBridge: false, others: {} }, b: { eventBridge: false, others: QUEUE } });
    const onRequest = makeBucketEventBridge({ notifications: n, logger });
    const first = await onRequest({ type: 'Create', bucket: 'a' });
    expect(await onRequest({ type: 'Update', bucket: 'a', physicalId: first })).toBe(first);
    const second = await onRequest({ type: 'Update', bucket: 'b', physicalId: first });
    expect(parsePhysicalId(second)).toEqual({ bucket: 'b', enabledByStack: true });
    expect(n.configs.b).toEqual({ eventBridge: true, others: QUEUE });
    await onRequest({ type: 'Delete', physicalId: first });
    expect(n.configs.a!.eventBridge).toBe(false);
  });

  test('Delete of an id it never returned (a failed Create) changes nothing', async () => {
    const n = new FakeNotifications({ data: { eventBridge: true, others: {} } });
    await makeBucketEventBridge({ notifications: n, logger })({ type: 'Delete', physicalId: 'DataBucketEventBridge/failed' });
    expect(n.puts).toEqual([]);
  });
});

describe('the handler', () => {
  const request = (over: Record<string, unknown> = {}) => ({
    RequestType: 'Create',
    ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:f',
    ResponseURL: 'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?sig=1',
    StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/flywheel-dev/1',
    RequestId: 'r-1',
    LogicalResourceId: 'DataBucketEventBridge',
    ResourceType: 'Custom::BucketEventBridge',
    ResourceProperties: { ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:f', BucketName: 'data' },
    ...over,
  });
  const run = async (notifications: BucketNotifications, event: unknown) => {
    const answers: Array<{ url: string; response: CfnResponse }> = [];
    const handler = makeBucketEventBridgeHandler({ notifications, logger }, async (url, response) => {
      answers.push({ url, response });
    });
    await handler(event);
    return answers;
  };

  test('answers SUCCESS on the ResponseURL with the physical id', async () => {
    const answers = await run(new FakeNotifications({ data: { eventBridge: false, others: {} } }), request());
    expect(answers).toEqual([
      {
        url: request().ResponseURL,
        response: expect.objectContaining({ Status: 'SUCCESS', PhysicalResourceId: 'data/eventbridge/enabled-by-stack', RequestId: 'r-1' }),
      },
    ]);
  });

  test('answers FAILED with the reason when S3 refuses, and when the request is invalid', async () => {
    const [failed] = await run(new FakeNotifications({}), request());
    expect(failed!.response).toMatchObject({
      Status: 'FAILED',
      Reason: expect.stringContaining('NoSuchBucket'),
      PhysicalResourceId: 'DataBucketEventBridge/failed',
    });
    const [invalid] = await run(new FakeNotifications({}), request({ ResourceProperties: { ServiceToken: 't' } }));
    expect(invalid!.response).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('BucketName') });
  });

  test('a Delete is answered even when its properties are not valid ones (a Create that failed on them)', async () => {
    const answers = await run(
      new FakeNotifications({}),
      request({ RequestType: 'Delete', PhysicalResourceId: 'DataBucketEventBridge/failed', ResourceProperties: { ServiceToken: 't' } }),
    );
    expect(answers.map((a) => a.response.Status)).toEqual(['SUCCESS']);
  });

  test('an event that is no CloudFormation request gets no answer', async () => {
    expect(await run(new FakeNotifications({}), { bogus: 1 })).toEqual([]);
  });
});
