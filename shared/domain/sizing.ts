/** Dynamic file sizing (DESIGN.md): files per table = clamp(ceil(bytes / target), 1, 256). */
export const TARGET_FILE_BYTES = 512 * 1024 * 1024;
export const MAX_FILES_PER_TABLE = 256;

/** Number of output files for a table whose input holds `bytes` bytes. */
export function fileCountFor(bytes: number, targetBytes = TARGET_FILE_BYTES): number {
  if (!(targetBytes > 0)) throw new Error(`target file size must be positive, got ${targetBytes}`);
  return Math.min(MAX_FILES_PER_TABLE, Math.max(1, Math.ceil(Math.max(0, bytes) / targetBytes)));
}
