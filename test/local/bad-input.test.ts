// Bad input: each case gets a clear error naming snapshot/table/fix, an alert, nothing lost, and the
// independent tables proceed.
import { promises as fs, rmSync } from 'node:fs';
import { count, lakePath, ledger, liveHome, open, outbox, RAW, runPipeline, sampleHome } from './harness.js';
import type { LocalOptions } from '../../shared/composition/local.js';

const SNAP = `${RAW}snapshot_dt=2025-10-31/`;
const MAPPING = 'support_files/omc_flywheel_infobase_table_split_lowercase.csv';

/** A home where 2025-09-30 is live, then `mutate` breaks something, then the latest snapshot runs. */
async function scenario(mutate: (home: string) => Promise<void>, options: Partial<LocalOptions> = {}) {
  const home = await liveHome(400);
  await mutate(home);
  const rt = await open(home, options);
  await runPipeline(rt, { dataset: 'infobase' });
  const result = { home, rt, ledger: await ledger(rt, '2025-10-31'), mail: await outbox(home) };
  return result;
}

async function liveSnapshot(rt: Awaited<ReturnType<typeof open>>, table: string) {
  return (await rt.catalog.getTable('flywheel', table))?.parameters.snapshot_dt;
}

describe('bad input', () => {
  test('no valid snapshot: alert naming the fix, nothing starts', async () => {
    const home = await sampleHome(100);
    for (const d of ['snapshot_dt=2025-09-30', 'snapshot_dt=2025-10-31']) rmSync(lakePath(home, RAW + d), { recursive: true });
    const rt = await open(home);
    await runPipeline(rt, { dataset: 'infobase' });
    const mail = await outbox(home);
    expect(mail).toHaveLength(1);
    expect(mail[0]).toMatch(/no valid snapshot_dt=YYYY-MM-DD folder/);
    expect(mail[0]).toMatch(/Fix: +upload the snapshot under/);
    expect(rt.bus.published.filter((e) => e.source === 'aws.glue')).toEqual([]);
    rt.close();
  });

  test('ready marker missing: refused, previous snapshot stays live', async () => {
    const { rt, ledger: l, mail } = await scenario(async (home) => fs.rm(lakePath(home, `${SNAP}_SUCCESS`)));
    // without its marker, 2025-10-31 is not ready: asking for it by name is refused
    await runPipeline(rt, { dataset: 'infobase', snapshotDt: '2025-10-31' });
    const after = await outbox(rt.home);
    expect(after.at(-1)).toMatch(/ready marker _SUCCESS missing for snapshot_dt=2025-10-31/);
    expect(l).toBeUndefined();
    expect(mail.length).toBeGreaterThanOrEqual(1);
    expect(await liveSnapshot(rt, 'part_ibe_04')).toBe('2025-09-30');
    rt.close();
  });

  test('empty source table: that table is skipped and alerted, the others go live', async () => {
    const {
      rt,
      ledger: l,
      mail,
    } = await scenario(async (home) => {
      const dir = lakePath(home, `${SNAP}IBE_04`);
      await fs.rm(dir, { recursive: true });
      await fs.mkdir(dir);
      const one = await open(home);
      await one.db.run(
        `COPY (SELECT 'x' AS CUSTOMER_USER_ID, 1::BIGINT AS IBE4100_NET_WORTH, 'A' AS IBE4200_CREDIT_BAND, 1.0 AS IBE4300_SCORE WHERE false) TO '${dir}/part-0.parquet' (FORMAT parquet)`,
      );
      one.close();
    });
    expect(l!.skipped).toEqual([expect.objectContaining({ target: 'ibe_04', reason: expect.stringMatching(/IBE_04 is empty/) })]);
    expect(mail.some((m) => /table=ibe_04/.test(m) && /IBE_04 is empty/.test(m) && /snapshot_dt=2025-10-31/.test(m))).toBe(true);
    expect(await liveSnapshot(rt, 'part_ibe_04')).toBe('2025-09-30');
    expect(await liveSnapshot(rt, 'part_miacs_01')).toBe('2025-10-31');
    expect(l!.status).toBe('FAILED');
    rt.close();
  });

  test('mapping CSV missing: nothing starts, alert names the file', async () => {
    const { rt, ledger: l, mail } = await scenario(async (home) => fs.rm(lakePath(home, MAPPING)));
    expect(l).toBeUndefined();
    expect(mail.at(-1)).toMatch(/mapping CSV s3:\/\/data\/support_files\/omc_flywheel_infobase_table_split_lowercase\.csv is missing/);
    expect(await liveSnapshot(rt, 'part_miacs_02')).toBe('2025-09-30');
    rt.close();
  });

  test('mapping CSV malformed: nothing starts', async () => {
    const { rt, ledger: l, mail } = await scenario(async (home) => fs.writeFile(lakePath(home, MAPPING), 'table,column\nIBE_01,X\n'));
    expect(l).toBeUndefined();
    expect(mail.at(-1)).toMatch(/header must be source_table,source_column,target_table,target_column/);
    rt.close();
  });

  test('mapping names absent columns / duplicates a target column: only those targets skipped', async () => {
    const {
      rt,
      ledger: l,
      mail,
    } = await scenario(async (home) => {
      const csv = await fs.readFile(lakePath(home, MAPPING), 'utf8');
      await fs.writeFile(lakePath(home, MAPPING), `${csv.trimEnd()}\nIBE_04,NOT_THERE,ibe_04,not_there\nMIACS_02,MIACS_12_002,miacs_02,miacs_12_001\n`);
    });
    expect(l!.skipped.map((s) => s.target).sort()).toEqual(['ibe_04', 'miacs_02']);
    expect(mail.some((m) => /NOT_THERE/.test(m) && /table=ibe_04/.test(m))).toBe(true);
    expect(mail.some((m) => /duplicate target columns miacs_12_001/.test(m))).toBe(true);
    expect(Object.keys(l!.tables).sort()).toEqual(['ibe_01a', 'ibe_01b', 'miacs_01']);
    expect(await liveSnapshot(rt, 'part_ibe_01a')).toBe('2025-10-31');
    rt.close();
  });

  test('non-parquet file in a table folder: that source is skipped', async () => {
    const { rt, ledger: l, mail } = await scenario(async (home) => fs.writeFile(lakePath(home, `${SNAP}MIACS_01/extract.csv`), 'a,b\n'));
    expect(l!.skipped).toEqual([expect.objectContaining({ target: 'miacs_01', reason: expect.stringMatching(/non-parquet files MIACS_01\/extract\.csv/) })]);
    expect(mail.some((m) => /extract\.csv/.test(m))).toBe(true);
    expect(await liveSnapshot(rt, 'part_miacs_01')).toBe('2025-09-30');
    rt.close();
  });

  test('schema differing between files of one table: that source is skipped', async () => {
    const { rt, ledger: l } = await scenario(async (home) => {
      const one = await open(home);
      await one.db.run(
        `COPY (SELECT 'x' AS CUSTOMER_USER_ID, 42 AS MIACS_12_001, true AS MIACS_12_002) TO '${lakePath(home, `${SNAP}MIACS_02/part-9.parquet`)}' (FORMAT parquet)`,
      );
      one.close();
    });
    expect(l!.skipped).toEqual([expect.objectContaining({ target: 'miacs_02', reason: expect.stringMatching(/schema differs between files/) })]);
    expect(await count(rt, 'select count(*) from part_miacs_02')).toBe(396); // 2025-09-30 rows, still live
    rt.close();
  });

  test('split job fails: alert with the replay command; live tables keep the previous snapshot', async () => {
    const { rt, ledger: l, mail } = await scenario(async () => undefined, { faults: { job: () => 'AnalysisException: injected' } });
    expect(l!.stages['split-and-bucket']).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/injected/) });
    expect(mail.at(-1)).toMatch(/split-and-bucket FAILED infobase snapshot_dt=2025-10-31/);
    expect(mail.at(-1)).toMatch(/npx flywheel replay .*--snapshot 2025-10-31 --from-stage split-and-bucket/);
    for (const t of ['part_ibe_01a', 'bucketed_ibe_01a']) expect(await liveSnapshot(rt, t)).toBe('2025-09-30');
    expect(await count(rt, 'select count(*) from part_ibe_01a')).toBe(396);
    rt.close();
  });

  test('a query fails half-way: that table fails and stays on the previous snapshot, the others switch', async () => {
    const {
      rt,
      ledger: l,
      mail,
    } = await scenario(async () => undefined, {
      config: { partitionsPerQuery: 100 }, // AWS's ≤100-partition steps (locally one step builds a table)
      faults: { step: (s) => (s.table === 'ibe_04' && s.kind === 'part-range' && s.fromBucket === 100 ? 'HIVE_BAD_DATA: injected' : undefined) },
    });
    expect(l!.tables.ibe_04).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/part 100-199.*injected/) });
    expect(mail.some((m) => /bucketed-tables FAILED .*table=ibe_04/.test(m) && /--from-stage bucketed-tables --tables ibe_04/.test(m))).toBe(true);
    expect(await liveSnapshot(rt, 'part_ibe_04')).toBe('2025-09-30');
    expect(await count(rt, 'select count(*) from part_ibe_04')).toBe(396);
    expect(await liveSnapshot(rt, 'part_ibe_01a')).toBe('2025-10-31');
    expect(await count(rt, 'select count(*) from part_ibe_01a')).toBe(400);
    expect(l!.status).toBe('FAILED');
    rt.close();
  });
});
