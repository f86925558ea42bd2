/** Zod schemas of every event Flywheel consumes, on Powertools' EventBridge and S3 schemas (validated at the edge). */
import { EventBridgeSchema, S3EventNotificationEventBridgeSchema, S3Schema } from '@aws-lambda-powertools/parser/schemas';
import { z } from 'zod';
import { STAGES } from '../domain/ledger.js';
import { isValidSnapshotDt } from '../domain/snapshot.js';

export const GlueJobStateChangeSchema = EventBridgeSchema.extend({
  source: z.literal('aws.glue'),
  'detail-type': z.literal('Glue Job State Change'),
  detail: z.object({
    jobName: z.string().min(1),
    jobRunId: z.string().min(1),
    state: z.enum(['SUCCEEDED', 'FAILED', 'TIMEOUT', 'STOPPED', 'RUNNING', 'STARTING', 'STOPPING', 'ERROR', 'WAITING']),
    message: z.string().optional(),
    severity: z.string().optional(),
  }),
});

export const AthenaQueryStateChangeSchema = EventBridgeSchema.extend({
  source: z.literal('aws.athena'),
  'detail-type': z.literal('Athena Query State Change'),
  detail: z.object({
    currentState: z.enum(['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED']),
    previousState: z.string().optional(),
    queryExecutionId: z.string().min(1),
    workgroupName: z.string().optional(),
    statementType: z.string().optional(),
  }),
});

export const ScheduledEventSchema = EventBridgeSchema.extend({
  source: z.literal('aws.events'),
  'detail-type': z.literal('Scheduled Event'),
});

const tableName = z.string().regex(/^[a-z0-9_]+$/, 'table names are lower-case letters, digits and _');

export const StageCompletedSchema = EventBridgeSchema.extend({
  source: z.literal('flywheel.pipeline'),
  'detail-type': z.literal('Stage Completed'),
  detail: z.object({
    stage: z.string(),
    dataset: z.string().min(1),
    snapshotDt: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    runId: z.string().min(1),
    tables: z.array(tableName).max(256),
  }),
});

/** A direct invocation (console test, `aws lambda invoke`) naming the snapshot to run. */
export const ManualTriggerSchema = z.object({
  dataset: z.string().optional(),
  snapshotDt: z.string().optional(),
  tables: z.array(tableName).max(256).optional(),
  /** A deliberate re-run: replaces a finished run of the same snapshot. */
  rerun: z.boolean().optional(),
});

/** Every form snapshot-trigger accepts. */
export const SnapshotTriggerEventSchema = z.union([S3EventNotificationEventBridgeSchema, S3Schema, ScheduledEventSchema, ManualTriggerSchema.strict()]);
export type SnapshotTriggerEvent = z.infer<typeof SnapshotTriggerEventSchema>;

const realDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'snapshotDt must be YYYY-MM-DD')
  .refine(isValidSnapshotDt, 'snapshotDt is not a real calendar date');

/** An operator's replay request on the project bus (validated strictly: anything unexpected is refused). */
export const ReplayRequestedSchema = EventBridgeSchema.extend({
  source: z.literal('flywheel.ops'),
  'detail-type': z.literal('Replay Requested'),
  detail: z
    .object({
      dataset: z.string().regex(/^[a-z][a-z0-9_]*$/, 'dataset is a lower-case name'),
      snapshotDt: realDate,
      fromStage: z.enum(STAGES).optional(),
      tables: z.array(tableName).min(1).max(256, 'at most 256 tables').optional(),
      dryRun: z.boolean().optional(),
      reason: z.string().min(1, 'say why you replay').max(1000),
    })
    .strict(),
});

/** Every form bucketed-tables accepts. */
export const BucketedTablesEventSchema = z.union([StageCompletedSchema, AthenaQueryStateChangeSchema]);

/** A readable one-line summary of a zod error. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`)
    .join('; ');
}
