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

/** Creates the object only if it does not exist (If-None-Match): false when it already did (a claim someone holds). */
export async function putIfAbsent(store: ObjectStore, bucket: string, key: string, body: string): Promise<boolean> {
  try {
    await store.put(bucket, key, body, { ifNoneMatch: true });
    return true;
  } catch (err) {
    if (err instanceof PreconditionFailedError) return false;
    throw err;
  }
}

/** A document's read-modify-write: `change` returns false to leave it as it is; `changed` says whether this caller's change was written. */
export type DocumentUpdate<T> = (change: (doc: T) => boolean) => Promise<{ doc: T; changed: boolean }>;

/** The finish of some work recorded in a document: whether work is still in flight, whether the finish is claimed, and the claim. */
export interface FinishClaim<T> {
  busy(doc: T): boolean;
  claimed(doc: T): boolean;
  claim(doc: T): void;
}

/**
 * Claims a finish once: the claim is written (If-Match, retried on conflict by `update`) only when no work is
 * in flight and no one claimed it yet, so of every caller racing to finish exactly one gets `claimed`.
 * `doc` is the document as written, or as read when this caller did not claim.
 */
export async function claimOnce<T>(update: DocumentUpdate<T>, finish: FinishClaim<T>): Promise<{ claimed: boolean; doc: T }> {
  const { doc, changed } = await update((d) => {
    if (finish.claimed(d) || finish.busy(d)) return false;
    finish.claim(d);
    return true;
  });
  return { claimed: changed, doc };
}
