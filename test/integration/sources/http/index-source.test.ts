import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { cpSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HttpChartSource, type HttpSourceOptions } from '../../../../src/sources/http/index-source.ts';
import { readChartArchive } from '../../../../src/chart/archive.ts';
import { RepoError, type Credentials, type RepositoryConfig } from '../../../../src/model/repository.ts';
import { startChartRepoServer, type ChartRepoServer, type ServerAuth } from '../../../harness/chart-repo-server.ts';
import { generateMutualTlsCerts, type MutualTlsCerts } from '../../../harness/certs.ts';
import { buildStandardRepos, packageChart, repoIndex, runHelm, scratchDir, syntheticIndexYaml, type StandardRepos } from '../../../harness/charts.ts';
import { expectRepoError } from '../../../support/repo-errors.ts';

let repos: StandardRepos;
const servers: ChartRepoServer[] = [];
const sources: HttpChartSource[] = [];

async function serve(dir: string, extra: { auth?: ServerAuth; redirectChartsTo?: string; redirects?: Record<string, string>; etag?: boolean } = {}): Promise<ChartRepoServer> {
  const s = await startChartRepoServer({ dir, ...extra });
  servers.push(s);
  return s;
}

function source(url: string, cfg: Partial<RepositoryConfig> = {}, options: HttpSourceOptions = {}): HttpChartSource {
  const s = new HttpChartSource({ name: cfg.name ?? 'main', url, priority: 0, intervalSeconds: 3600, insecureSkipTLSVerify: false, plainHTTP: false, ...cfg }, options);
  sources.push(s);
  return s;
}


before(async () => {
  repos = await buildStandardRepos();
});

after(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await Promise.all(servers.map((s) => s.close()));
});

