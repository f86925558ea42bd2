/**
 * The filesystem as the object store: `<lake>/<bucket>/<key>` mirrors `s3://<bucket>/<key>`.
 * ETags are MD5s of the content, conditional writes are atomic (link for If-None-Match, a per-key
 * lock plus rename for If-Match), so ledgers behave as they do on S3.
 */
import { createHash, randomUUID } from 'node:crypto';
import { promises as fs, type Dirent } from 'node:fs';
import path from 'node:path';
import { PreconditionFailedError, type Listing, type ObjectCopy, type ObjectInfo, type ObjectStore } from '../../ports.js';
import { mapLimit } from '../../domain/map-limit.js';

const md5 = (body: Uint8Array) => createHash('md5').update(body).digest('hex');
const TMP = '.flywheel-tmp-';

export class FsObjectStore implements ObjectStore {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(readonly lakeDir: string) {}

  /** Local path of an object. */
  pathOf(bucket: string, key: string): string {
    if (key.split('/').includes('..')) throw new Error(`refusing key with '..': ${key}`);
    return path.join(this.lakeDir, bucket, key);
  }

  async list(bucket: string, prefix: string, options: { delimiter?: string } = {}): Promise<Listing> {
    const root = this.pathOf(bucket, '');
    const slash = prefix.lastIndexOf('/');
    const dirKey = prefix.slice(0, slash + 1);
    const namePrefix = prefix.slice(slash + 1);
    const objects: ObjectInfo[] = [];
    const prefixes: string[] = [];
    const walk = async (key: string, recurse: boolean, filter?: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await fs.readdir(path.join(root, key), { withFileTypes: true });
      } catch {
        return;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) {
        if (filter !== undefined && !e.name.startsWith(filter)) continue;
        if (e.name.startsWith(TMP)) continue;
        const childKey = key + e.name;
        if (e.isDirectory()) {
          if (recurse) await walk(`${childKey}/`, true);
          else prefixes.push(`${childKey}/`);
        } else if (e.isFile()) {
          const st = await fs.stat(path.join(root, childKey));
          objects.push({ key: childKey, size: st.size, lastModified: st.mtime });
        }
      }
    };
    await walk(dirKey, options.delimiter !== '/', namePrefix);
    return { objects, prefixes };
  }

  async get(bucket: string, key: string): Promise<{ body: Uint8Array; etag: string } | undefined> {
    try {
      const body = new Uint8Array(await fs.readFile(this.pathOf(bucket, key)));
      return { body, etag: md5(body) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
      throw err;
    }
  }

  async getRange(bucket: string, key: string, start: number, end: number): Promise<Uint8Array> {
    const handle = await fs.open(this.pathOf(bucket, key), 'r');
    try {
      const buffer = new Uint8Array(Math.max(0, end - start));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  async head(bucket: string, key: string): Promise<ObjectInfo | undefined> {
    try {
      const st = await fs.stat(this.pathOf(bucket, key));
      return st.isFile() ? { key, size: st.size, lastModified: st.mtime } : undefined;
    } catch {
      return undefined;
    }
  }

  async put(bucket: string, key: string, body: string | Uint8Array, condition: { ifNoneMatch?: true; ifMatch?: string } = {}): Promise<{ etag: string }> {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    const target = this.pathOf(bucket, key);
    await fs.mkdir(path.dirname(target), { recursive: true });
    const tmp = path.join(path.dirname(target), `${TMP}${randomUUID()}`);
    await fs.writeFile(tmp, bytes);
    return this.withLock(target, async () => {
      try {
        if (condition.ifNoneMatch) {
          try {
            await fs.link(tmp, target);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new PreconditionFailedError(bucket, key);
            throw err;
          }
          return { etag: md5(bytes) };
        }
        if (condition.ifMatch !== undefined) {
          const current = await this.get(bucket, key);
          if (!current || current.etag !== condition.ifMatch) throw new PreconditionFailedError(bucket, key);
        }
        await fs.rename(tmp, target);
        return { etag: md5(bytes) };
      } finally {
        await fs.rm(tmp, { force: true });
      }
    });
  }

  async delete(bucket: string, keys: string[]): Promise<void> {
    await Promise.all(keys.map((k) => fs.rm(this.pathOf(bucket, k), { force: true })));
  }

  async copy(fromBucket: string, fromKey: string, toBucket: string, toKey: string): Promise<void> {
    const target = this.pathOf(toBucket, toKey);
    await fs.mkdir(path.dirname(target), { recursive: true });
    // objects are immutable here, so a hard link is a copy that costs no space
    await fs.link(this.pathOf(fromBucket, fromKey), target).catch(() => fs.copyFile(this.pathOf(fromBucket, fromKey), target));
  }

  /** Each a `copy`, at most 16 at a time. */
  async copyMany(copies: readonly ObjectCopy[]): Promise<void> {
    await mapLimit(copies, 16, (c) => this.copy(c.fromBucket, c.fromKey, c.toBucket, c.toKey));
  }

  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(fn);
    this.locks.set(key, run);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === run) this.locks.delete(key);
    }
  }
}
