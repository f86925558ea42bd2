/**
 * serverless.yml helper: one AWS::SNS::Subscription (protocol email) per address of the stage
 * param `alertEmails` (a comma list). CloudFormation has no loop the osls schema accepts
 * (Fn::ForEach is rejected by its validation), so the list is expanded while packaging.
 * CommonJS because osls `require`s variable files.
 */
'use strict';

const { createHash } = require('node:crypto');

const EMAIL = /^[^\s@,]+@[^\s@,]+\.[^\s@,]+$/;

/**
 * Logical id stable per address (adding or removing one address never replaces the others' subscriptions,
 * which would send every subscriber a new confirmation e-mail); the hash keeps `a.b@x` and `ab@x` apart.
 */
function logicalId(email) {
  const readable = email.replace(/[^A-Za-z0-9]/g, '').slice(0, 60);
  const hash = createHash('sha256').update(email.toLowerCase()).digest('hex').slice(0, 8);
  return `AlertSubscription${readable}${hash}`;
}

/** A resources fragment `{ Resources: { AlertSubscription…: … } }` for the addresses in `alertEmails`. */
module.exports.fragment = async ({ resolveVariable }) => {
  const list = (await resolveVariable("param:alertEmails, ''")) ?? '';
  const emails = [
    ...new Set(
      String(list)
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean),
    ),
  ];
  if (emails.length === 0) {
    const stage = await resolveVariable('sls:stage');
    throw new Error(`alertEmails is not set for stage ${stage}: pass --param="alertEmails=a@example.org,b@example.org"`);
  }
  const invalid = emails.filter((e) => !EMAIL.test(e));
  if (invalid.length) throw new Error(`alertEmails has invalid address(es): ${invalid.join(', ')}`);
  const Resources = {};
  for (const email of emails) {
    Resources[logicalId(email)] = {
      Type: 'AWS::SNS::Subscription',
      Properties: { TopicArn: { Ref: 'AlertTopic' }, Protocol: 'email', Endpoint: email },
    };
  }
  return { Resources };
};
