// The event edge of `flywheel event`, unit by unit: which rules came closest (shared/events/closest-routes.ts),
// the zod issues in words and the file forms it accepts (shared/events/event-errors.ts), and the local bus's
// routing as the CLI predicts it (shared/composition/local.ts localRouteParams).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { closestRoutes, describeNoRoute, expectation, fieldMisses, renameStage, show } from '../shared/events/closest-routes.js';
import {
  describeIssue,
  describeIssues,
  describeValue,
  eventSchemaFor,
  formatPath,
  fromPutEventsEntry,
  parseEventText,
  validateEvent,
} from '../shared/events/event-errors.js';
import { routes, type RouteParams } from '../shared/events/patterns.js';
import { defaultConfig } from '../shared/domain/config.js';
import { LocalBus } from '../shared/adapters/local/local-bus.js';
import { localRuntime } from '../shared/composition/local.js';
import { localRouteParams } from '../shared/composition/local.js';
import { prepareEvent } from '../shared/local/run-local.js';

const ROOT = new URL('..', import.meta.url).pathname;
const FIXTURES = path.join(ROOT, 'test/fixtures/published-events');
const sample = (name: string) => JSON.parse(readFileSync(path.join(ROOT, 'events', name), 'utf8')) as Record<string, any>;
const fixture = (name: string) => JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as Record<string, any>;
const params: RouteParams = localRouteParams(defaultConfig());
const local = routes(params);

