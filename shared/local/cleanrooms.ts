/** `npx flywheel cleanrooms-report`: the local Clean Rooms report (shared/composition/local-cleanrooms.ts) run once from the CLI. */
import { isDeclined } from '../events/declined.js';
import path from 'node:path';
import { localRuntime } from '../composition/local.js';
import { runCleanroomsReportLocal } from '../composition/local-cleanrooms.js';
import { parseS3Uri } from '../domain/config.js';

export {
  descriptionPath,
  LOCAL_MEMBERSHIP_ID,
  runCleanroomsReportLocal,
  sampleCleanroomsDescription,
  type CleanroomsLocalOptions,
} from '../composition/local-cleanrooms.js';

/**
 * `npx flywheel cleanrooms-report [--description FILE] [--membership ID]`: without --description the
 * home's `cleanrooms.json` is used, generated from the catalog's tables when absent. Prints the counts,
 * the failed rows and where the files are; exit 0 when the report was written (failed rows included:
 * they are in the report and the outbox), 1 when it was not.
 */
export async function cleanroomsReportCommand(
  o: { home: string; description?: string; membership?: string; tablePrefix?: string; verbose?: boolean },
  out: (line?: string) => void,
): Promise<number> {
  const rt = await localRuntime({ home: o.home, verbose: o.verbose });
  try {
    const r = await runCleanroomsReportLocal(rt, {
      description: o.description,
      membershipId: o.membership,
      tablePrefix: o.tablePrefix,
      createSample: o.description === undefined,
    });
    if (r.sampleWritten) out(`No Clean Rooms description yet: wrote a sample for the catalog's tables to ${r.description} (edit it to describe your account).`);
    const s = r.summary;
    if (isDeclined(s) || s.status === 'FAILED') {
      out(
        `The Clean Rooms report was not written: ${isDeclined(s) ? `the invocation was rejected: ${s.reason}` : s.error} (see ${path.join(rt.home, 'outbox')}).`,
      );
      return 1;
    }
    out(`Membership ${s.membershipId}: ${s.tables} table(s), ${s.ready} ready for analysis, ${s.notReady} not ready, ${s.unknown} unknown.`);
    if (s.failedRows?.length) {
      out(`${s.failedRows.length} row(s) could not be read completely (notification in the outbox):`);
      for (const line of s.failedRows) out(`  ${line}`);
    }
    for (const uri of Object.values(s.files ?? {})) {
      const { bucket, key } = parseS3Uri(uri);
      out(`  ${path.join(rt.home, 'lake', bucket, key)}`);
    }
    return 0;
  } finally {
    rt.close();
  }
}
