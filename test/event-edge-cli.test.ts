// `flywheel event <file>` as an operator runs it: exit 0 only when the event was handled, else exit 2 with
// ONE line on stderr (rejected / no rule / ignored / failed) and never a stack trace. Every sample in events/
// and every published fixture (test/fixtures/published-events/, README there) goes through it on a fresh home.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { main } from '../shared/local/cli.js';
import { sampleHome } from './local/harness.js';

const run = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;
const BIN = path.join(ROOT, 'shared/local/bin.mjs');
const FIXTURES = path.join(ROOT, 'test/fixtures/published-events');
const tmp = (prefix: string) => mkdtempSync(path.join(os.tmpdir(), prefix));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** `node shared/local/bin.mjs event --home <home> <file>`, a child process (the truth for exit codes and stack traces). */
async function spawnEvent(home: string, file: string): Promise<Result> {
  try {
    const { stdout, stderr } = await run('node', [BIN, 'event', '--home', home, file], { cwd: ROOT, maxBuffer: 1 << 24 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The same through `main(argv)` in this process (stdout and stderr captured). */
async function mainEvent(home: string, file: string): Promise<Result> {
  const out: string[] = [];
  const err: string[] = [];
  const { write: stdoutWrite } = process.stdout;
  const { write: stderrWrite } = process.stderr;
  process.stdout.write = ((chunk: unknown) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: unknown) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'flywheel', 'event', '--home', home, file]);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
  }
}

type Kind = 'handled' | 'rejected' | 'no rule' | 'ignored' | 'failed';

/** The outcome contract: 0 and a `Handled:` line, or 2 and exactly one stderr line `flywheel event: <kind>: <file>: <reason>`. */
function expectOutcome(r: Result, file: string, kind: Kind | Kind[], reason?: RegExp): void {
  const label = path.relative(ROOT, file);
  expect([label, r.stdout + r.stderr]).not.toEqual([label, expect.stringMatching(/\n\s+at .+:\d+:\d+\)?\n|TypeError|SyntaxError|ZodError/)]);
  if (kind === 'handled') {
    expect([label, r.code, r.stderr]).toEqual([label, 0, '']);
    expect(r.stdout).toMatch(/\nHandled: .* \(total [\d.]+ s\)\.\n$/);
    if (reason) expect(r.stdout).toMatch(reason);
    return;
  }
  expect([label, r.code]).toEqual([label, 2]);
  const lines = r.stderr.split('\n').filter(Boolean);
  expect([label, lines.length]).toEqual([label, 1]);
  const kinds = Array.isArray(kind) ? kind : [kind];
  expect([label, lines[0]]).toEqual([
    label,
    expect.stringMatching(new RegExp(`^flywheel event: (${kinds.join('|')}): ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `)),
  ]);
  if (reason) expect([label, lines[0]]).toEqual([label, expect.stringMatching(reason)]);
}

/** What each shipped sample does on a fresh home (README: "Events on a fresh home"). */
const SAMPLES: Record<string, [Kind, RegExp]> = {
  'athena-query-state-change.failed.json': [
    'ignored',
    /bucketedTables: query belongs to no Flywheel run \(query_execution_id="56e0b3c2-7e5b-4c1a-9d3e-0f2a1b3c4d5e"\); nothing was started or changed$/,
  ],
  'athena-query-state-change.succeeded.json': ['ignored', /bucketedTables: query belongs to no Flywheel run/],
  'glue-job-state-change.chargebacks-failed.json': ['ignored', /chargebacks: job run not started by Flywheel/],
  'glue-job-state-change.compaction-failed.json': ['ignored', /compaction: job run not started by Flywheel/],
  'glue-job-state-change.failed.json': ['ignored', /registerStagedTables: job run belongs to no Flywheel run/],
  'glue-job-state-change.succeeded.json': ['ignored', /registerStagedTables: job run belongs to no Flywheel run/],
  'manual-trigger.json': ['rejected', /not an event: .*locally: flywheel run --dataset infobase --snapshot 2025-10-31 --tables ibe_01a$/],
  's3-notification.records.json': ['failed', /snapshot-trigger FAILED infobase snapshot_dt=2025-10-31 — ready marker _SUCCESS missing/],
  's3-object-created.eventbridge.json': ['failed', /snapshot-trigger FAILED infobase snapshot_dt=2025-10-31 — ready marker _SUCCESS missing/],
  's3-object-created.raw-landing.json': ['failed', /compaction job FAILED for addressable snapshot_dt=2025-10-31 — no parquet files/],
  'scheduled-event.chargebacks.json': ['handled', /Handled: by chargebacks; then 1× Glue Job State Change/],
  'scheduled-event.cleanrooms-report.json': ['handled', /Handled: by cleanroomsReport/],
  'scheduled-event.json': ['failed', /snapshot-trigger FAILED .* no valid snapshot_dt=YYYY-MM-DD folder/],
  'stage-completed.register-staged-tables.json': ['ignored', /bucketedTables: Stage Completed for a run that is not the current run of its snapshot/],
};

