/** Shared helpers of the bench: timing, statistics, progress on stderr, result rows, machine facts. */
import { execFileSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_DIR = path.resolve(BENCH_DIR, '..');
/** Cached inputs, scratch homes and bundles; git-ignored. */
export const DATA_DIR = path.join(BENCH_DIR, '.data');

export const progress = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

export interface Stats {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function stats(values: number[]): Stats {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length === 0 ? NaN : s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN, runs: values };
}

/** One line of the results table. `pass` undefined = informational (no target). */
export interface Row {
  section: string;
  metric: string;
  value: string;
  /** min–max or other spread. */
  spread?: string;
  target?: string;
  pass?: boolean;
  note?: string;
}

export const verdict = (pass?: boolean) => (pass === undefined ? '' : pass ? 'ok' : 'MISS');

export const fmtInt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : String(n));
export const fmtNum = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : String(n));
export const fmtSecs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
export const fmtBytes = (b: number) =>
  b >= 1024 * 1024 * 1024
    ? `${(b / 1024 ** 3).toFixed(2)} GB`
    : b >= 1024 * 1024
      ? `${(b / 1024 ** 2).toFixed(1)} MB`
      : b >= 1024
        ? `${(b / 1024).toFixed(1)} KB`
        : `${b} B`;

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, value };
}

export async function rmrf(p: string): Promise<void> {
  await fs.rm(p, { recursive: true, force: true });
}

/** Total size in bytes of the files under a folder. */
export async function duBytes(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) total += (await fs.stat(p)).size;
    }
  };
  await walk(dir);
  return total;
}

export function machine(duckdbVersion: string) {
  const cpu = os.cpus();
  let model = cpu[0]?.model ?? 'unknown';
  try {
    const lscpu = execFileSync('lscpu', { encoding: 'utf8' });
    const m = /^Model name:\s*(.+)$/m.exec(lscpu);
    if (m?.[1] && m[1].trim().length > model.length) model = m[1].trim();
  } catch {
    /* lscpu missing */
  }
  const pkg = JSON.parse(readFileSync(path.join(REPO_DIR, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  return {
    cpu: model,
    cores: cpu.length,
    ramGb: Number((os.totalmem() / 1024 ** 3).toFixed(1)),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    duckdb: duckdbVersion,
    duckdbNodeApi: pkg.dependencies['@duckdb/node-api'] ?? '?',
    loadAvgAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
}

export function envList(name: string, fallback: number[]): number[] {
  const v = process.env[name];
  if (!v) return fallback;
  return v
    .split(',')
    .map((x) => Number(x.trim()))
    .filter((x) => Number.isFinite(x) && x > 0);
}

export function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : fallback;
}
