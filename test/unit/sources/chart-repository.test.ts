import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { caFromSecretData, credentialsFromSecret, parseRepositorySpec, repositoryCa } from '../../../src/sources/chart-repository.ts';
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
    assert.deepEqual(credentialsFromSecret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': docker }, 'oci://reg.example:5000/charts'), { kind: 'basic', username: 'bot', password: 'pw' });
    assert.equal(credentialsFromSecret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': docker }, 'oci://elsewhere/charts'), undefined);
    // The entry `az acr login` leaves in a Docker config, put into a Secret: its identity token, not the placeholder user.
    const acr = b64(JSON.stringify({ auths: { 'myacr.azurecr.io': { auth: b64('00000000-0000-0000-0000-000000000000:'), identitytoken: 'eyJhbGciOiJSUzI1NiJ9.e30.sig' } } }));
    assert.deepEqual(credentialsFromSecret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': acr }, 'oci://myacr.azurecr.io/helm'), { kind: 'refresh', token: 'eyJhbGciOiJSUzI1NiJ9.e30.sig' });
  });

  it('finds the Docker Hub entry of `kubectl create secret docker-registry` for docker.io, registry-1.docker.io and index.docker.io', () => {
    // The data of `kubectl create secret docker-registry hub --docker-username=bot --docker-password=pw:1`
    // (kubectl 1.35, default --docker-server https://index.docker.io/v1/), byte for byte.
    const kubectl = 'eyJhdXRocyI6eyJodHRwczovL2luZGV4LmRvY2tlci5pby92MS8iOnsidXNlcm5hbWUiOiJib3QiLCJwYXNzd29yZCI6InB3OjEiLCJhdXRoIjoiWW05ME9uQjNPakU9In19fQ==';
    for (const url of ['oci://docker.io/bitnamicharts', 'oci://registry-1.docker.io/bitnamicharts', 'oci://index.docker.io/bitnamicharts']) {
      assert.deepEqual(credentialsFromSecret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': kubectl }, url), { kind: 'basic', username: 'bot', password: 'pw:1' }, url);
    }
    assert.equal(credentialsFromSecret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': kubectl }, 'oci://ghcr.io/org'), undefined);
    // --docker-server=docker.io, and a Secret naming Hub twice: the canonical key wins.
    const both = b64(JSON.stringify({ auths: { 'docker.io': { auth: b64('old:x') }, 'https://index.docker.io/v1/': { auth: b64('new:y') } } }));
    assert.deepEqual(credentialsFromSecret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': both }, 'oci://registry-1.docker.io/x'), { kind: 'basic', username: 'new', password: 'y' });
    const short = b64(JSON.stringify({ auths: { 'docker.io': { username: 'bot', password: 'pw', auth: b64('bot:pw') } } }));
    assert.deepEqual(credentialsFromSecret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': short }, 'oci://docker.io/x'), { kind: 'basic', username: 'bot', password: 'pw' });
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

describe('the CA of a TLS Secret (fluxcd/pkg runtime/secrets key names)', () => {
  it('ca.crt, else the legacy caFile; the standard key wins when both are there; none without either', () => {
    assert.equal(caFromSecretData({ 'ca.crt': b64('STANDARD') }), 'STANDARD');
    assert.equal(caFromSecretData({ caFile: b64('LEGACY'), username: b64('u') }), 'LEGACY');
    assert.equal(caFromSecretData({ 'ca.crt': b64('STANDARD'), caFile: b64('LEGACY') }), 'STANDARD');
    assert.equal(caFromSecretData({ 'tls.crt': b64('CLIENT'), 'tls.key': b64('KEY') }), undefined);
    assert.equal(caFromSecretData(undefined), undefined);
  });

  it('a named CA Secret decides alone; without one, a CA beside the credentials is used (Flux\'s deprecated secretRef TLS)', () => {
    const creds = { username: b64('u'), password: b64('p'), caFile: b64('BESIDE') };
    assert.equal(repositoryCa(creds, undefined), 'BESIDE');
    assert.equal(repositoryCa(creds, { 'ca.crt': b64('NAMED') }), 'NAMED');
    assert.equal(repositoryCa(creds, {}), undefined, 'a named CA Secret without a CA is not replaced by the other one');
    assert.equal(repositoryCa(undefined, undefined), undefined);
  });
});
