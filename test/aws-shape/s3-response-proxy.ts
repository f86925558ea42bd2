/**
 * A pass-through proxy in front of moto that answers S3 GETs and HEADs without the `Content-MD5` header, as S3 does.
 *
 * moto 5.2.1 keeps the Content-MD5 a PutObject was sent with (S3A's PUTs carry one; the JS SDK's do not) and returns it
 * on every later GetObject and HeadObject of the object, ranged ones included. S3 never returns Content-MD5 on a GET or
 * HEAD (it is a request header), and returns no whole-object checksum on a ranged GET. The JS SDK (3.1169) validates a
 * GetObject response's `content-md5` as the MD5 of the body it received, so a ranged read of a file Spark wrote fails
 * there with "Checksum mismatch … in response header content-md5" on moto, never on S3.
 *
 * Everything else passes untouched, in both directions (any service: the proxy does not parse requests). Point clients
 * at `endpoint` (an IP address, so S3 still addresses buckets by path).
 */
import { Agent as HttpAgent, createServer, request as httpRequest } from 'node:http';

export interface S3ResponseProxy {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  /** The requests whose answer lost its Content-MD5 header (`GET /bucket/key range=bytes=a-b`). */
  readonly stripped: string[];
  stop(): Promise<void>;
}

export async function startS3ResponseProxy(motoEndpoint: string): Promise<S3ResponseProxy> {
  const upstream = new URL(motoEndpoint);
  const stripped: string[] = [];
  const agent = new HttpAgent({ keepAlive: true });
  const server = createServer((req, res) => {
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
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('s3 response proxy: no address');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    stripped,
    stop: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
