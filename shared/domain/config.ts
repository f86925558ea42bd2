import type { CompactionConfig } from './compaction.js';
import { LAYOUT, type DatasetLayout } from './layout.js';

/** Where each dataset's data lives and how its tables are named; one value per deployment or local home. */
export interface DatasetConfig {
  name: string;
  /** Prefix holding `snapshot_dt=D/` folders (ends with '/'). */
  rawPrefix: string;
  /** Object whose existence marks a snapshot complete, relative to `snapshot_dt=D/`. */
  readyMarker: string;
  /** Column-mapping CSV key (split datasets only). */
  mappingKey?: string;
  /** Datasets without a mapping: every file directly under `snapshot_dt=D/` is this one table, all columns carried (lower-cased). */
  singleTable?: string;
  /** Split output base (ends with '/'): `<table>/snapshot_dt=D/run_id=R/` and `metadata/snapshot_dt.txt` below it. */
  splitPrefix: string;
  /** Final tables base (ends with '/'): `part_<t>/…`, `bucketed_<t>/…`, `metadata/snapshot_dt.txt`. */
  bucketedPrefix: string;
  /** Run ledgers: `<runsPrefix>snapshot_dt=D/run.json`. */
  runsPrefix: string;
  /**
   * The optional first stage: raw small files landing under `compaction.sourcePrefix` are compacted
   * into `rawPrefix` (what the split reads), and the ready marker is written there last. Absent = off.
   */
  compaction?: CompactionConfig;
}

export interface PipelineConfig {
  dataBucket: string;
  analysisBucket: string;
  /** The final tables' database: part_<t>, part_<t>_er, bucketed_<t> (the current system's FINAL_DB). */
  database: string;
  /** The staged tables' database: ext_<t> and their staging definitions (the current system's STAGED_DB); by default `database`. */
  stagedDatabase: string;
  prefixes: { ext: string; part: string; bucketed: string };
  keyColumn: string;
  bucketCount: number;
  targetFileBytes: number;
  /** Queries per part_ table each write at most this many partitions (Athena's limit is 100). */
  partitionsPerQuery: number;
  datasets: Record<string, DatasetConfig>;
  /** Prefix of the lookup objects mapping Glue job run ids and Athena query ids to their run. */
  indexPrefix: string;
}

/** Compaction of a dataset's raw landings: where (the layout) and how (file size, codec). */
const compaction = (l: DatasetLayout): CompactionConfig | undefined =>
  l.compaction && { sourcePrefix: l.compaction.sourcePrefix, readyMarker: l.compaction.readyMarker, targetFileBytes: 256 * 1024 * 1024, codec: 'snappy' };

const { infobase, addressable } = LAYOUT.datasets;

export const INFOBASE: DatasetConfig = {
  name: 'infobase',
  rawPrefix: infobase.rawPrefix,
  readyMarker: infobase.readyMarker,
  mappingKey: infobase.mappingKey,
  splitPrefix: infobase.splitPrefix,
  bucketedPrefix: infobase.bucketedPrefix,
  runsPrefix: infobase.runsPrefix,
  compaction: compaction(infobase),
};

export const ADDRESSABLE: DatasetConfig = {
  name: 'addressable',
  rawPrefix: addressable.rawPrefix,
  readyMarker: addressable.readyMarker,
  singleTable: 'addressable_ids',
  splitPrefix: addressable.splitPrefix,
  bucketedPrefix: addressable.bucketedPrefix,
  runsPrefix: addressable.runsPrefix,
  compaction: compaction(addressable),
};

/** The datasets with compaction on; `enabled` lists them (as COMPACTION_DATASETS does in AWS), the others lose their compaction stage. */
export function withCompaction(datasets: Record<string, DatasetConfig>, enabled: string[]): Record<string, DatasetConfig> {
  const unknown = enabled.filter((d) => !datasets[d]);
  if (unknown.length) throw new Error(`compaction is configured for unknown dataset(s) ${unknown.join(', ')}; known: ${Object.keys(datasets).join(', ')}`);
  return Object.fromEntries(Object.entries(datasets).map(([name, d]) => [name, enabled.includes(name) ? d : { ...d, compaction: undefined }]));
}

/** The datasets with their compaction's target file size set to `mb` megabytes (absent: as they are). */
export function withCompactionTarget(datasets: Record<string, DatasetConfig>, mb?: number): Record<string, DatasetConfig> {
  if (!mb) return datasets;
  return Object.fromEntries(
    Object.entries(datasets).map(([name, d]) => [name, d.compaction ? { ...d, compaction: { ...d.compaction, targetFileBytes: mb * 1024 * 1024 } } : d]),
  );
}

/** Defaults shared by both modes; AWS overrides bucket names and database from the environment. */
export function defaultConfig(overrides: Partial<PipelineConfig> = {}): PipelineConfig {
  const database = overrides.database ?? 'flywheel';
  return {
    dataBucket: 'data',
    analysisBucket: 'analysis',
    prefixes: { ext: 'ext_', part: 'part_', bucketed: 'bucketed_' },
    keyColumn: 'customer_user_id',
    bucketCount: 256,
    targetFileBytes: 512 * 1024 * 1024,
    partitionsPerQuery: 100,
    datasets: { infobase: INFOBASE, addressable: ADDRESSABLE },
    indexPrefix: LAYOUT.indexPrefix,
    ...overrides,
    database,
    stagedDatabase: overrides.stagedDatabase || database,
  };
}

/** The databases a pipeline's tables live in: the final one, and the staged one when ext_ live apart. */
export const pipelineDatabases = (config: Pick<PipelineConfig, 'database' | 'stagedDatabase'>): string[] => [
  ...new Set([config.database, config.stagedDatabase]),
];

/** A Glue database name set as text (an environment variable named by `what`): absent or empty → undefined, else checked. */
export function databaseSetting(value: string | undefined, what: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^[a-z_][a-z0-9_]{0,254}$/.test(value))
    throw new Error(`${what}=${value} is not a Glue database name (lower-case letters, digits and _, not starting with a digit)`);
  return value;
}

/** `s3://bucket/key` — the one URI form every catalog location and plan uses, in both modes. */
export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** Splits `s3://bucket/key` into its parts. */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new Error(`not an s3:// URI: ${uri}`);
  return { bucket: m[1]!, key: m[2]! };
}

/** A run's own staging definition of a table, e.g. `part_ibe_01a__r20251031t120000z_3fa9c1`: runs never share one. */
export function stagingName(prefix: string, table: string, runId: string): string {
  return `${prefix}${table}__r${runId.toLowerCase().replace(/[^a-z0-9]/g, '_')}`;
}
