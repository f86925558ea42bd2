/**
 * 4. End to end: an `npm start`-sized run (the sample lake `npm start` generates, ~500k rows per
 * source table, two datasets) through `flywheel run`, the same command `npm start` runs after
 * generating the lake. Per dataset: the span from the ready marker's trigger (the ledger's
 * snapshot-trigger start) to Pipeline Completed (the bucketed stage's end), each stage from the
 * ledger, and the data monitor that Pipeline Completed starts, from logs/flywheel.jsonl.
 */
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RunLedger } from '../shared/domain/ledger.js';
import { STAGES } from '../shared/domain/ledger.js';
import { generateSampleLake } from '../shared/local/sample-lake.js';
import { DATA_DIR, fmtSecs, progress, REPO_DIR, rmrf, stats, type Row, type Stats } from './lib.js';
import { runMeasured } from './proc.js';

export interface E2eResult {
  rowsPerTable: number;
  wallMs: Stats;
  perDataset: Record<string, { spanMs: Stats; stages: Record<string, Stats> }>;
  monitorMs: Stats;
}

const SAMPLE_SNAPSHOTS = ['2025-09-30', '2025-10-31'];

async function sampleLake(): Promise<string> {
  const lake = path.join(DATA_DIR, 'input', 'sample', 'lake');
  if (!existsSync(path.join(lake, '.complete'))) {
    await rmrf(lake);
    progress('e2e: generating the npm start sample lake (500k rows per source table)');
    await generateSampleLake(lake, { snapshots: SAMPLE_SNAPSHOTS });
    await fs.writeFile(path.join(lake, '.complete'), '');
  }
  return lake;
}

async function linkTree(from: string, to: string): Promise<void> {
  await fs.mkdir(to, { recursive: true });
  for (const e of await fs.readdir(from, { withFileTypes: true })) {
    if (e.name === '.complete') continue;
    if (e.isDirectory()) await linkTree(path.join(from, e.name), path.join(to, e.name));
    else await fs.link(path.join(from, e.name), path.join(to, e.name));
  }
}

const ms = (a?: string, b?: string) => (a && b ? Date.parse(b) - Date.parse(a) : NaN);

/** The data monitor's span in a home's logs/flywheel.jsonl ('monitor started' → 'monitor completed'). */
export function monitorMs(home: string): number {
  const logs = readFileSync(path.join(home, 'logs', 'flywheel.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((x) => {
      try {
        return JSON.parse(x) as { message?: string; timestamp?: string };
      } catch {
        return {};
      }
    });
  return ms(logs.find((x) => x.message === 'monitor started')?.timestamp, logs.find((x) => x.message === 'monitor completed')?.timestamp);
}

export async function benchE2e(runs: number): Promise<{ rows: Row[]; result: E2eResult }> {
  const lake = await sampleLake();
  const wall: number[] = [];
  const spans: Record<string, number[]> = {};
  const stageMs: Record<string, Record<string, number[]>> = {};
  const monitor: number[] = [];
  for (let r = 0; r < runs; r++) {
    const home = path.join(DATA_DIR, 'scratch', 'e2e');
    await rmrf(home);
    await linkTree(lake, path.join(home, 'lake'));
    progress(`e2e run ${r + 1}/${runs}: flywheel run (npm start without the lake generation)`);
    const res = await runMeasured(process.execPath, [path.join(REPO_DIR, 'shared/local/bin.mjs'), 'run', '--home', home], { cwd: REPO_DIR });
    if (res.code !== 0) throw new Error(`flywheel run exited ${res.code}:\n${res.stdout.slice(-3000)}`);
    wall.push(res.ms);
    for (const dataset of ['infobase', 'addressable']) {
      const file = path.join(home, 'lake', 'data', '_runs', dataset, `snapshot_dt=${SAMPLE_SNAPSHOTS[1]}`, 'run.json');
      const l = JSON.parse(readFileSync(file, 'utf8')) as RunLedger;
      spans[dataset] ??= [];
      spans[dataset].push(ms(l.stages['snapshot-trigger'].startedAt ?? l.createdAt, l.stages['bucketed-tables'].endedAt));
      stageMs[dataset] ??= {};
      const byStage = stageMs[dataset];
      for (const s of STAGES) {
        byStage[s] ??= [];
        byStage[s].push(ms(l.stages[s].startedAt, l.stages[s].endedAt));
      }
    }
    monitor.push(monitorMs(home));
    progress(
      `e2e run ${r + 1}/${runs}: ${fmtSecs(res.ms)} wall; infobase ${fmtSecs(spans.infobase!.at(-1)!)}, addressable ${fmtSecs(spans.addressable!.at(-1)!)}, monitor ${fmtSecs(monitor.at(-1)!)}`,
    );
    await rmrf(home);
  }
  const result: E2eResult = {
    rowsPerTable: 500_000,
    wallMs: stats(wall),
    perDataset: Object.fromEntries(
      Object.keys(spans).map((d) => [d, { spanMs: stats(spans[d]!), stages: Object.fromEntries(STAGES.map((s) => [s, stats(stageMs[d]![s]!)])) }]),
    ),
    monitorMs: stats(monitor),
  };
  const rows: Row[] = [
    {
      section: '4 end to end',
      metric: 'flywheel run on the npm start lake (process wall)',
      value: fmtSecs(result.wallMs.median),
      spread: `${fmtSecs(result.wallMs.min)}–${fmtSecs(result.wallMs.max)}`,
      note: 'incl. the CLI start-up, both datasets and the data monitor',
    },
  ];
  for (const [d, v] of Object.entries(result.perDataset)) {
    rows.push({
      section: '4 end to end',
      metric: `${d}: ready marker → Pipeline Completed`,
      value: fmtSecs(v.spanMs.median),
      spread: `${fmtSecs(v.spanMs.min)}–${fmtSecs(v.spanMs.max)}`,
    });
    for (const s of STAGES)
      rows.push({
        section: '4 end to end',
        metric: `${d}:   ${s}`,
        value: fmtSecs(v.stages[s]!.median),
        spread: `${fmtSecs(v.stages[s]!.min)}–${fmtSecs(v.stages[s]!.max)}`,
      });
  }
  rows.push({
    section: '4 end to end',
    metric: 'data monitor after Pipeline Completed',
    value: fmtSecs(result.monitorMs.median),
    spread: `${fmtSecs(result.monitorMs.min)}–${fmtSecs(result.monitorMs.max)}`,
  });
  return { rows, result };
}
