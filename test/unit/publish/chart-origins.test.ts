import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { ChartOriginStore } from '../../../src/publish/chart-origins.ts';
import { kubeConfigFromText } from '../../../src/kube/kubeconfig.ts';

const kc = kubeConfigFromText(JSON.stringify({ clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }], contexts: [{ name: 'x', context: { cluster: 'c' } }], 'current-context': 'x' }), '/nonexistent/kubeconfig');

const object = (rv: number, generation: number, spec: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): unknown => ({
  apiVersion: 'chartorigin.io/v1alpha1',
  kind: 'ChartOrigin',
  metadata: { name: 'web', namespace: 'apps', uid: 'u1', resourceVersion: String(rv), generation, labels: { 'app.kubernetes.io/managed-by': 'chartorigin' } },
  spec,
  ...extra,
});

describe('ChartOriginStore cache (what the informer feeds)', () => {
  it('tells a spec edit (generation) from a status write, and serves spec, conditions and the published summary from memory', () => {
    const store = new ChartOriginStore(kc);
    assert.equal(store.get('apps', 'web'), undefined);
    assert.equal(store.observe(object(10, 1)), 'new');
    const status = { conditions: [{ type: 'Ready', status: 'True', reason: 'Verified', message: 'ok', lastTransitionTime: 't' }], origin: { match: 'Verified', repository: 'main' }, latest: { version: '2.0.0' } };
    assert.equal(store.observe(object(11, 1, {}, { status })), 'none', 'a status write is not a spec edit');
    assert.deepEqual(store.get('apps', 'web')?.published, { match: 'Verified', repository: 'main', latest: '2.0.0', deprecated: false, readyReason: 'Verified' });
    assert.equal(store.observe(object(12, 2, { versionConstraint: '<2.0.0', allowPrerelease: true, repository: 'oci' })), 'spec');
    assert.deepEqual(store.get('apps', 'web')?.spec, { repository: 'oci', versionConstraint: '<2.0.0', allowPrerelease: true });
    assert.equal(store.get('apps', 'web')?.generation, 2);
    assert.deepEqual(store.managed().map((o) => o.key), ['apps/web']);
  });

  it('ignores an event older than what it knows (a write-through came first), and treats a new uid as a new object', () => {
    const store = new ChartOriginStore(kc);
    store.observe(object(20, 3, { versionConstraint: '~1' }));
    assert.equal(store.observe(object(19, 2)), 'none');
    assert.equal(store.get('apps', 'web')?.generation, 3);
    const recreated = object(25, 1) as { metadata: { uid: string } };
    recreated.metadata.uid = 'u2';
    assert.equal(store.observe(recreated), 'new');
    assert.equal(store.get('apps', 'web')?.uid, 'u2');
    store.forget('apps', 'web');
    assert.equal(store.get('apps', 'web'), undefined);
    assert.equal(store.observe({ metadata: { name: 'no-namespace' } }), 'none');
  });

  it('tells specChanged about a spec edit first seen in its own status write, and not again when the edit\'s event arrives', async () => {
    // The API server answers the status apply with the object as stored: a user edited spec (generation
    // 2, rv 100) while the release was analysed, and the status write is rv 101.
    const server = http.createServer((req, res) => {
      req.resume();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(object(101, 2, { versionConstraint: '<2' })));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const local = kubeConfigFromText(JSON.stringify({ clusters: [{ name: 'c', cluster: { server: url } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }), '/nonexistent/kubeconfig');
      const changed: string[] = [];
      const store = new ChartOriginStore(local, { specChanged: (ns, name) => changed.push(`${ns}/${name}`) });
      store.observe(object(99, 1));
      await store.applyStatus('apps', 'web', { conditions: [], observedGeneration: 1 });
      assert.deepEqual(changed, ['apps/web']);
      assert.deepEqual(store.get('apps', 'web')?.spec, { repository: undefined, versionConstraint: '<2', allowPrerelease: false });
      assert.equal(store.observe(object(100, 2, { versionConstraint: '<2' })), 'none');
      assert.deepEqual(changed, ['apps/web'], 'the late watch event changes nothing');
    } finally {
      server.close();
    }
  });
});
