/** SNS e-mail: a subject SNS accepts, the body as the message, attributes as String message attributes. */
import { PublishCommand, type MessageAttributeValue, type SNSClient } from '@aws-sdk/client-sns';
import type { Notifier } from '../../ports.js';

/** The actions behind publish: on the topic, and on its KMS key when the topic is encrypted. */
export const SNS_ACTIONS = { topic: ['sns:Publish'], key: ['kms:GenerateDataKey', 'kms:Decrypt'] };

/** SNS subjects must be "less than 100 characters", printable ASCII, one line. */
export const MAX_SUBJECT = 99;
/** SNS messages (with their attributes) are at most 256 KB; the body keeps a margin for the attributes. */
export const MAX_MESSAGE_BYTES = 250 * 1024;

/** An SNS-safe subject: printable ASCII on one line, at most 99 characters (cut with `...`). */
export function snsSubject(subject: string): string {
  const ascii = subject
    .replace(/\s+/g, ' ')
    .replace(/[—–]/g, '-')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
  return ascii.length <= MAX_SUBJECT ? ascii : `${ascii.slice(0, MAX_SUBJECT - 3)}...`;
}

/** The body within SNS's size limit, cut on a character boundary with a note saying so. */
export function snsMessage(body: string): string {
  if (body.length === 0) return '(no details)';
  const bytes = Buffer.from(body, 'utf8');
  if (bytes.byteLength <= MAX_MESSAGE_BYTES) return body;
  const note = `\n\n[message truncated: ${bytes.byteLength} bytes exceed SNS's 256 KB limit]`;
  // decoding a cut that splits a character yields U+FFFD at the end: drop it
  const kept = bytes
    .subarray(0, MAX_MESSAGE_BYTES - Buffer.byteLength(note))
    .toString('utf8')
    .replace(/\uFFFD+$/, '');
  return kept + note;
}

/** Notifier over an SNS topic (the client comes from the composition root). */
export class SnsNotifier implements Notifier {
  constructor(
    private readonly client: SNSClient,
    private readonly options: { topicArn: string },
  ) {}

  /** Publishes one message; empty attribute values are left out (SNS rejects them). */
  async publish(message: { subject: string; body: string; attributes?: Record<string, string> }): Promise<void> {
    const subject = snsSubject(message.subject);
    const attributes: Record<string, MessageAttributeValue> = {};
    for (const [name, value] of Object.entries(message.attributes ?? {})) if (value !== '') attributes[name] = { DataType: 'String', StringValue: value };
    await this.client.send(
      new PublishCommand({
        TopicArn: this.options.topicArn,
        ...(subject ? { Subject: subject } : {}),
        Message: snsMessage(message.body),
        MessageAttributes: attributes,
      }),
    );
  }
}
