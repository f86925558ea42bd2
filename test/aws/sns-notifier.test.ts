// SnsNotifier against a mocked SNS client: subject limits, message, String attributes.
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { MAX_MESSAGE_BYTES, SnsNotifier, snsMessage, snsSubject } from '../../shared/adapters/aws/sns-notifier.js';

const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:us-east-1:000000000000:flywheel-dev-alerts';
const notifier = new SnsNotifier(new SNSClient({ region: 'us-east-1' }), { topicArn: TOPIC });
beforeEach(() => sns.reset());

test('publishes subject, message and attributes as String message attributes', async () => {
  sns.on(PublishCommand).resolves({ MessageId: '567910cd-659e-55d4-8ccb-5aaf14679dc0' });
  await notifier.publish({ subject: '[DATA MONITOR] db part_* — 3 issue(s)', body: 'b', attributes: { stage: 'data-monitor', snapshot_dt: '' } });
  expect(sns).toHaveReceivedCommandWith(PublishCommand, {
    TopicArn: TOPIC,
    Subject: '[DATA MONITOR] db part_* - 3 issue(s)',
    Message: 'b',
    MessageAttributes: { stage: { DataType: 'String', StringValue: 'data-monitor' } },
  });
});

test('the subject is printable ASCII on one line and less than 100 characters', () => {
  const long = snsSubject(`FAILED\r\n${'é'.repeat(200)}`);
  expect(long).toHaveLength(99);
  expect(long).toMatch(/^FAILED \?+\.\.\.$/);
  expect(snsSubject('x'.repeat(99))).toBe('x'.repeat(99));
  expect(snsSubject('x'.repeat(100))).toHaveLength(99);
  expect(snsSubject('\ttabs\tand  spaces\n')).toBe('tabs and spaces');
});

test('an empty subject is left out; an empty body still sends a message', async () => {
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
  await notifier.publish({ subject: ' \n ', body: '' });
  const input = sns.commandCalls(PublishCommand)[0]!.args[0].input;
  expect(input).not.toHaveProperty('Subject');
  expect(input.Message).toBe('(no details)');
});

test('a body over the size limit is cut on a character boundary, saying so', () => {
  const body = 'ü'.repeat(200 * 1024); // 400 KiB of two-byte characters
  const message = snsMessage(body);
  expect(Buffer.byteLength(message)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
  expect(message).toMatch(/^ü+\n\n\[message truncated: 409600 bytes exceed SNS's 256 KB limit\]$/);
  expect(snsMessage('short')).toBe('short');
});
