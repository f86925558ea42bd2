/**
 * A real Trino server (476, the minimal server tarball plus the Hive plugin, unpacked by test/aws-shape/python-env.mjs
 * into .cache/trino/476/) on 127.0.0.1, its Hive connector reading the Glue catalog of a moto server (Glue metastore,
 * endpoint pointed at moto) and the data in moto's S3 (native S3 file system, path-style, endpoint pointed at moto).
 *
 *   const trino = await startTrino({ motoEndpoint: moto.endpoint });
 *   const { rows } = await trino.query('SELECT count(*) FROM hive.flywheel.bucketed_ibe_01a');
 *   await trino.stop();
 *
 * Trino needs Java 24 or newer: TRINO_JAVA_HOME, else /usr/lib/jvm/temurin-25-jdk-amd64, else JAVA_HOME.
 *
 * Where moto's Glue cannot serve Trino, a proxy between them puts it right, and says so (`gaps`):
 * - moto 5.2.1 implements none of the column-statistics actions (Get/Update/DeleteColumnStatisticsForTable and
 *   ForPartition): it answers 500 NotImplementedError, and Trino's CREATE TABLE fails ("Failed updating column
 *   statistics"). The proxy answers them as Glue does for a table without column statistics (empty lists, no errors).
 * - moto rejects GetPartitions with `Expression: ""` ("Unsupported expression ''"), which Trino sends to list every
 *   partition; Glue takes the empty expression as no filter. The proxy drops the empty expression. (moto also ignores
 *   `Segment`, so each of Trino's 5 segments lists every partition; Trino keys partitions by name, so none is doubled.)
 * Everything else reaches moto untouched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent, createServer, request as httpRequest, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const manifest = JSON.parse(readFileSync(path.join(root, 'test', 'aws-shape', 'trino', 'trino.json'), 'utf8')) as { cache: string; version: string };
/** Where python-env.mjs unpacked Trino: server/ (lib/, …) and plugin/hive/. */
export const TRINO_HOME = path.join(root, manifest.cache, manifest.version);
export const TRINO_VERSION = manifest.version;
/** The catalog the Hive connector is mounted as. */
export const TRINO_CATALOG = 'hive';

const STARTUP_DEADLINE_MS = 300_000;
const POLL_MS = 100;

export interface TrinoColumn {
  name: string;
  type: string;
}

export interface TrinoResult {
  /** Trino's query id. */
  id: string;
  columns: TrinoColumn[];
  rows: unknown[][];
  /** The final `stats` of Trino's protocol (processedBytes, physicalInputBytes, …). */
  stats: Record<string, any>;
  updateType?: string;
  updateCount?: number;
}

/** A failed Trino query: its error name (e.g. HIVE_TOO_MANY_OPEN_PARTITIONS, USER_CANCELED) and message. */
export class TrinoQueryError extends Error {
  constructor(
    readonly queryId: string,
    readonly errorName: string,
    readonly errorType: string,
    message: string,
  ) {
    super(`${errorName}: ${message}`);
  }
}

export interface QueryOptions {
  /** Session properties, e.g. { 'hive.compression_codec': 'SNAPPY' }. */
  session?: Record<string, string>;
  /** Default schema (Athena's QueryExecutionContext.Database). */
  schema?: string;
}

export interface RunningQuery {
  /** Resolves once Trino gave the query an id (the first answer). */
  id: Promise<string>;
  /** Settles when the query finished: its result, or a TrinoQueryError. */
  done: Promise<TrinoResult>;
}

export interface TrinoServer {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  version: string;
  /** Runs one statement to its end. */
  query(sql: string, options?: QueryOptions): Promise<TrinoResult>;
  /** Starts one statement; its id as soon as Trino answers, its result when it ends. */
  start(sql: string, options?: QueryOptions): RunningQuery;
  /** Kills a running query (DELETE /v1/query/<id>, as the CLI's cancel does): it fails with USER_CANCELED. */
  kill(queryId: string): Promise<void>;
  /** The Glue actions the gap proxy answered or corrected (see the header), with their counts. */
  readonly gaps: Record<string, number>;
  /** Trino's server log (for a failure's context). */
  log(): string;
  stop(): Promise<void>;
}

export interface TrinoOptions {
  /** moto's endpoint: the Glue metastore and S3 both point at it. */
  motoEndpoint: string;
  /** S3's endpoint when it differs from moto's (a proxy in front of it). */
  s3Endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Catalog properties added to (or replacing) the defaults below. */
  catalog?: Record<string, string>;
}

