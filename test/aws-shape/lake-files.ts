/** A local lake's files as the suites land them in moto: every file under a folder, and the empty folders (S3 has them as `<folder>/` objects). */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Every file under `dir` (none when it does not exist). */
export function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => (statSync(path.join(dir, f)).isDirectory() ? walk(path.join(dir, f)) : [path.join(dir, f)]));
}

/** The empty folders under `dir` (the sample's junk folders such as snapshot_dt=latest/). */
export function emptyDirs(dir: string): string[] {
  const subdirs = readdirSync(dir)
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isDirectory());
  return readdirSync(dir).length === 0 ? [dir] : subdirs.flatMap(emptyDirs);
}
