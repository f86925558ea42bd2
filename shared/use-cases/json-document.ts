/** Small JSON documents in the object store (run ledgers, monitor runs), changed with optimistic concurrency. */
import { PreconditionFailedError, type ObjectStore } from '../ports.js';

const decoder = new TextDecoder();

export async function readJson<T>(store: ObjectStore, bucket: string, key: string): Promise<{ doc: T; etag: string } | undefined> {
  const got = await store.get(bucket, key);
  return got && { doc: JSON.parse(decoder.decode(got.body)) as T, etag: got.etag };
}

/**
 * Read-modify-write with If-Match, retried when another writer got there first. `change` mutates
 * the document and returns false to leave it as it is (e.g. a duplicate event already recorded);
 * `changed` says whether this caller's change is the one written.
 */
export async function updateJson<T>(store: ObjectStore, bucket: string, key: string, change: (doc: T) => boolean): Promise<{ doc: T; changed: boolean }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const current = await readJson<T>(store, bucket, key);
    if (!current) throw new Error(`s3://${bucket}/${key} is missing`);
    if (!change(current.doc)) return { doc: current.doc, changed: false };
    try {
      await store.put(bucket, key, JSON.stringify(current.doc, null, 2), { ifMatch: current.etag });
      return { doc: current.doc, changed: true };
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
    }
  }
  throw new Error(`s3://${bucket}/${key} kept changing; gave up after 20 attempts`);
}
