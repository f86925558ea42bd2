// Issue 18 point 7: the file sizes a user tunes are stage parameters that reach the code (SPLIT_TARGET_FILE_MB,
// COMPACTION_TARGET_FILE_MB → the pipeline config the use cases plan with), and a bad value is a deployment error;
// so is the bucket count (BUCKET_COUNT).
import { awsConfig, monitorOptionsFromEnv, settingsFromEnv } from '../shared/composition/aws.js';
import { monitorOptionsOf } from '../shared/use-cases/data-monitor/data-monitor.js';

const base: NodeJS.ProcessEnv = {
  DATA_BUCKET: 'data',
  ANALYSIS_BUCKET: 'analysis',
  GLUE_DATABASE: 'flywheel_dev',
  SPLIT_JOB_NAME: 'split',
  ADDRESSABLE_JOB_NAME: 'addressable',
  ATHENA_WORKGROUP: 'wg',
  EVENT_BUS_NAME: 'bus',
  ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:alerts',
  COMPACTION_DATASETS: 'infobase,addressable',
};
const MiB = 1024 * 1024;

test('the target file sizes come from the stage parameters; absent, the defaults', () => {
  const defaults = awsConfig(settingsFromEnv(base));
  expect(defaults.targetFileBytes).toBe(512 * MiB);
  expect(defaults.datasets.addressable!.compaction!.targetFileBytes).toBe(256 * MiB);
  const tuned = awsConfig(settingsFromEnv({ ...base, SPLIT_TARGET_FILE_MB: '128', COMPACTION_TARGET_FILE_MB: '64' }));
  expect(tuned.targetFileBytes).toBe(128 * MiB);
  expect(Object.values(tuned.datasets).map((d) => d.compaction?.targetFileBytes)).toEqual([64 * MiB, 64 * MiB]);
});

test('a target file size that is not a whole number of megabytes is refused, naming the variable', () => {
  for (const bad of ['0', '-5', '1.5', 'big', '9999'])
    expect(() => settingsFromEnv({ ...base, SPLIT_TARGET_FILE_MB: bad })).toThrow(
      new RegExp(`SPLIT_TARGET_FILE_MB=${bad.replace('.', '\\.')} is not a whole number of megabytes`),
    );
});

test('the bucket count comes from BUCKET_COUNT (the stage parameter bucketCount): the config, the monitor default; a bad one is refused', () => {
  expect(awsConfig(settingsFromEnv(base)).bucketCount).toBe(256);
  const s = settingsFromEnv({ ...base, BUCKET_COUNT: '16' });
  expect(awsConfig(s).bucketCount).toBe(16);
  expect(monitorOptionsOf(monitorOptionsFromEnv({}, s)).bucket_count).toBe(16);
  // a per-invocation monitor option still wins over the deployment's default
  expect(monitorOptionsOf(monitorOptionsFromEnv({}, s), { bucket_count: '32' }).bucket_count).toBe(32);
  for (const bad of ['0', '1', '100', '512', 'x'])
    expect(() => settingsFromEnv({ ...base, BUCKET_COUNT: bad })).toThrow(
      /environment variable BUCKET_COUNT \(the stage parameter bucketCount in serverless.yml\) must be a power of two/,
    );
});
