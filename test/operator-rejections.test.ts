// Issue 15: on AWS, an operator's event that Flywheel rejects is alerted once and answered, never
// thrown: a throw from an asynchronously invoked Lambda (EventBridge targets, `--invocation-type Event`)
// is retried and then dead-lettered, so a hostile or mistaken request would alert three times and land
// in the DLQ. The real Lambda entries (services/*/handler.ts) against in-memory S3 and Glue and mocked
// SNS and EventBridge.
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateSampleLake } from '../shared/local/sample-lake.js';
import { fakeGlue } from './aws/fake-glue.js';
import { fakeS3 } from './aws/fake-s3.js';
import { LAMBDA_ENV, lambdaContext, sample } from './aws/lambda-env.js';

const s3 = fakeS3();
fakeGlue();
const events = mockClient(EventBridgeClient);
const sns = mockClient(SNSClient);
type Handler = (event: unknown, ctx: unknown) => Promise<any>;
let replay: Handler, trigger: Handler;

const replayRequested = (detail: Record<string, unknown>, id = `op-${Math.random()}`) => ({
  version: '0',
  id,
  'detail-type': 'Replay Requested',
  source: 'flywheel.ops',
  account: '000000000000',
  time: '2025-11-01T09:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail: { dataset: 'infobase', snapshotDt: '2025-10-31', reason: 'operator test', ...detail },
});
const mails = () => sns.commandCalls(PublishCommand).map((c) => `${c.args[0].input.Subject}\n${c.args[0].input.Message}`);
const ledgerKeys = () => s3.keys('data', '_runs/infobase/');

beforeAll(async () => {
  Object.assign(process.env, LAMBDA_ENV);
  const lake = mkdtempSync(path.join(os.tmpdir(), 'aws-lake-'));
  await generateSampleLake(lake, { rows: 100, snapshots: ['2025-09-30', '2025-10-31'], addressable: false });
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => (statSync(path.join(dir, f)).isDirectory() ? walk(path.join(dir, f)) : [path.join(dir, f)]));
  for (const file of walk(path.join(lake, 'data'))) s3.put('data', path.relative(path.join(lake, 'data'), file), new Uint8Array(readFileSync(file)));
  events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
  replay = (await import('../services/replay/handler.js')).handler as Handler;
  trigger = (await import('../services/snapshot-trigger/handler.js')).handler as Handler;
});
beforeEach(() => sns.resetHistory());

describe('replay: a rejected Replay Requested resolves with a refusal, alerts once, starts nothing', () => {
  beforeAll(async () => {
    // a run of 2025-09-30 exists (its split job started): its tables are what a later-stage replay may name
    const [started] = await trigger({ dataset: 'infobase', snapshotDt: '2025-09-30' }, lambdaContext);
    expect(started).toMatchObject({ outcome: 'started' });
  });

  test.each([
    ['a hostile table name', { tables: ['x; DROP TABLE y'] }, /detail\.tables\.0/],
    ['a hostile dataset', { dataset: 'x; DROP TABLE y' }, /detail\.dataset/],
    ['an unknown dataset', { dataset: 'nope' }, /detail\.dataset: unknown dataset nope/],
    ['an impossible date', { snapshotDt: '2025-02-30' }, /detail\.snapshotDt: snapshotDt is not a real calendar date/],
    ['a date in another format', { snapshotDt: '31/10/2025' }, /detail\.snapshotDt: snapshotDt must be YYYY-MM-DD/],
    ['an unknown stage', { fromStage: 'bucketing' }, /detail\.fromStage/],
    ['no reason', { reason: '' }, /detail\.reason/],
    ['an unknown table', { tables: ['no_such_table'] }, /detail\.tables: no_such_table is not a table of the infobase mapping/],
    ['a known and an unknown table (a typo never becomes a partial run)', { tables: ['ibe_01a', 'ibe_01z'] }, /detail\.tables: ibe_01z is not a table/],
    [
      'an unknown table, from a later stage of a run',
      { snapshotDt: '2025-09-30', tables: ['ibe_01a', 'no_such_table'], fromStage: 'bucketed-tables' },
      /detail\.tables: no_such_table is not a table of run \S+ of infobase snapshot_dt=2025-09-30/,
    ],
    [
      'any table, from a later stage of a snapshot never run',
      { tables: ['ibe_01a'], fromStage: 'bucketed-tables' },
      /no run of infobase snapshot_dt=2025-10-31 to replay from bucketed-tables/,
    ],
    ['a snapshot that was never delivered', { snapshotDt: '2024-01-31' }, /snapshot_dt=2024-01-31/],
  ])('%s', async (_name, detail, reason) => {
    const before = ledgerKeys();
    const outcome = await replay(replayRequested(detail), lambdaContext); // resolves: a throw would be retried
    expect(outcome).toMatchObject({ outcome: 'refused', reason: expect.any(String) });
    expect(mails()).toHaveLength(1);
    expect(mails()[0]).toMatch(reason);
    expect(ledgerKeys().filter((k) => k.endsWith('run.json'))).toEqual(before.filter((k) => k.endsWith('run.json')));
  });

  test('a dry run naming an unknown table is refused as well (the plan it would show cannot run)', async () => {
    const outcome = await replay(replayRequested({ tables: ['no_such_table'], dryRun: true }), lambdaContext);
    expect(outcome).toMatchObject({ outcome: 'refused' });
    expect(mails()).toHaveLength(1);
    expect(mails()[0]).toMatch(/no_such_table/);
  });

  test('an event that is not even an EventBridge envelope is refused the same way', async () => {
    await expect(replay({ detail: 'x' }, lambdaContext)).resolves.toMatchObject({ outcome: 'refused' });
    await expect(replay(null, lambdaContext)).resolves.toMatchObject({ outcome: 'refused' });
    expect(mails()).toHaveLength(2);
  });
});

describe('snapshot-trigger: a rejected manual trigger (events/manual-trigger.json shape) resolves and alerts once', () => {
  test.each([
    ['a hostile table name', { tables: ['x; DROP TABLE y'] }, /tables\.0/],
    ['an unknown dataset', { dataset: 'nope' }, /dataset: unknown dataset nope/],
    ['an impossible date', { snapshotDt: '2025-02-30' }, /snapshot_dt=2025-02-30 is not a real YYYY-MM-DD date/],
    ['an unknown table', { tables: ['no_such_table'] }, /no_such_table/],
  ])('%s', async (_name, patch, reason) => {
    const before = ledgerKeys();
    const results = await trigger({ ...sample('manual-trigger.json'), ...patch }, lambdaContext);
    expect(Array.isArray(results)).toBe(true);
    expect(results.every((r: { outcome: string }) => r.outcome !== 'started')).toBe(true);
    expect(mails()).toHaveLength(1);
    expect(mails()[0]).toMatch(reason);
    expect(ledgerKeys().filter((k) => k.endsWith('run.json'))).toEqual(before.filter((k) => k.endsWith('run.json')));
  });
});