describe('classic repository: index', () => {
  it('lists versions newest first with the digests helm wrote', async () => {
    const server = await serve(repos.main.dir);
    const src = source(server.url);
    const webapp = await src.versions('webapp');
    assert.deepEqual(webapp.map((e) => e.version), ['3.0.0-rc.1', '2.0.0', '1.2.0', '1.1.0', '1.0.0']);
    for (const e of webapp) {
      assert.equal(e.digest, repos.main.charts[`webapp-${e.version}`]?.digest);
      assert.deepEqual(e.urls, [`${server.url}/webapp-${e.version}.tgz`]);
    }
    const legacy = await src.versions('legacy');
    assert.equal(legacy[0]?.deprecated, true);
    assert.deepEqual(await src.versions('nope'), []);
    assert.equal(src.stats().charts, 2);
    assert.equal(src.stats().versions, 7);
    assert.ok(src.stats().lastFetched instanceof Date);
    assert.equal(server.requestsFor('/index.yaml').length, 1, 'the index is fetched once and cached');
    assert.equal(src.repoURL('webapp'), server.url);
  });

  it('revalidates with If-None-Match after the interval and keeps the cached index on 304', async () => {
    const server = await serve(repos.main.dir);
    let now = 1_000_000;
    const src = source(server.url, { intervalSeconds: 60 }, { now: () => now });
    const first = await src.probe();
    assert.deepEqual(first, { charts: 2, changed: true });
    now += 30_000;
    await src.versions('webapp');
    assert.equal(server.requestsFor('/index.yaml').length, 1, 'no request within the interval');
    now += 31_000;
    const list = await src.versions('webapp');
    assert.equal(list.length, 5);
    const reqs = server.requestsFor('/index.yaml');
    assert.equal(reqs.length, 2);
    assert.ok(reqs[1]?.ifNoneMatch, 'conditional request');
    assert.equal(reqs[1]?.status, 304);
    assert.equal(src.stats().lastFetched?.getTime(), now, '304 counts as fetched');
    assert.deepEqual(await src.probe(), { charts: 2, changed: false });
  });

  it('revalidates with If-Modified-Since when there is no ETag, and sees a changed index', async () => {
    const dir = scratchDir('changing');
    cpSync(repos.fork.dir, dir, { recursive: true });
    const server = await serve(dir, { etag: false });
    const src = source(server.url);
    assert.equal((await src.probe()).changed, true);
    assert.equal((await src.probe()).changed, false);
    assert.ok(server.requestsFor('/index.yaml')[1]?.ifModifiedSince);
    assert.equal(server.requestsFor('/index.yaml')[1]?.status, 304);
    await packageChart({ name: 'webapp', version: '1.3.0' }, dir);
    await repoIndex(dir);
    // Same-second mtimes would hide the change from If-Modified-Since; make it certainly newer.
    const later = new Date(Date.now() + 5000);
    execFileSync('touch', ['-d', later.toISOString(), join(dir, 'index.yaml')]);
    const probe = await src.probe();
    assert.equal(probe.changed, true);
    assert.deepEqual((await src.versions('webapp')).map((e) => e.version), ['1.3.0', '1.1.0']);
  });

  it('keeps serving the last good index when a refresh fails, while probe reports the failure', async () => {
    const server = await serve(repos.main.dir);
    let now = 5_000_000;
    const src = source(server.url, { intervalSeconds: 10 }, { now: () => now });
    assert.equal((await src.versions('webapp')).length, 5);
    server.inject({ path: '/index.yaml', status: 500 });
    now += 20_000;
    assert.equal((await src.versions('webapp')).length, 5);
    await expectRepoError(src.probe(), 'server_error');
    assert.equal(server.requestsFor('/index.yaml').length, 3);
    server.clearFaults();
    assert.deepEqual(await src.probe(), { charts: 2, changed: false });
  });

  it('shares one request between concurrent callers', async () => {
    const server = await serve(repos.main.dir);
    server.inject({ path: '/index.yaml', delayMs: 100, times: 1 });
    const src = source(server.url);
    const lists = await Promise.all([src.versions('webapp'), src.versions('legacy'), src.versions('webapp')]);
    assert.deepEqual(lists.map((l) => l.length), [5, 2, 5]);
    assert.equal(server.requestsFor('/index.yaml').length, 1);
  });

  it('accepts an index served as JSON', async () => {
    const dir = scratchDir('json');
    const { load } = await import('js-yaml');
    writeFileSync(join(dir, 'index.yaml'), JSON.stringify(load(readFileSync(repos.main.indexPath, 'utf8'))));
    const server = await serve(dir);
    assert.equal((await source(server.url).versions('webapp')).length, 5);
  });

  it('reads a big index chart by chart; a chart block that does not parse alone refuses the index as helm does', async () => {
    const dir = scratchDir('big-broken');
    const big = syntheticIndexYaml(3 * 1024 * 1024);
    const broken = big.replace('  chart-5:\n', '  chart-5:\n  - version: "1.0.0\n    x: [\n');
    const line = broken.slice(0, broken.indexOf('  - version: "1.0.0')).split('\n').length;
    writeFileSync(join(dir, 'index.yaml'), broken);
    const server = await serve(dir);
    const src = source(server.url);
    assert.equal((await src.probe()).charts, big.match(/^  chart-\d+:$/gm)?.length, 'the probe finds every chart key without parsing the blocks');
    assert.equal((await src.versions('chart-0'))[0]?.version, '3.9.1', 'a chart whose block parses answers');
    await expectRepoError(src.versions('chart-5'), 'invalid_index', new RegExp(`malformed YAML at line (${line}|${line + 1}|${line + 2}) column`));
    // Then the whole index is refused, as helm refuses it.
    await expectRepoError(src.versions('chart-0'), 'invalid_index', /malformed YAML/);
    await expectRepoError(src.probe(), 'invalid_index', /malformed YAML/);
    assert.equal(server.requestsFor('/index.yaml').length, 2, 'one download per probe, none for the whole parse');
  });

  it('refuses an index over the size limit, by Content-Length and while streaming', async () => {
    const server = await serve(repos.main.dir);
    await expectRepoError(source(server.url, {}, { maxIndexBytes: 1000 }).probe(), 'too_large', /index http:\/\/127\.0\.0\.1:\d+\/index\.yaml: response larger than the limit of 1000 bytes/);
    server.inject({ path: '/index.yaml', chunked: true, padBytes: 4 * 1024 * 1024 });
    await expectRepoError(source(server.url, {}, { maxIndexBytes: 1024 * 1024 }).probe(), 'too_large', /limit of 1048576/);
  });

  it('maps HTTP failures to stable reasons', async () => {
    const server = await serve(scratchDir('empty'));
    await expectRepoError(source(server.url).probe(), 'not_found', /repository main: index http:\/\/127\.0\.0\.1:\d+\/index\.yaml: HTTP 404/);
    server.inject({ status: 403, times: 1 });
    await expectRepoError(source(server.url).probe(), 'forbidden');
    server.inject({ status: 500, times: 1 });
    await expectRepoError(source(server.url).probe(), 'server_error');
    server.inject({ status: 418, times: 1 });
    await expectRepoError(source(server.url).probe(), 'http_error');
    const html = await serve(scratchDir('html'));
    html.inject({ path: '/index.yaml', status: 200, body: '<html>login page</html>' });
    await expectRepoError(source(html.url).probe(), 'invalid_index', /not a mapping/);
  });

  it('reports a closed port as a network error', async () => {
    const server = await serve(repos.main.dir);
    const url = server.url;
    await server.close();
    await expectRepoError(source(url).probe(), 'network', /ECONNREFUSED/);
  });

  it('times out a server that does not answer, and one that stalls mid-body', async () => {
    const server = await serve(repos.main.dir);
    server.inject({ path: '/index.yaml', delayMs: 3000, times: 1 });
    const t = performance.now();
    await expectRepoError(source(server.url, {}, { http: { timeoutMs: 300 } }).probe(), 'timeout', /timed out/);
    assert.ok(performance.now() - t < 2500);
    server.inject({ path: '/index.yaml', slowBodyMs: 3000, times: 1 });
    await expectRepoError(source(server.url, {}, { http: { timeoutMs: 300 } }).probe(), 'timeout');
  });

  it('a caller abort is an abort, not a repository failure', async () => {
    const server = await serve(repos.main.dir);
    server.inject({ path: '/index.yaml', delayMs: 2000, times: 1 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('shutting down')), 100);
    await assert.rejects(source(server.url).probe(ac.signal), (err: unknown) => err instanceof Error && !(err instanceof RepoError) && err.message === 'shutting down');
  });
});

