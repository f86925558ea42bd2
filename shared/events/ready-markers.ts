/** Which dataset an S3 object's key announces: a snapshot's ready marker, or a raw landing's (compaction's) one. */
import type { DatasetConfig, PipelineConfig } from '../domain/config.js';
import { readyMarkerSnapshot } from '../domain/snapshot.js';

export interface MarkedSnapshot {
  ds: DatasetConfig;
  snapshotDt: string;
}

/** `<rawPrefix>snapshot_dt=D/<readyMarker>` of a dataset: the snapshot is ready for the split. */
export function snapshotMarkerOf(config: PipelineConfig, key: string): MarkedSnapshot | undefined {
  for (const ds of Object.values(config.datasets)) {
    const snapshotDt = readyMarkerSnapshot(key, ds.rawPrefix, ds.readyMarker);
    if (snapshotDt !== undefined) return { ds, snapshotDt };
  }
  return undefined;
}

/** `<compaction.sourcePrefix>snapshot_dt=D/<marker>` of a dataset with compaction on: its raw landing is complete. */
export function landingMarkerOf(config: PipelineConfig, key: string): MarkedSnapshot | undefined {
  for (const ds of Object.values(config.datasets)) {
    const snapshotDt = ds.compaction && readyMarkerSnapshot(key, ds.compaction.sourcePrefix, ds.compaction.readyMarker);
    if (snapshotDt !== undefined) return { ds, snapshotDt };
  }
  return undefined;
}
