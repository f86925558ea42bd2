/** Runs a child process and measures its wall time and peak RSS (GNU time -v, else /proc polling of the child and its descendants). */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';

export interface ProcResult {
  code: number;
  ms: number;
  stdout: string;
  stderr: string;
  /** Peak resident set size in bytes, and how it was measured. */
  peakRss: number;
  rssMethod: string;
}

const TIME = '/usr/bin/time';

function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const visit = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return out;
}

const rssOf = (pid: number) => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
};

export function runMeasured(
  cmd: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; onStdout?: (line: string) => void },
): Promise<ProcResult> {
  const useTime = existsSync(TIME) && process.env.BENCH_RSS !== 'proc';
  const [file, argv] = useTime ? [TIME, ['-v', cmd, ...args]] : [cmd, args];
  const t0 = process.hrtime.bigint();
  const child = spawn(file, argv, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
    pending += b.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const l of lines) options.onStdout?.(l);
  });
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  let polled = 0;
  const timer = useTime
    ? undefined
    : setInterval(() => {
        if (child.pid === undefined) return;
        const total = descendants(child.pid).reduce((s, p) => s + rssOf(p), 0);
        polled = Math.max(polled, total);
      }, 100);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearInterval(timer);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      let peakRss = polled;
      let rssMethod = '/proc VmRSS polling (100 ms) of the child and its descendants, summed';
      if (useTime) {
        const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
        peakRss = m ? Number(m[1]) * 1024 : NaN;
        rssMethod = '/usr/bin/time -v (maximum resident set size)';
      }
      resolve({ code: code ?? -1, ms, stdout, stderr, peakRss, rssMethod });
    });
  });
}