describe('classic repository: rate limits', () => {
  it('honours 429 Retry-After and then succeeds', async () => {
    const server = await serve(repos.main.dir);
    server.inject({ path: '/index.yaml', status: 429, headers: { 'retry-after': '1' }, times: 1 });
    const t = performance.now();
    await source(server.url).probe();
    const elapsed = performance.now() - t;
    assert.ok(elapsed >= 950, `waited ${elapsed.toFixed(0)} ms`);
    assert.deepEqual(server.requestsFor('/index.yaml').map((r) => r.status), [429, 200]);
  });

  it('honours 503 Retry-After as an HTTP date', async () => {
    const server = await serve(repos.main.dir);
    server.inject({ path: '/index.yaml', status: 503, headers: { 'retry-after': new Date(Date.now() + 1500).toUTCString() }, times: 1 });
    await source(server.url).probe();
    assert.deepEqual(server.requestsFor('/index.yaml').map((r) => r.status), [503, 200]);
  });

  it('gives up at once when Retry-After exceeds the wait budget', async () => {
    const server = await serve(repos.main.dir);
    server.inject({ path: '/index.yaml', status: 429, headers: { 'retry-after': '3600' } });
    const t = performance.now();
    await expectRepoError(source(server.url).probe(), 'rate_limited', /HTTP 429 after 1 attempt \(Retry-After 3600 s, wait budget 30 s\)/);
    assert.ok(performance.now() - t < 1000);
    assert.equal(server.requestsFor('/index.yaml').length, 1);
  });

  it('a transient 502, 504 or 408 from a gateway is retried, as Helm\'s registry client retries it', async () => {
    for (const status of [502, 504, 408]) {
      const server = await serve(repos.main.dir);
      server.inject({ path: '/index.yaml', status, times: 1 });
      assert.equal((await source(server.url, {}, { http: { retry: { defaultWaitMs: 50 } } }).probe()).charts, 2);
      assert.deepEqual(server.requestsFor('/index.yaml').map((r) => r.status), [status, 200]);
    }
  });

  it('bounds the number of retries', async () => {
    const server = await serve(repos.main.dir);
    server.inject({ path: '/index.yaml', status: 503 });
    await expectRepoError(source(server.url, {}, { http: { retry: { maxRetries: 2, defaultWaitMs: 50 } } }).probe(), 'server_error', /after 3 attempts/);
    assert.equal(server.requestsFor('/index.yaml').length, 3);
  });
});

