import { bucketedCopies, bucketFileName, bucketRanges, buildStepsFor, filesByFolder, recordedRangeSize } from '../shared/domain/build-steps.js';
import { renderAthenaStep } from '../shared/domain/athena-sql.js';
import { newLedger, newRunId, setStage } from '../shared/domain/ledger.js';
import { parseMapping } from '../shared/domain/mapping.js';
import { bytesOfColumns, planSplit, type SourceTable } from '../shared/domain/plan-split.js';
import { fileCountFor, rowShares } from '../shared/domain/sizing.js';
import { discoverSnapshots, isValidSnapshotDt, readyMarkerSnapshot } from '../shared/domain/snapshot.js';
import { PipelineError } from '../shared/domain/errors.js';
import { identifier, literal, location } from '../shared/domain/sql-identifiers.js';

describe('snapshot_dt', () => {
  test.each([
    ['2025-10-31', true],
    ['2024-02-29', true],
    ['2025-02-29', false],
    ['2099-02-30', false],
    ['2025-13-01', false],
    ['latest', false],
    ['2025-1-01', false],
  ])('%s valid: %s', (value, valid) => expect(isValidSnapshotDt(value)).toBe(valid));

  test('latest valid snapshot wins; junk is listed, never chosen', () => {
    const found = discoverSnapshots(['snapshot_dt=2025-09-30/', 'snapshot_dt=latest/', 'snapshot_dt=2099-02-30/', 'snapshot_dt=2025-10-31/', 'tmp/']);
    expect(found.latest).toBe('2025-10-31');
    expect(found.valid).toEqual(['2025-09-30', '2025-10-31']);
    expect(found.junk).toEqual(['snapshot_dt=latest', 'snapshot_dt=2099-02-30', 'tmp']);
    expect(discoverSnapshots(['snapshot_dt=nope/']).latest).toBeUndefined();
    // compaction's staging folder beside the snapshots (while a landing is being compacted) is neither
    expect(discoverSnapshots(['_compaction_staging/', 'snapshot_dt=2025-10-31/'])).toEqual({ latest: '2025-10-31', valid: ['2025-10-31'], junk: [] });
  });

  test('snapshot from a ready marker key: exactly <prefix>snapshot_dt=D/<marker>, never a marker deeper down', () => {
    const at = (key: string) => readyMarkerSnapshot(key, 'a/raw_input/', '_SUCCESS');
    expect(at('a/raw_input/snapshot_dt=2025-10-31/_SUCCESS')).toBe('2025-10-31');
    expect(at('a/raw_input/snapshot_dt=2099-02-30/_SUCCESS')).toBe('2099-02-30'); // the shape only: the run rejects the date, with an alert
    expect(at('a/raw_input/_SUCCESS')).toBeUndefined();
    // Spark's own marker in compaction's staging folder under the snapshot
    expect(at('a/raw_input/snapshot_dt=2025-10-31/_compaction_staging/IBE_01/run-1/_SUCCESS')).toBeUndefined();
    expect(at('a/raw_input/snapshot_dt=2025-10-31/IBE_01/_SUCCESS')).toBeUndefined();
    expect(at('b/raw_input/snapshot_dt=2025-10-31/_SUCCESS')).toBeUndefined();
    expect(at('a/raw_input/snapshot_dt=2025-10-31/_SUCCESS.tmp')).toBeUndefined();
  });
});

describe('dynamic file sizing', () => {
  const MB = 1024 * 1024;
  test.each([
    [0, 1],
    [1, 1],
    [512 * MB, 1],
    [512 * MB + 1, 2],
    [34 * 1024 * MB, 68],
    [1024 * 1024 * MB, 256],
  ])('%d bytes → %d files', (bytes, files) => expect(fileCountFor(bytes)).toBe(files));

  test('row shares: n even shares of the concatenated source rows, as pieces of files', () => {
    expect(rowShares([10], 1)).toEqual([[{ file: 0, from: 0, to: 10 }]]);
    expect(rowShares([1100, 1900], 5)).toEqual([
      [{ file: 0, from: 0, to: 600 }],
      [
        { file: 0, from: 600, to: 1100 },
        { file: 1, from: 0, to: 100 },
      ],
      [{ file: 1, from: 100, to: 700 }],
      [{ file: 1, from: 700, to: 1300 }],
      [{ file: 1, from: 1300, to: 1900 }],
    ]);
    // an empty source file takes no share; more shares than rows leaves some without pieces
    expect(rowShares([3, 0, 4], 2)).toEqual([[{ file: 0, from: 0, to: 3 }], [{ file: 2, from: 0, to: 4 }]]);
    expect(rowShares([2], 3)).toEqual([[], [{ file: 0, from: 0, to: 1 }], [{ file: 0, from: 1, to: 2 }]]);
    expect(rowShares([], 2)).toEqual([[], []]);
    const sizes = rowShares([7, 13, 1, 29], 6).map((share) => share.reduce((a, p) => a + p.to - p.from, 0));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(50);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(() => rowShares([1], 0)).toThrow(/positive integer/);
  });
});

