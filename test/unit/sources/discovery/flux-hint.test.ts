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
import { readFluxHint } from '../../../../src/sources/discovery/flux.ts';

let served: string[] = [];
const requested: string[] = [];
let server: Server;

before(async () => {
  server = createServer((req, res) => {
    requested.push(req.url ?? '');
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
      assert.match(requested.at(-1) ?? '', new RegExp(`/${versions[0] ?? ''}/`), 'the newest served version');
    }
    served = [];
    assert.equal(await readFluxHint(kc(), { namespace: 'flux-system', name: 'web' }), undefined);
  });
});