describe('classic repository: charts', () => {
  it('downloads a chart and returns the sha256 of its bytes, equal to the packaged .tgz', async () => {
    const server = await serve(repos.main.dir);
    const src = source(server.url);
    const entry = (await src.versions('webapp')).find((e) => e.version === '1.2.0');
    assert.ok(entry);
    const fetched = await src.fetchChart(entry);
    assert.equal(fetched.tarballDigest, repos.main.charts['webapp-1.2.0']?.digest);
    assert.deepEqual(fetched.bytes, repos.main.charts['webapp-1.2.0']?.bytes);
    assert.equal(fetched.manifestDigest, undefined);
    assert.equal(readChartArchive(fetched.bytes).metadata['version'], '1.2.0');
  });

  it('detects a tarball that does not match the index digest', async () => {
    const dir = scratchDir('tampered');
    cpSync(repos.main.dir, dir, { recursive: true });
    copyFileSync(repos.fork.charts['webapp-1.1.0']?.path ?? '', join(dir, 'webapp-1.1.0.tgz'));
    const server = await serve(dir);
    const src = source(server.url);
    const entry = (await src.versions('webapp')).find((e) => e.version === '1.1.0');
    assert.ok(entry);
    await expectRepoError(src.fetchChart(entry), 'digest_mismatch', new RegExp(`content digest ${repos.fork.charts['webapp-1.1.0']?.digest} differs from the index digest ${entry.digest}`));
  });

  it('fetches the .prov file when asked and the repository has one', async () => {
    const dir = scratchDir('prov');
    cpSync(repos.main.dir, dir, { recursive: true });
    writeFileSync(join(dir, 'webapp-1.0.0.tgz.prov'), '-----BEGIN PGP SIGNED MESSAGE-----\n');
    const server = await serve(dir);
    const src = source(server.url, {}, { fetchProvenance: true });
    const list = await src.versions('webapp');
    const withProv = await src.fetchChart(list.find((e) => e.version === '1.0.0') ?? assert.fail());
    assert.match(withProv.provenance?.toString() ?? '', /PGP SIGNED/);
    const without = await src.fetchChart(list.find((e) => e.version === '2.0.0') ?? assert.fail());
    assert.equal(without.provenance, undefined);
  });
});