const CSV = [
  'source_table,source_column,target_table,target_column',
  'IBE_02,CUSTOMER_USER_ID,ibe_02a,customer_user_id',
  'IBE_02,AGE_X,ibe_02a,age_x',
  'IBE_02,COLOR_X,ibe_02b,Color_X',
  'MIACS_02,SCORE_X,miacs_02,score_x',
].join('\n');

describe('mapping CSV', () => {
  test('splits one source into several targets and lower-cases names', () => {
    const m = parseMapping(CSV, { key: 'm.csv' });
    expect(m.targets.map((t) => [t.target, t.source, t.columns.map((c) => c.target)])).toEqual([
      ['ibe_02a', 'IBE_02', ['customer_user_id', 'age_x']],
      ['ibe_02b', 'IBE_02', ['color_x']],
      ['miacs_02', 'MIACS_02', ['score_x']],
    ]);
  });

  test.each([
    ['', /header/],
    ['a,b,c,d\nX,Y,z,w', /header must be/],
    ['source_table,source_column,target_table,target_column\n', /no mapping rows/],
    ['source_table,source_column,target_table,target_column\nA,"unterminated', /not valid CSV/],
    ['source_table,source_column,target_table,target_column\nA,B,bad-name,c', /not a valid lower-case identifier/],
  ])('malformed %#: clear error', (csv, message) => {
    expect(() => parseMapping(csv, { key: 'support_files/m.csv', snapshotDt: '2025-10-31' })).toThrow(message);
    try {
      parseMapping(csv, { key: 'support_files/m.csv', snapshotDt: '2025-10-31' });
    } catch (err) {
      expect(err).toBeInstanceOf(PipelineError);
      expect((err as PipelineError).describe()).toMatch(/snapshot_dt=2025-10-31.*fix: /);
    }
  });

  test('duplicate target columns make only that target invalid', () => {
    const m = parseMapping(`${CSV}\nIBE_02,FLAG_X,ibe_02b,color_x`, { key: 'm.csv' });
    expect(m.targets.map((t) => t.target)).toEqual(['ibe_02a', 'miacs_02']);
    expect(m.invalid).toEqual([expect.objectContaining({ target: 'ibe_02b', reason: 'duplicate target columns color_x' })]);
  });
});