/** What each published fixture (and its malformed and put-events variants) does on a fresh home (README in the fixtures folder). */
const PUBLISHED: Record<string, [Kind, RegExp]> = {
  'athena-query-state-change.failed.athena-user-guide.json': ['ignored', /bucketedTables: query belongs to no Flywheel run/],
  'athena-query-state-change.succeeded.athena-user-guide.json': [
    'no rule',
    /closest \(same source and detail-type\): bucketed-query-finished .* wants detail\.workgroupName "flywheel-local".* but detail\.workgroupName is "primary"$/,
  ],
  'ec2-state-change.powertools-python.json': ['no rule', /no rule listens to source "aws\.ec2"/],
  'eventbridge-scheduler.powertools-python.json': ['no rule', /no rule listens to source "aws\.scheduler" with detail-type "Scheduled Event"/],
  'glue-job-run-status.running.eventbridge-user-guide.json': [
    'no rule',
    /closest \(same source only\): split-job-finished .* wants detail-type "Glue Job State Change" and detail\.state .* but detail-type is "Glue Job Run Status", detail\.state is "RUNNING"$/,
  ],
  'glue-job-state-change.failed.eventbridge-user-guide.json': ['ignored', /compaction: job run not started by Flywheel/],
  'glue-job-state-change.succeeded.eventbridge-user-guide.json': ['ignored', /registerStagedTables: job run belongs to no Flywheel run/],
  'glue-job-state-change.timeout.eventbridge-user-guide.json': ['no rule', /same source and detail-type.* but detail\.jobName is "MyJob"$/],
  's3-notification.aws-lambda-go.json': ['failed', /ready marker _SUCCESS missing for snapshot_dt=2025-10-31/],
  's3-object-created.powertools-ts.json': ['failed', /ready marker _SUCCESS missing for snapshot_dt=2025-10-31/],
  's3-object-deleted.powertools-ts.json': ['no rule', /closest \(same source only\): ready-marker-landed .* but detail-type is "Object Deleted"$/],
  'scheduled-event.sam-cli.json': ['rejected', /invalid Scheduled Event: version: expected a string, got missing$/],
  'malformed/array.json': ['rejected', /expected one JSON object, got an array of 2/],
  'malformed/athena-query-state-change.time-offset.json': [
    'rejected',
    /time: expected an ISO-8601 UTC time like 2026-01-31T00:00:00Z, got "2019-10-06T11:30:10\+02:00"$/,
  ],
  'malformed/athena-query-state-change.wrong-types.json': [
    'rejected',
    /detail\.currentState: expected one of "QUEUED", .*, got null; detail\.queryExecutionId: expected a non-empty string, got ""$/,
  ],
  'malformed/empty.json': ['rejected', /the file is empty/],
  'malformed/glue-job-state-change.hostile-job-name.json': ['no rule', /but detail\.jobName is "flywheel-local-compaction\\u001b\[31m\\nFAILED: rm -rf \/"$/],
  'malformed/glue-job-state-change.no-detail.json': ['rejected', /invalid Glue Job State Change event: detail: expected an object, got missing$/],
  'malformed/glue-job-state-change.wrong-types.json': [
    'rejected',
    /resources: expected an array, got "none"; detail\.jobRunId: expected a string, got 123; detail\.state: expected one of .*, got "DONE"$/,
  ],
  'malformed/not-json.json': ['rejected', /not valid JSON: /],
  'malformed/null.json': ['rejected', /expected a JSON object .*got null$/],
  'malformed/replay-requested.hostile-table.json': [
    'rejected',
    /detail\.tables\[0\]: table names are lower-case letters, digits and _, got "x; DROP TABLE y"$/,
  ],
  'malformed/s3-notification.object-removed.json': ['no rule', /Records\[0\] is not an S3 object creation/],
  'malformed/s3-notification.wrong-types.json': ['rejected', /Records\[0\]\.s3\.object\.key: expected a string, got 42/],
  'malformed/s3-object-created.detail-type-typo.json': ['no rule', /same source only.* but detail-type is "Object Create"$/],
  'malformed/s3-object-created.hostile-key.json': ['no rule', /same source and detail-type.* but detail\.object\.key is ".*\.\.\/etc\/passwd; rm -rf \/"$/],
  'malformed/s3-object-created.no-bucket.json': ['rejected', /detail\.bucket: expected an object, got missing$/],
  'malformed/s3-object-created.truncated.json': ['rejected', /not valid JSON \(truncated\?\)/],
  'malformed/scheduled-event.unknown-rule.json': ['no rule', /no schedule matched: resources name ".*rule\/MyScheduledRule"/],
  'malformed/whitespace.json': ['rejected', /the file is empty/],
  'put-events/detail-not-a-string.json': ['rejected', /put-events entry: Detail: expected a non-empty string of JSON/],
  'put-events/replay-dry-run.entries.json': [
    'handled',
    /note: read a put-events entry \(flywheel\.ops \/ Replay Requested on flywheel-dev\)[\s\S]*Handled: by replay; no pipeline run was touched/,
  ],
  'put-events/replay-unknown-dataset.entry.json': [
    'rejected',
    /replay rejected it: (detail\.dataset: )?unknown dataset nosuch \(known: infobase, addressable\)$/,
  ],
  'put-events/replay-unknown-table.entries-list.json': [
    'failed',
    /replay refused infobase snapshot_dt=2025-10-31 from bucketed-tables — no run of infobase snapshot_dt=2025-10-31 to replay from bucketed-tables/,
  ],
  'put-events/two-entries.json': ['rejected', /holds 2 put-events entries/],
};