/** Java 24+ for Trino 476. */
export function trinoJava(): string {
  const candidates = [process.env.TRINO_JAVA_HOME, '/usr/lib/jvm/temurin-25-jdk-amd64', process.env.JAVA_HOME].filter((h): h is string => !!h);
  for (const home of candidates) if (existsSync(path.join(home, 'bin', 'java'))) return path.join(home, 'bin', 'java');
  throw new Error(`no Java 24+ for Trino ${TRINO_VERSION}: set TRINO_JAVA_HOME (tried ${candidates.join(', ')})`);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Column-statistics actions moto does not implement, answered as Glue answers for a table that has none. */
const STATISTICS_ANSWERS: Record<string, object> = {
  'AWSGlue.GetColumnStatisticsForTable': { ColumnStatisticsList: [], Errors: [] },
  'AWSGlue.GetColumnStatisticsForPartition': { ColumnStatisticsList: [], Errors: [] },
  'AWSGlue.UpdateColumnStatisticsForTable': { Errors: [] },
  'AWSGlue.UpdateColumnStatisticsForPartition': { Errors: [] },
  'AWSGlue.DeleteColumnStatisticsForTable': {},
  'AWSGlue.DeleteColumnStatisticsForPartition': {},
};

/** The proxy between Trino's Glue client and moto (see the header). */
async function startGlueGapProxy(motoEndpoint: string, gaps: Record<string, number>): Promise<{ endpoint: string; server: Server; agent: HttpAgent }> {
  const upstream = new URL(motoEndpoint);
  const agent = new HttpAgent({ keepAlive: true });
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks);
    const target = String(req.headers['x-amz-target'] ?? '');
    const answer = STATISTICS_ANSWERS[target];
    if (answer) {
      gaps[target] = (gaps[target] ?? 0) + 1;
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(answer));
      return;
    }
    if (target === 'AWSGlue.GetPartitions') {
      const input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      if (input.Expression === '') {
        delete input.Expression;
        body = Buffer.from(JSON.stringify(input));
        gaps['AWSGlue.GetPartitions (empty Expression)'] = (gaps['AWSGlue.GetPartitions (empty Expression)'] ?? 0) + 1;
      }
    }
    // the body may have changed: the signature covers it, but moto does not check signatures unless IAM is enforced
    const forward = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'content-length': String(body.length) },
        agent,
      },
      (answered) => {
        res.writeHead(answered.statusCode ?? 502, answered.headers);
        answered.pipe(res);
      },
    );
    forward.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`glue gap proxy: ${error.message}`);
    });
    forward.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server, agent };
}

