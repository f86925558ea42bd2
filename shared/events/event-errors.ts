/**
 * The event edge's words: from the text of an event file to a deliverable event, or to ONE line
 * saying what is wrong with it — the field, what was expected there and what was found — built from
 * the same zod schemas the handlers validate with (shared/events/schemas.ts, Powertools' S3 schemas).
 */
import { randomUUID } from 'node:crypto';
import { EventBridgeSchema, S3EventNotificationEventBridgeSchema, S3Schema } from '@aws-lambda-powertools/parser/schemas';
import type { z } from 'zod';
import { AthenaQueryStateChangeSchema, GlueJobStateChangeSchema, ReplayRequestedSchema, ScheduledEventSchema, StageCompletedSchema } from './schemas.js';
import { show } from './closest-routes.js';

type Issue = z.core.$ZodIssue;

/** `detail.tables[0]`; the envelope's own fields keep their names (`detail-type`). */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '') || '(the event)';
}

/** What `input` holds at `path` (undefined when absent). */
export function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const k of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** A value in words: `missing`, `null`, `"text"`, `42`, `an object`, `an array of 3`. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'missing';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object' && v !== null) return 'an object';
  return show(v);
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  int: 'an integer',
};
const FORMAT_WORDS: Record<string, string> = {
  datetime: 'an ISO-8601 UTC time like 2026-01-31T00:00:00Z',
  date: 'a date like 2026-01-31',
  uuid: 'a UUID',
  email: 'an e-mail address',
  url: 'a URL',
};

/** One zod issue as `path: expected …, got …`. */
export function describeIssue(issue: Issue, input: unknown): string {
  const path = formatPath(issue.path);
  const got = describeValue(valueAt(input, issue.path));
  switch (issue.code) {
    case 'invalid_type':
      return `${path}: expected ${TYPE_WORDS[issue.expected] ?? issue.expected}, got ${got}`;
    case 'invalid_value':
      return `${path}: expected ${issue.values.length === 1 ? show(issue.values[0]) : `one of ${issue.values.map((v) => show(v)).join(', ')}`}, got ${got}`;
    case 'invalid_format': {
      // a schema's own message says what the format is for (e.g. `table names are lower-case letters, digits and _`)
      if (issue.format === 'regex' && !/^Invalid/.test(issue.message)) return `${path}: ${issue.message}, got ${got}`;
      const words =
        FORMAT_WORDS[issue.format] ?? (issue.format === 'regex' && 'pattern' in issue ? `text matching ${String(issue.pattern)}` : `a ${issue.format}`);
      return `${path}: expected ${words}, got ${got}`;
    }
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const op = issue.code === 'too_small' ? (issue.inclusive === false ? 'more than' : 'at least') : issue.inclusive === false ? 'fewer than' : 'at most';
      const unit = issue.origin === 'string' ? 'character(s)' : issue.origin === 'array' || issue.origin === 'set' ? 'item(s)' : '';
      const what =
        issue.origin === 'string' && Number(bound) === 1 && issue.code === 'too_small'
          ? 'a non-empty string'
          : unit
            ? `${op} ${String(bound)} ${unit}`
            : `${op} ${String(bound)}`;
      return `${path}: expected ${what}, got ${got}`;
    }
    case 'unrecognized_keys':
      return `${path}: unexpected field(s) ${issue.keys.map((k) => show(k)).join(', ')} (this event is validated strictly)`;
    case 'invalid_union': {
      // the branch that came closest (fewest issues) says best what was meant
      const branches = (issue.errors ?? []).filter((b) => b.length > 0).sort((a, b) => a.length - b.length);
      return branches[0]?.[0] ? describeIssue(branches[0][0], input) : `${path}: matches none of the accepted shapes, got ${got}`;
    }
    default:
      // custom refinements carry their own words (e.g. `snapshotDt is not a real calendar date`)
      return `${path}: ${issue.message}, got ${got}`;
  }
}

