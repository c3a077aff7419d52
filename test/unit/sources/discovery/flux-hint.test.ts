/**
 * Which HelmRelease API version is read for a Flux release's values files: Flux 2.2's helm-controller (v0.37)
 * serves v2beta2 and v2beta1 only, so a v2-only reader never saw its valuesFiles and had to guess the merge. A
 * loopback server plays an API server that serves the versions given, with objects shaped as helm-controller's
 * API types say (v2beta2 keeps the deprecated single `valuesFile`, merged before the list).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { kubeConfigFromText } from '../../../../src/kube/kubeconfig.ts';
import { fluxSourceObjects, readFluxHint } from '../../../../src/sources/discovery/flux.ts';

let served: string[] = [];
/** Other objects by request path (Flux sources, HelmReleases with a chartRef, HelmCharts). */
const SC = '/apis/source.toolkit.fluxcd.io';
const objects: Record<string, unknown> = {
  [`${SC}/v1/namespaces/flux-system/helmrepositories/charts`]: { kind: 'HelmRepository', spec: { url: 'https://user:secret@charts.example/stable/' } },
  // Flux 2.2-2.5 serve OCIRepository at v1beta2 only.
  [`${SC}/v1beta2/namespaces/apps/ocirepositories/web`]: { kind: 'OCIRepository', spec: { url: 'oci://ghcr.io/org/charts/web' } },
  [`${SC}/v1/namespaces/apps/helmcharts/web`]: { kind: 'HelmChart', spec: { chart: 'web', sourceRef: { kind: 'HelmRepository', name: 'oci' }, valuesFiles: ['values-prod.yaml'] } },
  [`${SC}/v1/namespaces/apps/helmrepositories/oci`]: { kind: 'HelmRepository', spec: { type: 'oci', url: 'oci://ghcr.io/org/charts' } },
  '/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/from-oci': { spec: { chartRef: { kind: 'OCIRepository', name: 'web' } } },
  '/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/from-chart': { spec: { chartRef: { kind: 'HelmChart', name: 'web' } } },
  '/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/from-git': { spec: { chart: { spec: { chart: './charts/web', sourceRef: { kind: 'GitRepository', name: 'repo', namespace: 'git' } } } } },
  '/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/gone': { spec: { chart: { spec: { chart: 'web', sourceRef: { kind: 'HelmRepository', name: 'deleted' } } } } },
};
const requested: string[] = [];
let server: Server;

