/** cleanrooms-report handler: the daily schedule or a direct invocation (which may override any parameter) writes the report. */
import { z } from 'zod';
import type { Deps, ReachInputs } from '../../shared/deps.js';
import type { Declined } from '../../shared/events/declined.js';
import { parseEvent } from '../../shared/events/parse-event.js';
import { ScheduledEventSchema } from '../../shared/events/schemas.js';
import { alertInvalidEvent } from '../../shared/use-cases/alerts.js';
import {
  cleanroomsReportReach,
  makeCleanroomsReport,
  type CleanRoomsDirectory,
  type CleanroomsReportDefaults,
  type CleanroomsReportSummary,
} from '../../shared/use-cases/cleanrooms-report.js';

/** A direct invocation (`aws lambda invoke`, the CLI): every field optional, nothing else accepted. */
export const ManualCleanroomsReportSchema = z
  .object({
    membershipId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'membershipId is a Clean Rooms membership id (letters, digits, - and _)')
      .optional(),
    database: z
      .string()
      .regex(/^[a-z0-9_]{1,255}$/, 'database is a lower-case Glue database name')
      .optional(),
    tablePrefix: z
      .string()
      .regex(/^[a-z0-9_]{0,128}$/, 'tablePrefix is lower-case letters, digits and _')
      .optional(),
    reportBucket: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'reportBucket is an S3 bucket name')
      .optional(),
    reportPrefix: z
      .string()
      .max(512)
      .regex(/^(|[^/].*\/)$/, 'reportPrefix is empty or ends with / (and does not start with one)')
      .optional(),
  })
  .strict();

export const CleanroomsReportEventSchema = z.union([ScheduledEventSchema, ManualCleanroomsReportSchema]);

/** What this function may do through the ports: its use cases' reach (test/iam proves its role allows it). */
export const reach = (i: ReachInputs) => cleanroomsReportReach(i.cleanrooms);

export function makeCleanroomsReportHandler(deps: Deps, directory: CleanRoomsDirectory, defaults: CleanroomsReportDefaults) {
  const report = makeCleanroomsReport(deps, directory);
  return async function cleanroomsReport(event: unknown): Promise<CleanroomsReportSummary | Declined> {
    const parsed = await parseEvent(deps, 'cleanrooms-report', CleanroomsReportEventSchema, event);
    if (!parsed.ok) return parsed.declined;
    const e = parsed.event;
    const overrides = 'source' in e ? {} : e;
    const { membershipId, ...params } = { ...defaults, ...overrides };
    if (!membershipId) {
      return alertInvalidEvent(
        deps,
        'cleanrooms-report',
        'no Clean Rooms membership id: set CLEANROOMS_MEMBERSHIP_ID (serverless.yml param cleanroomsMembershipId) or pass membershipId',
        event,
      );
    }
    return report({ ...params, membershipId }, 'source' in e ? `${e.source} ${e['detail-type']}` : 'invocation');
  };
}
