import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OciChartSource, type OciSourceOptions } from '../../../../src/sources/oci/oci-source.ts';
import { createChartSource } from '../../../../src/sources/source.ts';
import { readChartArchive } from '../../../../src/chart/archive.ts';
import type { RepositoryConfig } from '../../../../src/model/repository.ts';
import { buildStandardRepos, packageChart, pushChart, runHelm, scratchDir, sha256Digest, type StandardRepos } from '../../../harness/charts.ts';
import { generateMutualTlsCerts, type MutualTlsCerts } from '../../../harness/certs.ts';
import { issueRefreshToken, issueRegistryToken, startRegistry, type Registry } from '../../../harness/registry.ts';
import { refreshTokenForm } from '../../../../src/sources/oci/client.ts';
import { expectRepoError } from '../../../support/repo-errors.ts';

const sources: OciChartSource[] = [];
const registries: Registry[] = [];

function source(url: string, cfg: Partial<RepositoryConfig> = {}, options: OciSourceOptions = {}): OciChartSource {
  const s = new OciChartSource({ name: cfg.name ?? 'oci', url, priority: 0, intervalSeconds: 3600, insecureSkipTLSVerify: false, plainHTTP: true, ...cfg }, options);
  sources.push(s);
  return s;
}

async function registry(options: Parameters<typeof startRegistry>[0] = {}): Promise<Registry> {
  const r = await startRegistry(options);
  registries.push(r);
  return r;
}


