import { readFileSync } from 'node:fs';
import { matches, routes, scheduledFunction } from '../shared/events/patterns.js';

const params = {
  dataBucket: 'data',
  athenaWorkgroup: 'flywheel-dev',
  monitorWorkgroup: 'flywheel-dev-monitor',
  datasets: [
    {
      rawPrefix: 'omc_cleanroom_data/infobase_attributes/raw_input/',
      readyMarker: '_SUCCESS',
      splitJobName: 'flywheel-dev-infobase-split-and-bucket',
      compactionPrefix: 'opus/infobase_attributes/raw_input/',
    },
    {
      rawPrefix: 'omc_cleanroom_data/addressable/addressable_ids_compaction_cr/',
      readyMarker: '_SUCCESS',
      splitJobName: 'flywheel-dev-addressable-bucket',
      compactionPrefix: 'opus/addressable_ids/raw_input/',
    },
  ],
  compactionJobName: 'flywheel-dev-compaction',
  chargebacksJobName: 'flywheel-dev-chargebacks-consolidation',
};
const event = (name: string) => JSON.parse(readFileSync(new URL(`../events/${name}`, import.meta.url), 'utf8')) as Record<string, any>;
const routed = (e: unknown) =>
  routes(params)
    .filter((r) => matches(r.pattern, e))
    .map((r) => r.fn);

describe('event patterns (shared by serverless.yml and the local bus)', () => {
  test('each sample event reaches exactly its function', () => {
    expect(routed(event('s3-object-created.eventbridge.json'))).toEqual(['snapshotTrigger']);
    expect(routed(event('glue-job-state-change.succeeded.json'))).toEqual(['registerStagedTables']);
    expect(routed(event('glue-job-state-change.failed.json'))).toEqual(['registerStagedTables']);
    expect(routed(event('athena-query-state-change.succeeded.json'))).toEqual(['bucketedTables']);
    expect(routed(event('stage-completed.register-staged-tables.json'))).toEqual(['bucketedTables']);
    expect(routed(event('s3-object-created.raw-landing.json'))).toEqual(['compaction']);
    expect(routed(event('glue-job-state-change.compaction-failed.json'))).toEqual(['compaction']);
    expect(routed(event('glue-job-state-change.chargebacks-failed.json'))).toEqual(['chargebacks']);
    // schedules are rules with a rate, not patterns: the local bus reads the function from the rule name
    expect(routed(event('scheduled-event.chargebacks.json'))).toEqual([]);
    expect(scheduledFunction(event('scheduled-event.chargebacks.json'))).toBe('chargebacks');
    expect(scheduledFunction(event('scheduled-event.json'))).toBe('snapshotTrigger');
    expect(scheduledFunction(event('s3-object-created.eventbridge.json'))).toBeUndefined();
  });

  test('objects that are not a ready marker, other buckets, jobs and workgroups start nothing', () => {
    const s3 = event('s3-object-created.eventbridge.json');
    expect(
      routed({
        ...s3,
        detail: { ...s3.detail, object: { key: 'omc_cleanroom_data/infobase_attributes/raw_input/snapshot_dt=2025-10-31/IBE_01/part-0.parquet' } },
      }),
    ).toEqual([]);
    expect(routed({ ...s3, detail: { ...s3.detail, bucket: { name: 'other' } } })).toEqual([]);
    const glue = event('glue-job-state-change.succeeded.json');
    expect(routed({ ...glue, detail: { ...glue.detail, jobName: 'someone-elses-job' } })).toEqual([]);
    expect(routed({ ...glue, detail: { ...glue.detail, state: 'RUNNING' } })).toEqual([]);
    const athena = event('athena-query-state-change.succeeded.json');
    expect(routed({ ...athena, detail: { ...athena.detail, workgroupName: 'primary' } })).toEqual([]);
    expect(routed({ ...athena, detail: { ...athena.detail, currentState: 'RUNNING' } })).toEqual([]);
  });

  test('pattern operators behave as EventBridge documents them', () => {
    expect(matches({ a: [{ prefix: 'x' }] }, { a: 'xyz' })).toBe(true);
    expect(matches({ a: [{ suffix: 'z' }] }, { a: 'xyz' })).toBe(true);
    expect(matches({ a: [{ wildcard: 'x*z' }] }, { a: 'x/y/z' })).toBe(true);
    expect(matches({ a: [{ wildcard: 'x*z' }] }, { a: 'x/y/za' })).toBe(false);
    expect(matches({ a: [{ 'anything-but': ['b'] }] }, { a: 'c' })).toBe(true);
    expect(matches({ a: [{ 'anything-but': ['b'] }] }, { a: 'b' })).toBe(false);
    expect(matches({ a: [{ exists: false }] }, {})).toBe(true);
    expect(matches({ a: ['x'] }, { a: ['y', 'x'] })).toBe(true);
    expect(matches({ a: { b: [1] } }, { a: { b: 2 } })).toBe(false);
  });
});
