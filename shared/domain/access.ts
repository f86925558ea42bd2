/**
 * A function's reach: what it may do through the ports, declared by each use case beside the calls
 * it makes (`…Reach` next to `make…`), a function's reach being the union over the use cases its
 * handler wires. Locally the access guard checks every port call against it (an undeclared call
 * fails as IAM would fail it); in AWS the same grants, turned into IAM requests by the adapters
 * (shared/adapters/aws/iam.ts), are simulated against the function's role in the packaged template
 * (test/iam). Resources are named in the config's own terms: buckets, key prefixes, table prefixes.
 */
import type { BuildStep } from './build-steps.js';
import type { MonitorQuery } from './monitor/queries.js';
import { parseS3Uri } from './config.js';

export type StoreMethod = 'list' | 'get' | 'getRange' | 'head' | 'put' | 'delete' | 'copy';
export type CatalogMethod = 'getTable' | 'listTables' | 'upsertTable' | 'deleteTable' | 'getPartitions' | 'addPartitions' | 'switchTables';
export type EngineMethod = 'start' | 'status' | 'results';
export type JobMethod = 'startSplitJob' | 'startJob' | 'jobRunState';
export type DirectoryMethod = 'configuredTables' | 'associations' | 'idNamespaces' | 'schemaMappings';

/** Tables whose names start with `tablePrefix`, their data under s3://bucket/prefix (what a query reads or writes). */
export interface DataGrant {
  tablePrefix: string;
  /** The tables' database when it is not the engine grant's own (a query reading ext_ in a separate staged database). */
  database?: string;
  bucket: string;
  prefix: string;
}

/** Objects of `bucket` whose keys start with `prefix`. `copy` grants writing copies here (the source needs `get`). */
export interface StoreGrant {
  port: 'store';
  methods: StoreMethod[];
  bucket: string;
  prefix: string;
}

/** Catalog tables of `database` whose names start with `tablePrefix` ('' = any). */
export interface CatalogGrant {
  port: 'catalog';
  methods: CatalogMethod[];
  database: string;
  tablePrefix: string;
}

/**
 * Queries of one engine (the builds' or the monitor's) in `database`: reading these tables' data, writing
 * these (CTAS / INSERT INTO: data and partitions), registering partitions of these (DDL, no data written).
 */
export interface EngineGrant {
  port: 'engine' | 'monitorEngine';
  methods: EngineMethod[];
  database: string;
  reads: DataGrant[];
  writes: DataGrant[];
  partitions?: DataGrant[];
}

/** Glue jobs by their port name: a dataset (its split job) or a maintenance job. */
export interface JobGrant {
  port: 'jobs';
  methods: JobMethod[];
  jobs: string[];
}

export type Grant =
  | StoreGrant
  | CatalogGrant
  | EngineGrant
  | JobGrant
  | { port: 'bus' }
  | { port: 'notifier' }
  | { port: 'directory'; methods: DirectoryMethod[] };

export type Port = Grant['port'];

/** One port call as the guard sees it. */
export type PortCall =
  | { port: 'store'; method: StoreMethod; bucket: string; key: string }
  | { port: 'catalog'; method: CatalogMethod; database: string; table: string }
  | { port: 'engine' | 'monitorEngine'; method: EngineMethod; query?: BuildStep | MonitorQuery }
  | { port: 'jobs'; method: JobMethod; job: string }
  | { port: 'bus' | 'notifier' }
  | { port: 'directory'; method: DirectoryMethod };

/** Store grant helper: `storeGrant(['get', 'put'], bucket, prefix)`. */
export const storeGrant = (methods: StoreMethod[], bucket: string, prefix: string): StoreGrant => ({ port: 'store', methods, bucket, prefix });
/** Catalog grant helper. */
export const catalogGrant = (methods: CatalogMethod[], database: string, tablePrefix: string): CatalogGrant => ({
  port: 'catalog',
  methods,
  database,
  tablePrefix,
});

interface Located {
  table: string;
  locations: string[];
}

/** A table a query reads, in its database. */
interface TableRef {
  database: string;
  table: string;
}

