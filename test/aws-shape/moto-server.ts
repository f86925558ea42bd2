/**
 * Runs AWS SDK v3 clients against a moto server (`python -m moto.server`) under an assumed IAM role.
 *
 *   const moto = await startMoto();                       // IAM enforcement off
 *   // ...create fixtures with any credentials...
 *   const creds = await roleCredentials(moto.endpoint, { roleName: 'reader', policies: [{ name: 'p', document }] });
 *   await enforceIam(moto.endpoint, true);                // from now on every call is checked against the role
 *   new S3Client({ ...sdkConfig(moto.endpoint, creds), forcePathStyle: true });
 *   ...
 *   await moto.stop();
 *
 * With enforcement on, moto rejects the signature of any S3 request whose key or query holds an escaped character
 * ('=' in `snapshot_dt=D/`, '/' in a listing's Prefix): put startResigningProxy(moto.endpoint) between the clients
 * and moto, `trust()` the credentials, and give the clients `proxy.endpoint` instead.
 *
 * What moto 5.2.1 does and does not check once enforcement is on is in MOTO-IAM.md next to this file
 * (in short: S3 and SQS are checked per resource, every other service only against Resource "*", and
 * Conditions are never evaluated for service calls).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createHash, createHmac } from 'node:crypto';
import { Agent as HttpAgent, createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';

/** Account and region moto puts everything in when nothing says otherwise. */
export const MOTO_ACCOUNT_ID = '123456789012';
export const MOTO_REGION = 'us-east-1';

export interface MotoServer {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  stop(): Promise<void>;
}

export interface RoleCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

/** Any static key pair; with enforcement off moto accepts anything, e.g. { accessKeyId: 'test', secretAccessKey: 'test' }. */
export type StaticCredentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

export interface SdkConfig {
  endpoint: string;
  region: string;
  credentials: StaticCredentials;
}

export interface RoleSpec {
  roleName: string;
  /** Inline policies (iam:PutRolePolicy), each an IAM policy document. */
  policies: Array<{ name: string; document: object }>;
}

const STARTUP_DEADLINE_MS = 180_000;
const POLL_INTERVAL_MS = 250;
const REQUEST_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 15_000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('moto-server: could not pick a free port'));
      });
    });
  });
}

/**
 * Spawns `<python> -m moto.server -H 127.0.0.1 -p <free port>` with the project's venv (.venv, which npm run test:aws
 * builds with moto pinned in requirements-aws.txt), else python3 (FLYWHEEL_PYTHON overrides it), with IAM
 * enforcement off, and resolves once GET /moto-api/ answers 200.
 */
export async function startMoto(): Promise<MotoServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(await freePort());
    } catch (error) {
      // The port picked can be taken by someone else before python binds it: pick another.
      if (attempt >= 3 || !(error instanceof Error) || !error.message.includes('Address already in use')) throw error;
    }
  }
}

async function launch(port: number): Promise<MotoServer> {
  const venv = fileURLToPath(new URL('../../.venv/bin/python', import.meta.url));
  const python = process.env.FLYWHEEL_PYTHON || (existsSync(venv) ? venv : 'python3');
  const endpoint = `http://127.0.0.1:${port}`;
  // Enforcement is switched per test with enforceIam(); an inherited count would switch it on behind our back.
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1' };
  delete env.INITIAL_NO_AUTH_ACTION_COUNT;
  const child = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });

  // werkzeug logs every request to stderr: it must be drained or the server blocks once the pipe fills.
  let stderrTail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-4_000);
  });

  let exited = child.exitCode !== null || child.signalCode !== null;
  let spawnError: Error | undefined;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', (error) => {
      spawnError = error;
      exited = true;
      resolve();
    });
  });
  const killOnExit = (): void => {
    if (!exited) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    if (exited) return;
    child.kill('SIGTERM');
    const escalate = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    escalate.unref();
    await exitedPromise;
    clearTimeout(escalate);
  };

  const deadline = Date.now() + STARTUP_DEADLINE_MS;
  for (;;) {
    if (exited) {
      await stop();
      const why = spawnError ? spawnError.message : `exit code ${child.exitCode ?? child.signalCode}`;
      throw new Error(`moto-server: ${python} -m moto.server exited before answering (${why})\n${stderrTail}`);
    }
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      await response.arrayBuffer();
      if (response.ok) return { endpoint, stop };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`moto-server: no answer from ${endpoint}/moto-api/ within ${STARTUP_DEADLINE_MS / 1000} s\n${stderrTail}`);
    }
    await delay(POLL_INTERVAL_MS);
  }
}

