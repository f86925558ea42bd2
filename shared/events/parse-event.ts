/** Validation at the edge, one way for every handler: the parsed event, or an alert and nothing started. */
import type { z } from 'zod';
import type { Deps } from '../deps.js';
import { alertInvalidEvent } from '../use-cases/alerts.js';
import type { Declined } from './declined.js';
import { describeZodError } from './schemas.js';

/** A parsed event, or what the function returns for an invalid one (alerted). */
export type Parsed<T> = { ok: true; event: T } | { ok: false; declined: Declined };

/** Parses `event` with `schema`; an invalid one is logged and alerted (naming the function and the problem), and answered with a rejection. */
export async function parseEvent<S extends z.ZodType>(
  deps: Pick<Deps, 'notifier' | 'logger'>,
  fn: string,
  schema: S,
  event: unknown,
): Promise<Parsed<z.output<S>>> {
  const parsed = schema.safeParse(event);
  if (parsed.success) return { ok: true, event: parsed.data };
  return { ok: false, declined: await alertInvalidEvent(deps, fn, describeZodError(parsed.error), event) };
}
