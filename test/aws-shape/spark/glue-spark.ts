/**
 * Runs the Glue scripts (glue-scripts/*.py, unmodified) on a local PySpark 3.5.4 against a moto server:
 * s3:// goes through S3A (hadoop-aws 3.3.4) to moto, and the scripts' boto3 clients reach the same moto.
 *
 *   const moto = await startMoto();                                   // test/aws-shape/moto-server.ts, IAM enforcement off
 *   const run = await runGlueOnSpark({
 *     endpoint: moto.endpoint,
 *     buckets: ['data'],                                              // S3A statistics per task for these buckets
 *     tasks: [
 *       { name: 'split', script: 'glue-scripts/split_and_bucket.py', args: { SNAPSHOT_DT: d, RUN_ID: r, PLAN_URI: uri } },
 *       { name: 'compact', script: 'glue-scripts/compact_raw.py', args: { SOURCE_PATH: …, OUTPUT_PATH: …, … } },
 *       { name: 'check', call: 'test/aws-shape/spark/tasks.py:bucket_vectors', params: { … } },   // fn(spark, params) → JSON
 *     ],
 *   });
 *   run.task('split').ok; run.task('split').logs; run.task('check').result; run.task('split').jobs[0].stages[0].inputRecords
 *
 * One Python process (test/aws-shape/spark/glue_runner.py) and one JVM run every task in order, so a test file
 * pays Spark's start-up once: put all of a file's Spark work into one call. A task that fails is reported (error,
 * traceback) and the following tasks still run; runGlueOnSpark throws only when Spark itself could not run.
 * Needs `node test/aws-shape/python-env.mjs` (the venv with pyspark, and the jars in .cache/jars/) and a Java 17
 * (JAVA_HOME, else the `java` on PATH; Glue 5.0 runs Java 17).
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const RUNNER = path.join(ROOT, 'test', 'aws-shape', 'spark', 'glue_runner.py');
const VENV_PYTHON = path.join(ROOT, '.venv', 'bin', 'python');
const SETUP = 'node test/aws-shape/python-env.mjs';
/** The machine may be loaded (2 cores, other suites in parallel): generous by default. */
const DEFAULT_TIMEOUT_MS = 20 * 60_000;

export interface GlueScriptTask {
  name: string;
  /** Path of the Glue script, relative to the project root (or absolute); run as `__main__`, as Glue runs it. */
  script: string;
  /** Job arguments without the dashes (`{ SNAPSHOT_DT: '2025-10-31' }` → `--SNAPSHOT_DT 2025-10-31`); JOB_NAME defaults to the task name. */
  args?: Record<string, string>;
  /** Raw arguments appended after the named ones (e.g. `['--TABLES_FILTER=a']`). */
  extraArgv?: string[];
}

export interface PythonCallTask {
  name: string;
  /** `path/to/file.py:function`, called as function(spark, params); its return value must be JSON-able. */
  call: string;
  params?: unknown;
}

export type SparkTask = GlueScriptTask | PythonCallTask;

export interface StageMetrics {
  stageId: number;
  attemptId: number;
  name: string;
  status: string;
  numTasks: number;
  inputBytes: number;
  inputRecords: number;
  outputBytes: number;
  outputRecords: number;
  shuffleReadBytes: number;
  shuffleReadRecords: number;
  shuffleWriteBytes: number;
  shuffleWriteRecords: number;
}

export interface JobMetrics {
  jobId: number;
  name: string;
  status: string;
  stageIds: number[];
  skippedStages: number;
  /** The stages of the job that ran (a skipped stage has no entry). */
  stages: StageMetrics[];
}

export interface TaskReport {
  name: string;
  ok: boolean;
  error: string | null;
  traceback: string | null;
  seconds: number;
  /** The script's argv after its path, as Glue would pass it (script tasks). */
  argv?: string[];
  stdout: string;
  /** stdout's lines that are JSON objects (the scripts' structured logs). */
  logs: Array<Record<string, unknown>>;
  /** A call task's return value. */
  result: unknown;
  /** Spark jobs the task ran, in order. */
  jobs: JobMetrics[];
  /** The SQL executions (queries, writes) that ran the task's jobs, with their physical plans as EXPLAIN prints them. */
  sqlExecutions: Array<{ executionId: number; description: string; jobIds: number[]; physicalPlan: string }>;
  /** Changes of the S3A storage statistics during the task, per bucket (e.g. stream_read_opened, object_put_request). */
  s3a: Record<string, Record<string, number>>;
}

export interface SparkRun {
  versions: { spark: string; hadoop: string; java: string; javaHome: string; python: string; scala: string };
  master: string;
  startSeconds: number;
  seconds: number;
  tasks: TaskReport[];
  /** The task of that name (throws if absent). */
  task(name: string): TaskReport;
  /** The runner's whole stdout and stderr (Spark's own warnings too), with keepWorkDir. */
  logFile?: string;
}