/** Up to `max` issues, `; `-joined, on one line. */
export function describeIssues(error: z.ZodError, input: unknown, max = 4): string {
  const lines = error.issues.slice(0, max).map((i) => describeIssue(i, input));
  const more = error.issues.length - max;
  return oneLine(`${lines.join('; ')}${more > 0 ? `; and ${more} more` : ''}`);
}

/** No line breaks, ever (the reason is ONE line). */
export const oneLine = (s: string) => s.replace(/[\r\n\u2028\u2029]+/g, ' ');

/** The schema an event is validated with, chosen by its shape (source and detail-type, or `Records`), as its handler validates it. */
export function eventSchemaFor(event: unknown): { name: string; schema: z.ZodType } | undefined {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return undefined;
  const e = event as Record<string, unknown>;
  if ('Records' in e) return { name: 'S3 event notification (Records)', schema: S3Schema };
  const kind = `${String(e.source)} / ${String(e['detail-type'])}`;
  const byKind: Record<string, { name: string; schema: z.ZodType }> = {
    'aws.s3 / Object Created': { name: 'S3 Object Created event', schema: S3EventNotificationEventBridgeSchema },
    'aws.glue / Glue Job State Change': { name: 'Glue Job State Change event', schema: GlueJobStateChangeSchema },
    'aws.athena / Athena Query State Change': { name: 'Athena Query State Change event', schema: AthenaQueryStateChangeSchema },
    'aws.events / Scheduled Event': { name: 'Scheduled Event', schema: ScheduledEventSchema },
    'flywheel.pipeline / Stage Completed': { name: 'Stage Completed event', schema: StageCompletedSchema },
    'flywheel.ops / Replay Requested': { name: 'Replay Requested event', schema: ReplayRequestedSchema },
  };
  if (byKind[kind]) return byKind[kind];
  if ('source' in e || 'detail-type' in e || 'detail' in e) return { name: 'EventBridge event', schema: EventBridgeSchema };
  return undefined;
}

/** Undefined when `event` validates; else the one-line reason. */
export function validateEvent(event: unknown): string | undefined {
  const chosen = eventSchemaFor(event);
  if (!chosen) return undefined;
  const parsed = chosen.schema.safeParse(event);
  return parsed.success ? undefined : `invalid ${chosen.name}: ${describeIssues(parsed.error, event)}`;
}

export type EdgeInput = { ok: true; event: unknown; note?: string } | { ok: false; reason: string };

/**
 * The text of an event file as the event to deliver: JSON of one EventBridge event or S3 notification,
 * or an `aws events put-events` entry (`{"Source","DetailType","Detail":"<json>"}`, a list of them, or
 * `{"Entries":[…]}`), converted to the envelope EventBridge delivers. Anything else: the reason.
 */
export function parseEventText(text: string, now: Date = new Date()): EdgeInput {
  if (text.trim() === '') return { ok: false, reason: 'the file is empty (expected one JSON event)' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const m = (err as Error).message;
    const truncated = /end of (JSON )?input|Unterminated/i.test(m);
    return { ok: false, reason: oneLine(`not valid JSON${truncated ? ' (truncated?)' : ''}: ${m}`) };
  }
  if (value === null || typeof value !== 'object')
    return {
      ok: false,
      reason: `expected a JSON object (an EventBridge event, an S3 notification with Records, or a put-events entry), got ${describeValue(value)}`,
    };
  const entries = putEventsEntries(value);
  if (entries) {
    if (entries.length !== 1)
      return { ok: false, reason: `the file holds ${entries.length} put-events entries; flywheel event delivers one event: keep one entry per file` };
    return fromPutEventsEntry(entries[0], now);
  }
  if (Array.isArray(value))
    return {
      ok: false,
      reason: `expected one JSON object, got an array of ${value.length} (a list of put-events entries needs Source, DetailType and Detail in each)`,
    };
  const e = value as Record<string, unknown>;
  if (!('source' in e) && !('detail-type' in e) && !('detail' in e) && !('Records' in e)) {
    return { ok: false, reason: notAnEvent(e) };
  }
  return { ok: true, event: value };
}

