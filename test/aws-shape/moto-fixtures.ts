/**
 * Small helpers for the adapter and routing suites on moto (IAM enforcement off): SQS queues to read back
 * what EventBridge and SNS deliver, moto's own control API (Athena results, state transitions), and the
 * packaged template's Glue jobs as moto can hold them.
 *
 * Messages are read with long polls (WaitTimeSeconds), never with sleeps: moto delivers EventBridge and SNS
 * messages to SQS inside the PutEvents / Publish / PutObject call, so a long poll returns as soon as they
 * are there, and the only waiting is the final empty poll that proves nothing more arrived.
 */
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';

const REQUEST_TIMEOUT_MS = 30_000;

export interface Queue {
  name: string;
  url: string;
  arn: string;
}

/** Creates a standard queue (idempotent in SQS for the same attributes) and returns its URL and ARN. */
export async function createQueue(sqs: SQSClient, name: string): Promise<Queue> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  if (!QueueUrl) throw new Error(`CreateQueue ${name} returned no QueueUrl`);
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  const arn = Attributes?.QueueArn;
  if (!arn) throw new Error(`queue ${name} has no QueueArn`);
  return { name, url: QueueUrl, arn };
}

/**
 * Receives (and deletes) messages until `expected` have arrived and one more long poll of `settleSeconds`
 * brings nothing, or until `timeoutMs` passes. Returns what arrived (possibly more or fewer than expected:
 * the caller's assertion says which is wrong).
 */
export async function receiveAll(sqs: SQSClient, queue: Queue, options: { expected: number; timeoutMs?: number; settleSeconds?: number }): Promise<Message[]> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  const settle = options.settleSeconds ?? 1;
  const out: Message[] = [];
  for (;;) {
    const enough = out.length >= options.expected;
    const wait = enough ? settle : Math.max(1, Math.min(10, Math.floor((deadline - Date.now()) / 1000)));
    const res = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queue.url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: wait,
        VisibilityTimeout: 300,
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: AbortSignal.timeout(REQUEST_TIMEOUT_MS + wait * 1000) },
    );
    const got = res.Messages ?? [];
    if (got.length > 0) {
      out.push(...got);
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queue.url, Entries: got.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
      continue;
    }
    if (enough || Date.now() >= deadline) return out;
  }
}

/** The JSON body of each message. */
export function bodies<T = Record<string, unknown>>(messages: Message[]): T[] {
  return messages.map((m) => JSON.parse(m.Body ?? 'null') as T);
}

async function motoApi(endpoint: string, path: string, body: unknown): Promise<void> {
  const response = await fetch(`${endpoint}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`moto ${path} answered ${response.status}: ${text}`);
}

/** One result set as Athena's GetQueryResults returns it: rows of VarCharValue cells (a cell without one is NULL). */
export interface AthenaResult {
  rows: Array<{ Data: Array<{ VarCharValue?: string }> }>;
  column_info: Array<{ Name: string; Type: string; Nullable?: string }>;
}

/**
 * Queues result sets in moto's Athena (POST /moto-api/static/athena/query-results): each StartQueryExecution
 * takes the next one, in order, so queue them right before starting the queries that should get them.
 */
export function queueAthenaResults(endpoint: string, results: AthenaResult[]): Promise<void> {
  return motoApi(endpoint, '/moto-api/static/athena/query-results', { results });
}

/** moto's state manager: how a model (e.g. `glue::job_run`) moves through its states. `manual` advances every `times` reads. */
export function setTransition(
  endpoint: string,
  model: string,
  transition: { progression: 'immediate' } | { progression: 'manual'; times: number },
): Promise<void> {
  return motoApi(endpoint, '/moto-api/state-manager/set-transition', { model_name: model, transition });
}

export function unsetTransition(endpoint: string, model: string): Promise<void> {
  return motoApi(endpoint, '/moto-api/state-manager/unset-transition', { model_name: model });
}
