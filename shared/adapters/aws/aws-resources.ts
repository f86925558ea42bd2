/** What an AWS adapter's IAM actions are authorised on: the resources of one deployment (shared/adapters/aws/iam.ts). */

/** The deployed resources a deployment's grants name, resolved from its template. */
export interface AwsResources {
  partition: string;
  region: string;
  accountId: string;
  /** The SSE-KMS key of a bucket's default encryption (absent: SSE-S3, no key needed). */
  bucketKeys: Record<string, string | undefined>;
  topic: { arn: string; key?: string };
  busArn: string;
  /** Glue job name of each port job (dataset or maintenance job). */
  jobNames: Record<string, string | undefined>;
  workgroups: Record<'engine' | 'monitorEngine', { name: string; results: { bucket: string; prefix: string } }>;
}