/** The entries of a put-events request (`{"Entries":[…]}`, a list of entries, or one entry); undefined when `value` is none of these. */
function putEventsEntries(value: unknown): unknown[] | undefined {
  const isEntry = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v) && ('DetailType' in v || 'Source' in v || 'Detail' in v);
  if (Array.isArray(value)) return value.length > 0 && value.every(isEntry) ? value : undefined;
  const v = value as Record<string, unknown>;
  if ('Entries' in v) return Array.isArray(v.Entries) ? v.Entries : [v.Entries];
  return isEntry(v) && !('source' in v) && !('detail-type' in v) ? [v] : undefined;
}

/** One put-events entry as EventBridge delivers it to a rule's target. */
export function fromPutEventsEntry(entry: unknown, now: Date = new Date()): EdgeInput {
  const where = 'put-events entry';
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    return { ok: false, reason: `${where}: expected an object with Source, DetailType and Detail, got ${describeValue(entry)}` };
  const x = entry as Record<string, unknown>;
  for (const f of ['Source', 'DetailType', 'Detail'] as const) {
    if (typeof x[f] !== 'string' || x[f] === '')
      return {
        ok: false,
        reason: `${where}: ${f}: expected a non-empty string${f === 'Detail' ? ' of JSON, as put-events takes it (e.g. "Detail": "{\\"dataset\\":\\"infobase\\"}")' : ''}, got ${describeValue(x[f])}`,
      };
  }
  let detail: unknown;
  try {
    detail = JSON.parse(x.Detail as string);
  } catch (err) {
    return { ok: false, reason: oneLine(`${where}: Detail: expected a JSON object in the string, got text that is not JSON (${(err as Error).message})`) };
  }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail))
    return { ok: false, reason: `${where}: Detail: expected a JSON object in the string, got ${describeValue(detail)}` };
  let time = now;
  if (x.Time !== undefined) {
    time = typeof x.Time === 'number' ? new Date(x.Time * 1000) : new Date(String(x.Time));
    if (Number.isNaN(time.getTime())) return { ok: false, reason: `${where}: Time: expected an ISO-8601 time or epoch seconds, got ${describeValue(x.Time)}` };
  }
  if (x.Resources !== undefined && !(Array.isArray(x.Resources) && x.Resources.every((r) => typeof r === 'string')))
    return { ok: false, reason: `${where}: Resources: expected an array of ARNs, got ${describeValue(x.Resources)}` };
  const event = {
    version: '0',
    id: randomUUID(),
    'detail-type': x.DetailType,
    source: x.Source,
    account: '000000000000',
    time: time.toISOString().replace(/\.\d+Z$/, 'Z'),
    region: 'local',
    resources: (x.Resources as string[] | undefined) ?? [],
    detail,
  };
  return {
    ok: true,
    event,
    note: `read a put-events entry (${x.Source} / ${x.DetailType}${x.EventBusName ? ` on ${x.EventBusName}` : ''}) as the event EventBridge delivers`,
  };
}

/** Why a JSON object is not an event, with the command that does what such a payload asks for. */
function notAnEvent(e: Record<string, unknown>): string {
  const keys = Object.keys(e);
  const base = `not an event: no source/detail-type (EventBridge) and no Records (S3 notification); fields ${keys.length ? keys.map((k) => show(k)).join(', ') : 'none'}`;
  const manual = ['dataset', 'snapshotDt', 'tables', 'rerun'];
  if (keys.length > 0 && keys.every((k) => manual.includes(k))) {
    const tables = Array.isArray(e.tables) ? e.tables.map(String).join(',') : undefined;
    const run = [
      'flywheel run',
      typeof e.dataset === 'string' ? `--dataset ${e.dataset}` : undefined,
      typeof e.snapshotDt === 'string' ? `--snapshot ${e.snapshotDt}` : undefined,
      tables ? `--tables ${tables}` : undefined,
    ]
      .filter(Boolean)
      .join(' ');
    return `${base}. This is a direct invocation (aws lambda invoke) of snapshot-trigger; locally: ${run}`;
  }
  return `${base}. A direct invocation payload goes to a function with aws lambda invoke; locally use flywheel run, compact, monitor or cleanrooms-report`;
}
