/**
 * Which HelmRelease a release belongs to when none of its rendered objects carries helm-controller's origin
 * labels: the names helm-controller derives (api/v2 GetReleaseName, GetStorageNamespace, internal/release
 * ShortenName) and those its status history recorded. Objects shaped as helm-controller's API types say.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fluxReleaseKeys, fluxReleaseNames, fluxReleaseOwners, releaseFluxOwner } from '../../../../src/sources/discovery/flux.ts';
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

/**
 * A HelmRelease as helm-controller (api/v2, v1.6) leaves it after installing `releaseName` into `releaseNamespace`,
 * stored in `storageNamespace`: the status fields its reconciler writes (helmrelease_controller.go sets
 * status.storageNamespace from GetStorageNamespace; the history Snapshot of the install).
 */
const installed = (namespace: string, name: string, spec: Record<string, unknown>, release: { name: string; namespace: string; storageNamespace: string }): Record<string, unknown> =>
  hr(namespace, name, spec, {
    observedGeneration: 1,
    conditions: [
      { type: 'Ready', status: 'True', reason: 'InstallSucceeded', message: `Helm install succeeded for release ${release.namespace}/${release.name}.v1 with chart podinfo@6.5.0`, lastTransitionTime: '2026-11-30T10:00:00Z', observedGeneration: 1 },
      { type: 'Released', status: 'True', reason: 'InstallSucceeded', message: `Helm install succeeded for release ${release.namespace}/${release.name}.v1 with chart podinfo@6.5.0`, lastTransitionTime: '2026-11-30T10:00:00Z', observedGeneration: 1 },
    ],
    helmChart: `${namespace}-${name}`,
    storageNamespace: release.storageNamespace,
    history: [{ apiVersion: 'v2', appVersion: '6.5.0', chartName: 'podinfo', chartVersion: '6.5.0', configDigest: `sha256:${'1'.repeat(64)}`, digest: `sha256:${'2'.repeat(64)}`, firstDeployed: '2026-11-30T10:00:00Z', lastDeployed: '2026-11-30T10:00:00Z', name: release.name, namespace: release.namespace, status: 'deployed', action: 'install', version: 1 }],
    lastAttemptedGeneration: 1,
    lastAttemptedConfigDigest: `sha256:${'1'.repeat(64)}`,
    lastAttemptedReleaseAction: 'install',
    lastAttemptedRevision: '6.5.0',
  });

/**
 * A HelmRelease as helm-controller (api/v2, v1.6) leaves it when its first attempt was refused before any
 * release was written: reconcileRelease set status.storageNamespace from GetStorageNamespace and the
 * lastAttempted fields, then the Helm action failed — here impersonating team-a's ServiceAccount, which may not
 * read prod's release Secrets (atomic_release.go: Ready False, reason StateError) — and the deferred patch
 * wrote it all. No Snapshot: helm-controller wrote nothing into that storage.
 */
const refused = (namespace: string, name: string, spec: Record<string, unknown>, storageNamespace: string): Record<string, unknown> =>
  hr(namespace, name, spec, {
    observedGeneration: -1,
    conditions: [
      { type: 'Reconciling', status: 'True', reason: 'ProgressingWithRetry', message: 'Could not determine release state: failed to retrieve last release from storage', lastTransitionTime: '2026-11-30T10:00:00Z', observedGeneration: 1 },
      { type: 'Ready', status: 'False', reason: 'StateError', message: `Could not determine release state: failed to retrieve last release from storage: query: failed to query with labels: secrets is forbidden: User "system:serviceaccount:${namespace}:default" cannot list resource "secrets" in API group "" in the namespace "${storageNamespace}"`, lastTransitionTime: '2026-11-30T10:00:00Z', observedGeneration: 1 },
    ],
    helmChart: `${namespace}-${name}`,
    storageNamespace,
    lastAttemptedGeneration: 1,
    lastAttemptedConfigDigest: `sha256:${'1'.repeat(64)}`,
    lastAttemptedRevision: '6.5.0',
  });

