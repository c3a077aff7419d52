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
import { listOwningHelmReleases } from '../../../../src/sources/discovery/flux.ts';
import { FluxOwners } from '../../../../src/controller/flux-owners.ts';
import { pino } from 'pino';
import { generateMutualTlsCerts } from '../../../harness/certs.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const certDir = mkdtempSync(join(tmpdir(), 'flux-mtls-'));
after(() => rmSync(certDir, { recursive: true, force: true }));
const certs = generateMutualTlsCerts(certDir);
const CLIENT_CERT = readFileSync(certs.client.cert, 'utf8');
const CLIENT_KEY = readFileSync(certs.client.key, 'utf8');
const LEGACY_CA = readFileSync(certs.ca.cert, 'utf8');
let served: string[] = [];
const requested: string[] = [];
let server: Server;

const objects: Record<string, unknown> = {
  '/apis/source.toolkit.fluxcd.io/v1/helmrepositories': {
    items: [
      // Basic auth and the CA in secretRef, as Flux before certSecretRef (the legacy caFile key).
      { metadata: { namespace: 'flux-system', name: 'internal' }, spec: { url: 'https://charts.internal.example/', secretRef: { name: 'internal-auth' } } },
      { metadata: { namespace: 'apps', name: 'bitnami' }, spec: { type: 'oci', url: 'oci://registry.example/bitnamicharts' } },
      { metadata: { namespace: 'apps', name: 'tokened-helm' }, spec: { type: 'oci', url: 'oci://tokens.example/helm', secretRef: { name: 'registry-token' } } },
      { metadata: { namespace: 'apps', name: 'git' }, spec: { url: 'ssh://git.example/x' } },
      // The right prefix, not a URL the clients can parse (a bad port): left out, never thrown later.
      { metadata: { namespace: 'apps', name: 'badport' }, spec: { url: 'https://charts.example:8443x/' } },
      // mTLS to a publicly trusted server: certSecretRef holds tls.crt and tls.key, no ca.crt.
      { metadata: { namespace: 'apps', name: 'mtls' }, spec: { url: 'https://mtls.example/charts', certSecretRef: { name: 'client-tls' } } },
      { metadata: { namespace: 'apps', name: 'half' }, spec: { url: 'https://half.example/charts', secretRef: { name: 'half-auth' }, certSecretRef: { name: 'half-tls' } } },
      // The certSecretRef names a Secret that is not there; the secretRef's TLS must not stand in for it.
      { metadata: { namespace: 'apps', name: 'gone' }, spec: { url: 'https://gone.example/charts', secretRef: { name: 'gone-auth' }, certSecretRef: { name: 'missing-tls' } } },
    ],
  },
  '/apis/source.toolkit.fluxcd.io/v1/ocirepositories': {
    items: [
      { metadata: { namespace: 'apps', name: 'podinfo' }, spec: { url: 'oci://ghcr.example/stefanprodan/charts/podinfo', ref: { tag: '6.5.0' } } },
      { metadata: { namespace: 'apps', name: 'secure' }, spec: { url: 'oci://secure.example/charts/app', ref: { tag: '1.0.0' }, certSecretRef: { name: 'client-tls' } } },
      // A pull Secret holding a registry token, for an OCIRepository and (below) a HelmRepository of type oci.
      { metadata: { namespace: 'apps', name: 'tokened' }, spec: { url: 'oci://tokens.example/oci/app', ref: { tag: '1.0.0' }, secretRef: { name: 'registry-token' } } },
    ],
  },
  '/api/v1/namespaces/apps/secrets/registry-token': { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(JSON.stringify({ auths: { 'tokens.example': { registrytoken: 'at-flux.e30.sig' } } })) } },
  '/api/v1/namespaces/apps/secrets/client-tls': { type: 'kubernetes.io/tls', data: { 'tls.crt': b64(CLIENT_CERT), 'tls.key': b64(CLIENT_KEY) } },
  '/api/v1/namespaces/apps/secrets/half-auth': { type: 'kubernetes.io/basic-auth', data: { username: b64('reader'), password: b64('s3cret') } },
  '/api/v1/namespaces/apps/secrets/gone-auth': { type: 'Opaque', data: { username: b64('reader'), password: b64('s3cret'), 'tls.crt': b64(CLIENT_CERT), 'tls.key': b64(CLIENT_KEY) } },
  '/api/v1/namespaces/apps/secrets/half-tls': { type: 'Opaque', data: { 'tls.crt': b64(CLIENT_CERT), 'ca.crt': b64(CLIENT_CERT) } },
  '/api/v1/namespaces/flux-system/secrets/internal-auth': { type: 'Opaque', data: { username: b64('reader'), password: b64('s3cret'), caFile: b64(LEGACY_CA) } },
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
    assert.deepEqual([...byUrl.keys()].sort(), ['https://charts.internal.example', 'https://gone.example/charts', 'https://half.example/charts', 'https://mtls.example/charts', 'oci://ghcr.example/stefanprodan/charts', 'oci://registry.example/bitnamicharts', 'oci://secure.example/charts', 'oci://tokens.example/helm', 'oci://tokens.example/oci']);
    const internal = byUrl.get('https://charts.internal.example');
    assert.deepEqual(internal?.credentials, { kind: 'basic', username: 'reader', password: 's3cret' });
    assert.equal(internal?.caPem, LEGACY_CA);
    assert.equal(byUrl.get('oci://registry.example/bitnamicharts')?.credentials, undefined);
  });

  it("a registry token in a pull Secret: read as go-containerregistry reads it for an OCIRepository (Basic challenges too), as Helm reads it for a HelmRepository", async () => {
    served = ['v1'];
    const set = await discoverFluxSources(ctx());
    const byUrl = new Map(set?.repositories.map((r) => [r.config.url, r.config]));
    assert.deepEqual(byUrl.get('oci://tokens.example/oci')?.credentials, { kind: 'access', token: 'at-flux.e30.sig', answersBasic: true });
    assert.deepEqual(byUrl.get('oci://tokens.example/helm')?.credentials, { kind: 'access', token: 'at-flux.e30.sig' });
    assert.ok(!(set?.notes ?? []).join('\n').includes('at-flux'));
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
    // An unreadable certSecretRef fails the repository (source-controller fails the HelmRepository), while the
    // credentials of the secretRef Secret, read on their own, are still there.
    const gone = byUrl.get('https://gone.example/charts');
    assert.equal(gone?.error?.reason, 'invalid_config');
    assert.match(gone?.error?.message ?? '', /^repository flux-apps-gone: TLS Secret not read: .*missing-tls/);
    assert.equal(gone?.config.clientCertificate, undefined);
    assert.deepEqual(gone?.config.credentials, { kind: 'basic', username: 'reader', password: 's3cret' });
    // Never the Secrets' content, in the error or the notes.
    const said = [half?.error?.message ?? '', ...(set?.notes ?? [])].join('\n');
    assert.ok(!said.includes('BEGIN') && !said.includes('s3cret'), said);
  });

  it('without Flux (the group is not served): nothing, after one discovery request per group', async () => {
    served = [];
    requested.length = 0;
    assert.equal(await discoverFluxSources(ctx()), undefined);
    assert.deepEqual(await listOwningHelmReleases(kc(), ['apps']), { items: [], served: false, forbidden: [], listedOnlyIn: [] });
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

/**
 * Where HelmReleases are listed — one rule for `scan -n/-A` and the controller's --namespaces: all namespaces
 * (a HelmRelease elsewhere may store its release here, status.storageNamespace), else each namespace served
 * when that is forbidden. A loopback API server that allows what `allowed` says.
 */
describe('which HelmReleases may own the releases of some namespaces', () => {
  // A HelmRelease in team-a storing its release in shared (helm-controller's status), one in shared itself.
  const a = { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { namespace: 'team-a', name: 'web' }, spec: { interval: '10m', storageNamespace: 'shared', chart: { spec: { chart: 'podinfo', sourceRef: { kind: 'HelmRepository', name: 'podinfo' } } } }, status: { observedGeneration: 1, storageNamespace: 'shared', helmChart: 'team-a-web', history: [{ chartName: 'podinfo', chartVersion: '6.5.0', configDigest: `sha256:${'1'.repeat(64)}`, digest: `sha256:${'2'.repeat(64)}`, firstDeployed: '2026-11-30T10:00:00Z', lastDeployed: '2026-11-30T10:00:00Z', name: 'web', namespace: 'team-a', status: 'deployed', version: 1 }] } };
  const own = { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { namespace: 'shared', name: 'api' }, spec: { interval: '10m', chart: { spec: { chart: 'podinfo', sourceRef: { kind: 'HelmRepository', name: 'podinfo' } } } }, status: { storageNamespace: 'shared' } };
  let allowed: (path: string) => number = () => 200;
  const seen: string[] = [];
  let api: Server;
  before(async () => {
    api = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      seen.push(path);
      const code = path === '/apis/helm.toolkit.fluxcd.io' ? 200 : allowed(path);
      let body: unknown = { kind: 'Status', status: 'Failure', code };
      if (code === 200 && path === '/apis/helm.toolkit.fluxcd.io') body = { kind: 'APIGroup', versions: [{ groupVersion: 'helm.toolkit.fluxcd.io/v2', version: 'v2' }] };
      else if (code === 200) {
        const ns = /\/namespaces\/([^/]+)\//.exec(path)?.[1];
        body = { kind: 'HelmReleaseList', metadata: {}, items: [a, own].filter((o) => ns === undefined || o.metadata.namespace === ns) };
      }
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  });
  after(() => api.close());
  const apiKc = (): ReturnType<typeof kubeConfigFromText> =>
    kubeConfigFromText(JSON.stringify({ clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${(api.address() as AddressInfo).port}` } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }), '/x/config');
  const names = (items: readonly { metadata?: unknown }[]): string[] => items.map((i) => JSON.stringify(i.metadata)).sort();

  it('allowed everywhere: one list of all namespaces, whatever namespaces are served — the HelmRelease in team-a that stores in shared is among them', async () => {
    allowed = () => 200;
    seen.length = 0;
    const r = await listOwningHelmReleases(apiKc(), ['shared']);
    assert.deepEqual(seen, ['/apis/helm.toolkit.fluxcd.io', '/apis/helm.toolkit.fluxcd.io/v2/helmreleases']);
    assert.deepEqual(names(r.items), names([a, own]));
    assert.deepEqual(r.forbidden, []);
    assert.deepEqual(r.listedOnlyIn, [], 'nothing is missed');
  });

  it('a list of all namespaces forbidden (Roles in some namespaces): each namespace served instead; one forbidden there too is named', async () => {
    allowed = (p) => (p.startsWith('/apis/helm.toolkit.fluxcd.io/v2/namespaces/shared/') ? 200 : 403);
    seen.length = 0;
    const r = await listOwningHelmReleases(apiKc(), ['shared', 'other']);
    assert.deepEqual(seen.slice(0, 2), ['/apis/helm.toolkit.fluxcd.io', '/apis/helm.toolkit.fluxcd.io/v2/helmreleases']);
    assert.deepEqual(seen.slice(2).sort(), ['/apis/helm.toolkit.fluxcd.io/v2/namespaces/other/helmreleases', '/apis/helm.toolkit.fluxcd.io/v2/namespaces/shared/helmreleases']);
    assert.deepEqual(names(r.items), names([own]));
    assert.deepEqual(r.forbidden, ['other']);
    // What was listed one by one is named: a HelmRelease elsewhere (team-a's, storing in shared) is not seen.
    assert.deepEqual(r.listedOnlyIn, ['shared']);
    allowed = () => 403;
    assert.deepEqual(await listOwningHelmReleases(apiKc()), { items: [], served: true, forbidden: ['all namespaces'], listedOnlyIn: [] });
  });

  it('other failures throw: they do not say there are none', async () => {
    allowed = (p) => (p.includes('/namespaces/') ? 500 : 403);
    await assert.rejects(listOwningHelmReleases(apiKc(), ['shared']));
    allowed = () => 500;
    await assert.rejects(listOwningHelmReleases(apiKc()));
  });

  it('the controller with --namespaces=shared knows team-a/web as the owner of shared/web', async () => {
    allowed = () => 200;
    const owners = new FluxOwners({ kubeConfig: apiKc(), logger: pino({ level: 'silent' }), namespaces: ['shared'], changed: () => undefined });
    await owners.refresh(performance.now());
    assert.deepEqual(owners.get('shared/web'), { namespace: 'team-a', name: 'web' });
    assert.deepEqual(owners.get('shared/api'), { namespace: 'shared', name: 'api' });
    assert.equal(owners.get('team-a/web'), undefined, 'a namespace not served is not kept');
  });

  it('the controller, not allowed to list all namespaces but allowed in those it watches: one info line, once, that HelmReleases elsewhere are not seen', async () => {
    allowed = (p) => (p.startsWith('/apis/helm.toolkit.fluxcd.io/v2/namespaces/shared/') ? 200 : 403);
    const lines: string[] = [];
    const owners = new FluxOwners({ kubeConfig: apiKc(), logger: pino({ level: 'info' }, { write: (l: string) => void lines.push(l) }), namespaces: ['shared'], changed: () => undefined });
    await owners.refresh(performance.now());
    await owners.refresh(performance.now());
    const said = lines.map((l) => JSON.parse(l) as { level: number; msg: string; namespaces?: string[] });
    assert.equal(said.length, 1, lines.join(''));
    assert.equal(said[0]?.level, 30, 'info');
    assert.match(said[0]?.msg ?? '', /listed in the watched namespaces only .*not seen/);
    assert.deepEqual(said[0]?.namespaces, ['shared']);
    assert.deepEqual(owners.get('shared/api'), { namespace: 'shared', name: 'api' });
    assert.equal(owners.get('shared/web'), undefined, 'team-a/web was not listed');
  });
});
