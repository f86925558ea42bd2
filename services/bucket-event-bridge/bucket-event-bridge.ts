/**
 * bucketEventBridge handler: the custom resource DataBucketEventBridge (an adopted data bucket only,
 * shared/composition/serverless-adopt.cjs). Every request is answered on its ResponseURL, a failure too, so a
 * stack never waits an hour for an answer that will not come.
 */
import { z } from 'zod';
import type { BucketEventBridgeDeps, BucketEventBridgeRequest } from '../../shared/use-cases/bucket-event-bridge.js';
import { makeBucketEventBridge } from '../../shared/use-cases/bucket-event-bridge.js';
import type { CfnResponse, Respond } from './cfn-response.js';

const Base = z.object({
  ResponseURL: z.url(),
  StackId: z.string().min(1),
  RequestId: z.string().min(1),
  LogicalResourceId: z.string().min(1),
  ResourceType: z.string(),
  ServiceToken: z.string(),
  ResourceProperties: z.object({ ServiceToken: z.string(), BucketName: z.string().min(3) }).strict(),
});
export const BucketEventBridgeEventSchema = z.discriminatedUnion('RequestType', [
  Base.extend({ RequestType: z.literal('Create') }).strict(),
  Base.extend({ RequestType: z.literal('Update'), PhysicalResourceId: z.string().min(1), OldResourceProperties: z.record(z.string(), z.unknown()) }).strict(),
  // a Delete carries the properties it was created with, which may be invalid (a Create that failed on them): not checked
  Base.extend({ RequestType: z.literal('Delete'), PhysicalResourceId: z.string().min(1), ResourceProperties: z.record(z.string(), z.unknown()) }).strict(),
]);

/** The fields needed to answer a request that failed validation, when it has them. */
const Answerable = z.object({
  ResponseURL: z.url(),
  StackId: z.string(),
  RequestId: z.string(),
  LogicalResourceId: z.string(),
  PhysicalResourceId: z.string().optional(),
});

export function makeBucketEventBridgeHandler(deps: BucketEventBridgeDeps, respond: Respond) {
  const onRequest = makeBucketEventBridge(deps);

  return async function bucketEventBridge(event: unknown): Promise<CfnResponse | undefined> {
    const parsed = BucketEventBridgeEventSchema.safeParse(event);
    if (!parsed.success) {
      deps.logger.error('invalid event rejected', { issues: parsed.error.issues });
      const a = Answerable.safeParse(event);
      if (!a.success) return undefined; // not a CloudFormation request: nobody waits for an answer
      const response: CfnResponse = {
        Status: 'FAILED',
        Reason: `invalid request: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`.slice(0, 3000),
        PhysicalResourceId: a.data.PhysicalResourceId ?? `${a.data.LogicalResourceId}/invalid`,
        StackId: a.data.StackId,
        RequestId: a.data.RequestId,
        LogicalResourceId: a.data.LogicalResourceId,
      };
      await respond(a.data.ResponseURL, response);
      return response;
    }
    const e = parsed.data;
    const req: BucketEventBridgeRequest =
      e.RequestType === 'Create'
        ? { type: 'Create', bucket: e.ResourceProperties.BucketName }
        : e.RequestType === 'Update'
          ? { type: 'Update', bucket: e.ResourceProperties.BucketName, physicalId: e.PhysicalResourceId }
          : { type: 'Delete', physicalId: e.PhysicalResourceId };
    const answer = { StackId: e.StackId, RequestId: e.RequestId, LogicalResourceId: e.LogicalResourceId };
    let response: CfnResponse;
    try {
      const physicalId = await onRequest(req);
      response = { Status: 'SUCCESS', PhysicalResourceId: physicalId, ...answer, Data: { BucketName: physicalId.split('/')[0]! } };
    } catch (err) {
      deps.logger.error('request failed', { request_type: e.RequestType, error: err as Error });
      response = {
        Status: 'FAILED',
        Reason: String((err as Error).message ?? err).slice(0, 3000),
        // a failed Create still needs an id: Delete will get it back and, not recognising it, change nothing
        PhysicalResourceId: 'PhysicalResourceId' in e ? e.PhysicalResourceId : `${e.LogicalResourceId}/failed`,
        ...answer,
      };
    }
    await respond(e.ResponseURL, response);
    return response;
  };
}
