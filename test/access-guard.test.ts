/**
 * The access guard: local mode runs each handler with ports that refuse what the function's reach
 * does not grant, as IAM refuses it in AWS (every local test of the pipeline runs behind it).
 */
import { guardDeps } from '../shared/adapters/access-guard.js';
import { FUNCTION_REACH } from '../shared/composition/function-reach.js';
import { localCleanroomsDefaults } from '../shared/composition/local.js';
import { defaultConfig } from '../shared/domain/config.js';
import { denial, storeGrant, type Grant } from '../shared/domain/access.js';
import type { Deps } from '../shared/deps.js';
import { AccessDeniedError } from '../shared/ports.js';

const config = defaultConfig();
const reach = (fn: keyof typeof FUNCTION_REACH) =>
  FUNCTION_REACH[fn]({
    config,
    monitorDefaults: { database: config.database, report_bucket: config.analysisBucket },
    cleanrooms: localCleanroomsDefaults(config),
  });

/** Ports that only record what reached them. */
function recordingDeps(): { deps: Deps; calls: string[] } {
  const calls: string[] = [];
  const rec =
    (name: string) =>
    async (...args: unknown[]) => (calls.push(`${name} ${JSON.stringify(args[1] ?? args[0])}`), undefined);
  const port = (names: string[]) => Object.fromEntries(names.map((n) => [n, rec(n)]));
  const deps = {
    config,
    store: port(['list', 'get', 'getRange', 'head', 'put', 'delete', 'copy', 'copyMany']),
    catalog: port(['getTable', 'listTables', 'upsertTable', 'deleteTable', 'getPartitions', 'addPartitions', 'switchTables']),
    engine: port(['start', 'status', 'results']),
    monitorEngine: port(['start', 'status', 'results']),
    jobs: port(['startSplitJob', 'startJob', 'jobRunState']),
    bus: port(['put']),
    notifier: port(['publish']),
    readFooter: rec('readFooter'),
  } as unknown as Deps;
  return { deps, calls };
}

test('a call inside the reach goes through; one outside fails as AccessDeniedError naming the call and the function', async () => {
  const { deps, calls } = recordingDeps();
  const guarded = guardDeps(deps, reach('compaction'), { principal: 'function compaction' });
  await guarded.store.get('data', '_runs/index/jobs/jr_1.json');
  expect(calls).toEqual(['get "_runs/index/jobs/jr_1.json"']);
  const err = await guarded.store.get('data', 'omc_cleanroom_data/infobase_attributes/raw_input/snapshot_dt=2025-10-31/_SUCCESS').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AccessDeniedError);
  expect((err as Error).message).toMatch(/^access denied: function compaction may not store\.get of s3:\/\/data\/omc_cleanroom_data\/infobase_attributes/);
  await expect(guarded.catalog.getTable('flywheel', 'part_x')).rejects.toBeInstanceOf(AccessDeniedError);
  await expect(guarded.jobs.startJob('chargebacks', {})).rejects.toBeInstanceOf(AccessDeniedError);
  await expect(guarded.jobs.startJob('compaction', {})).resolves.toBeUndefined();
  expect(calls).toHaveLength(2); // nothing refused reached the adapter
});

test('copyMany is checked copy by copy as copy is (get of the source, copy to the destination); nothing is copied if one is refused', async () => {
  const { deps, calls } = recordingDeps();
  const guarded = guardDeps(deps, reach('bucketedTables'), { principal: 'function bucketedTables' });
  const base = 'omc_cleanroom_data/cleanroom_tables/bucketed/';
  const copy = (toKey: string) => ({ fromBucket: 'data', fromKey: `${base}part_t/snapshot_dt=D/run_id=R/id_bucket=3/x.parquet`, toBucket: 'data', toKey });
  await guarded.store.copyMany([copy(`${base}bucketed_t/snapshot_dt=D/run_id=R/000003_0_x.parquet`)]);
  expect(calls).toHaveLength(1);
  const outside = copy('omc_cleanroom_data/split_cluster/infobase_attributes/t/000003_0_x.parquet');
  const err = await guarded.store.copyMany([copy(`${base}bucketed_t/snapshot_dt=D/run_id=R/000003_0_x.parquet`), outside]).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AccessDeniedError);
  expect((err as Error).message).toMatch(/may not store\.copy of s3:\/\/data\/omc_cleanroom_data\/split_cluster\//);
  await expect(guarded.store.copy(outside.fromBucket, outside.fromKey, outside.toBucket, outside.toKey)).rejects.toBeInstanceOf(AccessDeniedError);
  expect(calls).toHaveLength(1);
});

test('a refusal is a rejected promise, so callers chaining .catch() or .then(ok, failed) see it', async () => {
  const { deps } = recordingDeps();
  const guarded = guardDeps(deps, [], { principal: 'function x' });
  let caught: unknown;
  await guarded.notifier.publish({ subject: 's', body: 'b' }).catch((e: unknown) => (caught = e));
  expect(caught).toBeInstanceOf(AccessDeniedError);
});

test('queries are checked by the tables they read and write and where they write', () => {
  const grants = reach('bucketedTables');
  const step = {
    kind: 'part-range' as const,
    database: 'flywheel',
    table: 't',
    first: true,
    stagingTable: 'part_t__r1',
    sourceTable: 'ext_t__r1',
    columns: [],
    fromBucket: 0,
    toBucket: 99,
  };
  expect(
    denial(grants, {
      port: 'engine',
      method: 'start',
      query: { ...step, location: 's3://data/omc_cleanroom_data/cleanroom_tables/bucketed/part_t/snapshot_dt=D/run_id=R/' },
    }),
  ).toBeUndefined();
  // the same query writing into the split output (a live table's data) is not in the reach
  expect(
    denial(grants, { port: 'engine', method: 'start', query: { ...step, location: 's3://data/omc_cleanroom_data/split_cluster/infobase_attributes/t/' } }),
  ).toMatch(/engine\.start of a part-range query/);
  expect(denial(grants, { port: 'monitorEngine', method: 'start', query: { kind: 'monitor-count', database: 'flywheel', table: 'part_t' } })).toMatch(
    /monitorEngine\.start/,
  );
});

test("every function's reach names only the ports and resources of its stage", () => {
  const ports = (g: Grant[]) => [...new Set(g.map((x) => x.port))].sort();
  expect(ports(reach('compaction'))).toEqual(['jobs', 'notifier', 'store']);
  expect(ports(reach('cleanroomsReport'))).toEqual(['catalog', 'directory', 'notifier', 'store']);
  expect(ports(reach('snapshotTrigger'))).not.toContain('engine');
  expect(ports(reach('registerStagedTables'))).not.toContain('engine');
  // the monitor never writes data: its partition repairs are catalog-only DDL
  expect(
    reach('dataMonitor')
      .filter((g) => g.port === 'monitorEngine')
      .every((g) => g.port === 'monitorEngine' && g.writes.length === 0),
  ).toBe(true);
  expect(denial([storeGrant(['get'], 'data', 'a/')], { port: 'store', method: 'put', bucket: 'data', key: 'a/x' })).toBe('store.put of s3://data/a/x');
});
