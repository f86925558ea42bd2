/**
 * 5. Lambda weight: each services/<fn>/handler.ts bundled as serverless.yml's `custom.esbuild` says
 * (bundle, minify, keepNames, platform node, format esm, target node24, mainFields module/main, the
 * createRequire banner, `exclude: []` = no externals, @aws-sdk v3 included, the zod plugin), then the cold import
 * time of each bundle: the median of 10 fresh `node` processes importing it with dummy settings.
 */
import { build, type Plugin } from 'esbuild';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { promises as fs, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { DATA_DIR, envInt, fmtBytes, fmtNum, progress, REPO_DIR, stats, type Row, type Stats } from './lib.js';

const require = createRequire(import.meta.url);
const MAX_BYTES = 1_000_000;
const MAX_IMPORT_MS = 150;

/** What the AWS composition root reads (values are dummies; nothing is called at import). */
export const DUMMY_ENV = {
  DATA_BUCKET: 'data',
  ANALYSIS_BUCKET: 'analysis',
  GLUE_DATABASE: 'flywheel_dev',
  SPLIT_JOB_NAME: 'flywheel-dev-infobase-split-and-bucket',
  ADDRESSABLE_JOB_NAME: 'flywheel-dev-addressable-bucket',
  ATHENA_WORKGROUP: 'flywheel-dev',
  MONITOR_WORKGROUP: 'flywheel-dev-monitor',
  EVENT_BUS_NAME: 'flywheel-dev',
  ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:flywheel-dev-alerts',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIDBENCH',
  AWS_SECRET_ACCESS_KEY: 'bench',
  POWERTOOLS_SERVICE_NAME: 'flywheel',
  POWERTOOLS_LOG_LEVEL: 'INFO',
};

export interface LambdaResult {
  fn: string;
  bytes: number;
  gzipBytes: number;
  duckdb: boolean;
  importMs: Stats;
  /** Bytes in the bundle per package, largest first. */
  packages: Record<string, number>;
}

export async function benchLambdas(): Promise<{ rows: Row[]; results: LambdaResult[] }> {
  const out = path.join(DATA_DIR, 'lambda');
  await fs.rm(out, { recursive: true, force: true });
  const fns = readdirSync(path.join(REPO_DIR, 'services'))
    .filter((d) => existsSync(path.join(REPO_DIR, 'services', d, 'handler.ts')))
    .sort();
  const imports = envInt('BENCH_IMPORTS', 10);
  const results: LambdaResult[] = [];
  for (const fn of fns) {
    const outfile = path.join(out, fn, 'handler.mjs');
    const res = await build({
      entryPoints: [path.join(REPO_DIR, 'services', fn, 'handler.ts')],
      outfile,
      bundle: true,
      minify: true,
      keepNames: true,
      sourcemap: false,
      format: 'esm',
      platform: 'node',
      target: 'node24',
      mainFields: ['module', 'main'],
      external: [],
      banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
      // serverless.yml `custom.esbuild.plugins`: zod reduced to its English locale
      plugins: require(path.join(REPO_DIR, 'shared/composition/esbuild-plugins.cjs')) as Plugin[],
      metafile: true,
      logLevel: 'error',
    });
    const body = await fs.readFile(outfile);
    const duckdb = Object.keys(res.metafile.inputs).some((i) => i.includes('duckdb'));
    // bytes in the bundle per package (node_modules/<pkg> or @scope/pkg; the project's own code as "flywheel")
    const byPackage: Record<string, number> = {};
    for (const [input, { bytesInOutput }] of Object.entries(Object.values(res.metafile.outputs)[0]?.inputs ?? {})) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const pkg = m ? m[1]! : 'flywheel';
      byPackage[pkg] = (byPackage[pkg] ?? 0) + bytesInOutput;
    }
    const top = Object.entries(byPackage).sort((a, b) => b[1] - a[1]);
    const ms: number[] = [];
    const script = `const t=performance.now(); await import(${JSON.stringify(outfile)}); process.stdout.write(String(performance.now()-t));`;
    for (let i = 0; i < imports; i++) {
      const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        env: { PATH: process.env.PATH ?? '', ...DUMMY_ENV },
        encoding: 'utf8',
        cwd: path.dirname(outfile),
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      ms.push(Number(stdout.trim()));
    }
    const st = stats(ms);
    results.push({ fn, bytes: body.byteLength, gzipBytes: gzipSync(body).byteLength, duckdb, importMs: st, packages: Object.fromEntries(top) });
    progress(`lambda ${fn}: ${fmtBytes(body.byteLength)}, import median ${fmtNum(st.median, 1)} ms`);
  }
  const rows: Row[] = results.flatMap((r) => [
    {
      section: '5 lambda',
      metric: `${r.fn} bundle`,
      value: fmtBytes(r.bytes),
      note: `gzip ${fmtBytes(r.gzipBytes)}${r.duckdb ? '; CONTAINS DuckDB' : ''}; largest: ${Object.entries(r.packages)
        .slice(0, 4)
        .map(([p, b]) => `${p} ${fmtBytes(b)}`)
        .join(', ')}`,
      target: '≤ 1 MB',
      pass: r.bytes <= MAX_BYTES && !r.duckdb,
    },
    {
      section: '5 lambda',
      metric: `${r.fn} cold import`,
      value: `${fmtNum(r.importMs.median, 1)} ms`,
      spread: `${fmtNum(r.importMs.min, 1)}–${fmtNum(r.importMs.max, 1)} ms`,
      target: '≤ 150 ms',
      pass: r.importMs.median <= MAX_IMPORT_MS,
    },
  ]);
  return { rows, results };
}
