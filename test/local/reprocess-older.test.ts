// Issue 18 point 6: one table reprocessed to an older snapshot is consistent. ext_, part_, part_<t>_er and bucketed_
// serve the older snapshot together; the bucketed base's metadata/snapshot_dt.txt stays on the snapshot the other
// tables serve; the monitor raises no alert it did not raise before; a tables filter for infobase never alerts
// about (or runs) addressable.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { INFOBASE } from '../../shared/domain/config.js';
import { runLocal } from '../../shared/local/run-local.js';
import { lakePath, open, outbox, sampleHome } from './harness.js';

async function monitorCodes(home: string): Promise<string[]> {
  const rt = await open(home);
  try {
    rt.bus.invoke('dataMonitor', { options: {} });
    await rt.bus.drain();
    const done = rt.bus.published.find((e) => e['detail-type'] === 'Monitor Completed')!;
    const uri = String((done.detail as { reportUri: string }).reportUri).replace(/^s3:\/\//, '');
    const report = JSON.parse(readFileSync(path.join(home, 'lake', uri), 'utf8')) as { alert_details: Array<{ code: string; table?: string }> };
    return [...new Set(report.alert_details.map((a) => `${a.code} ${a.table ?? ''}`.trim()))].sort();
  } finally {
    rt.close();
  }
}

test('a table reprocessed to an older snapshot: its four tables agree, the marker stays, no new monitor alert, no alert about the other dataset', async () => {
  const home = await sampleHome(600, true);
  expect(await runLocal({ home })).toBe(0); // 2025-10-31 live for both datasets
  const before = await monitorCodes(home);
  const mailsBefore = (await outbox(home)).length;

  expect(await runLocal({ home, snapshotDt: '2025-09-30', tables: ['ibe_01a'] })).toBe(0);

  const rt = await open(home);
  try {
    const snap = async (name: string) => (await rt.catalog.getTable('flywheel', name))?.parameters.snapshot_dt;
    for (const name of ['ext_ibe_01a', 'part_ibe_01a', 'part_ibe_01a_er', 'bucketed_ibe_01a']) expect([name, await snap(name)]).toEqual([name, '2025-09-30']);
    for (const name of ['ext_ibe_01b', 'part_ibe_01b', 'bucketed_ibe_01b', 'part_addressable_ids'])
      expect([name, await snap(name)]).toEqual([name, '2025-10-31']);
    // the counts of ext_ and part_ agree again (the monitor's COUNT_MISMATCH compares them)
    const [ext, part] = await Promise.all(
      ['ext_ibe_01a', 'part_ibe_01a'].map(async (t) => Number((await rt.db.all(`SELECT count(*) AS n FROM flywheel.${t}`))[0]!.n)),
    );
    expect(ext).toBe(part);
  } finally {
    rt.close();
  }
  expect(readFileSync(lakePath(home, `${INFOBASE.bucketedPrefix}metadata/snapshot_dt.txt`), 'utf8').trim()).toBe('2025-10-31');
  // no failure e-mail from the filtered run (addressable has no table ibe_01a: it was not started); the monitor's mail only
  const mails = (await outbox(home)).slice(mailsBefore);
  expect(mails.filter((m) => /FAILED|addressable snapshot/.test(m.split('\n')[0]!))).toEqual([]);
  expect(mails.map((m) => m.split('\n')[0])).toEqual([expect.stringMatching(/^Subject: \[DATA MONITOR\]/)]);
  expect(await monitorCodes(home)).toEqual(before);
});

test('a deliberate rollback of every table moves the marker back with them', async () => {
  const home = await sampleHome(400);
  expect(await runLocal({ home, dataset: 'infobase' })).toBe(0);
  expect(await runLocal({ home, dataset: 'infobase', snapshotDt: '2025-09-30' })).toBe(0);
  expect(readFileSync(lakePath(home, `${INFOBASE.bucketedPrefix}metadata/snapshot_dt.txt`), 'utf8').trim()).toBe('2025-09-30');
  const rt = await open(home);
  try {
    for (const name of ['ext_ibe_01a', 'part_ibe_04', 'bucketed_miacs_02'])
      expect([name, (await rt.catalog.getTable('flywheel', name))?.parameters.snapshot_dt]).toEqual([name, '2025-09-30']);
  } finally {
    rt.close();
  }
});
