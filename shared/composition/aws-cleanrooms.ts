/**
 * The Clean Rooms report's part of the AWS composition root: the Clean Rooms and Entity Resolution
 * clients (once per container), the directory over them, and the report's defaults from the
 * function's environment. Imports nothing local.
 */
import { CleanRoomsClient } from '@aws-sdk/client-cleanrooms';
import { EntityResolutionClient } from '@aws-sdk/client-entityresolution';
import { nameAccessDenials } from '../adapters/aws/access-denied.js';
import { AwsCleanRoomsDirectory } from '../adapters/aws/cleanrooms-directory.js';
import { LAYOUT } from '../domain/layout.js';
import type { CleanRoomsDirectory, CleanroomsReportDefaults } from '../use-cases/cleanrooms-report.js';

export const DEFAULT_TABLE_PREFIX = 'part_';
export const DEFAULT_REPORT_PREFIX = LAYOUT.cleanroomsReportPrefix;

/**
 * CLEANROOMS_MEMBERSHIP_ID (may be left unset when every invocation names `membershipId`),
 * CLEANROOMS_TABLE_PREFIX (default part_), CLEANROOMS_REPORT_BUCKET (default ANALYSIS_BUCKET),
 * CLEANROOMS_REPORT_PREFIX (default: the layout's cleanroomsReportPrefix), GLUE_DATABASE.
 */
export function cleanroomsDefaultsFromEnv(env: NodeJS.ProcessEnv = process.env): CleanroomsReportDefaults {
  const need = (name: string): string => {
    const v = env[name];
    if (!v) throw new Error(`environment variable ${name} is not set (it comes from serverless.yml)`);
    return v;
  };
  const fn = env.AWS_LAMBDA_FUNCTION_NAME ?? 'flywheel-<stage>-cleanroomsReport';
  return {
    ...(env.CLEANROOMS_MEMBERSHIP_ID ? { membershipId: env.CLEANROOMS_MEMBERSHIP_ID } : {}),
    database: need('GLUE_DATABASE'),
    tablePrefix: env.CLEANROOMS_TABLE_PREFIX ?? DEFAULT_TABLE_PREFIX,
    reportBucket: env.CLEANROOMS_REPORT_BUCKET || need('ANALYSIS_BUCKET'),
    reportPrefix: env.CLEANROOMS_REPORT_PREFIX ?? DEFAULT_REPORT_PREFIX,
    rerunCommand: `aws lambda invoke --function-name ${fn} --cli-binary-format raw-in-base64-out --payload '{}' /dev/stdout`,
  };
}

let cached: CleanRoomsDirectory | undefined;

/** The AWS directory, built once per container; Get calls retry throttling up to 5 attempts (the SDK's backoff). */
export function awsCleanroomsDirectory(env: NodeJS.ProcessEnv = process.env): CleanRoomsDirectory {
  if (cached) return cached;
  const region = env.AWS_REGION;
  const cleanrooms = new CleanRoomsClient({ region, maxAttempts: 5 });
  const entityResolution = new EntityResolutionClient({ region, maxAttempts: 5 });
  nameAccessDenials(cleanrooms, 'cleanrooms', env);
  nameAccessDenials(entityResolution, 'entityresolution', env);
  cached = new AwsCleanRoomsDirectory(cleanrooms, entityResolution, { concurrency: 4 });
  return cached;
}
