/**
 * 3. Memory: peak RSS of `flywheel run` (the whole process: Node, the CLI, DuckDB) on the largest
 * scale's input in a scratch home, the real CLI as a user runs it. Its stage timings (the run
 * summary's `stages:` line) are kept as a cross-check of the split measurement.
 */
import path from 'node:path';
import { scratchHome } from './data.js';
import { fmtBytes, fmtSecs, progress, REPO_DIR, rmrf, stats, type Row, type Stats } from './lib.js';
import { runMeasured } from './proc.js';

const LIMIT = 2 * 1024 ** 3;

export interface MemoryResult {
  scale: number;
  peakRss: Stats;
  wallMs: Stats;
  method: string;
  stages: Array<Record<string, number>>;
}

/** `stages: snapshot-trigger SUCCEEDED 0.1 s · split-and-bucket SUCCEEDED 80.2 s · …` → stage → ms. */
export function parseStages(stdout: string): Record<string, number> {
  const line = stdout.split('\n').find((l) => l.startsWith('stages:')) ?? '';
  return Object.fromEntries([...line.matchAll(/([a-z-]+) [A-Z]+ ([\d.]+) s/g)].map((m) => [m[1]!, Number(m[2]) * 1000]));
}

export async function benchMemory(scale: number, runs: number): Promise<{ rows: Row[]; result: MemoryResult }> {
  const rss: number[] = [];
  const wall: number[] = [];
  const stages: Array<Record<string, number>> = [];
  let method = '';
  for (let r = 0; r < runs; r++) {
    const home = await scratchHome(scale, `memory-${scale}x`);
    progress(`memory ${scale}x run ${r + 1}/${runs}: flywheel run --home ${path.relative(REPO_DIR, home)}`);
    try {
      const res = await runMeasured(process.execPath, [path.join(REPO_DIR, 'shared/local/bin.mjs'), 'run', '--home', home], {
        cwd: REPO_DIR,
        onStdout: (l) => /Stage Completed|Pipeline Completed|split |Data monitor|✗/.test(l) && progress(`  ${l.trim()}`),
      });
      if (res.code !== 0) throw new Error(`flywheel run exited ${res.code}:\n${res.stdout.slice(-3000)}\n${res.stderr.slice(-3000)}`);
      rss.push(res.peakRss);
      wall.push(res.ms);
      stages.push(parseStages(res.stdout));
      method = res.rssMethod;
      progress(`memory ${scale}x run ${r + 1}/${runs}: peak RSS ${fmtBytes(res.peakRss)}, ${fmtSecs(res.ms)}`);
    } finally {
      await rmrf(home);
    }
  }
  const peak = stats(rss);
  const w = stats(wall);
  const split = stats(stages.map((s) => s['split-and-bucket'] ?? NaN));
  return {
    result: { scale, peakRss: peak, wallMs: w, method, stages },
    rows: [
      {
        section: '3 memory',
        metric: `flywheel run ${scale}× peak RSS`,
        value: fmtBytes(peak.median),
        spread: runs > 1 ? `${fmtBytes(peak.min)}–${fmtBytes(peak.max)}` : undefined,
        target: '≤ 2 GB',
        pass: peak.median <= LIMIT,
        note: method,
      },
      {
        section: '3 memory',
        metric: `flywheel run ${scale}× wall`,
        value: fmtSecs(w.median),
        spread: runs > 1 ? `${fmtSecs(w.min)}–${fmtSecs(w.max)}` : undefined,
        note: `stages (s): ${Object.entries(stages[0] ?? {})
          .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`)
          .join(', ')}; split median ${fmtSecs(split.median)}`,
      },
    ],
  };
}
