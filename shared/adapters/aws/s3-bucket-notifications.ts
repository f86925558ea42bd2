/** BucketNotifications over S3: the notification configuration read and written whole, destinations not re-validated. */
import { GetBucketNotificationConfigurationCommand, PutBucketNotificationConfigurationCommand, type S3Client } from '@aws-sdk/client-s3';
import type { BucketNotificationConfig, BucketNotifications } from '../../ports.js';

export class S3BucketNotifications implements BucketNotifications {
  constructor(private readonly s3: S3Client) {}

  async get(bucket: string): Promise<BucketNotificationConfig> {
    const { $metadata: _, EventBridgeConfiguration, ...others } = await this.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
    const kept = Object.fromEntries(Object.entries(others).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0)));
    return { eventBridge: EventBridgeConfiguration !== undefined, others: kept };
  }

  async put(bucket: string, config: BucketNotificationConfig): Promise<void> {
    await this.s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: bucket,
        NotificationConfiguration: { ...config.others, ...(config.eventBridge ? { EventBridgeConfiguration: {} } : {}) },
        // the bucket's other destinations are written back as they are: S3 does not test-message them again
        SkipDestinationValidation: true,
      }),
    );
  }
}
