// The local-mode CLI contract (README "The local CLI"), run as a user would (a child process per command).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sampleHome } from './local/harness.js';

const run = promisify(execFile);
const BIN = new URL('../shared/local/bin.mjs', import.meta.url).pathname;
const fw = async (...args: string[]) => {
  try {
    const { stdout, stderr } = await run('node', [BIN, ...args], { maxBuffer: 1 << 24 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

describe('flywheel CLI', () => {
  let home: string;
  beforeAll(async () => {
    home = await sampleHome(2000);
  });

  test('run: progress, final table, exit 0', async () => {
    const r = await fw('run', '--home', home);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/split IBE_01 → ibe_01a: 2,000 rows \(1 with a NULL key, kept in bucket 0\)/);
    expect(r.stdout).toMatch(/Pipeline Completed: infobase snapshot_dt=2025-10-31 SUCCEEDED/);
    expect(r.stdout).toMatch(/ignored under raw_input\/: .*snapshot_dt=latest/);
    expect(r.stdout).toMatch(/miacs_02\s+SUCCEEDED\s+2,000\s+2,000/);
  });

  test('query --format json|csv prints rows by catalog table name', async () => {
    const json = await fw('query', '--home', home, '--format', 'json', 'select count(*) as n, count(distinct id_bucket) as buckets from part_ibe_04');
    expect(JSON.parse(json.stdout)).toEqual([{ n: 2000, buckets: expect.any(Number) }]);
    const csv = await fw(
      'query',
      '--home',
      home,
      '--format',
      'csv',
      "select customer_user_id, id_bucket from part_ibe_04 where customer_user_id = 'cust_00000001'",
    );
    expect(csv.stdout.trim()).toBe(`customer_user_id,id_bucket\ncust_00000001,${(await fw('bucket', 'cust_00000001')).stdout.split('\t')[1]!.trim()}`);
    const bad = await fw('query', '--home', home, 'select * from no_such_table');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/query failed/);
  });

  test('status shows the ledger', async () => {
    const r = await fw('status', '--home', home);
    expect(r.stdout).toMatch(/infobase snapshot_dt=2025-10-31 run \S+ SUCCEEDED/);
    expect(r.stdout).toMatch(/bucketed-tables\s+SUCCEEDED/);
  });

  test('monitor: an option this deployment cannot honour is refused, exit 2, with the reason, the fix and the alert; nothing runs', async () => {
    const outbox = () => (existsSync(path.join(home, 'outbox')) ? readdirSync(path.join(home, 'outbox')) : []);
    const mails = outbox().length;
    const r = await fw('monitor', '--home', home, '--athena_results', 's3://elsewhere/results/');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^flywheel monitor: refused, nothing ran: .*--athena_results s3:\/\/elsewhere\/results\/ .*Fix: .* \(alert in \S+outbox\/\S+\)\n$/,
    );
    expect(outbox().length).toBe(mails + 1);
    expect(r.stdout).not.toMatch(/Checked \d+ table/);
  });

  test('bucket prints ID<TAB>bucket', async () => {
    expect((await fw('bucket', 'abc', 'Zoë-50', '')).stdout).toBe('abc\t98\nZoë-50\t11\n\t0\n');
  });

  test('event delivers an AWS-shaped event; a duplicate changes nothing', async () => {
    const r = await fw('event', '--home', home, path.join('events', 's3-object-created.eventbridge.json'));
    expect(r.stdout).toMatch(/S3 Object Created .*\/_SUCCESS → snapshotTrigger/);
    expect(r.stdout).not.toMatch(/Glue job/);
  });

  test('an invalid event file is rejected at the edge, exit 2, with a one-line reason naming the event kind', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'fw-')), 'bad.json');
    writeFileSync(file, JSON.stringify({ source: 'aws.glue', 'detail-type': 'Glue Job State Change', detail: {} }));
    const r = await fw('event', '--home', home, file);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/flywheel event: rejected: .*invalid Glue Job State Change event: /);
  });

  test('consolidate: the chargebacks function on the day the sample landed; a day with nothing landed is exit 1, and nothing is made up', async () => {
    const landing = path.join(home, 'lake/data/landing/chargebacks');
    const [y] = readdirSync(landing);
    const [m] = readdirSync(path.join(landing, y!));
    const [d] = readdirSync(path.join(landing, y!, m!));
    const day = `${y!.slice(5)}-${m!.slice(6)}-${d!.slice(4)}`;
    const ok = await fw('consolidate', '--home', home, '--date', day, '--dry-run');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^METRICS: records_processed=20000, duplicates_removed=\d+, output_files=0,/m);
    expect(ok.stdout).toMatch(/^would write .*consolidated\/chargebacks\/year=\d{4}\/month=\d\d\/day=\d\d\/?$/m);
    const none = await fw('consolidate', '--home', home, '--date', '2020-01-01');
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/consolidation failed: no chargebacks landed for 2020-01-01; land the day's files under .*year=2020\/month=01\/day=01/);
    // both accepted folder forms are named: year=YYYY/month=MM/day=DD/ and the current system's YYYY/MM/DD/
    expect(none.stderr).toMatch(/under .*landing\/chargebacks\/year=2020\/month=01\/day=01\/? or .*landing\/chargebacks\/2020\/01\/01\/? first/);
    expect(ok.stdout).toMatch(/^DATA QUALITY: null_chargeback_ids=\d+, records_processed=20000$/m);
    expect(existsSync(path.join(landing, 'year=2020'))).toBe(false);
  });

  test('unknown commands fail', async () => {
    expect((await fw('nope')).code).toBe(1);
  });
});
