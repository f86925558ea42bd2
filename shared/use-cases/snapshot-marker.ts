/** A `metadata/snapshot_dt.txt` marker in the object store, moved only forward, with optimistic concurrency. */
import { isValidSnapshotDt } from '../domain/snapshot.js';
import { PreconditionFailedError, type ObjectStore } from '../ports.js';

/**
 * Writes `snapshotDt` to the marker unless it already names a later valid snapshot (then returns that one, unwritten);
 * `force` writes it anyway (a deliberate rollback). The write is conditional on what was read (If-Match, or create-only
 * when absent) and re-read when another writer got there first.
 */
export async function advanceSnapshotMarker(
  store: ObjectStore,
  bucket: string,
  key: string,
  snapshotDt: string,
  options: { force?: boolean; attempts?: number } = {},
): Promise<{ written: true } | { written: false; kept: string }> {
  const attempts = options.attempts ?? 5;
  for (let i = 0; i < attempts; i++) {
    const current = await store.get(bucket, key);
    const value = current && new TextDecoder().decode(current.body).trim();
    if (!options.force && value && isValidSnapshotDt(value) && value > snapshotDt) return { written: false, kept: value };
    try {
      await store.put(bucket, key, `${snapshotDt}\n`, current ? { ifMatch: current.etag } : { ifNoneMatch: true });
      return { written: true };
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
    }
  }
  throw new Error(`s3://${bucket}/${key} kept changing; snapshot_dt=${snapshotDt} not written after ${attempts} attempts`);
}
