/**
 * What each Glue job's script reads and writes with its role, from the arguments Flywheel passes it:
 * - a dataset's split job executes the plan: its source files under the dataset's raw prefix, the plan
 *   (and result.json beside it) under the dataset's ledgers, its tables and metadata under the split prefix;
 * - compaction reads a dataset's raw landing and writes the split's input (staging folder, files, marker);
 * - the chargebacks consolidation reads the landing table through the catalog and its files, and writes
 *   its day (staging folder, files) under the output path.
 * Keys are the job runner's job names: a dataset, `compaction`, `chargebacks`. test/iam proves each job's
 * role against this (shared/adapters/aws/iam.ts turns it into the S3, Glue and KMS requests Spark makes).
 */
import type { ChargebacksParams } from './chargebacks.js';
import { LANDING_PREFIX } from './chargebacks.js';
import { parseS3Uri, type PipelineConfig } from './config.js';

export interface JobData {
  bucket: string;
  prefix: string;
  /** read: listed and read; write: written by Spark's committer (temporary files, renames); put: single objects the script writes itself. */
  access: 'read' | 'write' | 'put';
}

export interface JobReach {
  data: JobData[];
  /** Catalog tables the script reads through Glue's catalog reader. */
  tables: Array<{ database: string; table: string }>;
}

export function jobReaches(config: PipelineConfig, chargebacks: ChargebacksParams): Record<string, JobReach> {
  const bucket = config.dataBucket;
  const datasets = Object.values(config.datasets);
  const jobs: Record<string, JobReach> = {};
  for (const d of datasets) {
    jobs[d.name] = {
      data: [
        { bucket, prefix: d.rawPrefix, access: 'read' },
        { bucket, prefix: d.runsPrefix, access: 'read' },
        { bucket, prefix: d.runsPrefix, access: 'put' },
        { bucket, prefix: d.splitPrefix, access: 'write' },
      ],
      tables: [],
    };
  }
  const compacted = datasets.filter((d) => d.compaction);
  if (compacted.length > 0) {
    jobs.compaction = {
      data: compacted.flatMap((d): JobData[] => [
        { bucket, prefix: d.compaction!.sourcePrefix, access: 'read' },
        { bucket, prefix: d.rawPrefix, access: 'write' },
      ]),
      tables: [],
    };
  }
  const out = parseS3Uri(chargebacks.outputPath);
  jobs.chargebacks = {
    data: [
      { bucket, prefix: LANDING_PREFIX, access: 'read' },
      { bucket: out.bucket, prefix: out.key, access: 'write' },
    ],
    tables: [{ database: chargebacks.sourceDatabase, table: chargebacks.sourceTable }],
  };
  return jobs;
}
