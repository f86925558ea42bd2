/**
 * 7. CLI start: wall time of fresh `node shared/local/bin.mjs …` processes (Node's own start included) for
 * `bucket abc` (no DuckDB) and `status` (DuckDB opened, ledgers read) on an empty home and on a home after
 * one run (a 2,000-row `flywheel start`); the median of BENCH_CLI_RUNS (5) after one warm-up each. Also
 * the build the first run (or a changed source) pays, the stale check every start pays, and for
 * reference a bare `node`, `npx flywheel` and the same commands through tsx (FLYWHEEL_CLI=tsx).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { buildCli, checkCli } from '../shared/local/build-cli.mjs';
import { DATA_DIR, envInt, fmtNum, progress, REPO_DIR, rmrf, stats, type Row, type Stats } from './lib.js';

const TARGET_MS = 500;
const BIN = path.join(REPO_DIR, 'shared/local/bin.mjs');

export interface CliResult {
  build: { ms: number; inputs: number };
  staleCheckMs: Stats;
  commands: Record<string, { argv: string[]; ms: Stats }>;
}

/** Wall time of one process; throws unless it exits 0 with the expected stdout. */
function timeProcess(file: string, args: string[], expect?: string, env: NodeJS.ProcessEnv = {}): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, args, { cwd: REPO_DIR, env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 24 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0 || (expect !== undefined && r.stdout !== expect))
    throw new Error(`${[file, ...args].join(' ')} exited ${r.status}: ${r.stdout}${r.stderr}`);
  return ms;
}

export async function benchCli(): Promise<{ rows: Row[]; result: CliResult }> {
  const runs = envInt('BENCH_CLI_RUNS', 5);
  const scratch = path.join(DATA_DIR, 'scratch', 'cli');
  await rmrf(scratch);
  const empty = path.join(scratch, 'empty');
  const populated = path.join(scratch, 'populated');
  mkdirSync(scratch, { recursive: true });

  const built = await buildCli();
  progress(`cli: built ${built.inputs} files in ${fmtNum(built.ms / 1000)} s`);
  const checks: number[] = [];
  for (let i = 0; i < 21; i++) {
    const t0 = performance.now();
    if (!('entry' in checkCli())) throw new Error('the CLI build is stale right after building it');
    checks.push(performance.now() - t0);
  }
  progress(`cli: a 2,000-row sample home (flywheel start --rows 2000)`);
  timeProcess(process.execPath, [BIN, 'start', '--home', populated, '--rows', '2000']);

  const node = (argv: string[], expect?: string, env?: NodeJS.ProcessEnv) => () => timeProcess(process.execPath, [BIN, ...argv], expect, env);
  const commands: Array<{ key: string; argv: string[]; run: () => number; target?: boolean }> = [
    { key: 'bucket abc', argv: ['bucket', 'abc'], run: node(['bucket', 'abc'], 'abc\t98\n'), target: true },
    { key: 'status, empty home', argv: ['status', '--home', empty], run: node(['status', '--home', empty], `no runs yet under ${empty}\n`), target: true },
    { key: 'status, home after one run', argv: ['status', '--home', populated], run: node(['status', '--home', populated]), target: true },
    { key: 'node -e 0 (Node alone)', argv: [], run: () => timeProcess(process.execPath, ['-e', '0']) },
    { key: 'npx flywheel bucket abc', argv: ['bucket', 'abc'], run: () => timeProcess('npx', ['flywheel', 'bucket', 'abc'], 'abc\t98\n') },
    { key: 'bucket abc through tsx', argv: ['bucket', 'abc'], run: node(['bucket', 'abc'], 'abc\t98\n', { FLYWHEEL_CLI: 'tsx' }) },
    {
      key: 'status, home after one run, through tsx',
      argv: ['status', '--home', populated],
      run: node(['status', '--home', populated], undefined, { FLYWHEEL_CLI: 'tsx' }),
    },
  ];
  const result: CliResult = { build: { ms: built.ms, inputs: built.inputs }, staleCheckMs: stats(checks), commands: {} };
  for (const c of commands) {
    c.run(); // warm-up (the OS file cache, tsx's cache, DuckDB's catalog file)
    const ms = Array.from({ length: runs }, () => c.run());
    result.commands[c.key] = { argv: c.argv, ms: stats(ms) };
    progress(`cli: ${c.key}: median ${fmtNum(stats(ms).median, 0)} ms`);
  }
  await rmrf(scratch);

  const msRow = (s: Stats) => ({ value: `${fmtNum(s.median / 1000)} s`, spread: `${fmtNum(s.min / 1000)}–${fmtNum(s.max / 1000)} s` });
  const rows: Row[] = [
    ...commands.map((c): Row => {
      const s = result.commands[c.key]!.ms;
      return {
        section: '7 cli',
        metric: c.target ? `flywheel ${c.key} (fresh process)` : c.key,
        ...msRow(s),
        ...(c.target ? { target: '≤ 0.5 s', pass: s.median <= TARGET_MS } : {}),
        note: c.target
          ? `node shared/local/bin.mjs; median of ${runs}`
          : c.key.startsWith('npx')
            ? 'npx resolving the bin, then the same'
            : c.key.includes('tsx')
              ? 'FLYWHEEL_CLI=tsx: the same lazy CLI with its sources transpiled at start (tsx cache warm), no bundle'
              : undefined,
      };
    }),
    {
      section: '7 cli',
      metric: 'stale check at every start',
      value: `${fmtNum(result.staleCheckMs.median, 1)} ms`,
      spread: `${fmtNum(result.staleCheckMs.min, 1)}–${fmtNum(result.staleCheckMs.max, 1)} ms`,
      note: `stat of the ${built.inputs} files the build read`,
    },
    {
      section: '7 cli',
      metric: 'CLI build (first run, or after a source changed)',
      value: `${fmtNum(built.ms / 1000)} s`,
      note: `esbuild, ${built.inputs} files → .cache/cli/`,
    },
  ];
  return { rows, result };
}
