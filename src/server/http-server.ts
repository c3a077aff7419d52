/**
 * The controller's only listener: /metrics for Prometheus, /healthz for the liveness probe, /readyz for the
 * readiness probe. Read-only; request bodies are never read, only discarded.
 */
import { http } from '../util/node-http.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';

/** What is needed of a prom-client Registry. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface HttpServerOptions {
  /** Address to bind ('' or '0.0.0.0' for all IPv4, '::' for all). */
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  registry: MetricsSource;
  /** True after the first full sync (releases listed, repositories fetched, queue drained once). */
  isReady: () => boolean;
  isHealthy: () => boolean;
  logger: Logger;
}

export interface HttpServer {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  /** Stops listening and closes every connection, keep-alive ones included. */
  close(): Promise<void>;
}

const NOT_READY = 'not ready: the first full sync of Helm releases and repositories has not finished\n';
const NOT_HEALTHY = 'not healthy: the controller stopped making progress\n';

function send(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8', head = false): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(head ? undefined : body);
}

export function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { registry, isReady, isHealthy, logger } = options;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Drain any body so a keep-alive socket stays usable; it is never looked at.
    req.resume();
    const path = (req.url ?? '/').split('?', 1)[0];
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, 'method not allowed\n');
      return;
    }
    switch (path) {
      case '/metrics': {
        let text: string;
        try {
          text = await registry.metrics();
        } catch (err) {
          logger.error({ err: (err as Error).message }, 'collecting metrics failed');
          send(res, 500, 'collecting metrics failed\n');
          return;
        }
        send(res, 200, text, registry.contentType, head);
        return;
      }
      case '/healthz':
        if (isHealthy()) send(res, 200, 'ok\n', undefined, head);
        else send(res, 500, NOT_HEALTHY, undefined, head);
        return;
      case '/readyz':
        if (isReady()) send(res, 200, 'ok\n', undefined, head);
        else send(res, 503, NOT_READY, undefined, head);
        return;
      default:
        send(res, 404, 'not found: try /metrics, /healthz or /readyz\n', undefined, head);
    }
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err: (err as Error).message }, 'http handler failed');
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  // Probes and scrapes are tiny: a client that dawdles over its headers is not one of ours.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 65_000;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  return new Promise<HttpServer>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host: options.host === '' ? undefined : options.host, port: options.port }, () => {
      server.off('error', onError);
      server.on('error', (err) => logger.error({ err: err.message }, 'http server error'));
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      let closing: Promise<void> | undefined;
      resolve({
        url: `http://${host}:${address.port}`,
        port: address.port,
        close: () => {
          closing ??= new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            // Idle keep-alive sockets (Prometheus keeps one open) would hold close() for keepAliveTimeout.
            server.closeAllConnections();
          });
          return closing;
        },
      });
    });
  });
}