before(async () => {
  server = createServer((req, res) => {
    requested.push(req.url ?? '');
    const obj = objects[req.url ?? ''];
    if (obj) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(obj));
      return;
    }
    const m = /^\/apis\/helm\.toolkit\.fluxcd\.io\/(v2|v2beta2|v2beta1)\/namespaces\/flux-system\/helmreleases\/web$/.exec(req.url ?? '');
    if (m && served.includes(m[1] ?? '')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        apiVersion: `helm.toolkit.fluxcd.io/${m[1] ?? ''}`,
        kind: 'HelmRelease',
        metadata: { name: 'web', namespace: 'flux-system' },
        spec: { chart: { spec: { chart: 'web', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts' }, valuesFile: 'values-base.yaml', valuesFiles: ['values.yaml', 'values-prod.yaml'] } } },
      }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
after(() => server.close());

function kc(): ReturnType<typeof kubeConfigFromText> {
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return kubeConfigFromText(JSON.stringify({ clusters: [{ name: 'c', cluster: { server: url } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }), '/x/config');
}

describe('the HelmRelease behind a Flux release', () => {
  it('is read at v2, else v2beta2 (Flux 2.2), else v2beta1; the deprecated valuesFile comes first', async () => {
    for (const versions of [['v2', 'v2beta2'], ['v2beta2', 'v2beta1'], ['v2beta1']]) {
      served = versions;
      requested.length = 0;
      const hint = await readFluxHint(kc(), { namespace: 'flux-system', name: 'web' });
      assert.deepEqual(hint?.valuesFiles, ['values-base.yaml', 'values.yaml', 'values-prod.yaml'], versions.join());
      assert.equal(hint?.from, 'HelmRelease flux-system/web');
      assert.match(requested.filter((u) => u.includes('/helmreleases/')).at(-1) ?? '', new RegExp(`/${versions[0] ?? ''}/`), 'the newest served version');
      assert.deepEqual(hint?.source, { kind: 'HelmRepository', namespace: 'flux-system', name: 'charts', url: 'https://charts.example/stable/', via: "HelmRelease flux-system/web's sourceRef" }, 'the sourceRef, in the HelmRelease\'s namespace, with its URL (credentials removed)');
    }
    served = [];
    assert.equal(await readFluxHint(kc(), { namespace: 'flux-system', name: 'web' }), undefined);
  });

  it('names the source: a chartRef OCIRepository (v1beta2 when v1 is not served), a chartRef HelmChart\'s sourceRef in its namespace, a GitRepository without URL, a deleted source without URL', async () => {
    const hint = (name: string): ReturnType<typeof readFluxHint> => readFluxHint(kc(), { namespace: 'apps', name });
    assert.deepEqual((await hint('from-oci'))?.source, { kind: 'OCIRepository', namespace: 'apps', name: 'web', url: 'oci://ghcr.io/org/charts/web', via: "HelmRelease apps/from-oci's chartRef" });
    const chart = await hint('from-chart');
    assert.deepEqual(chart?.valuesFiles, ['values-prod.yaml']);
    assert.deepEqual(chart?.source, { kind: 'HelmRepository', namespace: 'apps', name: 'oci', url: 'oci://ghcr.io/org/charts', via: "HelmChart apps/web's sourceRef (HelmRelease apps/from-chart's chartRef)" });
    assert.deepEqual((await hint('from-git'))?.source, { kind: 'GitRepository', namespace: 'git', name: 'repo', url: undefined, via: "HelmRelease apps/from-git's sourceRef" });
    assert.deepEqual((await hint('gone'))?.source, { kind: 'HelmRepository', namespace: 'apps', name: 'deleted', url: undefined, via: "HelmRelease apps/gone's sourceRef" });
  });
});

describe('the Flux sources of many releases (scan)', () => {
  /** A loopback API server serving source-controller v1: lists of all namespaces (or 403), and GETs of the objects above. */
  async function sourceApi(listable: boolean): Promise<{ kc: ReturnType<typeof kubeConfigFromText>; requested: string[]; close(): void }> {
    const requested: string[] = [];
    const items = (plural: string): unknown[] =>
      Object.entries(objects)
        .filter(([path]) => path.startsWith(`${SC}/v1/`) && path.split('/')[6] === plural)
        .map(([path, o]) => ({ ...(o as object), metadata: { namespace: path.split('/')[5], name: path.split('/')[7] } }));
    const api = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      requested.push(path);
      const json = (code: number, body: unknown): void => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (path === SC) return json(200, { versions: [{ version: 'v1' }] });
      const list = /^\/apis\/source\.toolkit\.fluxcd\.io\/v1\/(helmrepositories|ocirepositories|helmcharts)$/.exec(path);
      if (list) return listable ? json(200, { metadata: {}, items: items(list[1] ?? '') }) : json(403, { kind: 'Status', code: 403, reason: 'Forbidden' });
      const obj = objects[path];
      return obj ? json(200, obj) : json(404, { kind: 'Status', code: 404, reason: 'NotFound' });
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    const kc = kubeConfigFromText(JSON.stringify({ clusters: [{ name: 'c', cluster: { server: url } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }), '/x/config');
    return { kc, requested, close: () => api.close() };
  }

  it('each kind is listed once for every release (a HelmChart too), an object the list does not hold is read with one GET, and the answers are those of a GET per release', async () => {
    const api = await sourceApi(true);
    try {
      const shared = fluxSourceObjects(api.kc);
      const hr = { spec: { chart: { spec: { chart: 'web', sourceRef: { kind: 'HelmRepository', name: 'charts' } } } } };
      const viaChart = { spec: { chartRef: { kind: 'HelmChart', name: 'web' } } };
      for (let i = 0; i < 5; i++) {
        const alone = await readFluxHint(api.kc, { namespace: 'flux-system', name: `web-${i}` }, hr);
        assert.deepEqual(await readFluxHint(api.kc, { namespace: 'flux-system', name: `web-${i}` }, hr, shared), alone);
        const aloneChart = await readFluxHint(api.kc, { namespace: 'apps', name: `c-${i}` }, viaChart);
        assert.deepEqual(await readFluxHint(api.kc, { namespace: 'apps', name: `c-${i}` }, viaChart, shared), aloneChart);
        assert.equal(aloneChart?.source?.url, 'oci://ghcr.io/org/charts');
        // A source no list holds (deleted, or created after the list): one GET, once.
        await readFluxHint(api.kc, { namespace: 'apps', name: 'gone' }, { spec: { chart: { spec: { chart: 'web', sourceRef: { kind: 'HelmRepository', name: 'deleted' } } } } }, shared);
      }
      api.requested.length = 0;
      const again = fluxSourceObjects(api.kc);
      for (let i = 0; i < 5; i++) {
        await readFluxHint(api.kc, { namespace: 'flux-system', name: `web-${i}` }, hr, again);
        await readFluxHint(api.kc, { namespace: 'apps', name: `c-${i}` }, viaChart, again);
        await readFluxHint(api.kc, { namespace: 'apps', name: 'gone' }, { spec: { chart: { spec: { chart: 'web', sourceRef: { kind: 'HelmRepository', name: 'deleted' } } } } }, again);
      }
      assert.deepEqual(api.requested.sort(), [SC, `${SC}/v1/helmcharts`, `${SC}/v1/helmrepositories`, `${SC}/v1/namespaces/apps/helmrepositories/deleted`, `${SC}/v1beta2/namespaces/apps/helmrepositories/deleted`].sort(), '15 hints: one list of each kind read, and the missing source read once (v1, then v1beta2)');
    } finally {
      api.close();
    }
  });

  it('listing forbidden (Roles in some namespaces only): one GET per object, however many releases name it', async () => {
    const api = await sourceApi(false);
    try {
      const objs = fluxSourceObjects(api.kc);
      assert.deepEqual(await objs.list('HelmRepository'), [], 'discovery reads a forbidden list as none, as before');
      const hr = { spec: { chart: { spec: { chart: 'web', sourceRef: { kind: 'HelmRepository', name: 'charts' } } } } };
      for (let i = 0; i < 5; i++) assert.equal((await readFluxHint(api.kc, { namespace: 'flux-system', name: `web-${i}` }, hr, objs))?.source?.url, 'https://charts.example/stable/');
      assert.equal(api.requested.filter((p) => p === `${SC}/v1/namespaces/flux-system/helmrepositories/charts`).length, 1);
    } finally {
      api.close();
    }
  });

  it('without a shared list (the controller: one release\'s hint when it reconciles it) nothing is listed: one GET of the source', async () => {
    const api = await sourceApi(true);
    try {
      const hr = { spec: { chart: { spec: { chart: 'web', sourceRef: { kind: 'HelmRepository', name: 'charts' } } } } };
      await readFluxHint(api.kc, { namespace: 'flux-system', name: 'web' }, hr);
      assert.deepEqual(api.requested, [`${SC}/v1/namespaces/flux-system/helmrepositories/charts`]);
    } finally {
      api.close();
    }
  });
});