/** The tables a query reads, writes (with the data locations written) and registers partitions of (with their locations). */
export function queryTables(query: BuildStep | MonitorQuery): { database: string; reads: TableRef[]; writes: Located[]; partitions: Located[] } {
  switch (query.kind) {
    case 'part-range':
      return {
        database: query.database,
        reads: [{ database: query.sourceDatabase ?? query.database, table: query.sourceTable }],
        writes: [{ table: query.stagingTable, locations: [query.location] }],
        partitions: [],
      };
    case 'monitor-scan':
    case 'monitor-count':
      return { database: query.database, reads: [{ database: query.database, table: query.table }], writes: [], partitions: [] };
    case 'repair-partitions':
      return { database: query.database, reads: [], writes: [], partitions: [{ table: query.table, locations: query.partitions.map((p) => p.location) }] };
  }
}

const within = (key: string, prefix: string) => key.startsWith(prefix);

/** Whether `grants` allow `call`; when not, why (in the words an operator fixes it with). */
export function denial(grants: readonly Grant[], call: PortCall): string | undefined {
  switch (call.port) {
    case 'store': {
      const ok = grants.some((g) => g.port === 'store' && g.methods.includes(call.method) && g.bucket === call.bucket && within(call.key, g.prefix));
      return ok ? undefined : `store.${call.method} of s3://${call.bucket}/${call.key}`;
    }
    case 'catalog': {
      const ok = grants.some(
        (g) => g.port === 'catalog' && g.methods.includes(call.method) && g.database === call.database && within(call.table, g.tablePrefix),
      );
      return ok ? undefined : `catalog.${call.method} of ${call.database}.${call.table || '*'}`;
    }
    case 'engine':
    case 'monitorEngine': {
      const engines = grants.filter((g): g is EngineGrant => g.port === call.port && g.methods.includes(call.method));
      if (engines.length === 0) return `${call.port}.${call.method}`;
      if (!call.query) return undefined;
      const t = queryTables(call.query);
      const located = (items: Located[], grants: DataGrant[] = []) =>
        items.every((w) => grants.some((d) => within(w.table, d.tablePrefix) && w.locations.every((l) => dataWithin(l, d))));
      const fits = (g: EngineGrant) =>
        g.database === t.database &&
        t.reads.every((r) => g.reads.some((d) => (d.database ?? g.database) === r.database && within(r.table, d.tablePrefix))) &&
        located(t.writes, g.writes) &&
        located(t.partitions, g.partitions);
      const writes = [...t.writes, ...t.partitions];
      return engines.some(fits)
        ? undefined
        : `${call.port}.${call.method} of a ${call.query.kind} query reading ${t.reads.map((r) => (r.database === t.database ? r.table : `${r.database}.${r.table}`)).join(', ') || 'nothing'} and writing ${writes.map((w) => `${w.table} at ${w.locations[0] ?? '?'}`).join(', ') || 'nothing'} in ${t.database}`;
    }
    case 'jobs': {
      const ok = grants.some((g) => g.port === 'jobs' && g.methods.includes(call.method) && g.jobs.includes(call.job));
      return ok ? undefined : `jobs.${call.method} of ${call.job}`;
    }
    case 'directory':
      return grants.some((g) => g.port === 'directory' && g.methods.includes(call.method)) ? undefined : `directory.${call.method}`;
    default:
      return grants.some((g) => g.port === call.port) ? undefined : `${call.port}`;
  }
}

function dataWithin(uri: string, d: DataGrant): boolean {
  try {
    const { bucket, key } = parseS3Uri(uri);
    return bucket === d.bucket && within(key, d.prefix);
  } catch {
    return false;
  }
}

/** Grants without duplicates (the union of several use cases' reaches repeats the shared ones). */
export function union(...reaches: Grant[][]): Grant[] {
  const seen = new Map<string, Grant>();
  for (const g of reaches.flat()) {
    const normal = 'methods' in g ? { ...g, methods: [...g.methods].sort() } : g;
    seen.set(JSON.stringify(normal), normal as Grant);
  }
  return [...seen.values()];
}
