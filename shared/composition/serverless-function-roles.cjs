/**
 * serverless.yml plugin: one IAM role per function, built from the function's `iamRoleStatements`
 * and what the Lambda service itself does with that role, and nothing else:
 * - its own log group: logs:CreateLogStream and logs:PutLogEvents (CloudFormation creates the group);
 * - X-Ray (xray:PutTraceSegments, xray:PutTelemetryRecords on "*", the only resource X-Ray takes)
 *   when the function is traced: without it Lambda refuses to create a traced function;
 * - its own `destinations.onFailure` queue: sqs:SendMessage on that queue alone;
 * - `provider.iam.role.statements`, the statements every function shares (unless it sets `sharedIamRoleStatements: false`);
 * - the function's `iamRoleStatements`; an item may be `!If [Condition, statement, !Ref AWS::NoValue]`, a
 *   statement the role holds only under a template condition (the data monitor's compare database).
 * Every function gets a role, so the framework creates no default role. It replaces
 * serverless-iam-roles-per-function, whose roles leave out the X-Ray statement (its issues #28 and
 * #39, closed without a fix) and which keeps an unused default role in the stack as its template.
 * test/iam proves each role against the calls of the function's code. CommonJS: osls `require`s plugins.
 */
'use strict';

const ROLE_SUFFIX = 'IamRoleLambdaExecution';

class FunctionRoles {
  constructor(serverless) {
    this.serverless = serverless;
    this.provider = serverless.getProvider('aws');
    serverless.configSchemaHandler.defineFunctionProperties('aws', {
      properties: {
        iamRoleStatements: {
          type: 'array',
          // a statement, or `!If [Condition, statement, !Ref AWS::NoValue]`: one the stack holds only under a condition
          items: {
            anyOf: [
              { $ref: '#/definitions/awsIamPolicyStatements/items' },
              {
                type: 'object',
                properties: { 'Fn::If': { type: 'array', minItems: 3, maxItems: 3 } },
                required: ['Fn::If'],
                additionalProperties: false,
              },
            ],
          },
        },
        sharedIamRoleStatements: { type: 'boolean' },
      },
    });
    this.hooks = {
      'before:package:setupProviderConfiguration': () => this.assignRoles(),
      'package:compileEvents': () => this.compileRoles(),
    };
  }

  /** Logical id of a function's role (the same ids serverless-iam-roles-per-function used). */
  roleId(name) {
    return `${this.provider.naming.getNormalizedFunctionName(name)}${ROLE_SUFFIX}`;
  }

  functions() {
    const service = this.serverless.service;
    return service.getAllFunctions().map((name) => ({ name, fn: service.getFunction(name) }));
  }

  /** Every function names its role before the framework compiles functions, so it builds no default role. */
  assignRoles() {
    for (const { name, fn } of this.functions()) {
      if (fn.role) throw new this.serverless.classes.Error(`function ${name} sets role: give it iamRoleStatements instead (one role per function)`);
      if (!Array.isArray(fn.iamRoleStatements))
        throw new this.serverless.classes.Error(`function ${name} has no iamRoleStatements: every function states its own permissions`);
      fn.role = this.roleId(name);
    }
  }

  compileRoles() {
    const service = this.serverless.service;
    const resources = service.provider.compiledCloudFormationTemplate.Resources;
    const shared = service.provider.iam?.role?.statements ?? [];
    for (const { name, fn } of this.functions()) {
      const roleId = this.roleId(name);
      const logGroup = this.provider.naming.getLogGroupName(fn.name);
      const logs = (suffix) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:${logGroup}${suffix}` });
      const statements = [
        { Sid: 'OwnLogGroup', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: [logs(':*'), logs(':log-stream:*')] },
      ];
      if (fn.tracing || service.provider.tracing?.lambda) {
        statements.push({ Sid: 'XRayTraces', Effect: 'Allow', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: '*' });
      }
      const onFailure = fn.destinations?.onFailure;
      if (onFailure) {
        if (typeof onFailure !== 'object' || onFailure.type !== 'sqs')
          throw new this.serverless.classes.Error(`function ${name}: only an sqs onFailure destination ({ type: sqs, arn }) is supported`);
        statements.push({ Sid: 'OwnDeadLetters', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: onFailure.arn });
      }
      statements.push(...(fn.sharedIamRoleStatements === false ? [] : shared), ...fn.iamRoleStatements);
      const nameParts = [service.service, this.provider.getStage(), name, { Ref: 'AWS::Region' }, 'lambdaRole'];
      resources[roleId] = {
        Type: 'AWS::IAM::Role',
        Properties: {
          RoleName: { 'Fn::Join': ['-', nameParts] },
          Path: '/',
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { Service: ['lambda.amazonaws.com'] }, Action: ['sts:AssumeRole'] }],
          },
          Policies: [
            { PolicyName: `${service.service}-${this.provider.getStage()}-${name}`, PolicyDocument: { Version: '2012-10-17', Statement: statements } },
          ],
        },
      };
      // the Role's GetAtt already orders the function after its role: the framework's DependsOn repeats it
      const compiled = resources[this.provider.naming.getLambdaLogicalId(name)];
      if (Array.isArray(compiled?.DependsOn)) {
        compiled.DependsOn = compiled.DependsOn.filter((d) => d !== roleId);
        if (compiled.DependsOn.length === 0) delete compiled.DependsOn;
      }
    }
  }
}

module.exports = FunctionRoles;