describe('fluxReleaseKeys', () => {
  it('stored in the HelmRelease\'s namespace; another storage namespace only for names its history recorded; never keyed by the release namespace (targetNamespace)', () => {
    assert.deepEqual(fluxReleaseKeys(hr('flux-system', 'web', { targetNamespace: 'apps' })), ['flux-system/apps-web']);
    // spec.storageNamespace alone is anyone's word in their own namespace: it claims nothing elsewhere, and
    // nothing in its own namespace either (helm-controller stores elsewhere for it).
    assert.deepEqual(fluxReleaseKeys(hr('flux-system', 'web', { targetNamespace: 'apps', storageNamespace: 'apps' })), []);
    // Installed by helm-controller into storage `apps`: the Snapshot names the release it wrote there, and only there.
    assert.deepEqual(fluxReleaseKeys(installed('flux-system', 'web', { targetNamespace: 'apps', storageNamespace: 'apps' }, { name: 'apps-web', namespace: 'apps', storageNamespace: 'apps' })), ['apps/apps-web']);
    // Installed into its own namespace: the Snapshot and the spec name the same key.
    assert.deepEqual(fluxReleaseKeys(installed('flux-system', 'web', { targetNamespace: 'apps' }, { name: 'apps-web', namespace: 'apps', storageNamespace: 'flux-system' })), ['flux-system/apps-web']);
  });

  it('status.storageNamespace without a Snapshot (helm-controller sets it before any Helm action, and patches it when the action fails) claims nothing in that namespace', () => {
    const spoof = refused('team-a', 'payments', { storageNamespace: 'prod', targetNamespace: 'prod', releaseName: 'payments' }, 'prod');
    assert.deepEqual(fluxReleaseKeys(spoof), []);
    // A status that says so, with an empty history (as ClearHistory leaves it): the same.
    const cleared = refused('team-a', 'payments', { storageNamespace: 'prod', releaseName: 'payments' }, 'prod');
    (cleared['status'] as Record<string, unknown>)['history'] = [];
    assert.deepEqual(fluxReleaseKeys(cleared), []);
  });

  it('in another storage namespace only the names a Snapshot recorded, not those the spec derives; in its own namespace both (a release renamed in the spec is still Flux\'s until it is gone)', () => {
    const snapshot = (name: string): Record<string, unknown> => ({ apiVersion: 'v2', digest: `sha256:${'2'.repeat(64)}`, name, namespace: 'apps-before', version: 3, status: 'deployed', chartName: 'podinfo', chartVersion: '6.5.0', configDigest: `sha256:${'1'.repeat(64)}`, firstDeployed: '2026-11-30T10:00:00Z', lastDeployed: '2026-11-30T10:00:00Z' });
    const k = fluxReleaseKeys(hr('apps', 'web', { releaseName: 'web-v2', storageNamespace: 'apps-old' }, { storageNamespace: 'apps-old', history: [snapshot('web-v1')] }));
    assert.deepEqual(k, ['apps-old/web-v1'], 'the Snapshot counts where it was written, and the spec stores elsewhere than apps');
    assert.ok(!k.includes('apps-old/web-v2'), 'a name only the spec derives is not claimed in another namespace');
    // Snapshot.namespace is the release namespace: it never makes a storage key.
    assert.ok(!k.some((x) => x.startsWith('apps-before/')));
    // Renamed in the spec, storing in its own namespace: the old name (recorded) and the new one (spec).
    assert.deepEqual(new Set(fluxReleaseKeys(hr('apps', 'web', { releaseName: 'web-v2' }, { storageNamespace: 'apps', history: [snapshot('web-v1')] }))), new Set(['apps/web-v1', 'apps/web-v2']));
  });

  it('objects without a usable shape give no keys that could name another release', () => {
    const owners = fluxReleaseOwners([{ kind: 'HelmRelease' }, { metadata: { name: 'x' } }, hr('apps', 'web', { releaseName: 7 }, { history: 'bad' }), hr('apps', 'api', {}, { storageNamespace: 'prod', history: [{ name: 7 }, 'payments', null] })]);
    assert.deepEqual([...owners.keys()].sort(), ['apps/api', 'apps/web']);
  });
});