describe('classic repository: credentials', () => {
  const basic: Credentials = { kind: 'basic', username: 'reader', password: 's3cret-pass' };
  const bearer: Credentials = { kind: 'bearer', token: 'tok-abcdef-123456' };

  it('basic auth: refused without credentials, works with them, and never shows them', async () => {
    const server = await serve(repos.main.dir, { auth: { kind: 'basic', username: 'reader', password: 's3cret-pass' } });
    const err = await expectRepoError(source(server.url).probe(), 'unauthorized', /HTTP 401/);
    assert.doesNotMatch(err.message, /s3cret/);
    const bad = await expectRepoError(source(server.url, { credentials: { ...basic, password: 'wrong' } }).probe(), 'unauthorized');
    assert.doesNotMatch(bad.message, /wrong|reader/);
    const src = source(server.url, { credentials: basic });
    const entry = (await src.versions('webapp'))[0];
    assert.ok(entry);
    assert.equal((await src.fetchChart(entry)).tarballDigest, entry.digest);
    assert.ok(server.requests.filter((r) => r.status === 200).every((r) => r.authorization));
  });

  it('basic auth from URL userinfo, redacted in repoURL and errors', async () => {
    const server = await serve(repos.main.dir, { auth: { kind: 'basic', username: 'reader', password: 's3cret-pass' } });
    const url = server.url.replace('http://', 'http://reader:s3cret-pass@');
    const src = source(url);
    assert.equal((await src.versions('webapp')).length, 5);
    assert.equal(src.repoURL('webapp'), server.url);
    server.inject({ status: 500 });
    const err = await expectRepoError(src.probe(), 'server_error');
    assert.doesNotMatch(err.message, /s3cret|reader/);
  });

  it('bearer auth', async () => {
    const server = await serve(repos.main.dir, { auth: { kind: 'bearer', token: 'tok-abcdef-123456' } });
    await expectRepoError(source(server.url, { credentials: { kind: 'bearer', token: 'other' } }).probe(), 'unauthorized');
    const src = source(server.url, { credentials: bearer });
    assert.equal((await src.probe()).charts, 2);
  });

  it('a redirect to another host (port) drops the credentials', async () => {
    const other = await serve(repos.main.dir);
    const server = await serve(repos.main.dir, { auth: { kind: 'basic', username: 'reader', password: 's3cret-pass' }, redirectChartsTo: other.url });
    const src = source(server.url, { credentials: basic });
    const entry = (await src.versions('webapp'))[0];
    assert.ok(entry);
    const fetched = await src.fetchChart(entry);
    assert.equal(fetched.tarballDigest, entry.digest);
    assert.equal(server.requestsFor('/index.yaml')[0]?.authorization, true, 'the repository itself gets the credentials');
    assert.equal(server.requestsFor(`/webapp-${entry.version}.tgz`)[0]?.status, 302);
    const downstream = other.requestsFor(`/webapp-${entry.version}.tgz`);
    assert.equal(downstream.length, 1);
    assert.equal(downstream[0]?.authorization, false, 'credentials never reach the other host');
  });

  it('an index pointing charts at another host does not get the credentials sent there', async () => {
    const other = await serve(repos.fork.dir);
    const dir = scratchDir('abs');
    cpSync(repos.fork.dir, dir, { recursive: true });
    await repoIndex(dir, other.url);
    const server = await serve(dir, { auth: { kind: 'bearer', token: 'tok-abcdef-123456' } });
    const src = source(server.url, { credentials: bearer });
    const entry = (await src.versions('webapp'))[0];
    assert.ok(entry);
    assert.equal(entry.urls[0], `${other.url}/webapp-1.1.0.tgz`);
    await src.fetchChart(entry);
    assert.equal(other.requestsFor('/webapp-1.1.0.tgz')[0]?.authorization, false);
    // With Helm's pass_credentials_all (helm repo add --pass-credentials) they are.
    const passing = source(server.url, { name: 'passing', credentials: bearer, passCredentials: true });
    const again = (await passing.versions('webapp'))[0];
    assert.ok(again);
    await passing.fetchChart(again);
    assert.equal(other.requestsFor('/webapp-1.1.0.tgz')[1]?.authorization, true);
  });

  it('a redirect back and forth on the same origin keeps credentials; loops are cut', async () => {
    const server = await serve(repos.main.dir, { auth: { kind: 'bearer', token: 'tok-abcdef-123456' }, redirects: { '/moved/index.yaml': '/index.yaml', '/loop/index.yaml': '/loop/index.yaml' } });
    const src = source(`${server.url}/moved`, { credentials: bearer });
    assert.equal((await src.probe()).charts, 2);
    assert.equal(server.requestsFor('/index.yaml')[0]?.authorization, true);
    await expectRepoError(source(`${server.url}/loop`, { credentials: bearer }).probe(), 'redirect', /more than 5 redirects/);
  });
});

describe('classic repository: TLS', () => {
  let httpsUrl = '';
  let caPem = '';
  let close: () => Promise<void> = async () => undefined;

  before(async () => {
    const dir = scratchDir('tls');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=chartorigin-test-ca', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    caPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const index = readFileSync(repos.main.indexPath);
    const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: caPem }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/yaml' });
      res.end(index);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    httpsUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    };
  });
  after(() => close());

  it('refuses an untrusted certificate with reason tls', async () => {
    await expectRepoError(source(httpsUrl).probe(), 'tls', /TLS error/);
  });
  it('trusts the configured CA', async () => {
    assert.equal((await source(httpsUrl, { caPem }).probe()).charts, 2);
  });
  it('trusts it in a bundle where it follows a block Node alone would stop at, as Go\'s pool takes the bundle (Helm, Flux)', async () => {
    const corrupt = caPem.replace(/\n([A-Za-z0-9+/]{20})/, '\n!!!!$1');
    const headers = caPem.replace('-----BEGIN CERTIFICATE-----\n', '-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\n');
    for (const bundle of [`${corrupt}${caPem}`, `${headers}${caPem}`, caPem.replace('-----BEGIN CERTIFICATE-----', '-----BEGIN CERTIFICATE-----  ')]) {
      assert.equal((await source(httpsUrl, { caPem: bundle }).probe()).charts, 2);
    }
  });
  it('skips verification when told to', async () => {
    assert.equal((await source(httpsUrl, { insecureSkipTLSVerify: true }).probe()).charts, 2);
  });
});

