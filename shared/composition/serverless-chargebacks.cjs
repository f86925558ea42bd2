/**
 * serverless.yml helper: the chargebacks schedule, checked against TOTAL_EXECUTIONS while packaging.
 * `${file(./shared/composition/serverless-chargebacks.cjs):schedule}` resolves to the stage parameter
 * chargebacksSchedule once assertScheduleMatches (shared/domain/chargebacks.ts) agrees that it runs
 * chargebacksTotalExecutions times a day, one execution in each window of 24/TOTAL_EXECUTIONS hours (what the
 * function's CHARGEBACKS_TOTAL_EXECUTIONS derives each execution's sequence and day from); otherwise packaging fails
 * naming the disagreement. CommonJS because osls `require`s variable files; tsx loads the TypeScript source.
 */
'use strict';

const { require: requireTs } = require('tsx/cjs/api');

const { assertScheduleMatches } = requireTs('../domain/chargebacks.ts', __filename);

module.exports.schedule = async ({ resolveVariable }) => {
  const [schedule, total] = await Promise.all([resolveVariable('param:chargebacksSchedule'), resolveVariable('param:chargebacksTotalExecutions')]);
  return assertScheduleMatches(String(schedule), Number(total));
};
