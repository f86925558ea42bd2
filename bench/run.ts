/**
 * `npm run bench`: split & bucket throughput vs a bare DuckDB baseline, bucket function cost, peak
 * memory, end to end, Lambda weight, the AWS cost shape and the CLI's start, in one run. Prints a markdown
 * table and writes bench/results.json. Progress goes to stderr.
 *   BENCH_SCALES=1,4,16   input scales (1× = 3 source tables × 1M rows × 40 columns)
 *   BENCH_RUNS=3          runs per measurement (median, min, max)
 *   BENCH_MEMORY_RUNS=3   runs of the memory measurement (a whole `flywheel run` at the largest scale, ~4 min each)
 *   BENCH_RUN_SCALE=2     scale of the local run against the bare DuckDB script (narrow and wide inputs)
 *   BENCH_ONLY=split,run,bucket,memory,e2e,lambda,aws,cli   a subset (writes results.partial.json)
 *   BENCH_MERGE=1         with BENCH_ONLY: also put the subset's rows and numbers into results.json in place of that
 *                         section's previous ones (each merged section records when it ran)
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { benchAwsCost } from './aws-cost.js';
import { benchBucketFn } from './bucket-fn.js';
import { benchCli } from './cli.js';
import { benchE2e } from './e2e.js';
import { benchLambdas } from './lambda.js';
import { benchLocalRun } from './local-run.js';
import { BENCH_DIR, envInt, envList, machine, progress, verdict, type Row } from './lib.js';
import { benchMemory } from './memory.js';
import { benchSplit } from './split.js';

const SECTIONS = ['lambda', 'cli', 'aws', 'bucket', 'split', 'run', 'e2e', 'memory'] as const;
const ORDER = ['1 split', '8 local run', '2 bucket fn', '3 memory', '4 end to end', '5 lambda', '6 aws cost', '7 cli'];

async function main(): Promise<void> {
  const scales = envList('BENCH_SCALES', [1, 4, 16]).sort((a, b) => a - b);
  const runs = envInt('BENCH_RUNS', 3);
  const memoryRuns = envInt('BENCH_MEMORY_RUNS', 3);
  const runScale = envInt('BENCH_RUN_SCALE', 2);
  const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : undefined;
  const want = (s: (typeof SECTIONS)[number]) => !only || only.has(s);
  const conn = await (await DuckDBInstance.create(':memory:')).connect();
  const duckdb = String((await conn.runAndReadAll('SELECT version()')).getRows()[0]?.[0]);
  conn.closeSync();
  const m = machine(duckdb);
  progress(`machine: ${m.cpu}, ${m.cores} cores, ${m.ramGb} GB RAM, node ${m.node}, duckdb ${m.duckdb}; scales ${scales.join(',')}, ${runs} runs`);
  const started = Date.now();
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  const section = async (name: (typeof SECTIONS)[number], fn: () => Promise<{ rows: Row[] } & Record<string, unknown>>) => {
    if (!want(name)) return;
    const t0 = Date.now();
    const res = await fn();
    rows.push(...res.rows);
    const { rows: _rows, ...rest } = res;
    raw[name] = { ...rest, seconds: Math.round((Date.now() - t0) / 1000) };
  };
  await section('lambda', benchLambdas);
  await section('cli', benchCli);
  await section('aws', benchAwsCost);
  await section('bucket', () => benchBucketFn(Math.max(runs, 3)));
  await section('split', () => benchSplit(scales, () => runs));
  await section('run', async () => {
    const results = [];
    const rows: Row[] = [];
    for (const width of ['narrow', 'wide'] as const) {
      const r = await benchLocalRun(runScale, runs, width);
      results.push(r.result);
      rows.push(...r.rows);
    }
    return { rows, results };
  });
  await section('e2e', () => benchE2e(runs));
  await section('memory', () => benchMemory(Math.max(...scales), memoryRuns));

  rows.sort((a, b) => ORDER.indexOf(a.section) - ORDER.indexOf(b.section));
  const table = [
    '| # | measurement | result | min–max | target | verdict | notes |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.section} | ${r.metric} | ${r.value} | ${r.spread ?? ''} | ${r.target ?? ''} | ${verdict(r.pass)} | ${r.note ?? ''} |`),
  ].join('\n');
  const header = `Machine: ${m.cpu}, ${m.cores} cores, ${m.ramGb} GB RAM, ${m.os}; Node ${m.node}; DuckDB ${m.duckdb} (@duckdb/node-api ${m.duckdbNodeApi}). Scales ${scales.join(', ')}×; ${runs} runs each (median, min–max).`;
  process.stdout.write(`\n${header}\n\n${table}\n\n`);
  const misses = rows.filter((r) => r.pass === false);
  process.stdout.write(misses.length ? `MISSED: ${misses.map((r) => `${r.metric} (${r.value}, target ${r.target})`).join('; ')}\n` : 'Every target met.\n');
  const file = path.join(BENCH_DIR, only ? 'results.partial.json' : 'results.json');
  await fs.writeFile(
    file,
    `${JSON.stringify({ generatedAt: new Date().toISOString(), machine: m, config: { scales, runs, memoryRuns, only: only ? [...only] : undefined }, seconds: Math.round((Date.now() - started) / 1000), table: rows, raw }, null, 2)}\n`,
  );
  progress(`wrote ${path.relative(process.cwd(), file)} in ${Math.round((Date.now() - started) / 1000)} s`);
  if (only && process.env.BENCH_MERGE === '1') await merge(rows, raw, m);
}

/** Puts a subset's rows and raw numbers into results.json in place of the same sections' previous ones. */
async function merge(rows: Row[], raw: Record<string, unknown>, m: ReturnType<typeof machine>): Promise<void> {
  const file = path.join(BENCH_DIR, 'results.json');
  const full = JSON.parse(await fs.readFile(file, 'utf8')) as { table: Row[]; raw: Record<string, unknown> };
  const sections = new Set(rows.map((r) => r.section));
  full.table = [...full.table.filter((r) => !sections.has(r.section)), ...rows].sort((a, b) => ORDER.indexOf(a.section) - ORDER.indexOf(b.section));
  const generatedAt = new Date().toISOString();
  for (const [name, value] of Object.entries(raw)) full.raw[name] = { generatedAt, loadAvgAtStart: m.loadAvgAtStart, ...(value as object) };
  await fs.writeFile(file, `${JSON.stringify(full, null, 2)}\n`);
  progress(`merged ${[...sections].join(', ')} into ${path.relative(process.cwd(), file)}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