/**
 * Switches moto's IAM enforcement on (every later request is authenticated and checked against the
 * caller's policies) or off (moto's default: nothing is checked). Server-wide, takes effect at once.
 */
export async function enforceIam(endpoint: string, on: boolean): Promise<void> {
  // The body is moto's INITIAL_NO_AUTH_ACTION_COUNT: that many requests pass unchecked. "inf" is its default.
  const response = await fetch(`${endpoint}/moto-api/reset-auth`, {
    method: 'POST',
    body: on ? '0' : 'inf',
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`moto-server: reset-auth answered ${response.status}: ${text}`);
}

function xmlValue(xml: string, tag: string): string | undefined {
  const raw = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];
  return raw
    ?.replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/**
 * A Query-protocol call (IAM, STS) as moto reads it with enforcement off: it routes on the credential
 * scope of the Authorization header and checks no signature, so no signing library is needed.
 */
async function queryCall(endpoint: string, service: 'iam' | 'sts', params: Record<string, string>): Promise<string> {
  const response = await fetch(`${endpoint}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      authorization: `AWS4-HMAC-SHA256 Credential=moto-harness/20250101/${MOTO_REGION}/${service}/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: new URLSearchParams(params).toString(),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  if (!response.ok) {
    const code = xmlValue(text, 'Code') ?? 'unknown error';
    const hint = response.status === 403 ? ' (is IAM enforcement on? call enforceIam(endpoint, false) first)' : '';
    throw new Error(`moto-server: ${service}:${params.Action} answered ${response.status} ${code}: ${xmlValue(text, 'Message') ?? text}${hint}`);
  }
  return text;
}

/**
 * Creates the role with its inline policies and assumes it; to be called while enforcement is off.
 * The trust policy trusts the account root (moto does not check it with enforcement off).
 */
export async function roleCredentials(endpoint: string, spec: RoleSpec): Promise<RoleCredentials> {
  const trust = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${MOTO_ACCOUNT_ID}:root` }, Action: 'sts:AssumeRole' }],
  };
  await queryCall(endpoint, 'iam', {
    Action: 'CreateRole',
    Version: '2010-05-08',
    RoleName: spec.roleName,
    AssumeRolePolicyDocument: JSON.stringify(trust),
  });
  for (const policy of spec.policies) {
    await queryCall(endpoint, 'iam', {
      Action: 'PutRolePolicy',
      Version: '2010-05-08',
      RoleName: spec.roleName,
      PolicyName: policy.name,
      PolicyDocument: JSON.stringify(policy.document),
    });
  }
  const xml = await queryCall(endpoint, 'sts', {
    Action: 'AssumeRole',
    Version: '2011-06-15',
    RoleArn: `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/${spec.roleName}`,
    RoleSessionName: `${spec.roleName}-session`.slice(0, 64),
  });
  const accessKeyId = xmlValue(xml, 'AccessKeyId');
  const secretAccessKey = xmlValue(xml, 'SecretAccessKey');
  const sessionToken = xmlValue(xml, 'SessionToken');
  if (!accessKeyId || !secretAccessKey || !sessionToken) {
    throw new Error(`moto-server: sts:AssumeRole answered without credentials: ${xml.slice(0, 500)}`);
  }
  return { accessKeyId, secretAccessKey, sessionToken };
}

/** Client config for any AWS SDK v3 client (add forcePathStyle: true for S3). */
export function sdkConfig(endpoint: string, credentials: StaticCredentials): SdkConfig {
  return { endpoint, region: MOTO_REGION, credentials };
}

/**
 * Whether an SDK v3 error is moto's IAM denial. S3 and Query services (SNS) give name "AccessDenied".
 * JSON-protocol services (Glue, EventBridge, Athena, SQS, KMS) get moto's XML <ErrorResponse> body, which the
 * SDK cannot parse: a SyntaxError with $metadata.httpStatusCode 403, indistinguishable from moto's other 403s
 * (InvalidClientTokenId, SignatureDoesNotMatch). S3 HeadObject has no body: name "Unknown", status 403.
 */
export function isAccessDenied(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'AccessDenied' || error.name === 'AccessDeniedException') return true;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (status !== 403) return false;
  return (error.name === 'SyntaxError' && error.message.includes('"<?xml')) || error.name === 'Unknown';
}

/**
 * A proxy between the SDK and moto that re-signs S3 requests the way moto 5.2.1 checks them.
 *
 * moto recomputes a SigV4 signature over the URL werkzeug rebuilds (`request.url`), not over the bytes
 * the client sent: werkzeug decodes percent-escapes there, in the path all but controls, space, '%',
 * '?' and '#', in the query all but those and '&', '=', '+'. Every SDK signs the escaped form (AWS's
 * canonical request), so with enforcement on any S3 request whose path or query holds an escaped
 * character fails `SignatureDoesNotMatch`: a '/' in a query value (`Prefix=a/`, `Delimiter=/`), and an
 * '=' (`snapshot_dt=D/`), ':', '+', '@', non-ASCII, … in a key. Sending the characters unescaped does
 * not help: the signature must cover moto's form. So the proxy recomputes the Authorization header of
 * every S3 request signed by a key it was told about (`trust`) over moto's form of the URL, and passes
 * everything else through untouched. Clients pointed at `endpoint` need no change at all.
 */
export interface ResigningProxy {
  /** http://127.0.0.1:<port>; give it to clients instead of moto's endpoint. */
  endpoint: string;
  /** Requests signed with this key are re-signed (its secret is needed for that). */
  trust(credentials: StaticCredentials): void;
  /** How many S3 requests were re-signed with a different signature (moto's form differed from AWS's). */
  readonly resigned: number;
  stop(): Promise<void>;
}

const ALWAYS_SAFE = /[A-Za-z0-9_.~-]/;

function percent(bytes: Uint8Array): string {
  return [...bytes].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

/**
 * werkzeug's partial unquoting (`werkzeug.urls._make_unquote_part`): runs of escapes are decoded as
 * UTF-8 except bytes in `keep`, which stay escaped as written; invalid UTF-8 stays escaped.
 */
function unquoteExcept(value: string, keep: (byte: number) => boolean): string {
  let out = '';
  let pending: number[] = [];
  let pendingRaw = '';
  const flush = () => {
    if (pending.length === 0) return;
    try {
      out += new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(pending));
    } catch {
      out += pendingRaw.toUpperCase();
    }
    pending = [];
    pendingRaw = '';
  };
  for (let i = 0; i < value.length; ) {
    const pct = /^%[0-9A-Fa-f]{2}/.exec(value.slice(i, i + 3))?.[0];
    if (pct) {
      const byte = Number.parseInt(pct.slice(1), 16);
      if (keep(byte)) {
        flush();
        out += pct;
      } else {
        pending.push(byte);
        pendingRaw += pct;
      }
      i += 3;
    } else {
      flush();
      out += value[i];
      i += 1;
    }
  }
  flush();
  return out;
}

const alwaysUnsafe = (byte: number) => byte <= 0x20 || byte === 0x25 || byte === 0x7f;

/** The path as moto signs it: werkzeug's PATH_INFO (fully decoded), quoted by get_current_url, then uri_to_iri. */
export function motoSignedPath(wirePath: string): string {
  const decoded = new TextDecoder().decode(new Uint8Array(unescapeBytes(wirePath)));
  let quoted = '';
  for (const ch of decoded) quoted += ALWAYS_SAFE.test(ch) || "!$&'()*+,/:;=@%".includes(ch) ? ch : percent(new TextEncoder().encode(ch));
  const iri = unquoteExcept(quoted, (b) => alwaysUnsafe(b) || b === 0x2f || b === 0x3f || b === 0x23);
  // moto takes the path from urllib's urlparse, which drops ";params" when the last segment has a ';'
  return iri.indexOf(';', iri.lastIndexOf('/')) < 0 ? iri : iri.slice(0, iri.indexOf(';'));
}

/** The canonical query as moto computes it: werkzeug's uri_to_iri of the query, then botocore's sort of the raw pairs. */
export function motoCanonicalQuery(wireQuery: string): string {
  if (!wireQuery) return '';
  const iri = unquoteExcept(wireQuery, (b) => alwaysUnsafe(b) || b === 0x26 || b === 0x3d || b === 0x2b || b === 0x23);
  const pairs = iri.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    return eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
  }) as Array<[string, string]>;
  const byCodePoint = (a: string, b: string) => {
    const x = Array.from(a, (c) => c.codePointAt(0)!);
    const y = Array.from(b, (c) => c.codePointAt(0)!);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
    return x.length - y.length;
  };
  pairs.sort((a, b) => byCodePoint(a[0], b[0]) || byCodePoint(a[1], b[1]));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function unescapeBytes(value: string): number[] {
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < value.length; ) {
    const pct = /^%[0-9A-Fa-f]{2}/.exec(value.slice(i, i + 3))?.[0];
    if (pct) {
      bytes.push(Number.parseInt(pct.slice(1), 16));
      i += 3;
    } else {
      const ch = String.fromCodePoint(value.codePointAt(i)!);
      bytes.push(...encoder.encode(ch));
      i += ch.length;
    }
  }
  return bytes;
}

const sha256 = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** The SigV4 signature moto computes for a request (method, wire URL, headers as received). */
export function motoSignature(
  method: string,
  url: string,
  headers: Record<string, string | string[] | undefined>,
  secretAccessKey: string,
): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization !== 'string') return undefined;
  const scope = /Credential=[^/]+\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization);
  const signed = /SignedHeaders=([^,\s]+)/.exec(authorization)?.[1]?.split(';');
  const amzDate = headers['x-amz-date'];
  const payload = headers['x-amz-content-sha256'];
  if (!scope || !signed || typeof amzDate !== 'string' || typeof payload !== 'string') return undefined;
  const [, date, region, service] = scope as unknown as [string, string, string, string];
  const q = url.indexOf('?');
  const canonical = [
    method.toUpperCase(),
    motoSignedPath(q < 0 ? url : url.slice(0, q)),
    motoCanonicalQuery(q < 0 ? '' : url.slice(q + 1)),
    `${signed.map((name) => `${name}:${[headers[name] ?? ''].flat().join(',').trim().split(/\s+/).join(' ')}`).join('\n')}\n`,
    signed.join(';'),
    payload,
  ].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, `${date}/${region}/${service}/aws4_request`, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), service), 'aws4_request');
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
}

/** Starts the re-signing proxy in front of a moto server (see ResigningProxy). */
export async function startResigningProxy(motoEndpoint: string): Promise<ResigningProxy> {
  const upstream = new URL(motoEndpoint);
  const secrets = new Map<string, string>();
  let resigned = 0;
  const agent = new HttpAgent({ keepAlive: true });
  const server = createHttpServer((req, res) => {
    const headers = { ...req.headers };
    const authorization = headers.authorization;
    const accessKeyId = typeof authorization === 'string' ? /Credential=([^/]+)\//.exec(authorization)?.[1] : undefined;
    const secret = accessKeyId && secrets.get(accessKeyId);
    if (secret && typeof authorization === 'string' && /Credential=[^,]*\/s3\/aws4_request/.test(authorization)) {
      const signature = motoSignature(req.method ?? 'GET', req.url ?? '/', headers, secret);
      if (signature) {
        const next = authorization.replace(/Signature=[0-9a-f]+/, `Signature=${signature}`);
        if (next !== authorization) resigned += 1;
        headers.authorization = next;
      }
    }
    const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`resigning proxy: ${error.message}`);
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('resigning proxy: no address');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    trust: (c) => void secrets.set(c.accessKeyId, c.secretAccessKey),
    get resigned() {
      return resigned;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
