/** Lambda entry of cleanrooms-report: the AWS deps and directory, Powertools logging context, then the handler shared with local mode. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { awsDeps } from '../../shared/composition/aws.js';
import { awsCleanroomsDirectory, cleanroomsDefaultsFromEnv } from '../../shared/composition/aws-cleanrooms.js';
import { makeCleanroomsReportHandler } from './cleanrooms-report.js';

const deps = awsDeps();

export const handler = middy(makeCleanroomsReportHandler(deps, awsCleanroomsDirectory(), cleanroomsDefaultsFromEnv())).use(
  injectLambdaContext(deps.logger, { resetKeys: true }),
);
