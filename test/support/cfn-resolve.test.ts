/** cfn-resolve.ts on a small template: each intrinsic form, physical names, conditions, and what it refuses. */
import { listPolicyDocuments, physicalName, resolveIntrinsics, unresolvedParts, type Template } from './cfn-resolve.js';

const template: Template = {
  Parameters: { Env: { Type: 'String', Default: 'dev' }, Names: { Type: 'CommaDelimitedList', Default: 'a,b' } },
  Mappings: { Sizes: { dev: { Workers: 2 } } },
  Conditions: {
    IsDev: { 'Fn::Equals': [{ Ref: 'Env' }, 'dev'] },
    IsProd: { 'Fn::Not': [{ Condition: 'IsDev' }] },
    Unknown: { 'Fn::Equals': [{ 'Fn::ImportValue': 'x' }, 'y'] },
  },
  Resources: {
    Data: { Type: 'AWS::S3::Bucket', Properties: { BucketName: { 'Fn::Sub': 'flywheel-${Env}-data' } } },
    Unnamed: { Type: 'AWS::S3::Bucket' },
    Dlq: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'q-dlq' } },
    Topic: { Type: 'AWS::SNS::Topic', Properties: { TopicName: 'alerts' } },
    Key: {
      Type: 'AWS::KMS::Key',
      Properties: {
        KeyPolicy: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } }, Action: 'kms:*', Resource: '*' },
          ],
        },
      },
    },
    Db: { Type: 'AWS::Glue::Database', Properties: { DatabaseInput: { Name: 'flywheel_dev' } } },
    Job: { Type: 'AWS::Glue::Job', Properties: { Name: 'split' } },
    Wg: { Type: 'AWS::Athena::WorkGroup', Properties: { Name: 'wg' } },
    Bus: { Type: 'AWS::Events::EventBus', Properties: { Name: 'bus' } },
    Role: {
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: 'r',
        Policies: [
          {
            PolicyName: 'p',
            PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: { 'Fn::Sub': '${Data.Arn}/*' } }] },
          },
          { 'Fn::If': ['IsProd', { PolicyName: 'prod-only', PolicyDocument: {} }, { Ref: 'AWS::NoValue' }] },
        ],
      },
    },
    TopicPolicy: {
      Type: 'AWS::SNS::TopicPolicy',
      Properties: {
        Topics: [{ Ref: 'Topic' }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish', Resource: { Ref: 'Topic' } }],
        },
      },
    },
  },
};
const r = (v: unknown) => resolveIntrinsics(template, v);

test('pseudo parameters, parameters, Ref and GetAtt of each resource kind', () => {
  expect(r({ 'Fn::Sub': 'arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:job/${Job}' })).toBe('arn:aws:glue:us-east-1:123456789012:job/split');
  expect(r({ Ref: 'Data' })).toBe('flywheel-dev-data');
  expect(r({ 'Fn::GetAtt': ['Data', 'Arn'] })).toBe('arn:aws:s3:::flywheel-dev-data');
  expect(r({ 'Fn::Sub': '${Data.Arn}/_runs/*' })).toBe('arn:aws:s3:::flywheel-dev-data/_runs/*');
  expect(r({ Ref: 'Unnamed' })).toBe('stack-unnamed-generated');
  expect(r({ Ref: 'Dlq' })).toBe('https://sqs.us-east-1.amazonaws.com/123456789012/q-dlq');
  expect(r({ 'Fn::GetAtt': ['Dlq', 'Arn'] })).toBe('arn:aws:sqs:us-east-1:123456789012:q-dlq');
  expect(r({ Ref: 'Topic' })).toBe('arn:aws:sns:us-east-1:123456789012:alerts');
  expect(r({ 'Fn::GetAtt': ['Key', 'Arn'] })).toBe('arn:aws:kms:us-east-1:123456789012:key/Key');
  expect(r({ Ref: 'Db' })).toBe('flywheel_dev');
  expect(r({ Ref: 'Wg' })).toBe('wg');
  expect(r({ 'Fn::GetAtt': 'Bus.Name' })).toBe('bus');
  expect(r({ 'Fn::GetAtt': ['Bus', 'Arn'] })).toBe('arn:aws:events:us-east-1:123456789012:event-bus/bus');
  expect(r({ 'Fn::GetAtt': ['Role', 'Arn'] })).toBe('arn:aws:iam::123456789012:role/r');
  expect(physicalName(template, 'Unnamed', { stackName: 'flywheel-dev' })).toBe('flywheel-dev-unnamed-generated');
  expect(resolveIntrinsics(template, { Ref: 'AWS::Region' }, { region: 'eu-west-1' })).toBe('eu-west-1');
});

