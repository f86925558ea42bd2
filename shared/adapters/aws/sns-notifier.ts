/** SNS e-mail: the subject within SNS's limit (≤100 ASCII characters, one line), the body as the message. */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Notifier } from '../../ports.js';

/** An SNS-safe subject: printable ASCII, no line breaks, at most 100 characters. */
export function snsSubject(subject: string): string {
  const ascii = subject.replace(/\s+/g, ' ').replace(/[—–]/g, '-').replace(/[^\x20-\x7e]/g, '?').trim();
  return ascii.length <= 100 ? ascii : `${ascii.slice(0, 97)}...`;
}

export class SnsNotifier implements Notifier {
  constructor(private readonly client: SNSClient, private readonly options: { topicArn: string }) {}

  async publish(message: { subject: string; body: string; attributes?: Record<string, string> }): Promise<void> {
    await this.client.send(
      new PublishCommand({
        TopicArn: this.options.topicArn,
        Subject: snsSubject(message.subject),
        Message: message.body,
        MessageAttributes: Object.fromEntries(Object.entries(message.attributes ?? {}).map(([k, v]) => [k, { DataType: 'String', StringValue: v }])),
      }),
    );
  }
}
