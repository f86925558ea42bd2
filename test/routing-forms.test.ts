// Issue 15: an S3 notification in `Records` form (S3 → Lambda) routes exactly as the EventBridge
// `Object Created` form of the same key does, for every marker kind: a dataset's split ready marker to
// snapshot-trigger, a raw landing's marker to compaction, anything else nowhere. Keys in `Records` are
// URL-encoded (`=` as %3D, a space as +, a + as %2B); the EventBridge form carries them as they are.
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeCompactionHandler } from '../services/compaction/compaction.js';
import { makeSnapshotTriggerHandler } from '../services/snapshot-trigger/snapshot-trigger.js';
import { LocalBus } from '../shared/adapters/local/local-bus.js';
import { ADDRESSABLE, INFOBASE } from '../shared/domain/config.js';
import { routes, s3RecordKey, type FunctionName } from '../shared/events/patterns.js';
import { generateSampleLake } from '../shared/local/sample-lake.js';
import { open } from './local/harness.js';

const sample = (name: string) => JSON.parse(readFileSync(new URL(`../events/${name}`, import.meta.url), 'utf8')) as Record<string, any>;

/** Routes with a dataset whose prefixes hold a space and a +, so both encodings matter. */
const params = {
  dataBucket: 'data',
  athenaWorkgroup: 'wg',
  monitorWorkgroup: 'wg-monitor',
  datasets: [
    { rawPrefix: INFOBASE.rawPrefix, readyMarker: '_SUCCESS', splitJobName: 'split-infobase', compactionPrefix: INFOBASE.compaction!.sourcePrefix },
    { rawPrefix: ADDRESSABLE.rawPrefix, readyMarker: '_SUCCESS', splitJobName: 'split-addressable', compactionPrefix: ADDRESSABLE.compaction!.sourcePrefix },
    { rawPrefix: 'landing zone/c++ data/raw_input/', readyMarker: '_READY', splitJobName: 'split-odd', compactionPrefix: 'opus/odd name/raw_input/' },
  ],
  compactionJobName: 'compaction',
  chargebacksJobName: 'chargebacks',
};

/** How S3 writes a key into a notification record: URL-encoded, '/' kept, a space as '+'. */
const encodeKey = (key: string) => encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+');

function eventBridgeForm(key: string, bucket = 'data') {
  const e = sample('s3-object-created.eventbridge.json');
  return { ...e, detail: { ...e.detail, bucket: { name: bucket }, object: { ...e.detail.object, key } } };
}

function record(key: string, bucket = 'data', sequencer = '0A1B2C3D4E5F678901') {
  const r = sample('s3-notification.records.json').Records[0];
  return {
    ...r,
    s3: { ...r.s3, bucket: { ...r.s3.bucket, name: bucket, arn: `arn:aws:s3:::${bucket}` }, object: { ...r.s3.object, key: encodeKey(key), sequencer } },
  };
}

const recordsForm = (...keys: string[]) => ({ Records: keys.map((k, i) => record(k, 'data', `SEQ${i}`)) });

/** A bus over the routes whose handlers only record what reached them. */
function recordingBus() {
  const got: Array<{ fn: FunctionName; keys: string[] }> = [];
  const bus = new LocalBus(routes(params), { now: () => new Date('2025-11-01T00:00:00Z') });
  const keysOf = (e: any): string[] => ('Records' in e ? e.Records.map((r: any) => s3RecordKey(r.s3.object.key)) : [e.detail.object.key]);
  const fns: FunctionName[] = [
    'snapshotTrigger',
    'registerStagedTables',
    'bucketedTables',
    'dataMonitor',
    'replay',
    'compaction',
    'chargebacks',
    'reconciler',
    'cleanroomsReport',
  ];
  bus.attach(Object.fromEntries(fns.map((fn) => [fn, async (e: unknown) => void got.push({ fn, keys: keysOf(e) })])));
  return { bus, got };
}

async function routed(event: unknown) {
  const { bus, got } = recordingBus();
  bus.deliver(event);
  await bus.drain();
  return got;
}

