// The addressable ids dataset through the same stages: its own job, ledger and tables; landing of
// one dataset never blocks the other.
import { count, ledger, open, runPipeline, sampleHome } from './harness.js';
import { makeLedgerStore } from '../../shared/use-cases/ledger-store.js';

test('both datasets land together and are processed independently', async () => {
  const home = await sampleHome(600, true);
  const rt = await open(home);
  try {
    rt.bus.invoke('snapshotTrigger', { dataset: 'infobase', rerun: true });
    rt.bus.invoke('snapshotTrigger', { dataset: 'addressable', rerun: true });
    await rt.bus.drain();
    const addressable = (await makeLedgerStore(rt.store, rt.deps.config, rt.deps.clock).load('addressable', '2025-10-31'))!.ledger;
    expect(addressable.status).toBe('SUCCEEDED');
    expect(addressable.stages['split-and-bucket'].jobName).toBe('flywheel-local-addressable-bucket');
    expect((await ledger(rt, '2025-10-31'))!.status).toBe('SUCCEEDED');
    for (const t of ['ext_addressable_ids', 'part_addressable_ids', 'bucketed_addressable_ids', 'part_addressable_ids_er'])
      expect(await count(rt, `select count(*) from ${t}`)).toBe(300);
    const cols = (await rt.catalog.getTable('flywheel', 'part_addressable_ids'))!.columns.map((c) => c.name);
    expect(cols).toEqual(['customer_user_id', 'addressable_id', 'id_type']);
    expect((await rt.catalog.getTable('flywheel', 'part_addressable_ids'))!.location).toMatch(
      /^s3:\/\/data\/omc_cleanroom_data\/cleanroom_tables\/bucketed\/addressable\/part_addressable_ids\/snapshot_dt=2025-10-31\//,
    );
    expect(await count(rt, 'select count(*) from part_ibe_04')).toBe(600);
  } finally {
    rt.close();
  }
});

test('a failing addressable run does not hold back infobase', async () => {
  const home = await sampleHome(300, true);
  const rt = await open(home);
  try {
    const { promises: fs } = await import('node:fs');
    const { lakePath } = await import('./harness.js');
    await fs.writeFile(lakePath(home, 'omc_cleanroom_data/addressable/addressable_ids_compaction_cr/snapshot_dt=2025-10-31/notes.csv'), 'x');
    await runPipeline(rt, { dataset: 'addressable', rerun: true });
    await runPipeline(rt, { dataset: 'infobase', rerun: true });
    const store = makeLedgerStore(rt.store, rt.deps.config, rt.deps.clock);
    expect(await store.load('addressable', '2025-10-31')).toBeUndefined(); // refused: non-parquet file, alert sent
    expect((await ledger(rt, '2025-10-31'))!.status).toBe('SUCCEEDED');
  } finally {
    rt.close();
  }
});
