/**
 * serverless.yml helper: what failure looks like in operations, for every function.
 * - a dead-letter queue per function (SSE-SQS) that receives Lambda async failures (after the function's
 *   retries) and events EventBridge could not deliver (after the targets' retry policy);
 * - a queue policy letting the project's EventBridge rules send to it;
 * - a CloudWatch alarm per queue, and one on split-job task failures, notifying the alert topic.
 * CommonJS because osls `require`s variable files.
 */
'use strict';

/** The functions (serverless.yml names): keep in step with `functions:` (the template test checks). */
const FUNCTIONS = [
  'snapshotTrigger',
  'registerStagedTables',
  'bucketedTables',
  'replay',
  'reconciler',
  'dataMonitor',
  'compaction',
  'chargebacks',
  'cleanroomsReport',
];
const cap = (s) => s[0].toUpperCase() + s.slice(1);

module.exports.functions = FUNCTIONS;

/** Logical id of a function's dead-letter queue. */
module.exports.queueId = (fn) => `${cap(fn)}DeadLetterQueue`;

module.exports.fragment = async ({ resolveVariable }) => {
  const service = await resolveVariable('self:service');
  const stage = await resolveVariable('sls:stage');
  const Resources = {};
  for (const fn of FUNCTIONS) {
    const queue = module.exports.queueId(fn);
    Resources[queue] = {
      Type: 'AWS::SQS::Queue',
      Properties: { QueueName: `${service}-${stage}-${fn}-dlq`, MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true },
    };
    Resources[`${queue}Policy`] = {
      Type: 'AWS::SQS::QueuePolicy',
      Properties: {
        Queues: [{ Ref: queue }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'ProjectRulesDeadLetters',
              Effect: 'Allow',
              Principal: { Service: 'events.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Resource: { 'Fn::GetAtt': [queue, 'Arn'] },
              Condition: {
                ArnLike: { 'aws:SourceArn': { 'Fn::Sub': `arn:\${AWS::Partition}:events:\${AWS::Region}:\${AWS::AccountId}:rule/*${service}-${stage}-*` } },
              },
            },
          ],
        },
      },
    };
    Resources[`${queue}Alarm`] = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${service}-${stage}-${fn}-dead-letters`,
        AlarmDescription: `${fn} failed on an event after its retries; the event is in ${service}-${stage}-${fn}-dlq. Read it, fix the cause, replay (README: Operating Flywheel).`,
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
        Statistic: 'Maximum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: 'AlertTopic' }],
      },
    };
  }
  Resources.SplitJobFailureAlarm = {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: `${service}-${stage}-split-job-failed-tasks`,
      AlarmDescription:
        'The split-and-bucket Glue job reported failed tasks (--enable-metrics). The run ledger and the Stage Failed alert name the snapshot; replay it once fixed.',
      Namespace: 'Glue',
      MetricName: 'glue.driver.aggregate.numFailedTasks',
      Dimensions: [
        { Name: 'JobName', Value: { Ref: 'SplitJob' } },
        { Name: 'JobRunId', Value: 'ALL' },
        { Name: 'Type', Value: 'count' },
      ],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: 'AlertTopic' }],
    },
  };
  return { Resources };
};