test('Join, Select, Split, FindInMap, Sub variables and escapes, list parameters', () => {
  expect(r({ 'Fn::Join': ['-', ['a', { Ref: 'Env' }, { Ref: 'AWS::Region' }]] })).toBe('a-dev-us-east-1');
  expect(r({ 'Fn::Select': [1, { Ref: 'Names' }] })).toBe('b');
  expect(r({ 'Fn::Split': [',', 'x,y'] })).toEqual(['x', 'y']);
  expect(r({ 'Fn::FindInMap': ['Sizes', { Ref: 'Env' }, 'Workers'] })).toBe(2);
  expect(r({ 'Fn::Sub': ['${Prefix}/${!aws:username}', { Prefix: { Ref: 'Data' } }] })).toBe('flywheel-dev-data/${aws:username}');
});

test('Fn::If follows a decidable condition, takes the true branch otherwise, and AWS::NoValue drops the element', () => {
  expect(r({ 'Fn::If': ['IsDev', 'yes', 'no'] })).toBe('yes');
  expect(r({ 'Fn::If': ['IsProd', 'yes', 'no'] })).toBe('no');
  expect(r({ 'Fn::If': ['Unknown', 'yes', 'no'] })).toBe('yes');
  expect(r(['a', { 'Fn::If': ['IsProd', 'b', { Ref: 'AWS::NoValue' }] }])).toEqual(['a']);
  expect(resolveIntrinsics(template, { 'Fn::If': ['IsDev', 'yes', 'no'] }, { parameters: { Env: 'prod' } })).toBe('no');
});

test('what cannot be resolved throws, naming it', () => {
  expect(() => r({ Ref: 'Nothing' })).toThrow(/Ref to Nothing/);
  expect(() => r({ 'Fn::GetAtt': ['Job', 'Bogus'] })).toThrow(/Job\.Bogus/);
  expect(() => r({ 'Fn::Sub': '${Nope}' })).toThrow(/\$\{Nope\}/);
  expect(() => r({ 'Fn::ImportValue': 'x' })).toThrow(/ImportValue/);
});

test('listPolicyDocuments: identity and resource policies, located, resolved, Fn::If-dropped policies left out', () => {
  const docs = listPolicyDocuments(template);
  expect(docs.map(({ where, kind, policyName }) => ({ where, kind, policyName }))).toEqual([
    { where: 'Key/KeyPolicy', kind: 'resource', policyName: undefined },
    { where: 'Role/Policies[0]', kind: 'identity', policyName: 'p' },
    { where: 'TopicPolicy/PolicyDocument', kind: 'resource', policyName: undefined },
  ]);
  expect(docs[1]!.document).toEqual({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::flywheel-dev-data/*' }],
  });
  expect(docs.flatMap((d) => unresolvedParts(d.document))).toEqual([]);
  expect(unresolvedParts({ a: [{ Ref: 'X' }], b: 'arn:${AWS::Region}', c: '${aws:username}/${*}', d: '${Data.Arn}' })).toEqual([
    '$.a[0].Ref',
    '$.b: arn:${AWS::Region}',
    '$.d: ${Data.Arn}',
  ]);
});
