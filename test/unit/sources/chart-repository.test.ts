import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { credentialReadingOf, credentialsFromSecret, parseRepositorySpec, repositoryTls, tlsFromSecretData, type ReadSecret } from '../../../src/sources/chart-repository.ts';
import { generateMutualTlsCerts } from '../../harness/certs.ts';
import { addProvenanceToReleaseJson } from '../../../src/publish/write-back.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('ChartRepository spec and credentials', () => {
  it('parses a spec with defaults and namespaced secret refs', () => {
    const s = parseRepositorySpec({ url: 'oci://reg.example/charts/', secretRef: { name: 'creds' } }, 'chartorigin');
    assert.deepEqual(s, {
      url: 'oci://reg.example/charts', intervalSeconds: 3600, timeoutSeconds: 60, priority: 0,
      secretRef: { name: 'creds', namespace: 'chartorigin' }, caSecretRef: undefined, insecureSkipTLSVerify: false, plainHTTP: false, keyringSecretRef: undefined, requireSignature: false,
    });
    assert.throws(() => parseRepositorySpec({ url: 'ftp://x' }, 'ns'), /spec\.url/);
    assert.throws(() => parseRepositorySpec({ url: 'https://x', interval: 'weekly' }, 'ns'), /interval/);
    assert.equal(parseRepositorySpec({ url: 'https://x', timeout: '1m30s' }, 'ns').timeoutSeconds, 90);
    assert.throws(() => parseRepositorySpec({ url: 'https://x', timeout: 'never' }, 'ns'), /spec\.timeout: "never" is not a duration/);
  });

  it('reads basic-auth, token and dockerconfigjson Secrets', () => {
    assert.deepEqual(credentialsFromSecret('kubernetes.io/basic-auth', { username: b64('u'), password: b64('p') }, 'https://x'), { kind: 'basic', username: 'u', password: 'p' });
    assert.deepEqual(credentialsFromSecret('Opaque', { token: b64('t0k\n') }, 'https://x'), { kind: 'bearer', token: 't0k' });
    const docker = b64(JSON.stringify({ auths: { 'reg.example:5000': { auth: b64('bot:pw') }, other: { username: 'no', password: 'no' } } }));
    assert.deepEqual(credentialsFromSecret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': docker }, 'oci://reg.example:5000/charts'), { kind: 'basic', username: 'bot', password: 'pw', basicNeedsBoth: true });
    assert.equal(credentialsFromSecret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': docker }, 'oci://elsewhere/charts'), undefined);
    // The entry `az acr login` leaves in a Docker config, put into a Secret: its identity token, not the placeholder user.
    const acr = b64(JSON.stringify({ auths: { 'myacr.azurecr.io': { auth: b64('00000000-0000-0000-0000-000000000000:'), identitytoken: 'eyJhbGciOiJSUzI1NiJ9.e30.sig' } } }));
    assert.deepEqual(credentialsFromSecret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': acr }, 'oci://myacr.azurecr.io/helm'), { kind: 'refresh', token: 'eyJhbGciOiJSUzI1NiJ9.e30.sig' });
    // A pull Secret whose entry holds a registry token (`registrytoken`), beside a user and password.
    const reg = b64(JSON.stringify({ auths: { 'https://reg.example.io': { username: 'bot', password: 'pw', registrytoken: 'at.e30.sig' } } }));
    assert.deepEqual(credentialsFromSecret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': reg }, 'oci://reg.example.io/charts'), { kind: 'access', token: 'at.e30.sig', basic: { username: 'bot', password: 'pw' } });
    // Read for a Flux OCIRepository (go-containerregistry): the token answers Basic challenges too.
    assert.deepEqual(credentialsFromSecret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': reg }, 'oci://reg.example.io/charts', 'go-containerregistry'), { kind: 'access', token: 'at.e30.sig', basic: { username: 'bot', password: 'pw' }, answersBasic: true });
    assert.deepEqual(credentialsFromSecret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': acr }, 'oci://myacr.azurecr.io/helm', 'go-containerregistry'), { kind: 'refresh', token: 'eyJhbGciOiJSUzI1NiJ9.e30.sig' });
    assert.equal(credentialReadingOf({ 'chartorigin.io/flux-source-kind': 'OCIRepository', 'chartorigin.io/discovered-from': 'flux' }), 'go-containerregistry');
    for (const labels of [{ 'chartorigin.io/flux-source-kind': 'HelmRepository' }, {}, undefined]) assert.equal(credentialReadingOf(labels), 'helm');
  });

  it('finds the Docker Hub entry of `kubectl create secret docker-registry` for docker.io, registry-1.docker.io and index.docker.io', () => {
    // The data of `kubectl create secret docker-registry hub --docker-username=bot --docker-password=pw:1`
    // (kubectl 1.35, default --docker-server https://index.docker.io/v1/), byte for byte.
    const kubectl = 'eyJhdXRocyI6eyJodHRwczovL2luZGV4LmRvY2tlci5pby92MS8iOnsidXNlcm5hbWUiOiJib3QiLCJwYXNzd29yZCI6InB3OjEiLCJhdXRoIjoiWW05ME9uQjNPakU9In19fQ==';
    for (const url of ['oci://docker.io/bitnamicharts', 'oci://registry-1.docker.io/bitnamicharts', 'oci://index.docker.io/bitnamicharts']) {
      assert.deepEqual(credentialsFromSecret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': kubectl }, url), { kind: 'basic', username: 'bot', password: 'pw:1', basicNeedsBoth: true }, url);
    }
    assert.equal(credentialsFromSecret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': kubectl }, 'oci://ghcr.io/org'), undefined);
    // --docker-server=docker.io, and a Secret naming Hub twice: the canonical key wins.
    const both = b64(JSON.stringify({ auths: { 'docker.io': { auth: b64('old:x') }, 'https://index.docker.io/v1/': { auth: b64('new:y') } } }));
    assert.deepEqual(credentialsFromSecret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': both }, 'oci://registry-1.docker.io/x'), { kind: 'basic', username: 'new', password: 'y', basicNeedsBoth: true });
    const short = b64(JSON.stringify({ auths: { 'docker.io': { username: 'bot', password: 'pw', auth: b64('bot:pw') } } }));
    assert.deepEqual(credentialsFromSecret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': short }, 'oci://docker.io/x'), { kind: 'basic', username: 'bot', password: 'pw', basicNeedsBoth: true });
  });
});

describe('write-back JSON', () => {
  it('adds HIP-0018 fields to chart.metadata and keeps 64-bit numbers exact', () => {
    const json = '{"name":"web","chart":{"metadata":{"name":"demo","version":"1.0.0"},"values":{"big":12345678901234567890,"f":1e+06}},"version":3}';
    const out = addProvenanceToReleaseJson(json, 'https://charts.example', 'sha256:' + 'a'.repeat(64));
    assert.ok(out);
    assert.match(out, /"big":12345678901234567890/);
    assert.match(out, /"f":1e\+06/);
    assert.match(out, /"metadata":\{"name":"demo","version":"1.0.0","repoURL":"https:\/\/charts.example","tarballDigest":"sha256:a{64}"\}/);
    assert.equal(addProvenanceToReleaseJson(out, 'https://charts.example', 'sha256:' + 'a'.repeat(64)), undefined);
  });
});

describe('TLS from Secrets, as Flux reads them (fluxcd/pkg runtime/secrets, source-controller GetClientOpts)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secret-tls-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const certs = generateMutualTlsCerts(dir);
  const CERT = readFileSync(certs.client.cert, 'utf8');
  const KEY = readFileSync(certs.client.key, 'utf8');
  const OTHER_KEY = readFileSync(certs.stranger.key, 'utf8');
  const CA = readFileSync(certs.ca.cert, 'utf8');
  // Distinct real certificates where a test tells which key a CA came from (a CA that parses to no certificate
  // is refused: caBundleProblem).
  const LEGACY = CA;
  const STANDARD = readFileSync(certs.server.cert, 'utf8');
  const BESIDE = CA;
  const NAMED = STANDARD;
  const at = (name: string, data: Record<string, string>): ReadSecret => ({ ref: { namespace: 'flux-system', name }, data });

  it('a certSecretRef with only tls.crt and tls.key is a client certificate, no CA (mTLS to a publicly trusted server)', () => {
    assert.deepEqual(tlsFromSecretData({ 'tls.crt': b64(CERT), 'tls.key': b64(KEY) }, true), { caPem: undefined, clientCertificate: { certPem: CERT, keyPem: KEY } });
    assert.deepEqual(repositoryTls(undefined, at('mtls', { 'tls.crt': b64(CERT), 'tls.key': b64(KEY) })), { caPem: undefined, clientCertificate: { certPem: CERT, keyPem: KEY } });
    // All three: both.
    assert.deepEqual(tlsFromSecretData({ 'tls.crt': b64(CERT), 'tls.key': b64(KEY), 'ca.crt': b64(CA) }, true), { caPem: CA, clientCertificate: { certPem: CERT, keyPem: KEY } });
  });

  it('the legacy certFile/keyFile/caFile keys, the standard key winning whenever it is present, even empty', () => {
    assert.deepEqual(tlsFromSecretData({ certFile: b64(CERT), keyFile: b64(KEY) }, true).clientCertificate, { certPem: CERT, keyPem: KEY });
    assert.equal(tlsFromSecretData({ caFile: b64(LEGACY), username: b64('u') }, true).caPem, LEGACY);
    assert.equal(tlsFromSecretData({ 'ca.crt': b64(STANDARD), caFile: b64(LEGACY) }, true).caPem, STANDARD);
    // getSecretData: `ca.crt: ""` is the CA, and it is empty; caFile is not looked at.
    assert.throws(() => tlsFromSecretData({ 'ca.crt': '', caFile: b64(LEGACY) }, true), /has neither ca\.crt nor both tls\.crt and tls\.key/);
    assert.throws(() => tlsFromSecretData({ 'tls.crt': '', certFile: b64(CERT), 'tls.key': b64(KEY) }, true), /has tls\.key but no certificate \(tls\.crt\)/);
  });

  it('a certSecretRef with half a pair, or neither a pair nor a CA, is the error Flux makes it', () => {
    assert.throws(() => repositoryTls(undefined, at('half', { 'tls.crt': b64(CERT) })), /^Error: Secret flux-system\/half has tls\.crt but no private key \(tls\.key\)$/);
    assert.throws(() => repositoryTls(undefined, at('half', { 'tls.crt': b64(CERT), 'ca.crt': b64(CA) })), /has tls\.crt but no private key/, 'a CA beside it does not help');
    assert.throws(() => repositoryTls(undefined, at('half', { 'tls.key': b64(KEY) })), /^Error: Secret flux-system\/half has tls\.key but no certificate \(tls\.crt\)$/);
    assert.throws(() => repositoryTls(undefined, at('half', { certFile: b64(CERT), 'tls.key': '' })), /has certFile but no private key/);
    assert.throws(() => repositoryTls(undefined, at('empty', { username: b64('u') })), /^Error: Secret flux-system\/empty has neither ca\.crt nor both tls\.crt and tls\.key/);
  });

  it('a ca.crt (or caFile) from which no certificate can be read is an error in either Secret, as buildTLSConfig makes it', () => {
    assert.throws(() => repositoryTls(undefined, at('badca', { 'ca.crt': b64('not a certificate') })), /^Error: Secret flux-system\/badca has ca\.crt that cannot be used: it holds no PEM certificate that can be read$/);
    assert.throws(() => repositoryTls(at('auth', { username: b64('u'), caFile: b64('garbage') }), undefined), /^Error: Secret flux-system\/auth has caFile that cannot be used/);
    assert.throws(() => tlsFromSecretData({ 'tls.crt': b64(CERT), 'tls.key': b64(KEY), 'ca.crt': b64(KEY) }, true), (e: unknown) => e instanceof Error && /has ca\.crt that cannot be used/.test(e.message) && !e.message.includes('BEGIN'));
    // Half a pair in a secretRef is "no TLS" before the CA is looked at (AuthMethodsFromSecret ignores the Secret's TLS whole).
    assert.deepEqual(repositoryTls(at('auth', { username: b64('u'), 'tls.crt': b64(CERT), 'ca.crt': b64('garbage') }), undefined), {});
  });

  it('a pair that is not one is an error naming the keys, never their content', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'tls.crt': b64(CERT), 'tls.key': b64(OTHER_KEY) }, /has tls\.crt and tls\.key that cannot be used: the private key does not belong to the certificate$/],
      [{ 'tls.crt': b64('not a certificate'), 'tls.key': b64(KEY) }, /has tls\.crt and tls\.key that cannot be used: the certificate is not a PEM certificate$/],
      [{ 'tls.crt': b64(CERT), 'tls.key': b64(CERT) }, /has tls\.crt and tls\.key that cannot be used: the private key is not an unencrypted PEM private key$/],
    ];
    for (const [data, msg] of cases) {
      for (const strict of [true, false]) {
        assert.throws(() => tlsFromSecretData(data, strict), (e: unknown) => e instanceof Error && msg.test(e.message) && !e.message.includes('PRIVATE KEY') && !e.message.includes('BEGIN'), JSON.stringify(Object.keys(data)));
      }
    }
  });

  it('TLS beside the credentials in secretRef (deprecated in Flux): used whole when complete and no TLS Secret is named; half a pair there is no TLS', () => {
    const creds = { username: b64('u'), password: b64('p') };
    assert.deepEqual(repositoryTls(at('auth', { ...creds, caFile: b64(BESIDE) }), undefined), { caPem: BESIDE });
    assert.deepEqual(repositoryTls(at('auth', { ...creds, 'tls.crt': b64(CERT), 'tls.key': b64(KEY) }), undefined), { caPem: undefined, clientCertificate: { certPem: CERT, keyPem: KEY } });
    // AuthMethodsFromSecret ignores TLS validation errors: no TLS at all, not even the CA beside the half pair.
    assert.deepEqual(repositoryTls(at('auth', { ...creds, 'tls.crt': b64(CERT), caFile: b64(BESIDE) }), undefined), {});
    assert.deepEqual(repositoryTls(at('auth', creds), undefined), {});
    // A named TLS Secret decides alone...
    assert.deepEqual(repositoryTls(at('auth', { ...creds, caFile: b64(BESIDE) }), at('tls', { 'ca.crt': b64(NAMED) })), { caPem: NAMED });
    assert.throws(() => repositoryTls(at('auth', { ...creds, caFile: b64(BESIDE) }), at('tls', {})), /Secret flux-system\/tls has neither/, 'an empty TLS Secret is not replaced by the other one');
    // ...but a broken pair beside the credentials is an error all the same (Flux reads every method of the Secret).
    assert.throws(() => repositoryTls(at('auth', { ...creds, 'tls.crt': b64(CERT), 'tls.key': b64(OTHER_KEY) }), at('tls', { 'ca.crt': b64(CA) })), /^Error: Secret flux-system\/auth has tls\.crt and tls\.key that cannot be used: the private key does not belong/);
    assert.deepEqual(repositoryTls(undefined, undefined), {});
  });
});
