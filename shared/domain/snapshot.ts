/** snapshot_dt contract: `YYYY-MM-DD`, a real calendar date. */
const SNAPSHOT_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True when `value` is a real calendar date written `YYYY-MM-DD`. */
export function isValidSnapshotDt(value: string): boolean {
  const m = SNAPSHOT_RE.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

export interface SnapshotDiscovery {
  /** Greatest valid snapshot_dt, or undefined when none is valid. */
  latest?: string;
  valid: string[];
  /** Entries under raw_input/ that are not `snapshot_dt=<valid date>`: reported, never chosen. */
  junk: string[];
}

/**
 * The folder compaction stages its output in, beside the snapshot folders under raw_input/ (where the
 * ready-marker rule cannot match it; glue-scripts/flywheel_compaction.py STAGING_FOLDER): not a snapshot, not junk.
 */
export const COMPACTION_STAGING_FOLDER = '_compaction_staging';

/** Sorts the folder names found under raw_input/ into valid snapshots and junk (compaction's staging folder is neither). */
export function discoverSnapshots(folderNames: readonly string[]): SnapshotDiscovery {
  const valid: string[] = [];
  const junk: string[] = [];
  for (const name of folderNames) {
    const value = name.replace(/\/$/, '');
    if (value === COMPACTION_STAGING_FOLDER) continue;
    const dt = value.startsWith('snapshot_dt=') ? value.slice('snapshot_dt='.length) : undefined;
    if (dt !== undefined && isValidSnapshotDt(dt)) valid.push(dt);
    else junk.push(value);
  }
  valid.sort();
  return { latest: valid.at(-1), valid, junk };
}

/** Extracts D from a key such as `.../raw_input/snapshot_dt=D/_SUCCESS` (undefined when absent). */
/**
 * The snapshot of a ready marker's key, only when the key is exactly `<prefix>snapshot_dt=D/<marker>`.
 * The S3 route's wildcard (`snapshot_dt=` then `*` then the marker) also matches a marker deeper down, such as the
 * `_SUCCESS` Spark writes into compaction's staging folder under `snapshot_dt=D/`: that one starts nothing.
 */
export function readyMarkerSnapshot(key: string, prefix: string, marker: string): string | undefined {
  if (!key.startsWith(prefix) || !key.endsWith(`/${marker}`)) return undefined;
  const m = /^snapshot_dt=([^/]+)$/.exec(key.slice(prefix.length, key.length - marker.length - 1));
  return m?.[1];
}
