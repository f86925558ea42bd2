/**
 * A pass-through proxy in front of moto that answers S3 GETs and HEADs without the `Content-MD5` header, as S3 does.
 *
 * moto 5.2.1 keeps the Content-MD5 a PutObject was sent with (S3A's PUTs carry one; the JS SDK's do not) and returns it
 * on every later GetObject and HeadObject of the object, ranged ones included. S3 never returns Content-MD5 on a GET or
 * HEAD (it is a request header), and returns no whole-object checksum on a ranged GET. The JS SDK (3.1169) validates a
 * GetObject response's `content-md5` as the MD5 of the body it received, so a ranged read of a file Spark wrote fails
 * there with "Checksum mismatch … in response header content-md5" on moto, never on S3.
 *
 * It also makes conditional writes atomic, as S3's are. moto 5.2.1 checks a PUT's If-Match / If-None-Match and then
 * stores the object as two steps of one request (moto/s3/responses.py put_object), and its server is threaded, so two
 * writers holding the same ETag can both pass the check, and one update is lost; S3 lets exactly one of them through.
 * The proxy forwards the conditional writes of one key one at a time (`serialized` counts them); other requests pass
 * at once.
 *
 * Everything else passes untouched, in both directions (any service: the proxy does not parse requests). Point clients
 * at `endpoint` (an IP address, so S3 still addresses buckets by path).
 */
import { Agent as HttpAgent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';

export interface S3ResponseProxy {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  /** The requests whose answer lost its Content-MD5 header (`GET /bucket/key range=bytes=a-b`). */
  readonly stripped: string[];
  /** How many conditional writes were forwarded one at a time per key. */
  readonly serialized: { count: number };
  stop(): Promise<void>;
}

export async function startS3ResponseProxy(motoEndpoint: string): Promise<S3ResponseProxy> {
  const upstream = new URL(motoEndpoint);
  const stripped: string[] = [];
  const agent = new HttpAgent({ keepAlive: true });
  const serialized = { count: 0 };
  /** Per key (method-less path), the end of the last conditional write forwarded. */
  const writes = new Map<string, Promise<void>>();
  const server = createServer((req, res) => {
    const conditional =
      (req.method === 'PUT' || req.method === 'POST') && (req.headers['if-match'] !== undefined || req.headers['if-none-match'] !== undefined);
    if (!conditional) return pass(req, res);
    serialized.count++;
    const key = (req.url ?? '').split('?')[0]!;
    const previous = writes.get(key) ?? Promise.resolve();
    const done = previous.then(
      () =>
        new Promise<void>((resolve) => {
          res.once('close', resolve);
          pass(req, res);
        }),
    );
    writes.set(key, done);
    void done.finally(() => {
      if (writes.get(key) === done) writes.delete(key);
    });
  });
  function pass(req: IncomingMessage, res: ServerResponse): void {
    const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
      const headers = { ...answer.headers };
      if ((req.method === 'GET' || req.method === 'HEAD') && headers['content-md5'] !== undefined) {
        delete headers['content-md5'];
        stripped.push(`${req.method} ${req.url}${req.headers.range ? ` range=${req.headers.range}` : ''}`);
      }
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    forward.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`s3 response proxy: ${error.message}`);
    });
    req.pipe(forward);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('s3 response proxy: no address');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    stripped,
    serialized,
    stop: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
