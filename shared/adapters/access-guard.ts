/**
 * The access guard: ports that let through only what a function's reach grants (shared/domain/access.ts)
 * and fail anything else with the AccessDeniedError IAM's AccessDenied becomes in AWS. Local mode runs
 * every handler behind it, so a use case reaching for something its function's reach does not declare
 * fails locally, in every test, as it would fail on its IAM role.
 */
import { denial, type Grant, type PortCall } from '../domain/access.js';
import type { Deps } from '../deps.js';
import type { CleanRoomsDirectory } from '../use-cases/cleanrooms-report.js';
import { AccessDeniedError, type Catalog, type EventBus, type JobRunner, type Notifier, type ObjectStore, type QueryEngine } from '../ports.js';

export interface GuardOptions {
  /** Whose reach it is (named in the error), e.g. `function snapshotTrigger`. */
  principal: string;
  /** The port name (dataset or maintenance job) of a Glue job name, so jobRunState is checked per job. */
  jobOf?: (jobName: string) => string | undefined;
}

/** `deps` whose ports check every call against `grants`. */
export function guardDeps<D extends Deps>(deps: D, grants: readonly Grant[], options: GuardOptions): D {
  const check = (call: PortCall) => {
    const refused = denial(grants, call);
    if (refused)
      throw new AccessDeniedError(
        refused,
        describe(call),
        options.principal,
        "not in its reach: declare it in the use case's …Reach and grant it in serverless.yml",
      );
  };
  // a refusal is a rejected promise, as the adapter's would be (callers chain .catch / .then(ok, failed))
  const guarded = async <T>(call: PortCall, run: () => Promise<T>): Promise<T> => {
    check(call);
    return run();
  };
  const store: ObjectStore = {
    list: (bucket, prefix, o) => guarded({ port: 'store', method: 'list', bucket, key: prefix }, () => deps.store.list(bucket, prefix, o)),
    get: (bucket, key) => guarded({ port: 'store', method: 'get', bucket, key }, () => deps.store.get(bucket, key)),
    getRange: (bucket, key, start, end) => guarded({ port: 'store', method: 'getRange', bucket, key }, () => deps.store.getRange(bucket, key, start, end)),
    head: (bucket, key) => guarded({ port: 'store', method: 'head', bucket, key }, () => deps.store.head(bucket, key)),
    put: (bucket, key, body, condition) => guarded({ port: 'store', method: 'put', bucket, key }, () => deps.store.put(bucket, key, body, condition)),
    delete: async (bucket, keys) => {
      for (const key of keys) check({ port: 'store', method: 'delete', bucket, key });
      return deps.store.delete(bucket, keys);
    },
    copy: async (fromBucket, fromKey, toBucket, toKey) => {
      check({ port: 'store', method: 'get', bucket: fromBucket, key: fromKey });
      check({ port: 'store', method: 'copy', bucket: toBucket, key: toKey });
      return deps.store.copy(fromBucket, fromKey, toBucket, toKey);
    },
    // every copy checked as `copy` is, before any is made
    copyMany: async (copies) => {
      for (const c of copies) {
        check({ port: 'store', method: 'get', bucket: c.fromBucket, key: c.fromKey });
        check({ port: 'store', method: 'copy', bucket: c.toBucket, key: c.toKey });
      }
      return deps.store.copyMany(copies);
    },
  };
  const c = deps.catalog;
  const catalog: Catalog = {
    getTable: (database, name) => guarded({ port: 'catalog', method: 'getTable', database, table: name }, () => c.getTable(database, name)),
    listTables: (database, prefix = '') => guarded({ port: 'catalog', method: 'listTables', database, table: prefix }, () => c.listTables(database, prefix)),
    upsertTable: (database, table, hint) =>
      guarded({ port: 'catalog', method: 'upsertTable', database, table: table.name }, () => c.upsertTable(database, table, hint)),
    deleteTable: (database, name) => guarded({ port: 'catalog', method: 'deleteTable', database, table: name }, () => c.deleteTable(database, name)),
    getPartitions: (database, table) => guarded({ port: 'catalog', method: 'getPartitions', database, table }, () => c.getPartitions(database, table)),
    addPartitions: (database, table, partitions) =>
      guarded({ port: 'catalog', method: 'addPartitions', database, table }, () => c.addPartitions(database, table, partitions)),
    switchTables: async (database, switches) => {
      for (const s of switches) check({ port: 'catalog', method: 'switchTables', database, table: s.table.name });
      return c.switchTables(database, switches);
    },
  };
  const engine = (port: 'engine' | 'monitorEngine', e: QueryEngine): QueryEngine => ({
    start: (query, token) => guarded({ port, method: 'start', query }, () => e.start(query, token)),
    status: (id) => guarded({ port, method: 'status' }, () => e.status(id)),
    results: (id) => guarded({ port, method: 'results' }, () => e.results(id)),
  });
  const j = deps.jobs;
  const jobs: JobRunner = {
    startSplitJob: (args) => guarded({ port: 'jobs', method: 'startSplitJob', job: args.dataset }, () => j.startSplitJob(args)),
    startJob: (job, args) => guarded({ port: 'jobs', method: 'startJob', job }, () => j.startJob(job, args)),
    jobRunState: (jobName, jobRunId) =>
      guarded({ port: 'jobs', method: 'jobRunState', job: options.jobOf?.(jobName) ?? jobName }, () => j.jobRunState(jobName, jobRunId)),
  };
  const bus: EventBus = { put: (events) => guarded({ port: 'bus' }, () => deps.bus.put(events)) };
  const notifier: Notifier = { publish: (message) => guarded({ port: 'notifier' }, () => deps.notifier.publish(message)) };
  return {
    ...deps,
    store,
    catalog,
    engine: engine('engine', deps.engine),
    monitorEngine: engine('monitorEngine', deps.monitorEngine),
    jobs,
    bus,
    notifier,
    // the footer is two ranged GETs of the object
    readFooter: (bucket, key, size) => guarded({ port: 'store', method: 'getRange', bucket, key }, () => deps.readFooter(bucket, key, size)),
  };
}

/** `directory` checked against `grants` (the Clean Rooms report's port lives beside Deps). */
export function guardDirectory(directory: CleanRoomsDirectory, grants: readonly Grant[], principal: string): CleanRoomsDirectory {
  const check = async (method: 'configuredTables' | 'associations' | 'idNamespaces' | 'schemaMappings') => {
    const refused = denial(grants, { port: 'directory', method });
    if (refused) throw new AccessDeniedError(refused, 'Clean Rooms / Entity Resolution', principal, 'not in its reach');
  };
  return {
    configuredTables: async () => (await check('configuredTables'), directory.configuredTables()),
    associations: async (id) => (await check('associations'), directory.associations(id)),
    idNamespaces: async () => (await check('idNamespaces'), directory.idNamespaces()),
    schemaMappings: async () => (await check('schemaMappings'), directory.schemaMappings()),
  };
}

function describe(call: PortCall): string {
  switch (call.port) {
    case 'store':
      return `s3://${call.bucket}/${call.key}`;
    case 'catalog':
      return `${call.database}.${call.table || '*'}`;
    case 'engine':
    case 'monitorEngine':
      return call.query ? `${call.query.database}.${'table' in call.query ? call.query.table : '?'}` : 'a query';
    case 'jobs':
      return `job ${call.job}`;
    case 'directory':
      return 'Clean Rooms / Entity Resolution';
    default:
      return call.port;
  }
}
