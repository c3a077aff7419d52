/**
 * An OCI "registry" on loopback that answers badly on purpose, one behaviour per repository prefix
 * (oci://127.0.0.1:<port>/<mode>): HTML instead of JSON, 401/403/429/500, endless tag pagination, a manifest
 * of the wrong media type (for chart webapp only), and 404 NAME_UNKNOWN (a wrong prefix). The real registry cannot be made to do these.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type HostileMode = 'html' | 'e401' | 'e403' | 'e429' | 'e500' | 'endless' | 'wrongtype' | 'unknown';

export interface HostileRegistry {
  /** oci://127.0.0.1:<port> — append `/<mode>` for a repository prefix. */
  url: string;
  close(): Promise<void>;
}

const json = (body: unknown): string => JSON.stringify(body);

export async function startHostileRegistry(): Promise<HostileRegistry> {
  let page = 0;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v2/' || url.pathname === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('{}');
    }
    const m = /^\/v2\/([^/]+)\/([^/]+)\/(tags\/list|manifests\/[^/]+)$/.exec(url.pathname);
    const mode = m?.[1] as HostileMode | undefined;
    const what = m?.[3] ?? '';
    const fail = (status: number, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(json({ errors: [{ code: status === 404 ? 'NAME_UNKNOWN' : 'DENIED', message: 'hostile registry' }] }));
    };
    switch (mode) {
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end('<!doctype html><html><body>Please sign in</body></html>');
      case 'e401':
        return fail(401);
      case 'e403':
        return fail(403);
      case 'e429':
        return fail(429, { 'retry-after': '3600' });
      case 'e500':
        return fail(500);
      case 'endless': {
        page++;
        res.writeHead(200, { 'content-type': 'application/json', link: `</v2/endless/${m?.[2]}/tags/list?last=p${page}&n=1>; rel="next"` });
        return res.end(json({ name: `endless/${m?.[2]}`, tags: [`0.0.${page}`] }));
      }
      case 'wrongtype': {
        if (m?.[2] !== 'webapp') return fail(404);
        if (what === 'tags/list') {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(json({ name: `wrongtype/${m?.[2]}`, tags: ['1.0.0', '1.2.0'] }));
        }
        const body = json({
          schemaVersion: 2,
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2 },
          layers: [],
        });
        res.writeHead(200, { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' });
        return res.end(req.method === 'HEAD' ? undefined : body);
      }
      default:
        return fail(404);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `oci://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