describe('flywheel event: every shipped sample in events/, spawned on a fresh home', () => {
  const samples = readdirSync(path.join(ROOT, 'events'))
    .filter((n) => n.endsWith('.json'))
    .sort();

  test('every sample has an expected outcome here (a new sample needs one)', () => {
    expect(samples).toEqual(Object.keys(SAMPLES).sort());
  });

  test.each(samples)(
    'events/%s',
    async (name) => {
      const home = tmp('fw-sample-');
      try {
        const file = path.join('events', name);
        const [kind, reason] = SAMPLES[name]!;
        expectOutcome(await spawnEvent(home, file), file, kind, reason);
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    },
    180_000,
  );
});

describe('flywheel event: published sample events and their malformed variants, on a fresh home', () => {
  const files = ['', 'malformed/', 'put-events/']
    .flatMap((dir) =>
      readdirSync(path.join(FIXTURES, dir))
        .filter((n) => n.endsWith('.json'))
        .map((n) => `${dir}${n}`),
    )
    .sort();

  test('every fixture has an expected outcome here and a row in the fixtures README', () => {
    expect(files).toEqual(Object.keys(PUBLISHED).sort());
    const readme = readFileSync(path.join(FIXTURES, 'README.md'), 'utf8');
    for (const f of files) expect([f, readme.includes(`\`${f}\``)]).toEqual([f, true]);
  });

  test.each(Object.keys(PUBLISHED).sort())(
    '%s (main(argv) in this process)',
    async (name) => {
      const home = tmp('fw-published-');
      try {
        const file = path.join(FIXTURES, name);
        const [kind, reason] = PUBLISHED[name]!;
        expectOutcome(await mainEvent(home, file), file, kind, reason);
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    },
    180_000,
  );

  test.each([
    'malformed/empty.json',
    'malformed/null.json',
    'malformed/s3-object-created.truncated.json',
    'malformed/glue-job-state-change.no-detail.json',
    'malformed/glue-job-state-change.hostile-job-name.json',
  ])(
    '%s spawned: exit 2, one stderr line, no stack trace',
    async (name) => {
      const home = tmp('fw-spawned-');
      try {
        const file = path.join(FIXTURES, name);
        const [kind, reason] = PUBLISHED[name]!;
        expectOutcome(await spawnEvent(home, file), file, kind, reason);
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    },
    180_000,
  );
});

describe('flywheel event on a home with a run: handled, duplicate, refused, hostile', () => {
  let home: string;
  let dir: string;
  beforeAll(async () => {
    home = await sampleHome(2000);
    dir = tmp('fw-events-');
  }, 300_000);
  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  test('a ready marker runs the pipeline (exit 0); the same event again is ignored as a duplicate (exit 2)', async () => {
    const file = path.join('events', 's3-object-created.eventbridge.json');
    const first = await spawnEvent(home, file);
    expectOutcome(first, file, 'handled', /infobase snapshot_dt=2025-10-31 run \S+ SUCCEEDED/);
    // the data monitor's findings e-mail is its report, not a failure of the event
    expect(first.stdout).toMatch(/report e-mailed: \[DATA MONITOR\]/);
    expect(first.stdout).toMatch(/miacs_02\s+SUCCEEDED\s+2,000\s+2,000/);
    expectOutcome(
      await spawnEvent(home, file),
      file,
      'ignored',
      /snapshotTrigger: duplicate trigger: run .* already exists .*; nothing was started or changed$/,
    );
  }, 300_000);

  test("the split job's end delivered again (dev names, the real job run) is a duplicate: ignored, as an Athena end of no run is", async () => {
    const status = (await run('node', [BIN, 'status', '--home', home], { cwd: ROOT })).stdout;
    const jobRunId = /jr_[0-9a-f]+/.exec(status)![0];
    const glue = path.join(dir, 'glue-succeeded.json');
    writeFileSync(glue, readFileSync(path.join(ROOT, 'events/glue-job-state-change.succeeded.json'), 'utf8').replace(/jr_[0-9a-f]+/, jobRunId));
    const r = await spawnEvent(home, glue);
    expectOutcome(r, glue, 'ignored', new RegExp(`registerStagedTables: duplicate job state event ignored \\(job_run_id="${jobRunId}"`));
    expect(r.stdout).toMatch(/note: detail\.jobName "flywheel-dev-infobase-split-and-bucket" is read as "flywheel-local-infobase-split-and-bucket"/);
    const failed = path.join(dir, 'glue-failed.json');
    writeFileSync(failed, readFileSync(path.join(ROOT, 'events/glue-job-state-change.failed.json'), 'utf8').replace(/jr_[0-9a-f]+/, jobRunId));
    expectOutcome(await spawnEvent(home, failed), failed, 'ignored', /duplicate job state event ignored/);
    const athena = path.join('events', 'athena-query-state-change.failed.json');
    expectOutcome(await spawnEvent(home, athena), athena, 'ignored', /query belongs to no Flywheel run/);
  }, 300_000);

  test('a replay naming an unknown table is refused: exit 2, the cause, and no old run printed as if it had run', async () => {
    const file = path.join(FIXTURES, 'put-events/replay-unknown-table.entries-list.json');
    const r = await spawnEvent(home, file);
    // the replay function refuses it as an invalid request or as a failed replay (either way alerted): not handled
    expectOutcome(r, file, ['rejected', 'failed'], /no_such_table .*ibe_01a, ibe_01b, ibe_04, miacs_01, miacs_02/);
    expect(r.stdout).not.toMatch(/SUCCEEDED\s+2,000/);
    expect(r.stdout).not.toMatch(/Handled|the event was handled/);
  }, 300_000);

  test('a hostile replay is rejected before anything runs; a dry run is handled', async () => {
    const hostile = path.join(FIXTURES, 'malformed/replay-requested.hostile-table.json');
    const r = await spawnEvent(home, hostile);
    expectOutcome(r, hostile, 'rejected', /detail\.tables\[0\]: table names are lower-case letters, digits and _, got "x; DROP TABLE y"$/);
    expect(r.stdout).toBe('');
    const dry = path.join(FIXTURES, 'put-events/replay-dry-run.entries.json');
    expectOutcome(await spawnEvent(home, dry), dry, 'handled', /Handled: by replay; no pipeline run was touched/);
  }, 300_000);
});
