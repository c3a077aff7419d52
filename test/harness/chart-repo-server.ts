/**
 * A small static chart repository on 127.0.0.1 (random free port): serves a directory with ETag /
 * Last-Modified / 304, optional basic or bearer auth, optional HTTPS (optionally requiring a client certificate
 * signed by a given CA), optional redirect of chart downloads to another server, fault injection, and a log of
 * requests for assertions.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';

export type ServerAuth = { kind: 'basic'; username: string; password: string } | { kind: 'bearer'; token: string };

export interface Fault {
  /** Path (exact, query ignored) or predicate; all paths when absent. */
  path?: string | ((path: string) => boolean);
  /** How many requests it applies to (default: all until cleared). */
  times?: number;
  status?: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Wait before sending the response head. */
  delayMs?: number;
  /** Serve the real file but pause this long between the first and the second half of the body. */
  slowBodyMs?: number;
  /** Serve this many extra bytes after the file (for size limits). */
  padBytes?: number;
  /** Send the body chunked, without Content-Length (so a size limit must be enforced while streaming). */
  chunked?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** Whether an Authorization header was present (never its value). */
  authorization: boolean;
  ifNoneMatch?: string | undefined;
  ifModifiedSince?: string | undefined;
  /** HTTPS: the CN of the client certificate the connection presented and the CA accepted. */
  clientCertificate?: string | undefined;
  status: number;
}

/** PEM texts (not paths) of the server's certificate and key, and of the CA client certificates must chain to. */
export interface ServerTls {
  cert: string;
  key: string;
  /** Set: a client certificate signed by this CA is required (TLS handshake fails without one). */
  clientCa?: string | undefined;
}

export interface ChartRepoServerOptions {
  dir: string;
  auth?: ServerAuth | undefined;
  /** Chart downloads (*.tgz, *.prov) answer 302 to `<redirectChartsTo>/<same path>`. */
  redirectChartsTo?: string | undefined;
  /** Extra redirects: request path → Location. */
  redirects?: Record<string, string> | undefined;
  /** Send ETag (default true) and Last-Modified (default true). */
  etag?: boolean | undefined;
  lastModified?: boolean | undefined;
  /** Serve HTTPS instead of HTTP. */
  tls?: ServerTls | undefined;
}

export interface ChartRepoServer {
  url: string;
  port: number;
  requests: RecordedRequest[];
  inject(fault: Fault): void;
  clearFaults(): void;
  /** Requests for a path (query ignored). */
  requestsFor(path: string): RecordedRequest[];
  close(): Promise<void>;
}

function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

function authorized(req: IncomingMessage, auth: ServerAuth | undefined): boolean {
  if (!auth) return true;
  const h = req.headers.authorization ?? '';
  if (auth.kind === 'basic') return safeEqual(h, `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`);
  return safeEqual(h, `Bearer ${auth.token}`);
}

function matches(fault: Fault, path: string): boolean {
  if (fault.path === undefined) return true;
  return typeof fault.path === 'string' ? fault.path === path : fault.path(path);
}

// unref: a stalled answer (a fault) must not keep the test process alive after the server is closed.
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export async function startChartRepoServer(options: ChartRepoServerOptions): Promise<ChartRepoServer> {
  const requests: RecordedRequest[] = [];
  let faults: Fault[] = [];
  const root = normalize(options.dir);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const fault = faults.find((f) => matches(f, path) && (f.times === undefined || f.times > 0));
    if (fault && fault.times !== undefined) fault.times--;
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.status) {
      res.writeHead(fault.status, { 'content-type': 'text/plain', ...fault.headers });
      res.end(fault.body ?? `injected ${fault.status}`);
      return fault.status;
    }
    const redirect = options.redirects?.[path] ?? (options.redirectChartsTo && /\.(tgz|prov)$/.test(path) ? `${options.redirectChartsTo.replace(/\/$/, '')}${path}` : undefined);
    if (redirect) {
      res.writeHead(302, { location: redirect });
      res.end();
      return 302;
    }
    if (!authorized(req, options.auth)) {
      res.writeHead(401, { 'www-authenticate': options.auth?.kind === 'bearer' ? 'Bearer realm="charts"' : 'Basic realm="charts"' });
      res.end('unauthorized');
      return 401;
    }
    const file = normalize(join(root, path));
    if (!file.startsWith(root + sep)) {
      res.writeHead(403);
      res.end();
      return 403;
    }
    let data: Buffer;
    let mtime: Date;
    try {
      const st = await stat(file);
      if (!st.isFile()) throw new Error('not a file');
      data = await readFile(file);
      mtime = st.mtime;
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return 404;
    }
    const etag = `"${createHash('sha256').update(data).digest('hex').slice(0, 32)}"`;
    const lastModified = new Date(Math.floor(mtime.getTime() / 1000) * 1000).toUTCString();
    const headers: Record<string, string> = { 'content-type': path.endsWith('.yaml') ? 'application/yaml' : 'application/gzip', ...fault?.headers };
    if (options.etag !== false) headers['etag'] = etag;
    if (options.lastModified !== false) headers['last-modified'] = lastModified;
    const inm = req.headers['if-none-match'];
    const ims = req.headers['if-modified-since'];
    if ((options.etag !== false && inm !== undefined && inm === etag) || (inm === undefined && options.lastModified !== false && ims !== undefined && Date.parse(ims) >= Date.parse(lastModified))) {
      res.writeHead(304, headers);
      res.end();
      return 304;
    }
    const body = fault?.padBytes ? Buffer.concat([data, Buffer.alloc(fault.padBytes, 0x20)]) : data;
    if (fault?.slowBodyMs) {
      res.writeHead(200, { ...headers, 'content-length': String(body.length) });
      res.write(body.subarray(0, Math.floor(body.length / 2)));
      await sleep(fault.slowBodyMs);
      if (!res.destroyed) res.end(body.subarray(Math.floor(body.length / 2)));
      return 200;
    }
    if (fault?.chunked) {
      res.writeHead(200, headers);
      for (let i = 0; i < body.length && !res.destroyed; i += 64 * 1024) res.write(body.subarray(i, i + 64 * 1024));
      res.end();
      return 200;
    }
    res.writeHead(200, { ...headers, 'content-length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return 200;
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const socket = req.socket as Partial<TLSSocket>;
    const peer = socket.authorized ? socket.getPeerCertificate?.() : undefined;
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      authorization: req.headers.authorization !== undefined,
      ifNoneMatch: req.headers['if-none-match'],
      ifModifiedSince: req.headers['if-modified-since'],
      clientCertificate: peer?.subject ? String(peer.subject.CN) : undefined,
      status: 0,
    };
    requests.push(record);
    res.on('error', () => undefined);
    handle(req, res).then(
      (status) => {
        record.status = status;
      },
      () => {
        record.status = 500;
        if (!res.headersSent) res.writeHead(500);
        res.end();
      },
    );
  };
  // requestCert + rejectUnauthorized: Node ends a handshake without a certificate of `clientCa` with an alert.
  const tls = options.tls;
  const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key, ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}) }, listener) : createServer(listener);
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    requests,
    inject(fault) {
      faults.push(fault);
    },
    clearFaults() {
      faults = [];
    },
    requestsFor(path) {
      return requests.filter((r) => r.path === path);
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
