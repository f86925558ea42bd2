/** Lambda entry of chargebacks: the AWS deps, Powertools logging context, then the handler shared with local mode. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { awsDeps } from '../../shared/composition/aws.js';
import { makeChargebacksHandler } from './chargebacks.js';

const deps = awsDeps();

export const handler = middy(makeChargebacksHandler(deps)).use(injectLambdaContext(deps.logger, { resetKeys: true }));
