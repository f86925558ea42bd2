/**
 * The dataset layout: where each dataset's objects live in the data bucket, the chargebacks' landing and
 * output there, and the report prefixes of the analysis bucket. Written here only, and read by:
 * - the code: config.ts builds INFOBASE, ADDRESSABLE and indexPrefix from it (the domain, both composition
 *   roots, the CLI); the chargebacks, monitor and Clean Rooms report defaults take their prefixes from it;
 * - serverless.yml: `${file(./shared/composition/serverless-layout.cjs):datasets.infobase.rawPrefix}` in its
 *   custom: values, which its IAM statements, crawlers and environment use;
 * - the deployed event patterns: serverless-patterns.cjs builds them from defaultConfig(), as the local bus does.
 * test/layout.test.ts fails when another file writes one of these values itself. Data only, no imports: the
 * serverless-layout.cjs bridge loads it while packaging. Prefixes end with '/'.
 */

/** Where one dataset's objects live: the paths of its DatasetConfig (config.ts). */
export interface DatasetLayout {
  /** Prefix holding `snapshot_dt=D/` folders, what the split reads. */
  rawPrefix: string;
  /** Object whose existence marks a snapshot complete, relative to `snapshot_dt=D/`. */
  readyMarker: string;
  /** Column-mapping CSV key (split datasets only). */
  mappingKey?: string;
  splitPrefix: string;
  bucketedPrefix: string;
  runsPrefix: string;
  /** Where raw small files land before compaction into `rawPrefix`, and the marker that completes a landing. */
  compaction?: { sourcePrefix: string; readyMarker: string };
}

export interface Layout {
  datasets: { infobase: DatasetLayout; addressable: DatasetLayout };
  /** The folder every dataset's raw landing (`compaction.sourcePrefix`) is under: the crawlers' role reads it. */
  rawLandingRoot: string;
  /** Lookup objects mapping Glue job runs, Athena queries, job records and replays to their run (PipelineConfig.indexPrefix). */
  indexPrefix: string;
  /** The chargebacks landing table's files (partitioned year=/month=/day=, crawled) and the consolidation's output, in the data bucket. */
  chargebacks: { landingPrefix: string; outputPrefix: string };
  /** The data monitor's reports in the analysis bucket (its report_prefix default). */
  monitorReportPrefix: string;
  /** The Clean Rooms report's files in the analysis bucket (CLEANROOMS_REPORT_PREFIX's default). */
  cleanroomsReportPrefix: string;
}

export const LAYOUT: Layout = {
  datasets: {
    infobase: {
      rawPrefix: 'omc_cleanroom_data/infobase_attributes/raw_input/',
      readyMarker: '_SUCCESS',
      mappingKey: 'support_files/omc_flywheel_infobase_table_split_lowercase.csv',
      splitPrefix: 'omc_cleanroom_data/split_cluster/infobase_attributes/',
      bucketedPrefix: 'omc_cleanroom_data/cleanroom_tables/bucketed/',
      runsPrefix: '_runs/infobase/',
      compaction: { sourcePrefix: 'opus/infobase_attributes/raw_input/', readyMarker: '_SUCCESS' },
    },
    addressable: {
      rawPrefix: 'omc_cleanroom_data/addressable/addressable_ids_compaction_cr/',
      readyMarker: '_SUCCESS',
      splitPrefix: 'omc_cleanroom_data/split_cluster/addressable/',
      bucketedPrefix: 'omc_cleanroom_data/cleanroom_tables/bucketed/addressable/',
      runsPrefix: '_runs/addressable/',
      compaction: { sourcePrefix: 'opus/addressable_ids/raw_input/', readyMarker: '_SUCCESS' },
    },
  },
  rawLandingRoot: 'opus/',
  indexPrefix: '_runs/index/',
  chargebacks: { landingPrefix: 'landing/chargebacks/', outputPrefix: 'consolidated/chargebacks/' },
  monitorReportPrefix: 'data-monitor/',
  cleanroomsReportPrefix: 'cleanrooms-reports/',
};