const KEYS: Record<string, { key: string; to: FunctionName[] }> = {
  'infobase split ready marker': { key: `${INFOBASE.rawPrefix}snapshot_dt=2025-10-31/_SUCCESS`, to: ['snapshotTrigger'] },
  'addressable split ready marker': { key: `${ADDRESSABLE.rawPrefix}snapshot_dt=2025-10-31/_SUCCESS`, to: ['snapshotTrigger'] },
  'infobase raw-landing (compaction) marker': { key: `${INFOBASE.compaction!.sourcePrefix}snapshot_dt=2025-10-31/_SUCCESS`, to: ['compaction'] },
  'addressable raw-landing (compaction) marker': { key: `${ADDRESSABLE.compaction!.sourcePrefix}snapshot_dt=2025-10-31/_SUCCESS`, to: ['compaction'] },
  'ready marker under a prefix with a space and a +': { key: 'landing zone/c++ data/raw_input/snapshot_dt=2025-10-31/_READY', to: ['snapshotTrigger'] },
  'raw-landing marker under a prefix with a space': { key: 'opus/odd name/raw_input/snapshot_dt=2025-10-31/_READY', to: ['compaction'] },
  'a data file': { key: `${INFOBASE.rawPrefix}snapshot_dt=2025-10-31/IBE_01/part-0.parquet`, to: [] },
  'a data file of a raw landing': { key: `${ADDRESSABLE.compaction!.sourcePrefix}snapshot_dt=2025-10-31/part 0.parquet`, to: [] },
  'a key with spaces where the prefix has a + (a + is not a space)': { key: 'landing zone/c   data/raw_input/snapshot_dt=2025-10-31/_READY', to: [] },
};

describe('both S3 event forms route every marker the same way', () => {
  test('the sample Records event names a URL-encoded key (%3D)', () => {
    expect(sample('s3-notification.records.json').Records[0].s3.object.key).toContain('snapshot_dt%3D');
    expect(record('landing zone/c++ data/x=1/_READY').s3.object.key).toBe('landing+zone/c%2B%2B+data/x%3D1/_READY');
    expect(s3RecordKey('landing+zone/c%2B%2B+data/x%3D1/_READY')).toBe('landing zone/c++ data/x=1/_READY');
    expect(s3RecordKey('bad%E0%A4%A')).toBeUndefined(); // malformed escapes route nowhere rather than throw
  });

  test.each(Object.entries(KEYS))('%s: EventBridge and Records forms reach the same function(s)', async (_name, { key, to }) => {
    const viaEventBridge = await routed(eventBridgeForm(key));
    const viaRecords = await routed(recordsForm(key));
    expect(viaEventBridge.map((g) => g.fn)).toEqual(to);
    expect(viaRecords.map((g) => g.fn)).toEqual(to);
    for (const g of viaRecords) expect(g.keys).toEqual([key]);
  });

  test('another bucket routes nowhere in either form', async () => {
    const key = KEYS['addressable raw-landing (compaction) marker']!.key;
    expect(await routed(eventBridgeForm(key, 'other'))).toEqual([]);
    expect(await routed({ Records: [record(key, 'other')] })).toEqual([]);
  });

  test('several records in one event: each function receives its own records, once', async () => {
    const keys = Object.values(KEYS).map((k) => k.key);
    const got = await routed(recordsForm(...keys));
    const expected = (fn: FunctionName) =>
      Object.values(KEYS)
        .filter((k) => k.to.includes(fn))
        .map((k) => k.key);
    expect(got.map((g) => g.fn).sort()).toEqual(['compaction', 'snapshotTrigger']);
    expect(got.find((g) => g.fn === 'snapshotTrigger')!.keys).toEqual(expected('snapshotTrigger'));
    expect(got.find((g) => g.fn === 'compaction')!.keys).toEqual(expected('compaction'));
    // and the union equals routing each key alone in its EventBridge form
    const one = await Promise.all(keys.map(async (k) => (await routed(eventBridgeForm(k))).map((g) => [g.fn, k] as const)));
    expect(one.flat().sort()).toEqual(got.flatMap((g) => g.keys.map((k) => [g.fn, k] as const)).sort());
  });

  test('a removal (ObjectRemoved) record routes nowhere, as no rule takes Object Deleted', async () => {
    const r = record(KEYS['infobase split ready marker']!.key);
    expect(await routed({ Records: [{ ...r, eventName: 'ObjectRemoved:Delete' }] })).toEqual([]);
  });
});

