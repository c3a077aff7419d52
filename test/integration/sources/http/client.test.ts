import { strict as assert } from 'node:assert';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { HttpClient } from '../../../../src/sources/http/client.ts';
import { expectRepoError } from '../../../support/repo-errors.ts';

// The HTTP layer on node:http(s): what fetch used to do for us (content decoding, keep-alive) must still hold.
const INDEX = Buffer.from('apiVersion: v1\nentries:\n  webapp:\n  - name: webapp\n    version: 1.0.0\n'.repeat(50));
const BOMB = gzipSync(Buffer.alloc(64 * 1024 * 1024));

let server: Server;
let base = '';
const sockets = new Set<unknown>();
const seen: { path: string; acceptEncoding: string | undefined }[] = [];

function handle(req: IncomingMessage, res: ServerResponse): void {
  seen.push({ path: req.url ?? '', acceptEncoding: req.headers['accept-encoding'] });
  sockets.add(req.socket);
  const encoded = (encoding: string, body: Buffer): void => {
    res.writeHead(200, { 'content-encoding': encoding, 'content-length': body.length, etag: '"a"', 'x-multi': ['one', 'two'] });
    res.end(body);
  };
  switch (req.url) {
    case '/gzip':
      return encoded('gzip', gzipSync(INDEX));
    case '/deflate':
      return encoded('deflate', deflateSync(INDEX));
    case '/br':
      return encoded('br', brotliCompressSync(INDEX));
    case '/bomb':
      return encoded('gzip', BOMB);
    case '/corrupt':
      return encoded('gzip', Buffer.concat([gzipSync(INDEX).subarray(0, 20), Buffer.from('not deflate at all')]));
    case '/compress':
      return encoded('compress', INDEX);
    case '/plain':
      res.writeHead(200, { 'content-length': INDEX.length });
      return void res.end(INDEX);
    default:
      res.writeHead(404);
      res.end();
  }
}

before(async () => {
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('HttpClient on node:http', () => {
  it('asks for compressed bodies and decodes gzip, deflate and br to the same bytes', async () => {
    const client = new HttpClient({ repository: 'enc' });
    try {
      for (const path of ['/gzip', '/deflate', '/br']) {
        const res = await client.request({ url: `${base}${path}` });
        assert.deepEqual(res.body, INDEX, path);
        assert.equal(res.headers.get('ETag'), '"a"', 'header lookup is case-insensitive');
        assert.equal(res.headers.get('x-multi'), 'one, two', 'repeated headers are joined');
        assert.equal(res.headers.get('x-absent'), null);
      }
      assert.ok(seen.filter((s) => s.path === '/gzip').every((s) => s.acceptEncoding === 'gzip, deflate, br'));
    } finally {
      await client.close();
    }
  });

  it('applies the body limit to decoded bytes: a gzip bomb stops at the limit', async () => {
    const client = new HttpClient({ repository: 'enc' });
    try {
      const before = process.memoryUsage().rss;
      await expectRepoError(client.request({ url: `${base}/bomb`, maxBytes: 1024 * 1024, what: 'index' }), 'too_large', /index http:\/\/127\.0\.0\.1:\d+\/bomb: response larger than the limit of 1048576 bytes/);
      // 64 MiB inflated would show; stopping at the limit keeps growth to a few MiB.
      assert.ok(process.memoryUsage().rss - before < 48 * 1024 * 1024, 'the bomb was not inflated in full');
      // A limit above the plain size still takes the decoded body.
      assert.equal((await client.request({ url: `${base}/gzip`, maxBytes: INDEX.length })).body.length, INDEX.length);
      await expectRepoError(client.request({ url: `${base}/gzip`, maxBytes: INDEX.length - 1 }), 'too_large');
    } finally {
      await client.close();
    }
  });

  it('a corrupt compressed body and an unknown encoding are refused with clear errors', async () => {
    const client = new HttpClient({ repository: 'enc' });
    try {
      await expectRepoError(client.request({ url: `${base}/corrupt` }), 'http_error', /corrupt: the Content-Encoding body does not decode \(Z_(BUF|DATA)_ERROR\)/);
      await expectRepoError(client.request({ url: `${base}/compress`, what: 'index' }), 'http_error', /unsupported Content-Encoding/);
      // The client stays usable afterwards.
      assert.deepEqual((await client.request({ url: `${base}/plain` })).body, INDEX);
    } finally {
      await client.close();
    }
  });

  it('keeps connections alive across requests and closes them on close()', async () => {
    sockets.clear();
    const client = new HttpClient({ repository: 'keepalive' });
    for (let i = 0; i < 10; i++) assert.deepEqual((await client.request({ url: `${base}/plain` })).body, INDEX);
    assert.equal(sockets.size, 1, 'ten sequential requests share one connection');
    const head = await client.request({ url: `${base}/plain`, method: 'HEAD' });
    assert.equal(head.body.length, 0);
    await client.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const open = await new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    assert.equal(open, 0, 'close() ends the kept-alive connection');
  });
});
