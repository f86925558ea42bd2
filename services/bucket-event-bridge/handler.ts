/** Lambda entry of bucketEventBridge: the S3 notification port, Powertools logging context, then the handler. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { awsBucketEventBridgeDeps } from '../../shared/composition/aws.js';
import { makeBucketEventBridgeHandler } from './bucket-event-bridge.js';
import { respondOverHttps } from './cfn-response.js';

const deps = awsBucketEventBridgeDeps();

export const handler = middy(makeBucketEventBridgeHandler(deps, respondOverHttps)).use(injectLambdaContext(deps.logger, { resetKeys: true }));