const sha = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Uploads a blob and a manifest with any media type straight through the distribution API. */
async function putRaw(host: string, name: string, tag: string, manifest: object, mediaType: string, blobs: Buffer[]): Promise<string> {
  for (const blob of blobs) {
    const start = await fetch(`http://${host}/v2/${name}/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202);
    const loc = new URL(start.headers.get('location') ?? '', `http://${host}`);
    loc.searchParams.set('digest', sha(blob));
    const put = await fetch(loc, { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(put.status, 201, await put.text());
  }
  const body = Buffer.from(JSON.stringify(manifest));
  const res = await fetch(`http://${host}/v2/${name}/manifests/${tag}`, { method: 'PUT', body, headers: { 'content-type': mediaType } });
  assert.equal(res.status, 201, await res.text());
  return sha(body);
}

after(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await Promise.all(registries.map((r) => r.close()));
});

describe('OCI registry without auth (helm push to a real docker-registry)', () => {
  let reg: Registry;
  let repos: StandardRepos;
  let prefix: string;

  before(async () => {
    reg = await registry();
    prefix = `${reg.url}/charts`;
    repos = await buildStandardRepos({ registry: { url: prefix } });
  });

  it('lists strict-semver tags newest first with oci:// URLs', async () => {
    const src = source(prefix);
    const list = await src.versions('ocichart');
    assert.deepEqual(list.map((e) => e.version), ['1.1.0', '1.0.0']);
    assert.deepEqual(list[0]?.urls, [`${prefix}/ocichart:1.1.0`]);
    assert.equal(src.repoURL('ocichart'), `${prefix}/ocichart`);
    assert.deepEqual(await src.versions('absent'), []);
    assert.deepEqual(await src.versions('Not_A_Valid/Name'), []);
  });

  it('details come from the manifest and config: layer digest, created, appVersion', async () => {
    const src = source(prefix);
    const [entry] = await src.versions('ocichart');
    assert.ok(entry);
    const d = await src.details(entry);
    const pushed = repos.oci?.['ocichart-1.1.0'];
    assert.ok(pushed);
    assert.equal(d.digest, pushed.chart.digest, 'the layer digest is the sha256 of the .tgz');
    assert.equal(d.appVersion, '1.1.0');
    assert.equal(d.deprecated, false);
    assert.match(d.created ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    assert.ok(Math.abs(Date.parse(d.created ?? '') - Date.now()) < 10 * 60_000);
  });

  it('details carry the publisher notes of the chart config: artifacthub.io annotations, home, first source', async () => {
    const chart = await packageChart({ name: 'noted', version: '1.0.0', home: 'https://example.com/noted', annotations: { 'artifacthub.io/containsSecurityUpdates': 'true', 'artifacthub.io/prerelease': 'true', 'artifacthub.io/changes': '- kind: fixed\n  description: A fix' } }, scratchDir('noted'));
    await pushChart(chart.path, prefix);
    const src = source(prefix);
    const [entry] = await src.versions('noted');
    assert.ok(entry);
    assert.equal(entry.notes, undefined, 'a tag list says nothing but the version');
    const d = await src.details(entry);
    assert.deepEqual(d.notes, { changes: '- kind: fixed\n  description: A fix', securityUpdates: true, prerelease: true, home: 'https://example.com/noted' });
  });

  it('fetchChart returns the layer bytes, the tarball digest and the manifest digest helm printed', async () => {
    const src = source(prefix);
    for (const key of ['ocichart-1.0.0', 'webapp-1.2.0'] as const) {
      const pushed = repos.oci?.[key];
      assert.ok(pushed);
      const entry = (await src.versions(pushed.chart.spec.name)).find((e) => e.version === pushed.chart.spec.version);
      assert.ok(entry);
      const fetched = await src.fetchChart(entry);
      assert.equal(fetched.manifestDigest, pushed.manifestDigest);
      assert.equal(fetched.tarballDigest, pushed.chart.digest);
      assert.equal(fetched.tarballDigest, sha(fetched.bytes));
      assert.deepEqual(fetched.bytes, pushed.chart.bytes);
      assert.equal(readChartArchive(fetched.bytes).metadata['name'], pushed.chart.spec.name);
    }
    // The same package in the classic repository and in the registry has one tarball digest.
    assert.equal(repos.oci?.['webapp-1.2.0']?.chart.digest, repos.main.charts['webapp-1.2.0']?.digest);
  });

  it('maps tags with _ back to + (build metadata) and skips non-semver tags', async () => {
    const chart = await packageChart({ name: 'buildmeta', version: '2.0.0+build.7', appVersion: '2.0.0' }, scratchDir('bm'));
    const pushed = await pushChart(chart.path, prefix);
    assert.match(pushed.ref, /buildmeta:2\.0\.0_build\.7$/);
    const other = await packageChart({ name: 'buildmeta', version: '1.0.0' }, scratchDir('bm'));
    await pushChart(other.path, prefix);
    const manifest = await (await fetch(`http://${reg.host}/v2/charts/buildmeta/manifests/1.0.0`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json();
    for (const tag of ['latest', 'v3.0.0', '4.0']) await putRaw(reg.host, 'charts/buildmeta', tag, manifest as object, 'application/vnd.oci.image.manifest.v1+json', []);
    const src = source(prefix);
    const list = await src.versions('buildmeta');
    assert.deepEqual(list.map((e) => e.version), ['2.0.0+build.7', '1.0.0']);
    assert.deepEqual(list[0]?.urls, [`${prefix}/buildmeta:2.0.0_build.7`]);
    const fetched = await src.fetchChart(list[0] ?? assert.fail());
    assert.equal(fetched.manifestDigest, pushed.manifestDigest);
    assert.equal(fetched.tarballDigest, chart.digest);
  });

  it('asks for a page size without breaking a registry that ignores it', async () => {
    // distribution 2.8 ignores ?n= on tags/list (paging came in v3); the paging itself is tested against a
    // scripted registry below.
    for (const v of ['0.1.0', '0.2.0', '0.3.0']) await pushChart((await packageChart({ name: 'paged', version: v }, scratchDir('pg'))).path, prefix);
    assert.deepEqual((await source(prefix, {}, { tagPageSize: 1, maxTagPages: 1 }).versions('paged')).map((e) => e.version), ['0.3.0', '0.2.0', '0.1.0']);
  });

  it('refuses a manifest that is not an OCI image manifest, and one without a Helm layer', async () => {
    const config = Buffer.from('{"name":"odd","version":"1.0.0"}');
    const layer = Buffer.from('not a chart');
    const docker = {
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: sha(layer), size: layer.length }],
    };
    await putRaw(reg.host, 'charts/odd', '1.0.0', docker, docker.mediaType, [config, layer]);
    const src = source(prefix);
    const [entry] = await src.versions('odd');
    assert.ok(entry);
    await expectRepoError(src.details(entry), 'invalid_manifest', /is not an OCI image manifest/);
    const image = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
    };
    await putRaw(reg.host, 'charts/odd', '2.0.0', image, image.mediaType, [config, layer]);
    await expectRepoError(src.details({ ...entry, version: '2.0.0', urls: [] }), 'invalid_manifest', /no Helm chart layer/);
  });

  it('probe checks the registry and notices new tags of charts already looked up', async () => {
    const src = source(prefix);
    assert.deepEqual(await src.probe(), { charts: 0, changed: true });
    await src.versions('probed').catch(() => undefined);
    await src.versions('ocichart');
    assert.deepEqual(await src.probe(), { charts: 2, changed: false });
    await pushChart((await packageChart({ name: 'probed', version: '0.0.1' }, scratchDir('pr'))).path, prefix);
    assert.deepEqual(await src.probe(), { charts: 2, changed: true });
    assert.deepEqual((await src.versions('probed')).map((e) => e.version), ['0.0.1']);
  });

  it('createChartSource picks the OCI client for oci:// URLs', () => {
    const s = createChartSource({ name: 'x', url: prefix, priority: 0, intervalSeconds: 60, insecureSkipTLSVerify: false, plainHTTP: true });
    assert.equal(s.kind, 'oci');
    sources.push(s as OciChartSource);
    const h = createChartSource({ name: 'y', url: 'https://charts.example.com', priority: 0, intervalSeconds: 60, insecureSkipTLSVerify: false, plainHTTP: false });
    assert.equal(h.kind, 'http');
    assert.throws(() => createChartSource({ name: 'z', url: 'ftp://x', priority: 0, intervalSeconds: 60, insecureSkipTLSVerify: false, plainHTTP: false }), /unsupported URL scheme ftp:/);
  });
});

describe('OCI registry with htpasswd (Basic) auth', () => {
  let reg: Registry;
  let prefix: string;
  let digest = '';
  let manifestDigest = '';

  before(async () => {
    reg = await registry({ htpasswd: [{ username: 'pusher', password: 'push-secret-1' }] });
    prefix = `${reg.url}/private`;
    const chart = await packageChart({ name: 'secretchart', version: '1.0.0', appVersion: '9.9' }, scratchDir('ht'));
    digest = chart.digest;
    manifestDigest = (await pushChart(chart.path, prefix, { username: 'pusher', password: 'push-secret-1' })).manifestDigest;
  });

  it('is refused without credentials or with wrong ones, without echoing them', async () => {
    await expectRepoError(source(prefix).versions('secretchart'), 'unauthorized', /requires credentials/);
    const err = await expectRepoError(source(prefix, { credentials: { kind: 'basic', username: 'pusher', password: 'wrong-pass' } }).versions('secretchart'), 'unauthorized', /credentials refused/);
    assert.doesNotMatch(err.message, /wrong-pass|pusher/);
    await expectRepoError(source(prefix).probe(), 'unauthorized');
  });

  it('pulls with credentials (from config or URL userinfo)', async () => {
    for (const src of [source(prefix, { credentials: { kind: 'basic', username: 'pusher', password: 'push-secret-1' } }), source(prefix.replace('oci://', 'oci://pusher:push-secret-1@'))]) {
      const [entry] = await src.versions('secretchart');
      assert.ok(entry);
      const d = await src.details(entry);
      assert.equal(d.appVersion, '9.9');
      const fetched = await src.fetchChart(d);
      assert.equal(fetched.tarballDigest, digest);
      assert.equal(fetched.manifestDigest, manifestDigest);
      assert.equal((await src.probe()).charts, 1);
      assert.doesNotMatch(src.repoURL('secretchart'), /push-secret|pusher/);
    }
  });
});

describe('OCI registry behind mutual TLS (distribution with http.tls.clientcas), differential against helm pull', () => {
  let reg: Registry;
  let prefix: string;
  let certs: MutualTlsCerts;
  let digest = '';
  let manifestDigest = '';
  const pem = (p: string): string => readFileSync(p, 'utf8');
  const tlsSource = (client: 'client' | 'stranger' | undefined): OciChartSource =>
    source(prefix, { plainHTTP: false, caPem: pem(certs.ca.cert), ...(client ? { clientCertificate: { certPem: pem(certs[client].cert), keyPem: pem(certs[client].key) } } : {}) });

  before(async () => {
    certs = generateMutualTlsCerts(scratchDir('oci-mtls'));
    reg = await registry({ tls: { certs, requireClientCert: true } });
    prefix = `${reg.url}/secure`;
    const chart = await packageChart({ name: 'mtlschart', version: '1.0.0', appVersion: '2.0' }, scratchDir('oci-mtls-chart'));
    digest = chart.digest;
    manifestDigest = (await pushChart(chart.path, prefix, { tls: { caFile: certs.ca.cert, certFile: certs.client.cert, keyFile: certs.client.key } })).manifestDigest;
  });

  it('with the client certificate: tags, manifest and chart blob, the bytes helm pull gets', async () => {
    const src = tlsSource('client');
    const [entry] = await src.versions('mtlschart');
    assert.equal(entry?.version, '1.0.0');
    const d = await src.details(entry ?? assert.fail());
    assert.equal(d.appVersion, '2.0');
    const fetched = await src.fetchChart(d);
    assert.equal(fetched.tarballDigest, digest);
    assert.equal(fetched.manifestDigest, manifestDigest);
    assert.equal((await src.probe()).charts, 1);
    const out = scratchDir('oci-mtls-pull');
    await runHelm(['pull', `${prefix}/mtlschart`, '--version', '1.0.0', '--destination', out, '--ca-file', certs.ca.cert, '--cert-file', certs.client.cert, '--key-file', certs.client.key]);
    assert.equal(sha256Digest(readFileSync(join(out, 'mtlschart-1.0.0.tgz'))), fetched.tarballDigest);
  });

  it('without one, as helm pull without --cert-file: refused in the handshake, said as such', async () => {
    await assert.rejects(runHelm(['pull', `${prefix}/mtlschart`, '--version', '1.0.0', '--destination', scratchDir('oci-mtls-nopull'), '--ca-file', certs.ca.cert]), /bad certificate|certificate required/i);
    await expectRepoError(tlsSource(undefined).versions('mtlschart'), 'tls', /TLS error \(ERR_SSL_[A-Z0-9/_]+_ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED)\): the server requires a TLS client certificate and none is configured$/);
    await expectRepoError(tlsSource(undefined).probe(), 'tls', /none is configured/);
  });

  it('with a certificate of another CA: refused, and the message says the certificate was not accepted', async () => {
    const err = await expectRepoError(tlsSource('stranger').versions('mtlschart'), 'tls', /the server did not accept the client certificate$/);
    assert.doesNotMatch(err.message, /BEGIN|PRIVATE/);
  });
});

describe('OCI registry with token auth (real JWTs, Bearer challenge flow)', () => {
  const users = [{ username: 'ci', password: 'ci-secret-2' }];

  it('anonymous pull: a token per scope, cached until it expires', async () => {
    const reg = await registry({ token: { users, anonymousPull: true, expiresInSeconds: 300 } });
    const prefix = `${reg.url}/pub`;
    const chart = await packageChart({ name: 'tokchart', version: '1.0.0' }, scratchDir('tk'));
    const pushed = await pushChart(chart.path, prefix, { username: 'ci', password: 'ci-secret-2' });
    const pushTokens = reg.tokenRequests.length;
    let now = Date.now();
    const src = source(prefix, {}, { now: () => now });
    const [entry] = await src.versions('tokchart');
    assert.ok(entry);
    const fetched = await src.fetchChart(entry);
    assert.equal(fetched.tarballDigest, chart.digest);
    assert.equal(fetched.manifestDigest, pushed.manifestDigest);
    const ours = reg.tokenRequests.slice(pushTokens);
    assert.equal(ours.length, 1, 'one token for tags, manifest, config and layer');
    assert.deepEqual(ours[0]?.scope, ['repository:pub/tokchart:pull']);
    assert.equal(ours[0]?.account, undefined, 'anonymous');
    assert.equal(ours[0]?.service, 'chartorigin-test-registry');
    now += 400_000;
    await src.probe();
    // The renewed token is dated by the token service's real clock, 400 s behind this test's clock, so the
    // probe's tag re-check (HEAD of the tag read before, for moved tags) asks once more.
    assert.equal(reg.tokenRequests.length - pushTokens, 4, 'an expired token is renewed (plus one for the /v2/ ping and one for the tag re-check)');
  });

  it('private pull: credentials are sent to the token service as Basic; access_token field accepted', async () => {
    const reg = await registry({ token: { users, anonymousPull: false, field: 'access_token' } });
    const prefix = `${reg.url}/priv`;
    const chart = await packageChart({ name: 'tokpriv', version: '0.1.0', deprecated: true }, scratchDir('tp'));
    await pushChart(chart.path, prefix, { username: 'ci', password: 'ci-secret-2' });
    await expectRepoError(source(prefix).versions('tokpriv'), 'unauthorized', /token/);
    await expectRepoError(source(prefix, { credentials: { kind: 'basic', username: 'ci', password: 'nope' } }).versions('tokpriv'), 'unauthorized');
    const src = source(prefix, { credentials: { kind: 'basic', username: 'ci', password: 'ci-secret-2' } });
    const [entry] = await src.versions('tokpriv');
    assert.ok(entry);
    const d = await src.details(entry);
    assert.equal(d.deprecated, true);
    assert.equal((await src.fetchChart(d)).tarballDigest, chart.digest);
    assert.equal(reg.tokenRequests.at(-1)?.account, 'ci');
  });
});

describe('OCI registry with an identity token (OAuth2 refresh-token grant at the real token service)', () => {
  const users = [{ username: 'ci', password: 'ci-secret-3' }];
  const SERVICE = 'chartorigin-test-registry';

  /** A private registry with `idchart` pushed under `prefix`, and a refresh token issued for `ci`. */
  async function privateRegistry(extra: { oauth2Status?: number } = {}): Promise<{ reg: Registry; prefix: string; digest: string; refresh: string }> {
    const reg = await registry({ token: { users, anonymousPull: false, ...extra } });
    const prefix = `${reg.url}/idp`;
    const chart = await packageChart({ name: 'idchart', version: '1.0.0' }, scratchDir('id'));
    await pushChart(chart.path, prefix, users[0]);
    // Without OAuth2 the token service cannot issue one; any opaque string stands in (it is refused anyway).
    const refresh = extra.oauth2Status === undefined ? await issueRefreshToken(reg, users[0] ?? { username: '', password: '' }) : 'opaque-refresh-token-XYZ';
    reg.tokenRequests.length = 0;
    return { reg, prefix, digest: chart.digest, refresh };
  }

  it('pulls a private chart: POST realm with the refresh token as Helm 3.18+/4 send it, one access token for all requests', async () => {
    const { reg, prefix, digest, refresh } = await privateRegistry();
    await expectRepoError(source(prefix).versions('idchart'), 'unauthorized');
    reg.tokenRequests.length = 0;
    const src = source(prefix, { credentials: { kind: 'refresh', token: refresh } });
    const [entry] = await src.versions('idchart');
    assert.ok(entry);
    assert.equal((await src.fetchChart(await src.details(entry))).tarballDigest, digest);
    assert.equal(reg.tokenRequests.length, 1, 'tags, manifest, config and layer share one access token');
    const [t] = reg.tokenRequests;
    assert.equal(t?.method, 'POST');
    assert.equal(t?.granted, true);
    assert.equal(t?.account, 'ci', 'the refresh token stands for the user that got it');
    assert.equal(t?.contentType, 'application/x-www-form-urlencoded');
    assert.deepEqual(t?.form, { client_id: 'oras-go', grant_type: 'refresh_token', refresh_token: refresh, scope: 'repository:idp/idchart:pull', service: SERVICE });
    assert.equal(t?.rawForm, refreshTokenForm(refresh, SERVICE, ['repository:idp/idchart:pull']));
    assert.equal(t?.basicUser, undefined, 'no Basic header to the token service');
    await src.probe();
    assert.ok(reg.tokenRequests.every((r) => r.method === 'POST' && r.form?.['grant_type'] === 'refresh_token'));
  });

  it('a refresh token the service does not know is refused: unauthorized, no GET fallback, the token in no message', async () => {
    const { reg, prefix } = await privateRegistry();
    const wrong = 'bm90LWEtcmVhbC1yZWZyZXNoLXRva2Vu-wrong';
    const err = await expectRepoError(source(prefix, { credentials: { kind: 'refresh', token: wrong } }).versions('idchart'), 'unauthorized', /refused the identity token \(HTTP 400\)/);
    assert.doesNotMatch(`${err.message} ${String(err.cause ?? '')}`, /wrong/);
    assert.deepEqual(reg.tokenRequests.map((r) => [r.method, r.granted]), [['POST', false]]);
  });

  for (const status of [404, 405]) {
    it(`a token service without the OAuth2 POST (HTTP ${status}) is not asked again by GET, as oras-go v2 does not`, async () => {
      const { reg, prefix, refresh } = await privateRegistry({ oauth2Status: status });
      const err = await expectRepoError(source(prefix, { credentials: { kind: 'refresh', token: refresh } }).versions('idchart'), 'unauthorized', new RegExp(`does not take the OAuth2 POST an identity token needs \\(HTTP ${status}\\)`));
      assert.doesNotMatch(err.message, /opaque-refresh/);
      assert.deepEqual(reg.tokenRequests.map((r) => r.method), ['POST']);
    });
  }
});

describe('OCI registry with a registry token (registrytoken: an access token sent as it is, as oras-go v2 sends it)', () => {
  const users = [{ username: 'ci', password: 'ci-secret-5' }];

  it('a Bearer challenge is answered with the token itself: the private chart is pulled and the token service is never asked', async () => {
    const reg = await registry({ token: { users, anonymousPull: false, expiresInSeconds: 3600 } });
    const prefix = `${reg.url}/rtp`;
    const chart = await packageChart({ name: 'rtchart', version: '1.0.0', appVersion: '3' }, scratchDir('rt'));
    await pushChart(chart.path, prefix, users[0]);
    const token = await issueRegistryToken(reg, users[0] ?? { username: '', password: '' }, ['repository:rtp/rtchart:pull']);
    await expectRepoError(source(prefix).versions('rtchart'), 'unauthorized');
    reg.tokenRequests.length = 0;
    const src = source(prefix, { credentials: { kind: 'access', token } });
    const [entry] = await src.versions('rtchart');
    assert.ok(entry);
    assert.equal((await src.fetchChart(await src.details(entry))).tarballDigest, chart.digest);
    await src.probe();
    // The registry checks the token's ES256 signature: only the token as issued is accepted.
    assert.deepEqual(reg.tokenRequests, [], 'no request to the token service, neither GET nor POST');

    // A token altered by one byte is refused by the registry; still no token service; the token in no message.
    const altered = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
    const err = await expectRepoError(source(prefix, { credentials: { kind: 'access', token: altered } }).versions('rtchart'), 'unauthorized', /HTTP 401 \(credentials refused\)/);
    assert.doesNotMatch(`${err.message} ${String(err.cause ?? '')}`, new RegExp(`${token.slice(0, 20)}|${token.slice(-12)}`));
    assert.deepEqual(reg.tokenRequests, []);
  });

  it('a Basic challenge (htpasswd): refused with a clear error for a token-only login, answered with the user and password beside a token', async () => {
    const reg = await registry({ htpasswd: users });
    const prefix = `${reg.url}/rtb`;
    const chart = await packageChart({ name: 'basicchart', version: '1.0.0' }, scratchDir('rtb'));
    await pushChart(chart.path, prefix, users[0]);
    for (const [credentials, has] of [
      [{ kind: 'access', token: 'at-secret-value' }, 'a registry token \\(registrytoken\\)'],
      [{ kind: 'refresh', token: 'rt-secret-value' }, 'an identity token \\(identitytoken\\)'],
    ] as const) {
      const err = await expectRepoError(source(prefix, { credentials }).versions('basicchart'), 'unauthorized', new RegExp(`repository oci: .*the registry asks for a username and password \\(Basic\\) and the login has only ${has}.*missing username or password for basic auth`));
      assert.doesNotMatch(`${err.message} ${String(err.cause ?? '')}`, /secret-value/);
    }
    // oras-go's fetchBasicAuth answers Basic with the login's user and password, whatever tokens it holds.
    const src = source(prefix, { credentials: { kind: 'access', token: 'at-unused', basic: users[0] ?? { username: '', password: '' } } });
    const [entry] = await src.versions('basicchart');
    assert.ok(entry);
    assert.equal((await src.fetchChart(await src.details(entry))).tarballDigest, chart.digest);
  });
});

describe('an identity token against a scripted registry and token service', () => {
  /** A registry at R that wants `Bearer good` and names `realm` (a function of R's port) as its token service. */
  async function scripted(realm: (port: number) => string, basic = false): Promise<{ prefix: string; auth: string[]; close: () => Promise<void> }> {
    const auth: string[] = [];
    const server = createServer((req, res) => {
      auth.push(req.headers.authorization ?? '');
      if (req.headers.authorization !== 'Bearer good') {
        const port = (server.address() as AddressInfo).port;
        res.writeHead(401, { 'www-authenticate': basic ? 'Basic realm="r"' : `Bearer realm="${realm(port)}",service="svc",scope="repository:r/c:pull"` });
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name: 'r/c', tags: ['1.0.0'] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      prefix: `oci://127.0.0.1:${(server.address() as AddressInfo).port}/r`,
      auth,
      close: async () => {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
  }

  /** A token service: `answer` decides each request; every request and its body are recorded. */
  async function tokenService(answer: (path: string, body: string, res: import('node:http').ServerResponse) => void): Promise<{ url: string; seen: { method: string; path: string; body: string; authorization: string }[]; close: () => Promise<void> }> {
    const seen: { method: string; path: string; body: string; authorization: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', path: req.url ?? '', body, authorization: req.headers.authorization ?? '' });
        answer(req.url ?? '', body, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      seen,
      close: async () => {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
  }

  const credentials = { kind: 'refresh' as const, token: 'rt-secret-value' };

  it('a registry token is sent to the Bearer challenge byte for byte, and the realm the challenge names is never asked', async () => {
    const realm = await tokenService((_p, _b, res) => res.end(JSON.stringify({ access_token: 'other' })));
    const reg = await scripted(() => `${realm.url}/token`);
    try {
      assert.deepEqual((await source(reg.prefix, { credentials: { kind: 'access', token: 'good' } }).versions('c')).map((e) => e.version), ['1.0.0']);
      assert.deepEqual(reg.auth, ['', 'Bearer good']);
      assert.deepEqual(realm.seen, []);
      // A registry token wins over a user and password beside it for Bearer (oras-go fetchBearerToken).
      reg.auth.length = 0;
      await source(reg.prefix, { credentials: { kind: 'access', token: 'good', basic: { username: 'u', password: 'p' } } }).versions('c');
      assert.deepEqual([reg.auth, realm.seen], [['', 'Bearer good'], []]);
    } finally {
      await Promise.all([reg.close(), realm.close()]);
    }
  });

  it("read as go-containerregistry reads it (a Flux OCIRepository's Secret), a registry token answers a Basic challenge too, as Bearer, before a user and password", async () => {
    const basic = await scripted(() => 'unused', true);
    try {
      const credentials = { kind: 'access' as const, token: 'good', basic: { username: 'u', password: 'p' }, answersBasic: true as const };
      assert.deepEqual((await source(basic.prefix, { credentials }).versions('c')).map((e) => e.version), ['1.0.0']);
      assert.deepEqual(basic.auth, ['', 'Bearer good']);
    } finally {
      await basic.close();
    }
  });

  it('the form follows a 307 within the realm\'s origin; a redirect to another origin, or one that drops the body, is not followed', async () => {
    const elsewhere = await tokenService((_p, _b, res) => res.end(JSON.stringify({ access_token: 'good' })));
    let target = '';
    const realm = await tokenService((path, _b, res) => {
      if (path === '/token') {
        res.writeHead(target.startsWith('/') ? 307 : Number(target.slice(0, 3)), { location: target.startsWith('/') ? target : target.slice(4) });
        return res.end();
      }
      res.end(JSON.stringify({ access_token: 'good', expires_in: 300 }));
    });
    const reg = await scripted(() => `${realm.url}/token`);
    try {
      target = '/token2';
      assert.deepEqual((await source(reg.prefix, { credentials }).versions('c')).map((e) => e.version), ['1.0.0']);
      assert.deepEqual(realm.seen.map((r) => [r.method, r.path, new URLSearchParams(r.body).get('refresh_token')]), [['POST', '/token', 'rt-secret-value'], ['POST', '/token2', 'rt-secret-value']]);
      for (const redirect of [`307 ${elsewhere.url}/token`, `308 ${elsewhere.url}/token`, `302 ${realm.url}/token2`, `303 ${realm.url}/token2`]) {
        realm.seen.length = 0;
        target = redirect;
        const err = await expectRepoError(source(reg.prefix, { credentials }).versions('c'), 'redirect', /redirect not followed/);
        assert.doesNotMatch(err.message, /rt-secret/);
        assert.deepEqual(realm.seen.map((r) => r.path), ['/token'], redirect);
      }
      assert.deepEqual(elsewhere.seen, [], 'the other origin never heard of the token');
      assert.ok(reg.auth.every((a) => a === '' || a === 'Bearer good'), 'the registry only ever got the access token');
    } finally {
      await Promise.all([reg.close(), realm.close(), elsewhere.close()]);
    }
  });

  it('a Basic challenge is not answered with it; an OAuth2 answer with only `token` is refused', async () => {
    const realm = await tokenService((_p, _b, res) => res.end(JSON.stringify({ token: 'good' })));
    const basic = await scripted(() => `${realm.url}/token`, true);
    const bearer = await scripted(() => `${realm.url}/token`);
    try {
      await expectRepoError(source(basic.prefix, { credentials }).versions('c'), 'unauthorized', /asks for a username and password \(Basic\) and the login has only an identity token/);
      // Nor with a registry token, nor with half a user and password beside one (ACR's placeholder user).
      await expectRepoError(source(basic.prefix, { credentials: { kind: 'access', token: 'good' } }).versions('c'), 'unauthorized', /has only a registry token/);
      assert.deepEqual(basic.auth, ['', ''], 'no Authorization to a Basic registry: no empty or made-up Basic header, no Bearer');
      assert.deepEqual(realm.seen, []);
      // The OAuth2 grant's answer carries `access_token` (oras-go v2 and containerd read nothing else there).
      await expectRepoError(source(bearer.prefix, { credentials }).versions('c'), 'unauthorized', /without an access_token/);
      assert.equal(realm.seen.length, 1);
    } finally {
      await Promise.all([basic.close(), bearer.close(), realm.close()]);
    }
  });
});

describe('OCI client against a scripted registry', () => {
  it('follows Link rel="next" pages (relative URLs, n and last), and stops at the page bound', async () => {
    const all = ['0.1.0', '0.2.0', '0.3.0', '0.4.0', '0.5.0', 'latest', '1.0.0_rc.1'];
    const seen: string[] = [];
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push(url.pathname + url.search);
      if (url.pathname !== '/v2/r/paged/tags/list') {
        res.writeHead(404);
        return res.end();
      }
      const n = Number(url.searchParams.get('n') ?? all.length);
      const last = url.searchParams.get('last');
      const start = last ? all.indexOf(last) + 1 : 0;
      const page = all.slice(start, start + n);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (start + n < all.length) headers['link'] = `</v2/r/paged/tags/list?last=${encodeURIComponent(page.at(-1) ?? '')}&n=${n}>; rel="next"`;
      res.writeHead(200, headers);
      res.end(JSON.stringify({ name: 'r/paged', tags: page }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const prefix = `oci://127.0.0.1:${(server.address() as AddressInfo).port}/r`;
      const list = await source(prefix, {}, { tagPageSize: 2 }).versions('paged');
      assert.deepEqual(list.map((e) => e.version), ['1.0.0+rc.1', '0.5.0', '0.4.0', '0.3.0', '0.2.0', '0.1.0']);
      assert.deepEqual(seen, ['/v2/r/paged/tags/list?n=2', '/v2/r/paged/tags/list?last=0.2.0&n=2', '/v2/r/paged/tags/list?last=0.4.0&n=2', '/v2/r/paged/tags/list?last=latest&n=2']);
      seen.length = 0;
      await expectRepoError(source(prefix, {}, { tagPageSize: 1, maxTagPages: 3 }).versions('paged'), 'too_large', /more than 3 pages/);
      assert.equal(seen.length, 3, 'no request beyond the bound');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('detects a layer whose bytes do not match the manifest, and a manifest that does not match Docker-Content-Digest', async () => {
    const config = Buffer.from('{"name":"bad","version":"1.0.0","appVersion":"1"}');
    const layer = Buffer.from('the real layer');
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: sha(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', digest: sha(layer), size: layer.length }],
      }),
    );
    let lieAboutManifest = false;
    const server = createServer((req, res) => {
      const url = req.url ?? '';
      if (url.startsWith('/v2/c/bad/tags/list')) return res.end(JSON.stringify({ name: 'c/bad', tags: ['1.0.0'] }));
      if (url === '/v2/c/bad/manifests/1.0.0') {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': lieAboutManifest ? sha(Buffer.from('x')) : sha(manifest) });
        return res.end(manifest);
      }
      if (url === `/v2/c/bad/blobs/${sha(config)}`) return res.end(config);
      if (url === `/v2/c/bad/blobs/${sha(layer)}`) return res.end(Buffer.from('tampered layer'));
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const prefix = `oci://127.0.0.1:${(server.address() as AddressInfo).port}/c`;
      const src = source(prefix);
      const [entry] = await src.versions('bad');
      assert.ok(entry);
      await expectRepoError(src.fetchChart(entry), 'digest_mismatch', /differs from the manifest digest/);
      lieAboutManifest = true;
      await expectRepoError(source(prefix).details(entry), 'digest_mismatch', /Docker-Content-Digest/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
