/**
 * serverless.yml helper: stage parameters checked while packaging, so a bad value fails `serverless package`
 * naming the parameter instead of every function at its first run.
 * `${file(./shared/composition/serverless-settings.cjs):bucketCount}` resolves to the stage parameter bucketCount
 * once it is a bucket count every engine computes the same way (shared/domain/bucket.ts: a power of two from 2 to
 * 256). CommonJS because osls `require`s variable files; tsx loads the TypeScript source.
 */
'use strict';

const { require: requireTs } = require('tsx/cjs/api');

const { checkedBucketCount } = requireTs('../domain/bucket.ts', __filename);

module.exports.bucketCount = async ({ resolveVariable }) => {
  return String(checkedBucketCount(String(await resolveVariable('param:bucketCount')), 'stage parameter bucketCount'));
};