describe('fluxReleaseOwners', () => {
  it('one owner per release; of two HelmReleases elsewhere that recorded one name, the first by namespace/name', () => {
    const owners = fluxReleaseOwners([
      installed('b', 'web', { storageNamespace: 'apps', releaseName: 'web' }, { name: 'web', namespace: 'b', storageNamespace: 'apps' }),
      installed('a', 'web', { storageNamespace: 'apps' }, { name: 'web', namespace: 'a', storageNamespace: 'apps' }),
      hr('apps', 'api'),
    ]);
    assert.deepEqual(owners.get('apps/web'), { namespace: 'a', name: 'web' });
    assert.deepEqual(owners.get('apps/api'), { namespace: 'apps', name: 'api' });
    assert.equal(owners.get('apps/other'), undefined);
    // b's spec stores in apps: b itself holds no release of it.
    assert.equal(owners.get('b/web'), undefined);
  });

  it('a key two claim: the one whose history records writing it, then the one in the storage namespace, then the first by name', () => {
    // Both recorded writing prod's `payments` (aaa once, before its storage moved; prod's own now): prod's wins,
    // whatever the names sort as.
    const elsewhere = installed('aaa', 'payments', { storageNamespace: 'prod' }, { name: 'payments', namespace: 'aaa', storageNamespace: 'prod' });
    const homeInstalled = installed('prod', 'payments', {}, { name: 'payments', namespace: 'prod', storageNamespace: 'prod' });
    for (const list of [[elsewhere, homeInstalled], [homeInstalled, elsewhere]]) {
      assert.deepEqual(fluxReleaseOwners(list).get('prod/payments'), { namespace: 'prod', name: 'payments' });
    }
    // prod's HelmRelease only wishes (never reconciled, suspended, failing: no Snapshot); aaa's history records
    // the write: aaa's keeps it — the proof must read the values files of the one that wrote the release.
    const homeWish = hr('prod', 'payments');
    for (const list of [[elsewhere, homeWish], [homeWish, elsewhere]]) {
      assert.deepEqual(fluxReleaseOwners(list).get('prod/payments'), { namespace: 'aaa', name: 'payments' });
    }
    // aaa's spec stores in prod: aaa holds no release of that name in aaa.
    assert.equal(fluxReleaseOwners([elsewhere]).get('aaa/payments'), undefined);
    // Two wishes in one namespace: the first by name.
    assert.deepEqual(fluxReleaseOwners([hr('prod', 'zz', { releaseName: 'payments' }), hr('prod', 'aa', { releaseName: 'payments' })]).get('prod/payments'), { namespace: 'prod', name: 'aa' });
    // And a forged status (no Snapshot) in `aaa` claims nothing.
    assert.equal(fluxReleaseOwners([refused('aaa', 'payments', { storageNamespace: 'prod' }, 'prod')]).get('prod/payments'), undefined);
  });

  it('a HelmRelease for another cluster (spec.kubeConfig) owns nothing here, not even what its status.storageNamespace names', () => {
    const remote = installed('apps', 'remote', { kubeConfig: { secretRef: { name: 'prod-kubeconfig' } }, targetNamespace: 'prod', storageNamespace: 'prod', releaseName: 'payments' }, { name: 'payments', namespace: 'prod', storageNamespace: 'prod' });
    const owners = fluxReleaseOwners([remote, hr('apps', 'local')]);
    assert.deepEqual([...owners.keys()], ['apps/local']);
    assert.equal(releaseFluxOwner({}, 'prod/payments', (k) => owners.get(k)), undefined);
  });

  it('only the storage namespaces served, when given: a list of all namespaces brings HelmReleases that store elsewhere', () => {
    const hrs = [installed('team-a', 'web', { storageNamespace: 'shared' }, { name: 'web', namespace: 'team-a', storageNamespace: 'shared' }), hr('team-b', 'api')];
    assert.deepEqual([...fluxReleaseOwners(hrs, ['shared']).entries()], [['shared/web', { namespace: 'team-a', name: 'web' }]]);
    assert.deepEqual([...fluxReleaseOwners(hrs).keys()].sort(), ['shared/web', 'team-b/api']);
  });
});

describe('releaseFluxOwner: who installs a release, the rule of scan and the controller', () => {
  // helm-controller's HelmRelease in team-a, installing into prod as `payments`: the release it installs is
  // stored in team-a (GetStorageNamespace), and says namespace prod in Helm's JSON.
  const spoof = installed('team-a', 'payments', { targetNamespace: 'prod', releaseName: 'payments' }, { name: 'payments', namespace: 'prod', storageNamespace: 'team-a' });
  const owners = fluxReleaseOwners([spoof]);
  const ownerOf = (k: string): { namespace: string; name: string } | undefined => owners.get(k);

  it('a HelmRelease in another namespace with targetNamespace and releaseName does not claim the plain-Helm release of that name stored in the target namespace', () => {
    assert.equal(releaseFluxOwner({}, 'prod/payments', ownerOf), undefined);
  });

  it('it does own its own release, stored in its namespace (though that release says namespace prod)', () => {
    assert.deepEqual(releaseFluxOwner({}, 'team-a/payments', ownerOf), { namespace: 'team-a', name: 'payments' });
  });

  it('a HelmRelease in namespace A whose status.storageNamespace is B owns its release stored in B once a Snapshot records it', () => {
    const a = installed('a', 'web', { storageNamespace: 'b' }, { name: 'web', namespace: 'a', storageNamespace: 'b' });
    const o = fluxReleaseOwners([a], ['b']);
    assert.deepEqual(releaseFluxOwner({}, 'b/web', (k) => o.get(k)), { namespace: 'a', name: 'web' });
  });

  it('a HelmRelease in team-a with storageNamespace prod whose install was refused (status says prod, no Snapshot) does not own prod\'s plain-Helm release, in a list of all namespaces or of prod only', () => {
    const spoof = refused('team-a', 'payments-takeover', { storageNamespace: 'prod', targetNamespace: 'prod', releaseName: 'payments' }, 'prod');
    for (const served of [undefined, ['prod']]) {
      const o = fluxReleaseOwners([spoof], served);
      assert.equal(releaseFluxOwner({}, 'prod/payments', (k) => o.get(k)), undefined, String(served));
    }
  });

  it('origin labels win; without a storage key (an object whose release cannot be told) only the labels count', () => {
    const labelled = { flux: { namespace: 'flux-system', name: 'payments' } };
    assert.deepEqual(releaseFluxOwner(labelled, 'team-a/payments', ownerOf), labelled.flux);
    assert.equal(releaseFluxOwner({}, undefined, ownerOf), undefined);
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
