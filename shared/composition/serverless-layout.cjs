/**
 * The dataset layout (shared/domain/layout.ts) for serverless.yml:
 * `${file(./shared/composition/serverless-layout.cjs):datasets.infobase.rawPrefix}` resolves to that value, so the
 * custom: values its IAM statements, crawlers and environment use are the ones the code reads. CommonJS because
 * osls `require`s variable files; tsx loads the TypeScript source without a build step (as serverless-patterns.cjs).
 */
'use strict';

const { require: requireTs } = require('tsx/cjs/api');

module.exports = requireTs('../domain/layout.ts', __filename).LAYOUT;