function properties(values: Record<string, string>): string {
  return `${Object.entries(values)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

export async function startTrino(options: TrinoOptions): Promise<TrinoServer> {
  const server = path.join(TRINO_HOME, 'server');
  if (!existsSync(path.join(server, 'lib')))
    throw new Error(`Trino is not unpacked in ${TRINO_HOME}: run node test/aws-shape/python-env.mjs (npm run test:aws does)`);
  const gaps: Record<string, number> = {};
  const proxy = await startGlueGapProxy(options.motoEndpoint, gaps);
  const credentials = options.credentials ?? { accessKeyId: 'test', secretAccessKey: 'test' };
  const region = options.region ?? 'us-east-1';
  const port = await freePort();
  const home = mkdtempSync(path.join(os.tmpdir(), 'trino-'));
  const etc = path.join(home, 'etc');
  mkdirSync(path.join(etc, 'catalog'), { recursive: true });
  mkdirSync(path.join(home, 'plugin'), { recursive: true });
  writeFileSync(
    path.join(etc, 'config.properties'),
    properties({
      coordinator: 'true',
      'node-scheduler.include-coordinator': 'true',
      'http-server.http.port': String(port),
      'discovery.uri': `http://127.0.0.1:${port}`,
      'query.max-memory': '768MB',
      'query.max-memory-per-node': '768MB',
      // one machine of 2 cores shared with moto, Spark and Jest
      'task.concurrency': '2',
    }),
  );
  writeFileSync(
    path.join(etc, 'catalog', `${TRINO_CATALOG}.properties`),
    properties({
      'connector.name': 'hive',
      'hive.metastore': 'glue',
      'hive.metastore.glue.region': region,
      'hive.metastore.glue.endpoint-url': proxy.endpoint,
      'hive.metastore.glue.aws-access-key': credentials.accessKeyId,
      'hive.metastore.glue.aws-secret-key': credentials.secretAccessKey,
      'fs.native-s3.enabled': 'true',
      's3.endpoint': options.s3Endpoint ?? options.motoEndpoint,
      's3.region': region,
      's3.path-style-access': 'true',
      's3.aws-access-key': credentials.accessKeyId,
      's3.aws-secret-key': credentials.secretAccessKey,
      // every bucketed table is read with its files checked against their bucket (a row in the wrong file fails the query)
      'hive.validate-bucketing': 'true',
      // Athena's limit: a query writes at most 100 partitions (HIVE_TOO_MANY_OPEN_PARTITIONS); Trino's default, said here
      'hive.max-partitions-per-writers': '100',
      // Flywheel's tables are external (their folders are chosen, not the warehouse's)
      'hive.non-managed-table-writes-enabled': 'true',
      'hive.collect-column-statistics-on-write': 'false',
      // ALTER TABLE ADD PARTITION (Hive DDL, through Athena) runs here as system.register_partition
      'hive.allow-register-partition-procedure': 'true',
      ...options.catalog,
    }),
  );
  // a plugin folder of our own: the server's own plugins, and the Hive plugin beside them
  const plugins = path.join(home, 'plugin');
  for (const name of readdirSync(path.join(server, 'plugin'))) symlinkSync(path.join(server, 'plugin', name), path.join(plugins, name));
  symlinkSync(path.join(TRINO_HOME, 'plugin', 'hive'), path.join(plugins, 'hive'));

  const logFile: string[] = [];
  const child: ChildProcess = spawn(
    trinoJava(),
    [
      '-Xmx1536M',
      '-XX:+UseG1GC',
      '-XX:+ExitOnOutOfMemoryError',
      '-Djdk.attach.allowAttachSelf=true',
      '-Dnode.environment=aws_shape',
      '-Dnode.id=aws-shape',
      `-Dnode.data-dir=${path.join(home, 'data')}`,
      `-Dconfig=${path.join(etc, 'config.properties')}`,
      `-Dcatalog.config-dir=${path.join(etc, 'catalog')}`,
      `-Dplugin.dir=${plugins}`,
      '-cp',
      `${path.join(server, 'lib')}/*`,
      'io.trino.server.TrinoServer',
    ],
    { cwd: home, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const remember = (chunk: Buffer) => {
    logFile.push(chunk.toString('utf8'));
    if (logFile.length > 4000) logFile.splice(0, 1000);
  };
  child.stdout!.on('data', remember);
  child.stderr!.on('data', remember);
  const endpoint = `http://127.0.0.1:${port}`;
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = `exited with ${code ?? signal}`));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const ended = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await ended;
      clearTimeout(timer);
    }
    proxy.agent.destroy();
    proxy.server.closeAllConnections();
    await new Promise<void>((resolve) => proxy.server.close(() => resolve()));
    rmSync(home, { recursive: true, force: true });
  };

  const started = Date.now();
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`Trino ${exited} before it started:\n${logFile.join('').slice(-4000)}`);
    }
    if (logFile.join('').includes('======== SERVER STARTED ========')) break;
    if (Date.now() - started > STARTUP_DEADLINE_MS) {
      await stop();
      throw new Error(`Trino did not start within ${STARTUP_DEADLINE_MS / 1000} s:\n${logFile.join('').slice(-4000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }

  const headers = (o: QueryOptions = {}) => ({
    'X-Trino-User': 'flywheel',
    'X-Trino-Catalog': TRINO_CATALOG,
    ...(o.schema ? { 'X-Trino-Schema': o.schema } : {}),
    ...(o.session && Object.keys(o.session).length
      ? {
          'X-Trino-Session': Object.entries(o.session)
            .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
            .join(','),
        }
      : {}),
  });

  const startQuery = (sql: string, o?: QueryOptions): RunningQuery => {
    let resolveId!: (id: string) => void;
    let rejectId!: (e: unknown) => void;
    const id = new Promise<string>((resolve, reject) => {
      resolveId = resolve;
      rejectId = reject;
    });
    const done = (async () => {
      let answer = (await (await fetch(`${endpoint}/v1/statement`, { method: 'POST', body: sql, headers: headers(o) })).json()) as Record<string, any>;
      const result: TrinoResult = { id: answer.id, columns: [], rows: [], stats: {} };
      // Trino submits a query to its dispatcher only when the client first follows nextUri (QueuedStatementResource
      // submits lazily): until then kill_query answers NOT_FOUND and DELETE /v1/query misses it, so the id is given
      // out only after that first answer, or at once when the query already ended in the POST's answer
      let dispatched = !answer.nextUri;
      if (dispatched) resolveId(answer.id);
      for (;;) {
        if (answer.columns && !result.columns.length) result.columns = answer.columns.map((c: any) => ({ name: c.name, type: c.type }));
        if (answer.data) result.rows.push(...answer.data);
        if (answer.stats) result.stats = answer.stats;
        if (answer.updateType) result.updateType = answer.updateType;
        if (answer.updateCount !== undefined) result.updateCount = answer.updateCount;
        if (answer.error) throw new TrinoQueryError(answer.id, answer.error.errorName, answer.error.errorType, answer.error.message);
        if (!answer.nextUri) return result;
        // Trino long-polls a nextUri itself (up to 1 s); a short pause only when it answered at once without news
        const next = await fetch(answer.nextUri);
        if (next.status === 503) {
          await new Promise((resolve) => setTimeout(resolve, POLL_MS));
          continue;
        }
        answer = (await next.json()) as Record<string, any>;
        if (!dispatched) {
          dispatched = true;
          resolveId(result.id);
        }
      }
    })();
    done.catch((e) => rejectId(e));
    return { id, done };
  };

  return {
    endpoint,
    version: TRINO_VERSION,
    gaps,
    start: startQuery,
    query: (sql, o) => startQuery(sql, o).done,
    kill: async (queryId) => {
      await fetch(`${endpoint}/v1/query/${encodeURIComponent(queryId)}`, { method: 'DELETE', headers: { 'X-Trino-User': 'flywheel' } });
    },
    log: () => logFile.join(''),
    stop,
  };
}
