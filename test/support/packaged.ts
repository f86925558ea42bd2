/**
 * The packaged stack (`osls package`, offline) for the tests that read it: packaged once per content
 * of the service (serverless.yml, package files, shared/, services/) and stage, and kept in
 * node_modules/.cache/flywheel/packaged/. Test files run in parallel workers and osls builds in one
 * work folder (.esbuild), so packaging takes a lock: a second worker waits and reuses the result.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type Stage = 'dev' | 'prod';
export const PROD_EMAILS = ['data-ops@example.org', 'oncall@example.org'];

/** The stack that creates its buckets and database (the default), or one adopting existing ones (shared/composition/serverless-adopt.cjs). */
export type Variant = 'create' | 'adopt';
/** The existing resources the adopting package names (made-up names, no deployment's). */
export const ADOPTED = { dataBucket: 'existing-data-example', analysisBucket: 'existing-analysis-example', glueDatabase: 'existing_catalog_example' } as const;
export const ADOPT_PARAMS = [
  `--param=existingDataBucket=${ADOPTED.dataBucket}`,
  `--param=existingAnalysisBucket=${ADOPTED.analysisBucket}`,
  `--param=existingGlueDatabase=${ADOPTED.glueDatabase}`,
];

export const root = fileURLToPath(new URL('../..', import.meta.url));
const osls = path.join(root, 'node_modules', 'osls', 'bin', 'serverless.js');
const cacheDir = path.join(root, 'node_modules', '.cache', 'flywheel', 'packaged');

/** Runs osls with no AWS credentials and nothing phoning home; returns its output, or throws with it. */
export function runOsls(args: string[]): string {
  const env: NodeJS.ProcessEnv = { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', AWS_EC2_METADATA_DISABLED: 'true' };
  for (const name of Object.keys(env)) if (/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE)$/.test(name)) delete env[name];
  delete env.NODE_OPTIONS; // jest's --experimental-vm-modules is not for osls
  try {
    return execFileSync(process.execPath, [osls, ...args], { cwd: root, env, timeout: 300_000, encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`osls ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}

export interface Packaged {
  dir: string;
  // CloudFormation is untyped JSON; the tests say what each part must be.
  template: any;
}

/**
 * The stage's package (zips and templates), built when the service changed since the last one. `variant` is the
 * adopting stack ('adopt', ADOPT_PARAMS) or stage parameters passed as `--param=name=value`; each variant is kept
 * beside the plain one.
 */
export function packaged(stage: Stage, variant: Variant | Record<string, string> = 'create'): Packaged {
  const params =
    variant === 'create'
      ? []
      : variant === 'adopt'
        ? ADOPT_PARAMS.map((p) => p.replace(/^--param=/, ''))
        : Object.entries(variant)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([k, v]) => `${k}=${v}`);
  const suffix = variant === 'create' ? '' : variant === 'adopt' ? '-adopt' : `-${createHash('sha256').update(params.join('\n')).digest('hex').slice(0, 8)}`;
  const dir = path.join(cacheDir, `${contentKey()}-${stage}${suffix}`);
  const templateOf = () => JSON.parse(readFileSync(path.join(dir, 'cloudformation-template-update-stack.json'), 'utf8'));
  if (existsSync(path.join(dir, 'done'))) return { dir, template: templateOf() };
  withLock(() => {
    if (existsSync(path.join(dir, 'done'))) return;
    const work = `${dir}.partial`;
    rmSync(work, { recursive: true, force: true });
    runOsls([
      'package',
      '--stage',
      stage,
      '--package',
      work,
      ...(stage === 'prod' ? [`--param=alertEmails=${PROD_EMAILS.join(',')}`] : []),
      ...params.map((p) => `--param=${p}`),
    ]);
    // older packages of this stage and variant (another content key) go
    const own = `-${stage}${suffix}`;
    for (const old of readdirSync(cacheDir))
      if (old.endsWith(own) && /^[0-9a-f]{16}$/.test(old.slice(0, -own.length)) && old !== path.basename(dir))
        rmSync(path.join(cacheDir, old), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
    writeFileSync(path.join(dir, 'done'), '');
  });
  return { dir, template: templateOf() };
}

/** sha256 of every file osls packages from (a change anywhere re-packages). */
function contentKey(): string {
  const hash = createHash('sha256');
  const add = (file: string) => hash.update(file).update(readFileSync(path.join(root, file)));
  for (const file of ['serverless.yml', 'package.json', 'package-lock.json', 'tsconfig.json']) add(file);
  const walk = (dir: string) => {
    for (const name of readdirSync(path.join(root, dir)).sort()) {
      const rel = path.join(dir, name);
      if (statSync(path.join(root, rel)).isDirectory()) walk(rel);
      else add(rel);
    }
  };
  walk('shared');
  walk('services');
  return hash.digest('hex').slice(0, 16);
}

/** One packager at a time across jest workers (mkdir is atomic); a lock older than 15 minutes is a crashed run's. */
function withLock(run: () => void): void {
  mkdirSync(cacheDir, { recursive: true });
  const lock = path.join(cacheDir, '.lock');
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      try {
        if (Date.now() - statSync(lock).mtimeMs > 15 * 60_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      Atomics.wait(sleeper, 0, 0, 250);
    }
  }
  try {
    run();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
