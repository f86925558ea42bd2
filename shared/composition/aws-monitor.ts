/**
 * The data monitor's side of the AWS composition (its function alone uses it, so the other bundles stay small):
 * what the deployed monitor can honour of the options bound to the deployment.
 */
import { LAYOUT } from '../domain/layout.js';
import type { MonitorDeployment } from '../domain/monitor/options.js';
import { awsConfig, settingsFromEnv, type AwsSettings } from './aws.js';

/**
 * What the deployed monitor can honour (README, The data monitor: options bound to the deployment). Its role
 * reads the deployment's database and the compare database of the stage (MONITOR_COMPARE_DATABASE, from
 * `monitorCompareDatabase`), writes reports under its report prefix of the analysis bucket, starts queries in its
 * own workgroup (whose state changes alone reach it, and which enforces its result location) and publishes to the
 * alert topic; its clients are in the function's region.
 */
export function monitorDeploymentFromEnv(env: NodeJS.ProcessEnv = process.env, s: AwsSettings = settingsFromEnv(env)): MonitorDeployment {
  const redeploy = (param: string) => `deploy the stack with --param="${param}=…" for another.`;
  const compare = env.MONITOR_COMPARE_DATABASE || undefined;
  const reportPrefix = env.MONITOR_REPORT_PREFIX || LAYOUT.monitorReportPrefix;
  const part = awsConfig(s).prefixes.part;
  return {
    database: { values: [s.database], why: `the function's role reads the catalog and data of ${s.database} alone; ${redeploy('glueDatabase')}` },
    compare_database: {
      values: [s.database, ...(compare ? [compare] : [])],
      why: `the function's role reads source tables in ${[s.database, ...(compare ? [compare] : [])].join(' and ')} only; ${redeploy('monitorCompareDatabase')}`,
    },
    report_bucket: { values: [s.analysisBucket], why: `the function's role writes reports to the analysis bucket ${s.analysisBucket} alone.` },
    report_prefix: { values: [reportPrefix], prefix: true, why: `the function's role writes reports under ${reportPrefix} of the analysis bucket alone.` },
    table_prefix: {
      values: [part],
      prefix: true,
      why: `the function's role reads and repairs ${part}* tables alone (the monitor checks part_ tables).`,
    },
    athena_workgroup: {
      values: [s.monitorWorkgroup],
      why: `the monitor's queries run in its own workgroup ${s.monitorWorkgroup}: its role may start queries in no other, and only that workgroup's state changes reach the monitor.`,
    },
    athena_results: {
      values: s.monitorResults ? [s.monitorResults, s.monitorResults.replace(/\/$/, '')] : [],
      why: `the workgroup ${s.monitorWorkgroup} enforces its own result location${s.monitorResults ? ` ${s.monitorResults}` : ''} (EnforceWorkGroupConfiguration): Athena would ignore another.`,
    },
    sns_topic_arn: {
      values: [s.alertTopicArn],
      why: `the monitor e-mails through the stack's alert topic ${s.alertTopicArn}, the only topic its role may publish to; subscribe to it (stage param alertEmails).`,
    },
    region: {
      values: s.region ? [s.region] : [],
      why: `the function's clients use the region it runs in${s.region ? ` (${s.region})` : ''}, where its database, buckets and workgroup are; deploy the stack in the other region for that one.`,
    },
  };
}