describe('the handlers take both forms', () => {
  test('compaction: the raw-landing marker as an S3 notification record starts the compaction, as its EventBridge form does', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'flywheel-routing-'));
    await generateSampleLake(path.join(home, 'lake'), { rows: 200, snapshots: ['2025-09-30', '2025-10-31'], rawLanding: true });
    const rt = await open(home);
    try {
      const handler = makeCompactionHandler(rt.deps);
      const key = `${ADDRESSABLE.compaction!.sourcePrefix}snapshot_dt=2025-10-31/_SUCCESS`;
      const viaRecords = (await handler({
        Records: [
          record(key),
          record(`${ADDRESSABLE.compaction!.sourcePrefix}snapshot_dt=2025-09-30/_SUCCESS`),
          record(`${INFOBASE.rawPrefix}snapshot_dt=2025-10-31/_SUCCESS`),
        ],
      })) as Array<{ args?: Record<string, string>; declined?: string; reason?: string }>;
      // one result per record: two compactions started, and the pipeline's ready marker declined (not compaction's)
      expect(viaRecords.map((j) => j.args?.SNAPSHOT_DT ?? `${j.declined}: ${j.reason}`)).toEqual([
        '2025-10-31',
        '2025-09-30',
        'ignored: object is not the ready marker of a raw landing with compaction on (<landing prefix>snapshot_dt=D/<marker>)',
      ]);
      const viaEventBridge = (await handler(sample('s3-object-created.raw-landing.json'))) as { args: Record<string, string> };
      expect(viaEventBridge.args).toEqual(viaRecords[0]!.args);
      // misrouted to snapshot-trigger (an S3 notification wired to it alone), the raw marker starts no run there
      expect(await makeSnapshotTriggerHandler(rt.deps)({ Records: [record(key)] })).toEqual([
        expect.objectContaining({ declined: 'ignored', reason: expect.stringMatching(/^a raw landing's ready marker reached snapshot-trigger/) }),
      ]);
    } finally {
      rt.close();
    }
  });

  test('through the local bus, the Records form of the raw-landing marker compacts and the pipeline follows', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'flywheel-routing-'));
    await generateSampleLake(path.join(home, 'lake'), { rows: 200, snapshots: ['2025-10-31'], rawLanding: true });
    const rt = await open(home);
    try {
      rt.bus.deliver(sample('s3-notification.records.json')); // infobase ready marker → snapshot-trigger
      rt.bus.deliver({ Records: [record(`${ADDRESSABLE.compaction!.sourcePrefix}snapshot_dt=2025-10-31/_SUCCESS`)] });
      await rt.bus.drain();
      const jobs = rt.bus.published.filter((e) => e['detail-type'] === 'Glue Job State Change').map((e) => [e.detail.jobName, e.detail.state]);
      expect(jobs).toContainEqual(['flywheel-local-compaction', 'SUCCEEDED']);
      expect(jobs).toContainEqual(['flywheel-local-addressable-bucket', 'SUCCEEDED']);
      expect(jobs).toContainEqual(['flywheel-local-infobase-split-and-bucket', 'SUCCEEDED']);
    } finally {
      rt.close();
    }
  });

  test('snapshot-trigger: a + in a Records key is decoded as a space, %2B as a +', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'flywheel-routing-'));
    const rt = await open(home, {
      config: { datasets: { odd: { ...INFOBASE, name: 'odd', rawPrefix: 'landing zone/c++ data/raw_input/', compaction: undefined } } } as never,
    });
    try {
      const key = 'landing zone/c++ data/raw_input/snapshot_dt=2025-10-31/_SUCCESS';
      const [viaRecords] = await makeSnapshotTriggerHandler(rt.deps)({ Records: [record(key)] });
      const [viaEventBridge] = await makeSnapshotTriggerHandler(rt.deps)(eventBridgeForm(key));
      // the lake is empty: both forms reach the run for that snapshot (which then finds no data)
      expect(viaRecords).toMatchObject({ outcome: 'failed', snapshotDt: '2025-10-31' });
      expect(viaEventBridge).toMatchObject({ outcome: 'failed', snapshotDt: '2025-10-31' });
    } finally {
      rt.close();
    }
  });
});
