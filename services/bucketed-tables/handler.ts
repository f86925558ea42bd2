/** Lambda entry of bucketed-tables: the AWS deps, Powertools logging context, then the handler shared with local mode. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { awsDeps } from '../../shared/composition/aws.js';
import { makeBucketedTablesHandler } from './bucketed-tables.js';

const deps = awsDeps();

export const handler = middy(makeBucketedTablesHandler(deps)).use(injectLambdaContext(deps.logger, { resetKeys: true }));