describe('classic repository behind mutual TLS (the server requires a client certificate of its CA)', () => {
  let server: ChartRepoServer;
  let certs: MutualTlsCerts;
  const pem = (p: string): string => readFileSync(p, 'utf8');

  before(async () => {
    certs = generateMutualTlsCerts(scratchDir('mtls'));
    server = await startChartRepoServer({ dir: repos.main.dir, tls: { cert: pem(certs.server.cert), key: pem(certs.server.key), clientCa: pem(certs.ca.cert) } });
    servers.push(server);
  });

  it('with the client certificate: index and chart download succeed, and the server saw that certificate', async () => {
    server.requests.length = 0;
    const src = source(server.url, { caPem: pem(certs.ca.cert), clientCertificate: { certPem: pem(certs.client.cert), keyPem: pem(certs.client.key) } });
    assert.equal((await src.probe()).charts, 2);
    const entry = (await src.versions('webapp')).find((e) => e.version === '1.2.0') ?? assert.fail();
    const fetched = await src.fetchChart(entry);
    assert.equal(fetched.tarballDigest, repos.main.charts['webapp-1.2.0']?.digest);
    assert.deepEqual(server.requests.map((r) => [r.path, r.status, r.clientCertificate]), [
      ['/index.yaml', 200, 'chart-reader'],
      ['/webapp-1.2.0.tgz', 200, 'chart-reader'],
    ]);
  });

  it('without one: a TLS error that says the server wants a client certificate; nothing reached the server', async () => {
    server.requests.length = 0;
    await expectRepoError(source(server.url, { caPem: pem(certs.ca.cert) }).probe(), 'tls', /TLS error \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\): the server requires a TLS client certificate and none is configured$/);
    assert.deepEqual(server.requests, []);
  });

  it('with a certificate of another CA: refused (Node closes the connection), nothing reached the server', async () => {
    server.requests.length = 0;
    const src = source(server.url, { caPem: pem(certs.ca.cert), clientCertificate: { certPem: pem(certs.stranger.cert), keyPem: pem(certs.stranger.key) } });
    await assert.rejects(src.probe(), (e: unknown) => e instanceof RepoError && (e.reason === 'network' || e.reason === 'tls') && !e.message.includes('BEGIN'));
    assert.deepEqual(server.requests, []);
  });
});

describe('a chart tarball served with Content-Encoding: gzip (Bitbucket, object stores with the header set)', () => {
  it('is taken as served, as helm takes it: the .tgz itself, its digest the index digest', async () => {
    const dir = repos.main.dir;
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => {
      const path = join(dir, decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/'));
      let body: Buffer;
      try {
        body = readFileSync(path);
      } catch {
        res.writeHead(404);
        res.end();
        return;
      }
      // The header describes the .tgz's own gzip layer, not an encoding applied for transfer.
      res.writeHead(200, path.endsWith('.tgz') ? { 'content-type': 'application/x-tar', 'content-encoding': 'gzip' } : { 'content-type': 'application/yaml' });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const src = source(url, { name: 'encoded' });
      const entry = (await src.versions('webapp'))[0];
      assert.ok(entry);
      const fetched = await src.fetchChart(entry);
      assert.equal(fetched.tarballDigest, entry.digest);
      // The oracle: helm pulls the same bytes from the same server.
      const out = scratchDir('encoded-pull');
      await runHelm(['pull', `${url}/webapp-${entry.version}.tgz`, '--destination', out]);
      assert.deepEqual(readFileSync(join(out, `webapp-${entry.version}.tgz`)), fetched.bytes);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
