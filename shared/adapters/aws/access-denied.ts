/**
 * AWS's access-denied answers as AccessDeniedError: the IAM action, the resource and the role to
 * change, whichever client raised it. An SDK middleware on every client of the composition root, so
 * no adapter can mistake a denial for something else (S3 answers 403 both for a forbidden object and,
 * to a role without s3:ListBucket, for a missing one: never read as "absent").
 */
import type { HandlerExecutionContext, MiddlewareStack } from '@smithy/types';
import { AccessDeniedError } from '../../ports.js';

const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'AuthorizationError', 'AuthorizationErrorException', 'Forbidden', 'UnauthorizedOperation']);

/** S3 operations whose IAM action is not their name. */
const S3_ACTION: Record<string, string> = {
  ListObjectsV2: 's3:ListBucket',
  ListObjects: 's3:ListBucket',
  HeadObject: 's3:GetObject',
  DeleteObjects: 's3:DeleteObject',
  CopyObject: 's3:PutObject',
};

interface Failure {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Whether an SDK error is AWS refusing the caller's permissions. */
export function isAccessDenied(err: unknown, service?: string): boolean {
  const e = err as Failure | undefined;
  if (!e || typeof e !== 'object') return false;
  if (e.name && DENIED.has(e.name)) return true;
  // S3 answers HEAD with a bare 403 (no body to name it)
  return service === 's3' && e.$metadata?.httpStatusCode === 403 && !/Signature|Token|AccessKey/.test(e.name ?? '');
}

/** The IAM action of an SDK command of a service (`s3`, `glue`, `athena`, `sns`, `events`, …). */
export function iamAction(service: string, commandName: string): string {
  const op = commandName.replace(/Command$/, '');
  return service === 's3' ? (S3_ACTION[op] ?? `s3:${op}`) : `${service}:${op}`;
}

/** The resource a command's input names, as an operator reads it. */
export function resourceOf(service: string, input: Record<string, unknown>): string {
  const s = (k: string) => (typeof input[k] === 'string' ? (input[k] as string) : undefined);
  switch (service) {
    case 's3': {
      const key = s('Key') ?? (s('Prefix') !== undefined ? `${s('Prefix')}*` : undefined);
      return `arn:aws:s3:::${s('Bucket') ?? '?'}${key !== undefined ? `/${key}` : ''}${s('CopySource') ? ` (copied from ${s('CopySource')})` : ''}`;
    }
    case 'glue':
      if (s('JobName')) return `Glue job ${s('JobName')}`;
      return `Glue table ${s('DatabaseName') ?? '?'}.${s('TableName') ?? s('Name') ?? (input.TableInput as { Name?: string } | undefined)?.Name ?? '*'}`;
    case 'athena':
      return s('WorkGroup') ? `Athena workgroup ${s('WorkGroup')}` : `Athena query ${s('QueryExecutionId') ?? '?'}`;
    case 'sns':
      return s('TopicArn') ?? 'an SNS topic';
    case 'events':
      return `event bus ${(input.Entries as Array<{ EventBusName?: string }> | undefined)?.[0]?.EventBusName ?? 'default'}`;
    default:
      return `${service} resource`;
  }
}

/** Whose permissions: the role AWS names in its message, else the function's execution role. */
export function principalOf(message: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const assumed = /assumed-role\/([^/\s]+)/.exec(message ?? '');
  if (assumed) return `role ${assumed[1]}`;
  const user = /User: (arn:\S+)/.exec(message ?? '');
  if (user) return user[1]!;
  return env.AWS_LAMBDA_FUNCTION_NAME ? `the execution role of function ${env.AWS_LAMBDA_FUNCTION_NAME}` : 'these credentials';
}

/**
 * Adds the middleware to a client: its access-denied errors are rethrown as AccessDeniedError (the original
 * as `cause`). `env` is the function's (it names the execution role when AWS's message names none).
 */
// biome-ignore lint/suspicious/noExplicitAny: any client's stack (MiddlewareStack is invariant in its input and output types)
export function nameAccessDenials(client: { middlewareStack: MiddlewareStack<any, any> }, service: string, env: NodeJS.ProcessEnv = process.env): void {
  client.middlewareStack.add(
    (next, context: HandlerExecutionContext) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        if (!isAccessDenied(err, service)) throw err;
        const action = iamAction(service, context.commandName ?? 'UnknownCommand');
        const input = (args.input ?? {}) as Record<string, unknown>;
        const message = (err as Failure).message;
        const missing =
          service === 's3' && /^(GetObject|HeadObject)Command$/.test(context.commandName ?? '')
            ? '; S3 also answers 403 for a missing key when the role lacks s3:ListBucket on the bucket'
            : '';
        const fix = `${message ? `AWS: ${message.slice(0, 300)}${missing}. ` : missing ? `${missing.slice(2)}. ` : ''}Fix: allow ${action} on it in the role's statements (serverless.yml iamRoleStatements)`;
        throw Object.assign(new AccessDeniedError(action, resourceOf(service, input), principalOf(message, env), fix), { cause: err });
      }
    },
    { step: 'initialize', name: 'flywheelNameAccessDenials', override: true },
  );
}