export interface SparkRunOptions {
  /** The moto server (http://127.0.0.1:port). */
  endpoint: string;
  tasks: SparkTask[];
  buckets?: string[];
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Spark configuration overrides (defaults in glue_runner.py: local[2], 1g driver, UI off, S3A → moto). */
  sparkConf?: Record<string, string>;
  timeoutMs?: number;
  /** Keep the work folder (Spark's local dirs, the log, the report) for inspection; default: removed after a successful run. */
  keepWorkDir?: boolean;
}

/** The JAVA_HOME to give Spark: $JAVA_HOME, else the JDK of the `java` on PATH. */
export function javaHome(): string {
  if (process.env.JAVA_HOME) return process.env.JAVA_HOME;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const java = path.join(dir, 'java');
    if (existsSync(java)) return path.dirname(path.dirname(realpathSync(java)));
  }
  throw new Error('glue-spark: no JAVA_HOME and no java on PATH (Spark 3.5 needs Java 8/11/17; Glue 5.0 runs Java 17)');
}

/** Runs the tasks in one Spark process; resolves with the report once it exits. */
export async function runGlueOnSpark(options: SparkRunOptions): Promise<SparkRun> {
  if (!existsSync(VENV_PYTHON)) throw new Error(`glue-spark: ${VENV_PYTHON} is missing: run \`${SETUP}\``);
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'glue-spark-'));
  const spec = {
    endpoint: options.endpoint,
    region: options.region ?? 'us-east-1',
    accessKeyId: options.credentials?.accessKeyId ?? 'test',
    secretAccessKey: options.credentials?.secretAccessKey ?? 'test',
    workDir,
    buckets: options.buckets ?? [],
    sparkConf: options.sparkConf ?? {},
    tasks: options.tasks,
  };
  const specFile = path.join(workDir, 'spec.json');
  writeFileSync(specFile, JSON.stringify(spec, null, 2));
  const logFile = path.join(workDir, 'runner.log');
  const log = createWriteStream(logFile);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    JAVA_HOME: javaHome(),
    PYSPARK_PYTHON: VENV_PYTHON,
    PYSPARK_DRIVER_PYTHON: VENV_PYTHON,
    PYTHONUNBUFFERED: '1',
    // Spark picks a non-loopback address when the hostname resolves to 127.0.0.1; local mode needs none
    SPARK_LOCAL_IP: '127.0.0.1',
  };
  delete env.SPARK_HOME; // pyspark's own distribution, never a machine-wide one
  delete env.PYTHONPATH;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  let tail = '';
  const keep = (chunk: Buffer) => {
    log.write(chunk);
    tail = (tail + chunk.toString('utf8')).slice(-6_000);
  };
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean; error?: Error }>((resolve) => {
    const child = spawn(VENV_PYTHON, [RUNNER, specFile], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let timedOut = false;
    const kill = (signal: NodeJS.Signals) => {
      // the JVM is a child of python: end the whole process group the runner leads
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill('SIGTERM');
      setTimeout(() => kill('SIGKILL'), 15_000).unref();
    }, timeoutMs);
    const onExit = () => kill('SIGKILL');
    process.once('exit', onExit);
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (error) => {
      clearTimeout(timer);
      process.removeListener('exit', onExit);
      resolve({ code: null, signal: null, timedOut, error });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      process.removeListener('exit', onExit);
      resolve({ code, signal, timedOut });
    });
  });
  await new Promise<void>((resolve) => log.end(resolve));

  const reportFile = path.join(workDir, 'report.json');
  if (exit.error || exit.timedOut || exit.code !== 0 || !existsSync(reportFile)) {
    const why = exit.error ? exit.error.message : exit.timedOut ? `timed out after ${timeoutMs / 1000} s` : `exit ${exit.code ?? exit.signal}`;
    throw new Error(`glue-spark: the Spark runner failed (${why}); log ${logFile}\n${tail}`);
  }
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Omit<SparkRun, 'task' | 'logFile'>;
  // each task's own output is in the report; the work folder goes unless asked to stay (or the runner failed, above)
  if (!options.keepWorkDir) rmSync(workDir, { recursive: true, force: true });
  return withTask(report, options.keepWorkDir ? logFile : undefined);
}

function withTask(report: Omit<SparkRun, 'task' | 'logFile'>, logFile: string | undefined): SparkRun {
  return {
    ...report,
    logFile,
    task(name: string): TaskReport {
      const t = report.tasks.find((x) => x.name === name);
      if (!t) throw new Error(`glue-spark: no task named ${name} (have ${report.tasks.map((x) => x.name).join(', ')})`);
      return t;
    },
  };
}

/** A failed task's error and traceback, for an assertion message. */
export function describeFailure(t: TaskReport): string {
  return t.ok ? `${t.name}: ok` : `${t.name}: ${t.error}\n${t.traceback ?? ''}\n--- stdout ---\n${t.stdout.slice(-4_000)}`;
}

/** Input records over every stage of a task's jobs (a source read twice counts twice). */
export function inputRecords(t: TaskReport): number {
  return t.jobs.flatMap((j) => j.stages).reduce((sum, s) => sum + s.inputRecords, 0);
}
