// Which dataset an S3 key announces (services/snapshot-trigger and services/compaction route by it).
import { defaultConfig } from '../shared/domain/config.js';
import { landingMarkerOf, snapshotMarkerOf } from '../shared/events/ready-markers.js';

const config = defaultConfig();

test('a snapshot ready marker names its dataset and snapshot; anything else names none', () => {
  const ib = snapshotMarkerOf(config, 'omc_cleanroom_data/infobase_attributes/raw_input/snapshot_dt=2025-10-31/_SUCCESS');
  expect(ib && { dataset: ib.ds.name, snapshotDt: ib.snapshotDt }).toEqual({ dataset: 'infobase', snapshotDt: '2025-10-31' });
  const ad = snapshotMarkerOf(config, `${config.datasets.addressable!.rawPrefix}snapshot_dt=2025-10-31/_SUCCESS`);
  expect(ad?.ds.name).toBe('addressable');
  expect(snapshotMarkerOf(config, 'omc_cleanroom_data/infobase_attributes/raw_input/snapshot_dt=2025-10-31/part-0.parquet')).toBeUndefined();
  expect(snapshotMarkerOf(config, 'omc_cleanroom_data/infobase_attributes/raw_input/snapshot_dt=2025-10-31/x/_SUCCESS')).toBeUndefined();
  // a raw landing's marker is compaction's, not the split's
  expect(snapshotMarkerOf(config, `${config.datasets.addressable!.compaction!.sourcePrefix}snapshot_dt=2025-10-31/_SUCCESS`)).toBeUndefined();
});

test("a raw landing's marker names the dataset whose compaction is on", () => {
  const key = `${config.datasets.addressable!.compaction!.sourcePrefix}snapshot_dt=2025-10-31/_SUCCESS`;
  expect(landingMarkerOf(config, key)?.ds.name).toBe('addressable');
  const off = { ...config, datasets: { ...config.datasets, addressable: { ...config.datasets.addressable!, compaction: undefined } } };
  expect(landingMarkerOf(off, key)).toBeUndefined();
  expect(landingMarkerOf(config, `${config.datasets.infobase!.rawPrefix}snapshot_dt=2025-10-31/_SUCCESS`)).toBeUndefined();
});
