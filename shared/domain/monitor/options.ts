/**
 * Data-monitor options: the current monitor's parameters (same names, same defaults) plus the new
 * checks' thresholds. In AWS they come from the function's environment and can be overridden per
 * invocation; locally from CLI flags with the same names.
 */
import { z } from 'zod';
import { BUCKET_COUNT, BUCKET_COUNTS } from '../bucket.js';
import { LAYOUT } from '../layout.js';

const bool = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);
const num = z.coerce.number();

export const MonitorOptionsSchema = z
  .object({
    database: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'database names are lower-case letters, digits and _'),
    table_prefix: z
      .string()
      .regex(/^[a-z0-9_]*$/)
      .default('part_'),
    // the deployment's bucket count is the default (its BUCKET_COUNT; locally FLYWHEEL_BUCKET_COUNT)
    bucket_count: num
      .pipe(z.number().refine((n) => BUCKET_COUNTS.includes(n), { message: `must be a power of two from 2 to 256 (${BUCKET_COUNTS.join(', ')})` }))
      .default(BUCKET_COUNT),
    report_bucket: z.string().min(1),
    report_prefix: z.string().default(LAYOUT.monitorReportPrefix),
    athena_results: z.string().optional(),
    athena_workgroup: z.string().optional(),
    sns_topic_arn: z.string().optional(),
    auto_repair: z.enum(['athena', 'glue', 'off']).default('athena'),
    dry_run: bool.default(false),
    strict_snapshot: bool.default(true),
    freshness_window_days: num.pipe(z.number().min(0)).default(45),
    count_check_enabled: bool.default(true),
    compare_source_type: z.enum(['ext', 'part']).default('ext'),
    compare_database: z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/)
      .optional(),
    count_tolerance_pct: num.pipe(z.number().min(0)).default(0),
    pk_column: z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/)
      .default('customer_user_id'),
    file_size_check: bool.default(false),
    file_size_min_mb: num.pipe(z.number().min(0)).default(64),
    file_size_max_mb: num.pipe(z.number().min(0)).default(1024),
    max_tables: num.pipe(z.number().int().min(0)).default(0),
    region: z.string().optional(),
    // beyond the current monitor
    /** Bucket skew beyond either threshold is reported (BUCKET_SKEW); whether it is e-mailed too, see skew_change_pct. */
    skew_max_min_ratio: num.pipe(z.number().min(1)).default(3),
    skew_max_cv: num.pipe(z.number().min(0)).default(0.5),
    low_bucket_pct: num.pipe(z.number().min(0).max(100)).default(10),
    /**
     * A bucket skew is e-mailed only when its max/min ratio or cv exceeds the previous snapshot's by more than this
     * many percent (or, on a table's first snapshot, the spread of its distinct keys over the buckets by as much);
     * otherwise it is the bucket function's own spread of this key population, the same every day: report only.
     */
    skew_change_pct: num.pipe(z.number().min(0).max(1000)).default(25),
    /**
     * A key value holding at least this many times a key's fair share of the rows (or a bucket holding this many
     * times what its distinct keys account for) is a concentration, e-mailed with the value (KEY_CONCENTRATION,
     * BUCKET_CONCENTRATION)…
     */
    concentration_ratio: num.pipe(z.number().min(1)).default(10),
    /** …when the rows beyond its fair share are at least this percent of the table's. */
    concentration_min_pct: num.pipe(z.number().min(0).max(100)).default(0.1),
    trend_reports: num.pipe(z.number().int().min(0).max(50)).default(3),
    volume_change_pct: num.pipe(z.number().min(0)).default(20),
    notify_when_clean: bool.default(false),
    /** Check the part_<t>_er Entity Resolution tables too (they have no source to compare counts with: count checks use part_<t>). */
    include_er_tables: bool.default(false),
    /** Snapshots whose data is kept; older ones are deleted when this check finds the live data intact (0 = never delete). */
    retain_snapshots: num.pipe(z.number().int().min(0)).default(2),
  })
  // an option this schema does not know (a typo, an option of another tool) is refused, never dropped
  .strict();

export type MonitorOptions = z.output<typeof MonitorOptionsSchema>;
export type MonitorOptionsInput = z.input<typeof MonitorOptionsSchema>;
/** A deployment's option values before parsing (environment strings in AWS, flags locally), by option name. */
export type MonitorDefaults = { [K in keyof MonitorOptionsInput]?: unknown };

/** Validates options; a bad value is an error naming the option, an unknown option is named too. */
export function parseMonitorOptions(input: Record<string, unknown>): MonitorOptions {
  const parsed = MonitorOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) =>
      i.code === 'unrecognized_keys'
        ? i.keys.map((k) => `--${k}: not a monitor option (the options are listed in the README, The data monitor)`).join('; ')
        : `--${i.path.join('.')}: ${i.message}`,
    );
    throw new Error(`invalid monitor options: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/**
 * What a deployment can honour of an option bound to it: the values its resources and role allow (the monitor's
 * workgroup, its result location, the alert topic, the region, the databases and buckets the role reads). An
 * option with no values has no meaning in this deployment (locally: the Athena result location, a topic, a region).
 */
export interface MonitorBinding {
  /** The values honoured; a value starting with one of them too when `prefix`. Empty: every value is refused. */
  values: string[];
  prefix?: boolean;
  /** Why the option is bound here, and how to get another value when there is a way (ends with a full stop). */
  why: string;
}

/** The deployment's bindings by option; an option without one takes any valid value. */
export type MonitorDeployment = { [K in keyof MonitorOptions]?: MonitorBinding };

/**
 * The options a deployment cannot honour, each named with its value, the reason and the fix; [] when all can be.
 * An option left unset is always honoured (it means the deployment's own value).
 */
export function deploymentRefusals(o: MonitorOptions, deployment: MonitorDeployment): string[] {
  const out: string[] = [];
  for (const [name, b] of Object.entries(deployment) as Array<[keyof MonitorOptions, MonitorBinding | undefined]>) {
    const value = o[name];
    if (b === undefined || value === undefined) continue;
    const v = String(value);
    if (b.values.some((allowed) => (b.prefix ? v.startsWith(allowed) : v === allowed))) continue;
    const fix = b.values.length === 0 ? `omit --${name}` : `omit --${name} or pass ${b.values.map((x) => (b.prefix ? `${x}…` : x)).join(' or ')}`;
    out.push(`--${name} ${v} cannot be honoured: ${b.why} Fix: ${fix}.`);
  }
  return out;
}

/**
 * The database the count check reads a table's source in: --compare_database when set; else an ext_ source in the
 * deployment's staged database when the monitor checks the deployment's own database (ext_ tables live there);
 * else --database.
 */
export function sourceDatabaseOf(
  o: Pick<MonitorOptions, 'compare_database' | 'database'>,
  source: 'ext' | 'part',
  deployment: { database: string; stagedDatabase: string },
): string {
  if (o.compare_database) return o.compare_database;
  return source === 'ext' && o.database === deployment.database ? deployment.stagedDatabase : o.database;
}
