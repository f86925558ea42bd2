/** Lambda entry of data-monitor: the AWS deps, Powertools logging context, then the handler shared with local mode. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { awsDeps } from '../../shared/composition/aws.js';
import { monitorDeploymentFromEnv } from '../../shared/composition/aws-monitor.js';
import { makeDataMonitorHandler } from './data-monitor.js';

const deps = awsDeps();

export const handler = middy(makeDataMonitorHandler(deps, monitorDeploymentFromEnv())).use(injectLambdaContext(deps.logger, { resetKeys: true }));
