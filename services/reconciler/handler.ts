/** Lambda entry of reconciler: the AWS deps, Powertools logging context, then the handler shared with local mode. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { awsDeps } from '../../shared/composition/aws.js';
import { makeReconcilerHandler } from './reconciler.js';

const deps = awsDeps();

export const handler = middy(makeReconcilerHandler(deps)).use(injectLambdaContext(deps.logger, { resetKeys: true }));