describe('split plan', () => {
  const src = (name: string, columns: string[], extra: Partial<SourceTable> = {}): SourceTable => ({
    name,
    files: [{ uri: `s3://data/raw/${name}/part-0.parquet`, size: 100 }],
    columns: columns.map((c) => ({ name: c, type: 'string' })),
    rowCount: 10,
    problems: [],
    ...extra,
  });
  const plan = (sources: SourceTable[], csv = CSV, tablesFilter?: string[]) =>
    planSplit({
      dataset: 'infobase',
      snapshotDt: '2025-10-31',
      runId: 'r1',
      mapping: parseMapping(csv, { key: 'm.csv' }),
      sources,
      keyColumn: 'customer_user_id',
      bucketCount: 256,
      targetFileBytes: 512 * 1024 * 1024,
      outputUri: (t) => `s3://data/split/${t}/snapshot_dt=2025-10-31/run_id=r1/`,
      metadataUri: 's3://data/split/metadata/snapshot_dt.txt',
      tablesFilter,
    });

  test('key column always carried first; unmapped columns reported as dropped', () => {
    const p = plan([src('IBE_02', ['CUSTOMER_USER_ID', 'AGE_X', 'COLOR_X', 'FLAG_X']), src('MIACS_02', ['CUSTOMER_USER_ID', 'SCORE_X'])]);
    expect(p.tables.map((t) => [t.target, t.columns.map((c) => c.target)])).toEqual([
      ['ibe_02a', ['customer_user_id', 'age_x']],
      ['ibe_02b', ['customer_user_id', 'color_x']],
      ['miacs_02', ['customer_user_id', 'score_x']],
    ]);
    expect(p.droppedColumns).toEqual({ IBE_02: ['FLAG_X'] });
    expect(p.skipped).toEqual([]);
  });

  test('files are sized by the bytes of the columns a table carries, not the whole source', () => {
    const gb = 1024 ** 3;
    // IBE_02 is 2 GB; ibe_02a carries the key and AGE_X (a quarter of the column bytes), ibe_02b the key and COLOR_X (three quarters)
    const columnBytes = { CUSTOMER_USER_ID: 100, AGE_X: 100, COLOR_X: 500, FLAG_X: 100 };
    const sized = plan([
      src('IBE_02', ['CUSTOMER_USER_ID', 'AGE_X', 'COLOR_X', 'FLAG_X'], { files: [{ uri: 's3://data/raw/IBE_02/part-0.parquet', size: 2 * gb }], columnBytes }),
    ]);
    expect(sized.tables.map((t) => [t.target, t.sourceBytes, t.estimatedBytes, t.fileCount])).toEqual([
      ['ibe_02a', 2 * gb, 0.5 * gb, 1],
      ['ibe_02b', 2 * gb, 1.5 * gb, 3],
    ]);
    // without column sizes (or all zero) the whole source counts, as before
    const unsized = plan([
      src('IBE_02', ['CUSTOMER_USER_ID', 'AGE_X', 'COLOR_X'], {
        files: [{ uri: 's3://data/raw/IBE_02/part-0.parquet', size: 2 * gb }],
        columnBytes: { CUSTOMER_USER_ID: 0 },
      }),
    ]);
    expect(unsized.tables.map((t) => [t.estimatedBytes, t.fileCount])).toEqual([
      [2 * gb, 4],
      [2 * gb, 4],
    ]);
    expect(bytesOfColumns(1000, { A: 1, B: 3 }, ['A', 'A'])).toBe(250);
    expect(bytesOfColumns(1000, undefined, ['A'])).toBe(1000);
  });

  test('a column the source lacks fails that target only', () => {
    const p = plan([src('IBE_02', ['CUSTOMER_USER_ID', 'COLOR_X']), src('MIACS_02', ['CUSTOMER_USER_ID', 'SCORE_X'])]);
    expect(p.tables.map((t) => t.target)).toEqual(['ibe_02b', 'miacs_02']);
    expect(p.skipped).toEqual([expect.objectContaining({ target: 'ibe_02a', reason: expect.stringContaining('AGE_X') })]);
  });

  test('empty, missing and problematic sources are skipped with a fix', () => {
    const p = plan([
      src('IBE_02', ['CUSTOMER_USER_ID', 'AGE_X', 'COLOR_X'], { rowCount: 0 }),
      src('MIACS_02', ['CUSTOMER_USER_ID', 'SCORE_X'], { problems: [{ reason: 'non-parquet files x.csv', fix: 'remove them' }] }),
    ]);
    expect(p.tables).toEqual([]);
    expect(p.skipped.map((s) => s.target)).toEqual(['ibe_02a', 'ibe_02b', 'miacs_02']);
    expect(p.skipped[0]!.reason).toMatch(/empty/);
    expect(p.skipped[2]!.reason).toMatch(/non-parquet/);
    expect(plan([]).skipped[0]!.reason).toMatch(/not in snapshot_dt=2025-10-31/);
  });

  test('tables filter selects targets and names unknown ones', () => {
    const p = plan([src('IBE_02', ['CUSTOMER_USER_ID', 'AGE_X', 'COLOR_X'])], CSV, ['ibe_02b', 'nope']);
    expect(p.tables.map((t) => t.target)).toEqual(['ibe_02b']);
    expect(p.skipped).toEqual([expect.objectContaining({ target: 'nope' })]);
  });
});

