/**
 * The referrers API's paging (Link: rel="next", bounded), OCI-Filters-Applied and a registry answering
 * nonsense, against a small loopback server speaking the distribution API (the real registries here
 * neither page referrers nor apply filters).
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { OciChartSource } from '../../../../src/sources/oci/oci-source.ts';
import { listReferrers } from '../../../../src/sources/oci/referrers.ts';

const SUBJECT = `sha256:${'1'.repeat(64)}`;
const d = (n: number): string => `sha256:${createHash('sha256').update(String(n)).digest('hex')}`;
const SPDX = 'application/spdx+json';
const SIG = 'application/vnd.cncf.notary.signature';

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;
let handler: Handler = (_req, res) => res.writeHead(404).end();
let host = '';
const server = createServer((req, res) => handler(req, res, new URL(req.url ?? '/', 'http://x')));
const requests: string[] = [];
let s: OciChartSource;

before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  s = new OciChartSource({ name: 'fake', url: `oci://${host}/charts`, priority: 0, intervalSeconds: 0, insecureSkipTLSVerify: false, plainHTTP: true });
});
after(async () => {
  await s.close();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

function index(from: number, to: number, type: (n: number) => string): string {
  const manifests = [];
  for (let n = from; n < to; n++) manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d(n), size: 100, artifactType: type(n) });
  return JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests });
}

function serve(pages: number, perPage: number, extra: Record<string, string> = {}): void {
  requests.length = 0;
  handler = (req, res, url) => {
    requests.push(url.pathname + url.search);
    if (url.pathname === `/v2/charts/c/referrers/${SUBJECT}`) {
      const page = Number(url.searchParams.get('page') ?? '0');
      const headers: Record<string, string> = { 'content-type': 'application/vnd.oci.image.index.v1+json', ...extra };
      if (page + 1 < pages) headers['link'] = `</v2/charts/c/referrers/${SUBJECT}?page=${page + 1}>; rel="next"`;
      res.writeHead(200, headers).end(index(page * perPage, (page + 1) * perPage, (n) => (n % 2 ? SIG : SPDX)));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
    void req;
  };
}

describe('referrers API paging and filters', () => {
  it('follows Link pages, caps the listed referrers and says how many there are', async () => {
    serve(3, 10);
    const r = await listReferrers(s.client, 'charts/c', SUBJECT, { maxListed: 5 });
    assert.equal(r.total, 30);
    assert.equal(r.referrers.length, 5);
    assert.ok(r.referrers.every((x) => x.kind === 'signature'), 'signatures are listed first');
    assert.equal(r.note, '30 referrers, 5 listed');
    assert.equal(requests.filter((p) => p.includes('/referrers/')).length, 3);
    // cosign tags were looked up too (404 here), the tag schema was not (the API answered)
    assert.equal(requests.filter((p) => p.includes('.sig') || p.includes('.att') || p.includes('.sbom')).length, 3);
    assert.equal(requests.filter((p) => p.endsWith(`/manifests/${SUBJECT.replace(':', '-')}`)).length, 0);
  });

  it('stops at the page bound with a note instead of following a registry forever', async () => {
    serve(1000, 1);
    const r = await listReferrers(s.client, 'charts/c', SUBJECT, { maxPages: 4 });
    assert.deepEqual(r.referrers, []);
    assert.match(r.note ?? '', /referrers lookup failed \(too_large: .*more than 4 pages\)/);
    assert.equal(requests.filter((p) => p.includes('/referrers/')).length, 4);
  });

  it('filters client-side unless OCI-Filters-Applied says the registry did', async () => {
    serve(1, 6);
    const mine = await listReferrers(s.client, 'charts/c', SUBJECT, { artifactType: SPDX });
    assert.deepEqual(mine.referrers.map((x) => x.artifactType), [SPDX, SPDX, SPDX]);
    assert.ok(requests.some((p) => p.includes(`artifactType=${encodeURIComponent(SPDX)}`)));
    serve(1, 6, { 'oci-filters-applied': 'artifactType' });
    const theirs = await listReferrers(s.client, 'charts/c', SUBJECT, { artifactType: SPDX });
    assert.equal(theirs.total, 6, 'a registry that says it filtered is believed');
  });

  it('a referrers answer that is not an index is a note, never an exception', async () => {
    handler = (_req, res, url) => {
      if (url.pathname.includes('/referrers/')) res.writeHead(200, { 'content-type': 'application/json' }).end('{"hello":"world"}');
      else res.writeHead(404).end();
    };
    const r = await listReferrers(s.client, 'charts/c', SUBJECT);
    assert.deepEqual(r.referrers, []);
    assert.match(r.note ?? '', /invalid_manifest: .*not an image index/);
  });
});

describe('tag digest for the moved-tag check', () => {
  const body = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] });
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const methods: string[] = [];
  function manifests(head: (res: ServerResponse) => void): void {
    methods.length = 0;
    handler = (req, res, url) => {
      if (url.pathname !== '/v2/charts/c/manifests/1.0.0') return void res.writeHead(404).end();
      methods.push(req.method ?? '');
      if (req.method === 'HEAD') return head(res);
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(body);
    };
  }

  it('uses HEAD and Docker-Content-Digest when the registry gives it', async () => {
    manifests((res) => res.writeHead(200, { 'docker-content-digest': digest, 'content-length': String(body.length) }).end());
    assert.equal(await s.client.tagDigest('charts/c', '1.0.0', { maxBytes: 1 << 20 }), digest);
    assert.deepEqual(methods, ['HEAD']);
  });

  it('falls back to GET and hashes the body when HEAD is refused or names no digest; undefined when the tag is gone', async () => {
    manifests((res) => res.writeHead(405).end());
    assert.equal(await s.client.tagDigest('charts/c', '1.0.0', { maxBytes: 1 << 20 }), digest);
    assert.deepEqual(methods, ['HEAD', 'GET']);
    manifests((res) => res.writeHead(200).end());
    assert.equal(await s.client.tagDigest('charts/c', '1.0.0', { maxBytes: 1 << 20 }), digest);
    assert.deepEqual(methods, ['HEAD', 'GET']);
    assert.equal(await s.client.tagDigest('charts/c', '9.9.9', { maxBytes: 1 << 20 }), undefined);
  });
});
