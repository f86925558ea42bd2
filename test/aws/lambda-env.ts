/** What the Lambda entries need in tests: the environment serverless.yml gives them, a context, the sample events. */
import { readFileSync } from 'node:fs';

export const LAMBDA_ENV = {
  DATA_BUCKET: 'data',
  ANALYSIS_BUCKET: 'analysis',
  GLUE_DATABASE: 'flywheel_dev',
  SPLIT_JOB_NAME: 'flywheel-dev-infobase-split-and-bucket',
  ADDRESSABLE_JOB_NAME: 'flywheel-dev-addressable-bucket',
  ATHENA_WORKGROUP: 'flywheel-dev',
  MONITOR_WORKGROUP: 'flywheel-dev-monitor',
  EVENT_BUS_NAME: 'flywheel-dev',
  ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:flywheel-dev-alerts',
  AWS_REGION: 'us-east-1',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
};

export const lambdaContext = { functionName: 'fn', awsRequestId: 'req', getRemainingTimeInMillis: () => 60000 } as never;

/** One of events/*.json. */
export const sample = (name: string) => JSON.parse(readFileSync(new URL(`../../events/${name}`, import.meta.url), 'utf8')) as Record<string, any>;
