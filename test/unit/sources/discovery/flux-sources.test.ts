/**
 * `scan` without --config reads Flux's HelmRepository/OCIRepository objects (product.md), with the Secrets they
 * reference, the way source-controller reads them. A loopback server plays an API server serving the versions
 * given, with objects shaped as source-controller v1's API types say.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { kubeConfigFromText } from '../../../../src/kube/kubeconfig.ts';
import { discoverFluxSources } from '../../../../src/sources/discovery/flux-sources.ts';
import { listHelmReleases } from '../../../../src/sources/discovery/flux.ts';
import { FluxOwners } from '../../../../src/controller/flux-owners.ts';
import { pino } from 'pino';
import { generateMutualTlsCerts } from '../../../harness/certs.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const certDir = mkdtempSync(join(tmpdir(), 'flux-mtls-'));
after(() => rmSync(certDir, { recursive: true, force: true }));
const certs = generateMutualTlsCerts(certDir);
const CLIENT_CERT = readFileSync(certs.client.cert, 'utf8');
const CLIENT_KEY = readFileSync(certs.client.key, 'utf8');
let served: string[] = [];
const requested: string[] = [];
let server: Server;

const objects: Record<string, unknown> = {
  '/apis/source.toolkit.fluxcd.io/v1/helmrepositories': {
    items: [
      // Basic auth and the CA in secretRef, as Flux before certSecretRef (the legacy caFile key).
      { metadata: { namespace: 'flux-system', name: 'internal' }, spec: { url: 'https://charts.internal.example/', secretRef: { name: 'internal-auth' } } },
      { metadata: { namespace: 'apps', name: 'bitnami' }, spec: { type: 'oci', url: 'oci://registry.example/bitnamicharts' } },
      { metadata: { namespace: 'apps', name: 'git' }, spec: { url: 'ssh://git.example/x' } },
      // mTLS to a publicly trusted server: certSecretRef holds tls.crt and tls.key, no ca.crt.
      { metadata: { namespace: 'apps', name: 'mtls' }, spec: { url: 'https://mtls.example/charts', certSecretRef: { name: 'client-tls' } } },
      { metadata: { namespace: 'apps', name: 'half' }, spec: { url: 'https://half.example/charts', secretRef: { name: 'half-auth' }, certSecretRef: { name: 'half-tls' } } },
    ],
  },
  '/apis/source.toolkit.fluxcd.io/v1/ocirepositories': {
    items: [
      { metadata: { namespace: 'apps', name: 'podinfo' }, spec: { url: 'oci://ghcr.example/stefanprodan/charts/podinfo', ref: { tag: '6.5.0' } } },
      { metadata: { namespace: 'apps', name: 'secure' }, spec: { url: 'oci://secure.example/charts/app', ref: { tag: '1.0.0' }, certSecretRef: { name: 'client-tls' } } },
    ],
  },
  '/api/v1/namespaces/apps/secrets/client-tls': { type: 'kubernetes.io/tls', data: { 'tls.crt': b64(CLIENT_CERT), 'tls.key': b64(CLIENT_KEY) } },
  '/api/v1/namespaces/apps/secrets/half-auth': { type: 'kubernetes.io/basic-auth', data: { username: b64('reader'), password: b64('s3cret') } },
  '/api/v1/namespaces/apps/secrets/half-tls': { type: 'Opaque', data: { 'tls.crt': b64(CLIENT_CERT), 'ca.crt': b64(CLIENT_CERT) } },
  '/api/v1/namespaces/flux-system/secrets/internal-auth': { type: 'Opaque', data: { username: b64('reader'), password: b64('s3cret'), caFile: b64('-----BEGIN CERTIFICATE-----\nLEGACY\n-----END CERTIFICATE-----\n') } },
};

before(async () => {
  server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    requested.push(path);
    const group = /^\/apis\/(source|helm)\.toolkit\.fluxcd\.io$/.exec(path);
    const body = group && served.length ? { kind: 'APIGroup', versions: served.map((v) => ({ groupVersion: `x/${v}`, version: v })) } : served.length ? objects[path] : undefined;
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
after(() => server.close());

function kc(): ReturnType<typeof kubeConfigFromText> {
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return kubeConfigFromText(JSON.stringify({ clusters: [{ name: 'c', cluster: { server: url } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }), '/x/config');
}

function ctx(): Parameters<typeof discoverFluxSources>[0] {
  return { kubeConfig: kc(), env: {}, defaultNamespace: 'chartorigin', now: Date.now() };
}

describe('Flux sources for the CLI', () => {
  it('one repository per usable Flux object: its URL (an OCIRepository minus the chart), credentials and the legacy CA from secretRef', async () => {
    served = ['v1'];
    const set = await discoverFluxSources(ctx());
    assert.equal(set?.origin, 'Flux sources in the cluster');
    const byUrl = new Map(set?.repositories.map((r) => [r.config.url, r.config]));
    assert.deepEqual([...byUrl.keys()].sort(), ['https://charts.internal.example', 'https://half.example/charts', 'https://mtls.example/charts', 'oci://ghcr.example/stefanprodan/charts', 'oci://registry.example/bitnamicharts', 'oci://secure.example/charts']);
    const internal = byUrl.get('https://charts.internal.example');
    assert.deepEqual(internal?.credentials, { kind: 'basic', username: 'reader', password: 's3cret' });
    assert.match(internal?.caPem ?? '', /LEGACY/);
    assert.equal(byUrl.get('oci://registry.example/bitnamicharts')?.credentials, undefined);
  });

  it('a certSecretRef with only tls.crt and tls.key is a client certificate (HelmRepository and OCIRepository); tls.crt without tls.key fails the repository as Flux does', async () => {
    served = ['v1'];
    const set = await discoverFluxSources(ctx());
    const byUrl = new Map(set?.repositories.map((r) => [r.config.url, r]));
    for (const url of ['https://mtls.example/charts', 'oci://secure.example/charts']) {
      const r = byUrl.get(url);
      assert.equal(r?.error, undefined, url);
      assert.deepEqual(r?.config.clientCertificate, { certPem: CLIENT_CERT, keyPem: CLIENT_KEY }, url);
      assert.equal(r?.config.caPem, undefined, url);
    }
    const half = byUrl.get('https://half.example/charts');
    assert.equal(half?.error?.reason, 'invalid_config');
    assert.equal(half?.error?.message, 'repository flux-apps-half: Secret apps/half-tls has tls.crt but no private key (tls.key)');
    assert.equal(half?.config.clientCertificate, undefined);
    // Never the Secrets' content, in the error or the notes.
    const said = [half?.error?.message ?? '', ...(set?.notes ?? [])].join('\n');
    assert.ok(!said.includes('BEGIN') && !said.includes('s3cret'), said);
  });

  it('without Flux (the group is not served): nothing, after one discovery request per group', async () => {
    served = [];
    requested.length = 0;
    assert.equal(await discoverFluxSources(ctx()), undefined);
    assert.deepEqual(await listHelmReleases(kc()), []);
    assert.deepEqual(requested.sort(), ['/apis/helm.toolkit.fluxcd.io', '/apis/source.toolkit.fluxcd.io']);
  });
});

describe('FluxOwners when HelmReleases may not be listed', () => {
  it('a forbidden list counts as none, said once; a list that fails otherwise fails the refresh (the caller retries)', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
    const forbidden = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (path === '/apis/helm.toolkit.fluxcd.io') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'APIGroup', versions: [{ version: 'v2' }] }));
        return;
      }
      const status = path.includes('/namespaces/broken/') ? 500 : 403;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: status === 403 ? 'Forbidden' : 'InternalError', code: status }));
    });
    await new Promise<void>((r) => forbidden.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(forbidden.address() as AddressInfo).port}`;
      const kubeConfig = kubeConfigFromText(JSON.stringify({ clusters: [{ name: 'c', cluster: { server: url } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }), '/x/config');
      const owners = new FluxOwners({ kubeConfig, logger, changed: () => undefined });
      await owners.refresh(performance.now());
      await owners.refresh(performance.now());
      assert.equal(owners.get('apps/web'), undefined);
      assert.equal(lines.filter((l) => l.includes('not allowed to list Flux HelmReleases')).length, 1, 'said once');
      const broken = new FluxOwners({ kubeConfig, logger, namespaces: ['broken'], changed: () => undefined });
      await assert.rejects(broken.refresh(performance.now()));
    } finally {
      forbidden.close();
    }
  });
});
