/**
 * Dynamic file sizing: files per table = clamp(ceil(bytes / target), 1, 256), and never more than the bucket count:
 * on AWS each file is a contiguous id_bucket range, so a table of N buckets has at most N files.
 */
export const TARGET_FILE_BYTES = 512 * 1024 * 1024;
export const MAX_FILES_PER_TABLE = 256;

/** Number of output files for a table whose input holds `bytes` bytes, among `bucketCount` buckets. */
export function fileCountFor(bytes: number, targetBytes = TARGET_FILE_BYTES, bucketCount = MAX_FILES_PER_TABLE): number {
  if (!(targetBytes > 0)) throw new Error(`target file size must be positive, got ${targetBytes}`);
  return Math.min(MAX_FILES_PER_TABLE, bucketCount, Math.max(1, Math.ceil(Math.max(0, bytes) / targetBytes)));
}

/** Rows [from, to) of source file `file` (an index into the table's source files). */
export interface RowPiece {
  file: number;
  from: number;
  to: number;
}

/** [from, to] cut into n contiguous ranges, as even as they can be: range i covers from + [⌊i·len/n⌋, ⌊(i+1)·len/n⌋). */
export function evenRanges(from: number, to: number, n: number): Array<[number, number]> {
  const len = to - from + 1;
  return Array.from({ length: n }, (_, i) => [from + Math.floor((i * len) / n), from + Math.floor(((i + 1) * len) / n) - 1]);
}

/**
 * Cuts the rows of a table's source files (taken in order, `rows[i]` in file i) into `n` shares as
 * even as they can be (evenRanges over the concatenation), as pieces of files. A share of no rows has
 * no pieces.
 */
export function rowShares(rows: number[], n: number): RowPiece[][] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`share count must be a positive integer, got ${n}`);
  return evenRanges(0, rows.reduce((a, r) => a + r, 0) - 1, n).map(([start, last]) => {
    const pieces: RowPiece[] = [];
    let offset = 0;
    for (const [file, r] of rows.entries()) {
      const [from, to] = [Math.max(start, offset) - offset, Math.min(last + 1, offset + r) - offset];
      if (from < to) pieces.push({ file, from, to });
      offset += r;
    }
    return pieces;
  });
}