describe('closest routes', () => {
  test('fieldMisses names every differing leaf of a pattern, by path', () => {
    const glue = { source: 'aws.glue', 'detail-type': 'Glue Job State Change', detail: { jobName: 'x', state: 'RUNNING' } };
    const split = local.find((r) => r.name === 'split-job-finished')!;
    expect(fieldMisses(split.pattern, glue).map((m) => [m.path, m.actual])).toEqual([
      ['detail.jobName', 'x'],
      ['detail.state', 'RUNNING'],
    ]);
    expect(fieldMisses(split.pattern, { source: 'aws.glue' }).map((m) => m.path)).toEqual(['detail-type', 'detail.jobName', 'detail.state']);
    expect(fieldMisses(split.pattern, null).map((m) => m.path)).toEqual(['source', 'detail-type', 'detail.jobName', 'detail.state']);
  });

  test('closest first: same source and detail-type, then same source, then the rest; matching routes left out', () => {
    const misses = closestRoutes(local, { source: 'aws.glue', 'detail-type': 'Glue Job State Change', detail: { jobName: 'flywheel-x', state: 'FAILED' } });
    expect(misses.slice(0, 3).map((m) => [m.route.name, m.closeness, m.misses.map((f) => f.path)])).toEqual([
      ['compaction-job-finished', 'detail', ['detail.jobName']],
      ['chargebacks-job-finished', 'detail', ['detail.jobName']],
      ['split-job-finished', 'detail', ['detail.jobName']],
    ]);
    expect(misses.at(-1)!.closeness).toBe('source');
    const matching = closestRoutes(local, { ...sample('s3-object-created.eventbridge.json') });
    expect(matching.map((m) => m.route.name)).not.toContain('ready-marker-landed');
  });

  test('describeNoRoute: a differing field names the rules, what they want and what came', () => {
    const typo = describeNoRoute(local, { source: 'aws.glue', 'detail-type': 'Glue Job State Change', detail: { jobName: 'flywheel-x', state: 'FAILED' } });
    expect(typo).toMatch(
      /^no rule matched; closest \(same source and detail-type\): compaction-job-finished \(→ compaction\) wants detail\.jobName "flywheel-local-compaction"/,
    );
    expect(typo).toMatch(
      /split-job-finished \(→ registerStagedTables\) wants detail\.jobName "flywheel-local-infobase-split-and-bucket" or "flywheel-local-addressable-bucket"/,
    );
    expect(typo).toMatch(/— but detail\.jobName is "flywheel-x"$/);
  });

  test('describeNoRoute: an S3 Object Deleted has the same source only', () => {
    expect(describeNoRoute(local, fixture('s3-object-deleted.powertools-ts.json'))).toBe(
      'no rule matched; closest (same source only): ready-marker-landed (→ snapshotTrigger) wants detail-type "Object Created" — but detail-type is "Object Deleted"',
    );
  });

  test('describeNoRoute: a source nothing listens to, a schedule of no Flywheel rule, an S3 record that is not a creation', () => {
    expect(describeNoRoute(local, fixture('ec2-state-change.powertools-python.json'))).toMatch(
      /^no rule listens to source "aws\.ec2" with detail-type "EC2 Instance State-change Notification" \(rules listen to "aws\.s3", "aws\.glue"/,
    );
    expect(describeNoRoute(local, fixture('malformed/scheduled-event.unknown-rule.json'))).toMatch(
      /^no schedule matched: resources name "arn:aws:events:us-east-1:123456789012:rule\/MyScheduledRule", but .*-snapshot-discovery/,
    );
    expect(describeNoRoute(local, fixture('malformed/s3-notification.object-removed.json'))).toMatch(
      /^no rule matched: Records\[0\] is not an S3 object creation .*eventName "ObjectRemoved:Delete"/,
    );
    expect(describeNoRoute(local, { Records: [] })).toBe('no rule matched: the S3 notification holds no Records');
  });

  test('a hostile value stays on one line, escaped and cut', () => {
    const line = describeNoRoute(local, fixture('malformed/glue-job-state-change.hostile-job-name.json'));
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for a raw ESC (and CR/LF) in the output
    expect(line).not.toMatch(/[\n\r\u001b]/);
    expect(line).toContain('"flywheel-local-compaction\\u001b[31m\\nFAILED: rm -rf /"');
    expect(show('x'.repeat(500))).toHaveLength(118);
    expect(show(undefined)).toBe('missing');
  });

  test('expectation: pattern values in words', () => {
    expect(expectation(['A'])).toBe('"A"');
    expect(expectation(['A', 'B', 'C'])).toBe('"A", "B" or "C"');
    expect(expectation([{ wildcard: 'a/*/_SUCCESS' }, { prefix: 'p' }, { suffix: 's' }, { exists: true }, { 'anything-but': ['x'] }])).toBe(
      'like "a/*/_SUCCESS", starting "p", ending "s", present or anything but "x"',
    );
  });

  test("renameStage: another stage's jobs, workgroups and data bucket read as the local stack's", () => {
    const glue = (jobName: string) => ({ source: 'aws.glue', 'detail-type': 'Glue Job State Change', detail: { jobName, jobRunId: 'jr_1', state: 'FAILED' } });
    const jobOf = (name: string) => (renameStage(glue(name), params).event as { detail: { jobName: string } }).detail.jobName;
    expect(jobOf('flywheel-dev-infobase-split-and-bucket')).toBe('flywheel-local-infobase-split-and-bucket');
    expect(jobOf('flywheel-prod-addressable-bucket')).toBe('flywheel-local-addressable-bucket');
    expect(jobOf('flywheel-pr-12-compaction')).toBe('flywheel-local-compaction');
    expect(jobOf('flywheel-dev-chargebacks-consolidation')).toBe('flywheel-local-chargebacks-consolidation');
    // not the deployed naming, or no local counterpart: left as is
    expect(jobOf('MyJob')).toBe('MyJob');
    expect(jobOf('other-dev-compaction')).toBe('other-dev-compaction');
    expect(jobOf('flywheel-dev-unknown-job')).toBe('flywheel-dev-unknown-job');
    expect(renameStage(glue('flywheel-local-compaction'), params).renamed).toEqual([]);

    const athena = (workgroupName: string) =>
      (renameStage({ source: 'aws.athena', detail: { workgroupName } }, params).event as { detail: { workgroupName: string } }).detail.workgroupName;
    expect(athena('flywheel-dev')).toBe('flywheel-local');
    expect(athena('flywheel-prod-monitor')).toBe('flywheel-local-monitor');
    expect(athena('primary')).toBe('primary');

    const s3 = renameStage({ source: 'aws.s3', detail: { bucket: { name: 'flywheel-dev-data-us-east-1' }, object: { key: 'k' } } }, params);
    expect(s3.renamed).toEqual([{ field: 'detail.bucket.name', from: 'flywheel-dev-data-us-east-1', to: 'data' }]);
    expect(renameStage({ source: 'aws.s3', detail: { bucket: { name: 'someone-elses' } } }, params).renamed).toEqual([]);
    // the input is never mutated
    const original = sample('glue-job-state-change.failed.json');
    renameStage(original, params);
    expect(original.detail.jobName).toBe('flywheel-dev-infobase-split-and-bucket');
  });
});

describe('event errors: zod issues as "path: expected …, got …"', () => {
  test('formatPath, describeValue', () => {
    expect(formatPath(['detail', 'tables', 0])).toBe('detail.tables[0]');
    expect(formatPath(['Records', 0, 's3', 'object', 'key'])).toBe('Records[0].s3.object.key');
    expect(formatPath([])).toBe('(the event)');
    expect([undefined, null, 'a', 3, {}, [1, 2]].map(describeValue)).toEqual(['missing', 'null', '"a"', '3', 'an object', 'an array of 2']);
  });

  test('each issue kind names the field, what was expected and what came', () => {
    const input = { time: '2026-01-31T00:00:00+01:00', n: 'x', e: 'C', s: '', a: [1, 2, 3], k: { extra: 1 }, d: '2025-02-30', r: 'A B' };
    const schema = z.object({
      time: z.iso.datetime(),
      n: z.number(),
      e: z.enum(['A', 'B']),
      s: z.string().min(1),
      a: z.array(z.number()).max(2),
      k: z.object({}).strict(),
      d: z.string().refine(() => false, 'snapshotDt is not a real calendar date'),
      r: z.string().regex(/^[a-z]+$/, 'names are lower-case letters'),
      m: z.string(),
    });
    const issues = schema.safeParse(input).error!.issues.map((i) => describeIssue(i, input));
    expect(issues).toEqual([
      'time: expected an ISO-8601 UTC time like 2026-01-31T00:00:00Z, got "2026-01-31T00:00:00+01:00"',
      'n: expected a number, got "x"',
      'e: expected one of "A", "B", got "C"',
      's: expected a non-empty string, got ""',
      'a: expected at most 2 item(s), got an array of 3',
      'k: unexpected field(s) "extra" (this event is validated strictly)',
      'd: snapshotDt is not a real calendar date, got "2025-02-30"',
      'r: names are lower-case letters, got "A B"',
      'm: expected a string, got missing',
    ]);
    expect(describeIssues(schema.safeParse(input).error!, input, 2)).toBe(`${issues[0]}; ${issues[1]}; and 7 more`);
  });

  test('a union says what its closest branch missed', () => {
    const u = z.union([z.object({ a: z.string() }), z.object({ b: z.number(), c: z.number() })]);
    expect(describeIssue(u.safeParse({ a: 1 }).error!.issues[0]!, { a: 1 })).toBe('a: expected a string, got 1');
  });

  test('validateEvent picks the schema the handler validates with', () => {
    expect(eventSchemaFor(sample('glue-job-state-change.failed.json'))?.name).toBe('Glue Job State Change event');
    expect(eventSchemaFor(sample('s3-notification.records.json'))?.name).toBe('S3 event notification (Records)');
    expect(eventSchemaFor({ dataset: 'infobase' })).toBeUndefined();
    for (const name of readdirSync(path.join(ROOT, 'events')).filter((n) => n !== 'manual-trigger.json'))
      expect([name, validateEvent(sample(name))]).toEqual([name, undefined]);
    expect(validateEvent(fixture('malformed/glue-job-state-change.no-detail.json'))).toBe(
      'invalid Glue Job State Change event: detail: expected an object, got missing',
    );
    expect(validateEvent(fixture('malformed/athena-query-state-change.time-offset.json'))).toBe(
      'invalid Athena Query State Change event: time: expected an ISO-8601 UTC time like 2026-01-31T00:00:00Z, got "2019-10-06T11:30:10+02:00"',
    );
    expect(validateEvent(fixture('malformed/replay-requested.hostile-table.json'))).toBe(
      'invalid Replay Requested event: detail.tables[0]: table names are lower-case letters, digits and _, got "x; DROP TABLE y"',
    );
    // the SAM CLI's `generate-event cloudwatch scheduled-event` template has no "version": the handlers' schema requires it
    expect(validateEvent(fixture('scheduled-event.sam-cli.json'))).toBe('invalid Scheduled Event: version: expected a string, got missing');
  });
});

describe('event files: the forms flywheel event reads', () => {
  const bad = (text: string) => {
    const r = parseEventText(text);
    if (r.ok) throw new Error(`expected a rejection of ${text}`);
    expect(r.reason).not.toMatch(/\n/);
    return r.reason;
  };

  test('empty, null, not an object, not JSON, truncated', () => {
    expect(bad('')).toBe('the file is empty (expected one JSON event)');
    expect(bad(' \n\t')).toBe('the file is empty (expected one JSON event)');
    expect(bad('null')).toMatch(/^expected a JSON object .*, got null$/);
    expect(bad('42')).toMatch(/got 42$/);
    expect(bad('"s"')).toMatch(/got "s"$/);
    expect(bad('[1,2]')).toMatch(/^expected one JSON object, got an array of 2/);
    expect(bad('source: aws.glue\n')).toMatch(/^not valid JSON: /);
    expect(bad(readFileSync(path.join(FIXTURES, 'malformed/s3-object-created.truncated.json'), 'utf8'))).toMatch(/^not valid JSON \(truncated\?\): /);
  });

  test('a direct-invocation payload is not an event; the reason says the command that does it', () => {
    expect(bad(JSON.stringify(sample('manual-trigger.json')))).toBe(
      'not an event: no source/detail-type (EventBridge) and no Records (S3 notification); fields "dataset", "snapshotDt", "tables". This is a direct invocation (aws lambda invoke) of snapshot-trigger; locally: flywheel run --dataset infobase --snapshot 2025-10-31 --tables ibe_01a',
    );
    expect(bad('{"options":{}}')).toMatch(/^not an event: .*fields "options"\. A direct invocation payload goes to a function with aws lambda invoke/);
  });

  test('a put-events entry (one, a list of one, or {"Entries":[…]}) becomes the envelope EventBridge delivers', () => {
    const now = new Date('2026-01-31T00:00:00.123Z');
    const entry = {
      EventBusName: 'flywheel-dev',
      Source: 'flywheel.ops',
      DetailType: 'Replay Requested',
      Detail: '{"dataset":"infobase","snapshotDt":"2025-10-31","reason":"r"}',
    };
    for (const form of [entry, [entry], { Entries: [entry] }]) {
      const r = parseEventText(JSON.stringify(form), now);
      expect(r).toEqual({
        ok: true,
        event: {
          version: '0',
          id: expect.any(String),
          'detail-type': 'Replay Requested',
          source: 'flywheel.ops',
          account: '000000000000',
          time: '2026-01-31T00:00:00Z',
          region: 'local',
          resources: [],
          detail: { dataset: 'infobase', snapshotDt: '2025-10-31', reason: 'r' },
        },
        note: 'read a put-events entry (flywheel.ops / Replay Requested on flywheel-dev) as the event EventBridge delivers',
      });
      expect(validateEvent((r as { event: unknown }).event)).toBeUndefined();
    }
    expect(fromPutEventsEntry({ ...entry, Time: '2025-11-01T06:00:00Z', Resources: ['arn:x'] })).toMatchObject({
      ok: true,
      event: { time: '2025-11-01T06:00:00Z', resources: ['arn:x'] },
    });
    expect(fromPutEventsEntry({ ...entry, Time: 1761976800 })).toMatchObject({ ok: true, event: { time: '2025-11-01T06:00:00Z' } });
  });

  test('a put-events entry that put-events would not take is rejected with the fix', () => {
    const entry = { Source: 'flywheel.ops', DetailType: 'Replay Requested', Detail: '{}' };
    expect(bad(JSON.stringify({ Entries: [entry, entry] }))).toBe(
      'the file holds 2 put-events entries; flywheel event delivers one event: keep one entry per file',
    );
    expect(bad(JSON.stringify({ Entries: [] }))).toMatch(/holds 0 put-events entries/);
    expect(bad(JSON.stringify({ ...entry, Detail: { a: 1 } }))).toMatch(
      /^put-events entry: Detail: expected a non-empty string of JSON, as put-events takes it .*got an object$/,
    );
    expect(bad(JSON.stringify({ ...entry, Detail: '{"a":' }))).toMatch(
      /^put-events entry: Detail: expected a JSON object in the string, got text that is not JSON/,
    );
    expect(bad(JSON.stringify({ ...entry, Detail: '[1]' }))).toBe('put-events entry: Detail: expected a JSON object in the string, got an array of 1');
    expect(bad(JSON.stringify({ ...entry, DetailType: undefined }))).toBe('put-events entry: DetailType: expected a non-empty string, got missing');
    expect(bad(JSON.stringify({ ...entry, Time: 'yesterday' }))).toBe('put-events entry: Time: expected an ISO-8601 time or epoch seconds, got "yesterday"');
    expect(bad(JSON.stringify({ ...entry, Resources: 'arn' }))).toBe('put-events entry: Resources: expected an array of ARNs, got "arn"');
  });
});

describe("the CLI predicts the local bus's routing", () => {
  let home: string;
  beforeAll(() => {
    home = mkdtempSync(path.join(os.tmpdir(), 'fw-edge-'));
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  test("localRouteParams routes every sample and fixture exactly as the runtime's bus does", async () => {
    const rt = await localRuntime({ home });
    try {
      const predicted = new LocalBus(routes(localRouteParams(rt.deps.config)), { now: () => new Date() });
      const files = [
        ...readdirSync(path.join(ROOT, 'events')).map((n) => path.join(ROOT, 'events', n)),
        ...readdirSync(FIXTURES)
          .filter((n) => n.endsWith('.json'))
          .map((n) => path.join(FIXTURES, n)),
      ];
      for (const file of files) {
        const event = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
        const renamed = renameStage(event, localRouteParams(rt.deps.config)).event;
        expect([path.basename(file), predicted.targets(event), predicted.targets(renamed)]).toEqual([
          path.basename(file),
          rt.bus.targets(event),
          rt.bus.targets(renamed),
        ]);
      }
    } finally {
      rt.close();
    }
  });

  test('prepareEvent: rejected, no rule, or the event to deliver (dev names read as local ones)', async () => {
    const notes: string[] = [];
    const prepared = await prepareEvent(path.join(ROOT, 'events/glue-job-state-change.failed.json'), defaultConfig(), (l) => notes.push(l));
    expect(prepared).toMatchObject({ fns: ['registerStagedTables'], event: { detail: { jobName: 'flywheel-local-infobase-split-and-bucket' } } });
    expect(notes).toEqual([
      'note: detail.jobName "flywheel-dev-infobase-split-and-bucket" is read as "flywheel-local-infobase-split-and-bucket" (the local stack\'s name for it)',
    ]);
    expect(await prepareEvent(path.join(FIXTURES, 'malformed/empty.json'))).toEqual({
      kind: 'rejected',
      reason: 'the file is empty (expected one JSON event)',
    });
    expect(await prepareEvent(path.join(FIXTURES, 'no-such-file.json'))).toEqual({ kind: 'rejected', reason: 'cannot read it: no such file' });
    expect(await prepareEvent(FIXTURES)).toEqual({ kind: 'rejected', reason: 'cannot read it: it is a directory' });
    expect(await prepareEvent(path.join(FIXTURES, 'glue-job-state-change.timeout.eventbridge-user-guide.json'))).toMatchObject({
      kind: 'no rule',
      reason: expect.stringMatching(/detail\.jobName is "MyJob"$/),
    });
  });
});
