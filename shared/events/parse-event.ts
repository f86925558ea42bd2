/** Validation at the edge, one way for every handler: the parsed event, or an alert and nothing started. */
import type { z } from 'zod';
import type { Deps } from '../deps.js';
import { alertInvalidEvent } from '../use-cases/alerts.js';
import { describeZodError } from './schemas.js';

/** Parses `event` with `schema`; an invalid one is logged, alerted (naming the function and the problem) and answered with undefined. */
export async function parseEvent<S extends z.ZodType>(
  deps: Pick<Deps, 'notifier' | 'logger'>,
  fn: string,
  schema: S,
  event: unknown,
): Promise<z.output<S> | undefined> {
  const parsed = schema.safeParse(event);
  if (parsed.success) return parsed.data;
  await alertInvalidEvent(deps, fn, describeZodError(parsed.error), event);
  return undefined;
}