describe('bucketed build steps', () => {
  test('part ranges never exceed 100 buckets and cover 0..255 once', () => {
    expect(bucketRanges(256, 100)).toEqual([
      [0, 99],
      [100, 199],
      [200, 255],
    ]);
    const covered = bucketRanges(256, 100).flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));
    expect(covered).toEqual(Array.from({ length: 256 }, (_, i) => i));
  });

  test("a planned table's range size is read back from its step labels (a resumed run keeps its steps)", () => {
    expect(recordedRangeSize(['part 0-99', 'part 100-199', 'part 200-255', 'er 0-99', 'er 100-199', 'er 200-255', 'bucketed'])).toBe(100);
    expect(recordedRangeSize(['part 0-255', 'er 0-255', 'bucketed'])).toBe(256);
    expect(recordedRangeSize([])).toBeUndefined();
  });

  const steps = buildStepsFor({
    database: 'flywheel_dev',
    table: 'ibe_01a',
    extTable: 'ext_ibe_01a',
    partStaging: 'part_ibe_01a__r1',
    columns: [
      { name: 'customer_user_id', type: 'string' },
      { name: 'age', type: 'int' },
    ],
    partLocation: 's3://data/bucketed/part_ibe_01a/snapshot_dt=2025-10-31/run_id=r1/',
    bucketCount: 256,
    partitionsPerQuery: 100,
  });

  test('CTAS then INSERT INTO per range: no query writes more than 100 partitions', () => {
    const sql = steps.map(renderAthenaStep);
    expect(sql).toHaveLength(3);
    expect(sql[0]).toMatch(
      /^CREATE TABLE "flywheel_dev"\."part_ibe_01a__r1" WITH \(.*partitioned_by = ARRAY\['id_bucket'\]\) AS SELECT "customer_user_id", "age", "id_bucket" FROM "flywheel_dev"\."ext_ibe_01a" WHERE "id_bucket" BETWEEN 0 AND 99$/,
    );
    expect(sql[1]).toMatch(/^INSERT INTO "flywheel_dev"\."part_ibe_01a__r1" SELECT .* BETWEEN 100 AND 199$/);
    expect(sql[2]).toMatch(/BETWEEN 200 AND 255$/);
    expect(bucketFileName(12, 0, '20251031_x.parquet')).toBe('000012_0_20251031_x.parquet');
  });

  test("bucketed_<t> is planned as copies of each partition's data files, in key order, named 0000NN_k_<name> in one folder", () => {
    const root = 'bucketed/part_t/snapshot_dt=D/run_id=r1/';
    const listed = filesByFolder([
      `${root}id_bucket=3/b.parquet`,
      `${root}id_bucket=3/a.parquet`,
      `${root}id_bucket=3/_SUCCESS`,
      `${root}id_bucket=3/.a.parquet.crc`,
      `${root}id_bucket=3/deeper/c.parquet`,
      `${root}id_bucket=12/x.parquet`,
    ]);
    // markers and checksums are no data files; a deeper folder is a folder of its own
    expect(listed.get(`${root}id_bucket=3/`)).toEqual([`${root}id_bucket=3/b.parquet`, `${root}id_bucket=3/a.parquet`]);
    expect(listed.get(`${root}id_bucket=3/deeper/`)).toEqual([`${root}id_bucket=3/deeper/c.parquet`]);
    const partition = (n: number, bucket = 'data', folder = `${root}id_bucket=${n}/`) => ({ idBucket: n, bucket, folder, keys: listed.get(folder) ?? [] });
    const target = { bucket: 'data', key: 'bucketed/bucketed_t/snapshot_dt=D/run_id=r1/' };
    expect(
      bucketedCopies(
        [partition(3), partition(12), partition(40), { idBucket: 7, bucket: 'other', folder: 'elsewhere/', keys: ['elsewhere/z.parquet'] }],
        target,
      ),
    ).toEqual([
      { fromBucket: 'data', fromKey: `${root}id_bucket=3/a.parquet`, toBucket: 'data', toKey: `${target.key}000003_0_a.parquet` },
      { fromBucket: 'data', fromKey: `${root}id_bucket=3/b.parquet`, toBucket: 'data', toKey: `${target.key}000003_1_b.parquet` },
      { fromBucket: 'data', fromKey: `${root}id_bucket=12/x.parquet`, toBucket: 'data', toKey: `${target.key}000012_0_x.parquet` },
      { fromBucket: 'other', fromKey: 'elsewhere/z.parquet', toBucket: 'data', toKey: `${target.key}000007_0_z.parquet` },
    ]);
  });

  test('identifiers and locations are validated before they reach SQL', () => {
    expect(() => identifier('x"; drop table y; --')).toThrow(/unsafe/);
    expect(() => location("s3://data/x' OR 1=1")).toThrow(/unsafe/);
    expect(literal("O'Brien")).toBe("'O''Brien'");
    expect(() => renderAthenaStep({ ...steps[0]!, stagingTable: 'Bad Name' } as never)).toThrow(/unsafe SQL identifier/);
  });
});

describe('run ledger', () => {
  test('run ids sort by time', () => {
    const a = newRunId(new Date('2025-10-31T12:00:00Z'), () => 0.5);
    expect(a).toBe('20251031T120000Z-7fffff');
    expect(newRunId(new Date('2025-11-01T00:00:00Z')) > a).toBe(true);
  });

  test('a failed stage fails the run', () => {
    const l = newLedger({ dataset: 'infobase', snapshotDt: '2025-10-31', runId: 'r', trigger: { kind: 'cli' }, junk: [], now: new Date(0) });
    setStage(l, 'split-and-bucket', 'FAILED', new Date(1000), { error: 'boom' });
    expect(l.status).toBe('FAILED');
    expect(l.stages['split-and-bucket']).toEqual({
      status: 'FAILED',
      startedAt: new Date(1000).toISOString(),
      endedAt: new Date(1000).toISOString(),
      error: 'boom',
    });
  });
});

describe('sample lake', () => {
  test('snapshots are the two month-ends before today', async () => {
    const { recentMonthEnds } = await import('../shared/local/sample-lake.js');
    expect(recentMonthEnds(new Date('2026-11-23T10:00:00Z'))).toEqual(['2026-09-30', '2026-10-31']);
    expect(recentMonthEnds(new Date('2026-03-01T00:00:00Z'))).toEqual(['2026-01-31', '2026-02-28']);
  });
});
