/**
 * What a function returns when it did nothing with an event, on purpose: the event was invalid (rejected, and
 * alerted) or not its to act on (ignored: a duplicate delivery, another stage's query, a job Flywheel did not
 * start). It is the function's result, so `aws lambda invoke` shows it and the local CLI's `flywheel event`
 * reports it without reading the logs; the same words are logged for CloudWatch.
 */
import type { Logger } from '@aws-lambda-powertools/logger';

export interface Declined {
  declined: 'rejected' | 'ignored';
  /** What was wrong with the event, or why it was not this function's to act on. */
  reason: string;
  /** What it was about: the object, run, query or job run it names (as logged). */
  context?: Record<string, unknown>;
}

/** Logs `message` (which ends "; ignored" or "… ignored") with its context and returns it as an ignored result. */
export function ignore(logger: Pick<Logger, 'info' | 'warn'>, level: 'info' | 'warn', message: string, context: Record<string, unknown> = {}): Declined {
  logger[level](message, context);
  return { declined: 'ignored', reason: message.replace(/;\s*ignored$/, ''), context };
}

export function isDeclined(value: unknown): value is Declined {
  return (
    typeof value === 'object' &&
    value !== null &&
    ((value as Declined).declined === 'rejected' || (value as Declined).declined === 'ignored') &&
    typeof (value as Declined).reason === 'string'
  );
}

/** The declined results in a function's result: itself, or the entries of a list of results (one per S3 record). */
export function declinedIn(result: unknown): Declined[] {
  if (isDeclined(result)) return [result];
  return Array.isArray(result) ? result.filter(isDeclined) : [];
}
