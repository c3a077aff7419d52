/**
 * Which HelmRelease a release belongs to when none of its rendered objects carries helm-controller's origin
 * labels: the names helm-controller derives (api/v2 GetReleaseName, GetStorageNamespace, internal/release
 * ShortenName) and those its status history recorded. Objects shaped as helm-controller's API types say.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fluxReleaseKeys, fluxReleaseNames, fluxReleaseOwners } from '../../../../src/sources/discovery/flux.ts';
import { FluxOwners } from '../../../../src/controller/flux-owners.ts';

const hr = (namespace: string, name: string, spec: Record<string, unknown> = {}, status: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'helm.toolkit.fluxcd.io/v2',
  kind: 'HelmRelease',
  metadata: { namespace, name },
  spec: { interval: '10m', chart: { spec: { chart: 'podinfo', sourceRef: { kind: 'HelmRepository', name: 'podinfo' } } }, ...spec },
  status,
});

describe('fluxReleaseNames (helm-controller GetReleaseName + ShortenName)', () => {
  it('releaseName, else <targetNamespace>-<name>, else the name', () => {
    assert.deepEqual(fluxReleaseNames('web', {}), ['web']);
    assert.deepEqual(fluxReleaseNames('web', { targetNamespace: 'apps' }), ['apps-web']);
    assert.deepEqual(fluxReleaseNames('web', { targetNamespace: 'apps', releaseName: 'frontend' }), ['frontend']);
  });

  it('over 53 characters: the first 40, a dash and 12 hex of the SHA-256 (upstream name_test.go vectors); the long name is no release (Helm refuses it)', () => {
    const long = 'release-name-with-very-long-name-which-is-longer-than-53-characters';
    assert.deepEqual(fluxReleaseNames(long, {}), ['release-name-with-very-long-name-which-i-788ca0d0d7b0']);
    // A composed name: `printf %s monitoring-… | sha256sum` gives 4c51ce04d494….
    const [short] = fluxReleaseNames('kube-prometheus-stack-with-a-rather-long-helmrelease-name', { targetNamespace: 'monitoring' });
    assert.equal(short, 'monitoring-kube-prometheus-stack-with-a--4c51ce04d494');
    assert.equal(short?.length, 53);
    // Exactly 53 stays as it is.
    const n53 = 'a'.repeat(53);
    assert.deepEqual(fluxReleaseNames(n53, {}), [n53]);
  });
});

describe('fluxReleaseKeys', () => {
  it('stored in the HelmRelease\'s namespace; another storage namespace only once the status (helm-controller) says so; Helm\'s namespace is targetNamespace', () => {
    assert.deepEqual(fluxReleaseKeys(hr('flux-system', 'web', { targetNamespace: 'apps' })), { storage: ['flux-system/apps-web'], release: ['apps/apps-web'] });
    // spec.storageNamespace alone is anyone's word in their own namespace: it claims nothing elsewhere.
    assert.deepEqual(fluxReleaseKeys(hr('flux-system', 'web', { targetNamespace: 'apps', storageNamespace: 'apps' })).storage, ['flux-system/apps-web']);
    assert.deepEqual(fluxReleaseKeys(hr('flux-system', 'web', { targetNamespace: 'apps', storageNamespace: 'apps' }, { storageNamespace: 'apps' })).storage, ['flux-system/apps-web', 'apps/apps-web']);
  });

  it('the names and storage namespace the status recorded count too (a release renamed in the spec is still Flux\'s until it is gone), each history entry in its own namespace', () => {
    const k = fluxReleaseKeys(hr('apps', 'web', { releaseName: 'web-v2' }, { storageNamespace: 'apps-old', history: [{ name: 'web-v1', namespace: 'apps-before', version: 3, chartName: 'podinfo', chartVersion: '6.5.0', digest: 'sha256:00' }] }));
    assert.deepEqual(new Set(k.storage), new Set(['apps-old/web-v2', 'apps-old/web-v1', 'apps/web-v2', 'apps/web-v1']));
    assert.deepEqual(new Set(k.release), new Set(['apps/web-v2', 'apps/web-v1', 'apps-before/web-v1']));
  });

  it('objects without a usable shape give no keys that could name another release', () => {
    const owners = fluxReleaseOwners([{ kind: 'HelmRelease' }, { metadata: { name: 'x' } }, hr('apps', 'web', { releaseName: 7 }, { history: 'bad' })]);
    assert.deepEqual([...owners.byStorage.keys()], ['apps/web']);
  });
});

describe('fluxReleaseOwners', () => {
  it('one owner per release; the first HelmRelease by namespace/name wins a name two claim', () => {
    const owners = fluxReleaseOwners([hr('b', 'web', { storageNamespace: 'apps', releaseName: 'web' }, { storageNamespace: 'apps' }), hr('a', 'web', { storageNamespace: 'apps' }, { storageNamespace: 'apps' }), hr('apps', 'api')]);
    assert.deepEqual(owners.byStorage.get('apps/web'), { namespace: 'a', name: 'web' });
    assert.deepEqual(owners.byStorage.get('apps/api'), { namespace: 'apps', name: 'api' });
    assert.equal(owners.byStorage.get('apps/other'), undefined);
    assert.deepEqual(owners.byRelease.get('b/web'), { namespace: 'b', name: 'web' });
  });

  it('a HelmRelease for another cluster (spec.kubeConfig) owns nothing here', () => {
    const owners = fluxReleaseOwners([hr('apps', 'remote', { kubeConfig: { secretRef: { name: 'prod-kubeconfig' } } }), hr('apps', 'local')]);
    assert.deepEqual([...owners.byStorage.keys()], ['apps/local']);
    assert.deepEqual([...owners.byRelease.keys()], ['apps/local']);
  });
});

describe('FluxOwners.update', () => {
  it('reports the keys whose owner appeared, changed or went away, and nothing when the list is the same', () => {
    const o = new FluxOwners();
    const web = { namespace: 'apps', name: 'web' };
    assert.deepEqual(o.update(new Map([['apps/web', web]])), ['apps/web']);
    assert.deepEqual(o.update(new Map([['apps/web', { ...web }]])), []);
    assert.deepEqual(o.update(new Map([['apps/web', { namespace: 'apps', name: 'web2' }], ['apps/api', web]])).sort(), ['apps/api', 'apps/web']);
    assert.deepEqual(o.update(new Map()).sort(), ['apps/api', 'apps/web']);
    assert.equal(o.get('apps/web'), undefined);
  });
});
