/** Reads and writes run ledgers and the run-id lookups in the object store, with conditional writes. */
import { storeGrant, type Grant, type StoreMethod } from '../domain/access.js';
import type { PipelineConfig } from '../domain/config.js';
import type { RunLedger } from '../domain/ledger.js';
import { PreconditionFailedError, type Clock, type ObjectStore } from '../ports.js';
import { readJson, updateJson } from './json-document.js';

export interface RunRef {
  dataset: string;
  snapshotDt: string;
  runId: string;
}

export function ledgerKey(config: PipelineConfig, dataset: string, snapshotDt: string): string {
  const ds = config.datasets[dataset];
  if (!ds) throw new Error(`unknown dataset ${dataset}`);
  return `${ds.runsPrefix}snapshot_dt=${snapshotDt}/run.json`;
}

/** Every dataset's run ledgers (and the plan and result beside them): read and written by default; `list` for those that enumerate them. */
export function ledgerReach(config: PipelineConfig, methods: StoreMethod[] = ['get', 'put']): Grant[] {
  return Object.values(config.datasets).map((d) => storeGrant(methods, config.dataBucket, d.runsPrefix));
}

/** The lookup objects of one kind under the index prefix (Glue job runs, Athena queries, maintenance jobs, monitor queries, replay requests). */
export function indexReach(
  config: PipelineConfig,
  kind: 'glue' | 'athena' | 'jobs' | 'monitor' | 'replays' | 'compactions',
  methods: StoreMethod[] = ['get', 'put'],
): Grant {
  return storeGrant(methods, config.dataBucket, `${config.indexPrefix}${kind}/`);
}

/** The run ledgers and the query/job index; `clock` stamps each update (the deps' Clock in the use cases). */
export function makeLedgerStore(store: ObjectStore, config: PipelineConfig, clock: Clock) {
  const bucket = config.dataBucket;
  const indexKey = (kind: 'glue' | 'athena', id: string) => `${config.indexPrefix}${kind}/${encodeURIComponent(id)}.json`;

  async function load(dataset: string, snapshotDt: string): Promise<{ ledger: RunLedger; etag: string } | undefined> {
    const got = await readJson<RunLedger>(store, bucket, ledgerKey(config, dataset, snapshotDt));
    return got && { ledger: got.doc, etag: got.etag };
  }

  /** A conditional write of the ledger: false when the condition failed. */
  async function putIf(ledger: RunLedger, condition: { ifNoneMatch?: true; ifMatch?: string }): Promise<boolean> {
    try {
      await store.put(bucket, ledgerKey(config, ledger.dataset, ledger.snapshotDt), JSON.stringify(ledger, null, 2), condition);
      return true;
    } catch (err) {
      if (err instanceof PreconditionFailedError) return false;
      throw err;
    }
  }

  return {
    load,

    /** Creates the ledger only if none exists; false when another event already created it. */
    create: (ledger: RunLedger) => putIf(ledger, { ifNoneMatch: true }),

    /** Replaces an existing ledger only if it still has `etag` (a deliberate re-run); false when it changed meanwhile. */
    replace: (ledger: RunLedger, etag: string) => putIf(ledger, { ifMatch: etag }),

    /**
     * Read-modify-write with If-Match, retried on conflict. `change` returns false to leave the
     * ledger as it is (e.g. the step was already recorded by a duplicate event); the result says
     * whether this caller's change was the one written.
     */
    async update(ref: RunRef, change: (ledger: RunLedger) => boolean): Promise<{ ledger: RunLedger; changed: boolean }> {
      const { doc, changed } = await updateJson<RunLedger>(store, bucket, ledgerKey(config, ref.dataset, ref.snapshotDt), (ledger) => {
        if (ledger.runId !== ref.runId)
          throw new Error(`run ${ref.runId} of ${ref.dataset} snapshot_dt=${ref.snapshotDt} was superseded by run ${ledger.runId}`);
        if (!change(ledger)) return false;
        ledger.updatedAt = clock.now().toISOString();
        return true;
      });
      return { ledger: doc, changed };
    },

    /** Remembers which run a Glue job run or Athena query belongs to (their events carry only the id). */
    async index(kind: 'glue' | 'athena', id: string, ref: RunRef & Record<string, unknown>): Promise<void> {
      await store.put(bucket, indexKey(kind, id), JSON.stringify(ref));
    },

    async lookup<T extends RunRef = RunRef>(kind: 'glue' | 'athena', id: string): Promise<T | undefined> {
      return (await readJson<T>(store, bucket, indexKey(kind, id)))?.doc;
    },

    /** Every ledger of a dataset (for `status` and the reconciler). */
    async list(dataset: string): Promise<RunLedger[]> {
      const ds = config.datasets[dataset];
      if (!ds) return [];
      const { objects } = await store.list(bucket, ds.runsPrefix);
      const ledgers: RunLedger[] = [];
      for (const o of objects.filter((x) => x.key.endsWith('/run.json'))) {
        const got = await readJson<RunLedger>(store, bucket, o.key);
        if (got) ledgers.push(got.doc);
      }
      return ledgers;
    },
  };
}

export type LedgerStore = ReturnType<typeof makeLedgerStore>;
