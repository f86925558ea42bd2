/**
 * What every local function is wired with: the local job names (as the Glue job names in AWS), a function's deps
 * behind the access guard, and the Clean Rooms report's local defaults. Used by the local runtime (local.ts) and
 * the local Clean Rooms report (local-cleanrooms.ts).
 */
import { guardDeps } from '../adapters/access-guard.js';
import { bucketCountSetting } from '../domain/bucket.js';
import { databaseSetting, type PipelineConfig } from '../domain/config.js';
import { LAYOUT } from '../domain/layout.js';
import type { MonitorDefaults, MonitorDeployment } from '../domain/monitor/options.js';
import type { Deps, ReachInputs } from '../deps.js';
import type { FunctionName } from '../events/patterns.js';
import { FUNCTION_REACH } from './function-reach.js';

/** The local twin's job name of a dataset (infobase: `…-split-and-bucket`, addressable: `…-addressable-bucket`, as in AWS). */
export const localJobName = (dataset: string) => (dataset === 'infobase' ? 'flywheel-local-infobase-split-and-bucket' : `flywheel-local-${dataset}-bucket`);
export const LOCAL_WORKGROUP = 'flywheel-local';
export const LOCAL_MONITOR_WORKGROUP = 'flywheel-local-monitor';
/**
 * What the local monitor can honour of the options bound to a deployment: its queries run in DuckDB as the local
 * monitor workgroup; no result files, topic or region exist locally, so those options are refused, never ignored.
 */
export const LOCAL_MONITOR_DEPLOYMENT: MonitorDeployment = {
  athena_workgroup: {
    values: [LOCAL_MONITOR_WORKGROUP],
    why: `locally the monitor's queries run in DuckDB, as the workgroup ${LOCAL_MONITOR_WORKGROUP}; there is no other.`,
  },
  athena_results: { values: [], why: 'locally DuckDB writes no query result files (the results stay in the catalog database).' },
  sns_topic_arn: { values: [], why: "locally the monitor's e-mail is a file in <home>/outbox/, not an SNS message." },
  region: { values: [], why: 'locally there is no AWS region: the lake is under <home>/lake/.' },
};
/**
 * What the environment sets of a local pipeline's config, as the AWS stage parameters of the same meaning do:
 * FLYWHEEL_BUCKET_COUNT, the buckets of every part_ and bucketed_ table (bucketCount; default 256, a power of two
 * from 2 to 256), and FLYWHEEL_STAGED_DATABASE, the database of the ext_ tables (stagedGlueDatabase; default the
 * one database, flywheel).
 */
export function localConfigFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<PipelineConfig> {
  const bucketCount = bucketCountSetting(env.FLYWHEEL_BUCKET_COUNT, 'environment variable FLYWHEEL_BUCKET_COUNT');
  const stagedDatabase = databaseSetting(env.FLYWHEEL_STAGED_DATABASE, 'environment variable FLYWHEEL_STAGED_DATABASE');
  return { ...(bucketCount ? { bucketCount } : {}), ...(stagedDatabase ? { stagedDatabase } : {}) };
}

/** The local monitor's own defaults, before the CLI's flags. */
export const localMonitorDefaults = (config: PipelineConfig): MonitorDefaults => ({
  database: config.database,
  report_bucket: config.analysisBucket,
  bucket_count: config.bucketCount,
  athena_workgroup: LOCAL_MONITOR_WORKGROUP,
});
export const LOCAL_COMPACTION_JOB = 'flywheel-local-compaction';
export const LOCAL_CHARGEBACKS_JOB = 'flywheel-local-chargebacks-consolidation';

/** The local Clean Rooms report's defaults (shared/local/cleanrooms.ts overrides the prefixes per command). */
export const localCleanroomsDefaults = (config: PipelineConfig, o: { tablePrefix?: string; reportPrefix?: string } = {}) => ({
  database: config.database,
  tablePrefix: o.tablePrefix ?? config.prefixes.part,
  reportBucket: config.analysisBucket,
  reportPrefix: o.reportPrefix ?? LAYOUT.cleanroomsReportPrefix,
});

/**
 * A function's deps behind the access guard: every port call is checked against the function's reach,
 * as its IAM role checks it in AWS, so an undeclared call fails here first.
 */
export function functionDeps(deps: Deps, fn: FunctionName, inputs: Partial<ReachInputs> = {}): Deps {
  const reachInputs: ReachInputs = { config: deps.config, monitorDefaults: deps.monitorDefaults, cleanrooms: localCleanroomsDefaults(deps.config), ...inputs };
  const jobOf = (jobName: string) =>
    Object.keys(deps.config.datasets).find((d) => localJobName(d) === jobName) ??
    (jobName === LOCAL_COMPACTION_JOB ? 'compaction' : jobName === LOCAL_CHARGEBACKS_JOB ? 'chargebacks' : undefined);
  return guardDeps(deps, FUNCTION_REACH[fn](reachInputs), { principal: `function ${fn}`, jobOf });
}
