/**
 * The stack's custom resource for an adopted data bucket (shared/composition/serverless-adopt.cjs): S3 sends the
 * bucket's events to EventBridge, where the ready-marker and raw-landing routes listen, while every notification the
 * bucket already had (topics, queues, functions) stays as it was.
 *
 * EventBridge delivery is one switch per bucket. The resource's physical id records whether it turned the switch on
 * (`<bucket>/eventbridge/enabled-by-stack`) or found it on (`<bucket>/eventbridge/already-on`): Delete turns it off
 * again only in the first case, so removing the stack leaves a bucket as the stack found it. Whatever else listens
 * on EventBridge for that bucket sees it off then, which is what it saw before the stack existed.
 */
import type { DepsOf } from '../deps.js';
import type { BucketNotifications } from '../ports.js';

export type BucketEventBridgeDeps = DepsOf<'logger'> & { notifications: BucketNotifications };

/** A CloudFormation request, as the use case needs it. */
export type BucketEventBridgeRequest =
  | { type: 'Create'; bucket: string }
  | { type: 'Update'; bucket: string; physicalId: string }
  | { type: 'Delete'; physicalId: string };

const ENABLED = 'enabled-by-stack';
const ALREADY_ON = 'already-on';

/** `<bucket>/eventbridge/<how>`: bucket names have no '/'. */
export const physicalIdOf = (bucket: string, how: typeof ENABLED | typeof ALREADY_ON) => `${bucket}/eventbridge/${how}`;

/** The bucket and whether the stack turned EventBridge on, from a physical id; undefined for one this use case never returned (a failed Create's). */
export function parsePhysicalId(id: string): { bucket: string; enabledByStack: boolean } | undefined {
  const m = /^([^/]+)\/eventbridge\/(enabled-by-stack|already-on)$/.exec(id);
  return m ? { bucket: m[1]!, enabledByStack: m[2] === ENABLED } : undefined;
}

export function makeBucketEventBridge(deps: BucketEventBridgeDeps) {
  /** Turns EventBridge delivery on, keeping the rest of the configuration; the physical id says whether it was already on. */
  async function enable(bucket: string): Promise<string> {
    const config = await deps.notifications.get(bucket);
    if (config.eventBridge) {
      deps.logger.info('EventBridge delivery is already on; the bucket is left as it is', { bucket });
      return physicalIdOf(bucket, ALREADY_ON);
    }
    await deps.notifications.put(bucket, { ...config, eventBridge: true });
    deps.logger.info('EventBridge delivery turned on; the other notifications kept', { bucket, kept: Object.keys(config.others) });
    return physicalIdOf(bucket, ENABLED);
  }

  /** Turns EventBridge delivery off again if this resource turned it on, keeping the rest. */
  async function disable(physicalId: string): Promise<void> {
    const id = parsePhysicalId(physicalId);
    if (!id?.enabledByStack) {
      deps.logger.info('EventBridge delivery was not turned on by the stack; the bucket is left as it is', { physical_id: physicalId });
      return;
    }
    const config = await deps.notifications.get(id.bucket);
    if (!config.eventBridge) return;
    await deps.notifications.put(id.bucket, { ...config, eventBridge: false });
    deps.logger.info('EventBridge delivery turned off, as before the stack; the other notifications kept', { bucket: id.bucket });
  }

  /** Handles one request; the physical id to answer CloudFormation with. */
  return async function onRequest(req: BucketEventBridgeRequest): Promise<string> {
    switch (req.type) {
      case 'Create':
        return enable(req.bucket);
      case 'Update': {
        const before = parsePhysicalId(req.physicalId);
        // the same bucket keeps its id (what Delete will undo); another bucket gets a new id, and CloudFormation deletes the old one
        if (before?.bucket === req.bucket) {
          const now = await enable(req.bucket);
          return before.enabledByStack ? req.physicalId : now;
        }
        return enable(req.bucket);
      }
      case 'Delete':
        await disable(req.physicalId);
        return req.physicalId;
    }
  };
}
