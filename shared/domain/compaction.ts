/**
 * Compaction: many small files → a few right-sized parquet files, written aside and then switched in.
 * One capability, two uses: the optional first stage of a dataset (raw `opus/<dataset>/raw_input/` →
 * the prefix the split reads, then the ready marker) and the chargebacks consolidation (one day,
 * deduplicated, OUTPUT_FILE_COUNT files). glue-scripts/flywheel_compaction.py holds the same rules.
 */
import type { ObjectInfo } from './catalog-types.js';

export const COMPRESSION_CODECS = ['snappy', 'gzip', 'zstd', 'uncompressed'] as const;
export type CompressionCodec = (typeof COMPRESSION_CODECS)[number];
export const MAX_OUTPUT_FILES = 1000;

/** Compaction of one dataset's raw landings, on when present in its config. */
export interface CompactionConfig {
  /** Where raw small files land: `<sourcePrefix>snapshot_dt=D/[<folder>/]*.parquet` (ends with '/'). */
  sourcePrefix: string;
  /** Object whose existence marks a raw landing complete, relative to `snapshot_dt=D/`. */
  readyMarker: string;
  /** Aimed size of each compacted file (parquet compresses; the input's bytes are the estimate). */
  targetFileBytes: number;
  codec: CompressionCodec;
}

/** Files to write for `totalBytes` of input: enough that none is much above the target, at least 1. */
export function compactedFileCount(totalBytes: number, targetFileBytes: number, max = MAX_OUTPUT_FILES): number {
  if (!(targetFileBytes > 0)) throw new Error(`target file size must be positive, got ${targetFileBytes}`);
  return Math.min(max, Math.max(1, Math.ceil(totalBytes / targetFileBytes)));
}

export interface CompactionGroup {
  /** Folder below `snapshot_dt=D/` ('' for files directly under it, e.g. `IBE_01/`). */
  folder: string;
  keys: string[];
  bytes: number;
  fileCount: number;
}

/**
 * The raw landing's parquet files grouped by folder below `snapshot_dt=D/` (a folder is one source
 * table, kept as one in the output); everything else (the marker, `_temporary/`, stray files) is
 * left out and returned as `ignored`.
 */
export function compactionGroups(snapshotPrefix: string, objects: ObjectInfo[], targetFileBytes: number): { groups: CompactionGroup[]; ignored: string[] } {
  const byFolder = new Map<string, { keys: string[]; bytes: number }>();
  const ignored: string[] = [];
  for (const o of objects) {
    const rel = o.key.slice(snapshotPrefix.length);
    const parts = rel.split('/');
    const name = parts[parts.length - 1]!;
    const hidden = parts.some((p) => p.startsWith('_') || p.startsWith('.'));
    if (!o.key.startsWith(snapshotPrefix) || hidden || !name.endsWith('.parquet') || o.size === 0) {
      ignored.push(rel);
      continue;
    }
    const folder = parts
      .slice(0, -1)
      .map((p) => `${p}/`)
      .join('');
    const g = byFolder.get(folder) ?? { keys: [], bytes: 0 };
    g.keys.push(o.key);
    g.bytes += o.size;
    byFolder.set(folder, g);
  }
  const groups = [...byFolder.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([folder, g]) => ({ folder, keys: g.keys.sort(), bytes: g.bytes, fileCount: compactedFileCount(g.bytes, targetFileBytes) }));
  return { groups, ignored };
}

/** `part-00003.snappy.parquet`: the names both twins give the compacted files. */
export function compactedFileName(index: number, codec: string): string {
  return `part-${String(index).padStart(5, '0')}.${codec}.parquet`;
}

export function assertCodec(codec: string): CompressionCodec {
  if (!(COMPRESSION_CODECS as readonly string[]).includes(codec)) throw new Error(`COMPRESSION_CODEC ${codec} is not one of ${COMPRESSION_CODECS.join(', ')}`);
  return codec as CompressionCodec;
}

export function assertFileCount(n: number): number {
  if (!(Number.isInteger(n) && n >= 1 && n <= MAX_OUTPUT_FILES)) throw new Error(`OUTPUT_FILE_COUNT must be 1..${MAX_OUTPUT_FILES}, got ${n}`);
  return n;
}
