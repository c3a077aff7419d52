import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fluxSourceToSpec } from '../../../../src/sources/discovery/flux.ts';
import { helmSourcesOf, isManifestDigest, uniqueOriginNames } from '../../../../src/sources/discovery/argocd.ts';

const digest = `sha256:${'ab'.repeat(32)}`;

describe('Flux sources → ChartRepository specs (source-controller v1.9 API types)', () => {
  it('HelmRepository type default: URL, secretRef and certSecretRef in its own namespace', () => {
    const r = fluxSourceToSpec('HelmRepository', { metadata: { name: 'podinfo', namespace: 'flux-system' }, spec: { url: 'https://stefanprodan.github.io/podinfo/', secretRef: { name: 'auth' }, certSecretRef: { name: 'ca' } } });
    assert.ok('spec' in r);
    assert.equal(r.spec.url, 'https://stefanprodan.github.io/podinfo');
    assert.deepEqual(r.spec.secretRef, { name: 'auth', namespace: 'flux-system' });
    assert.deepEqual(r.spec.caSecretRef, { name: 'ca', namespace: 'flux-system' });
    assert.equal(r.spec.plainHTTP, false);
  });

  it('user info in a source URL is never copied into the ChartRepository made of it (cluster-scoped, logged)', () => {
    const r = fluxSourceToSpec('HelmRepository', { metadata: { name: 'x', namespace: 'n' }, spec: { url: 'https://reader:s3cret@charts.example/stable/' } });
    assert.ok('spec' in r);
    assert.equal(r.spec.url, 'https://charts.example/stable');
    assert.ok(!JSON.stringify(r).includes('s3cret'), 'the password appears nowhere');
    assert.ok(r.notes.some((n) => /user info/.test(n)));
    // Flux refuses an OCI reference with user info (name.ParseReference): the source stalls, nothing is discovered.
    for (const kind of ['OCIRepository', 'HelmRepository'] as const) {
      const o = fluxSourceToSpec(kind, { metadata: { name: 'x', namespace: 'n' }, spec: { type: 'oci', url: 'oci://reader:s3cret@registry.example/charts/app', provider: 'aws' } });
      assert.ok('skip' in o && /user info/.test(o.skip) && !o.skip.includes('s3cret'), kind);
    }
    // Cut where the clients' URL parser cuts: a backslash ends WHATWG's host but Go refuses the URL; never a
    // repository on the host after it.
    const slash = fluxSourceToSpec('HelmRepository', { metadata: { name: 'x', namespace: 'n' }, spec: { url: 'https://host.example\\@evil.example/charts' } });
    assert.ok('skip' in slash, JSON.stringify(slash));
    const plain = fluxSourceToSpec('OCIRepository', { metadata: { name: 'x', namespace: 'n' }, spec: { url: 'oci://registry.example/charts/app' } });
    assert.ok('spec' in plain && !plain.notes.some((n) => /user info/.test(n)));
  });

  it('HelmRepository type oci keeps its prefix; insecure means plain HTTP', () => {
    const r = fluxSourceToSpec('HelmRepository', { metadata: { name: 'r', namespace: 'n' }, spec: { type: 'oci', url: 'oci://registry.local:5000/charts', insecure: true } });
    assert.ok('spec' in r);
    assert.equal(r.spec.url, 'oci://registry.local:5000/charts');
    assert.equal(r.spec.plainHTTP, true);
  });

  it('OCIRepository names one artifact: its repository is the URL without the chart name', () => {
    const r = fluxSourceToSpec('OCIRepository', { metadata: { name: 'podinfo', namespace: 'n' }, spec: { url: 'oci://ghcr.io/stefanprodan/charts/podinfo', ref: { semver: '6.x' }, provider: 'aws' } });
    assert.ok('spec' in r);
    assert.equal(r.spec.url, 'oci://ghcr.io/stefanprodan/charts');
    // Carried over as declared: ghcr.io is no ECR registry, which the ChartRepository then fails on, as Flux does.
    assert.equal(r.spec.provider, 'aws');
    assert.deepEqual(r.notes, []);
  });

  it('unusable objects are skipped; a suspended one still declares where its releases came from', () => {
    const suspended = fluxSourceToSpec('HelmRepository', { metadata: { name: 'a', namespace: 'n' }, spec: { url: 'https://x', suspend: true } });
    assert.ok(!('skip' in suspended) && suspended.spec.url === 'https://x');
    assert.ok('skip' in fluxSourceToSpec('HelmRepository', { metadata: { name: 'a', namespace: 'n' }, spec: { url: 'ftp://x' } }));
    assert.ok('skip' in fluxSourceToSpec('OCIRepository', { metadata: { name: 'a', namespace: 'n' }, spec: { url: 'https://x/y' } }));
  });
});

describe('Argo CD Applications → Helm sources (argo-cd v3.2 API types)', () => {
  const meta = { name: 'web', namespace: 'argocd' };
  it('spec.source with chart from an HTTP repository, synced version and history', () => {
    const [s, ...rest] = helmSourcesOf({ metadata: meta, spec: { source: { repoURL: 'https://charts.example/', chart: 'web', targetRevision: '1.*' } }, status: { sync: { status: 'Synced', revision: '1.4.0' }, history: [{ id: 1, deployedAt: '2026-01-01T00:00:00Z' }, { id: 2, deployedAt: '2026-02-01T00:00:00Z' }] } });
    assert.equal(rest.length, 0);
    assert.equal(s?.originName, 'web');
    assert.equal(s?.kind, 'http');
    assert.equal(s?.repositoryURL, 'https://charts.example');
    assert.equal(s?.syncedRevision, '1.4.0');
    assert.equal(s?.historyId, 2);
    assert.equal(s?.firstDeployedAt, '2026-01-01T00:00:00Z');
  });

  it('multi-source: git sources are skipped, Helm-OCI without scheme and native OCI are recognised, each with its revision', () => {
    const list = helmSourcesOf({
      metadata: meta,
      spec: { sources: [{ repoURL: 'https://git.example/x.git', path: 'values', ref: 'v' }, { repoURL: 'registry.example/charts', chart: 'api', targetRevision: '2.0.0' }, { repoURL: 'oci://registry.example/charts/db', targetRevision: '3.1.0' }] },
      status: { sync: { status: 'OutOfSync', revisions: ['0123abc', '2.0.0', digest] } },
    });
    assert.deepEqual(list.map((s) => [s.originName, s.kind, s.repositoryURL, s.chart, s.syncedRevision]), [
      ['web', 'oci', 'oci://registry.example/charts', 'api', '2.0.0'],
      ['web-2', 'oci', 'oci://registry.example/charts', 'db', digest],
    ]);
    assert.equal(isManifestDigest(list[1]?.syncedRevision), true);
    assert.equal(isManifestDigest(list[0]?.syncedRevision), false);
  });

  it('what was deployed is the last history entry of the same source, not the target the last comparison resolved', () => {
    const source = { repoURL: 'https://charts.example', chart: 'web', targetRevision: '1.*' };
    // A manual-sync app: 1.5.0 is out, 1.4.0 still runs.
    const [a] = helmSourcesOf({ metadata: meta, spec: { source }, status: { sync: { status: 'OutOfSync', revision: '1.5.0' }, history: [{ id: 7, revision: '1.4.0', source }] } });
    assert.equal(a?.syncedRevision, '1.4.0');
    // The chart was changed in the spec since: the history entry deployed another source.
    const [b] = helmSourcesOf({ metadata: meta, spec: { source }, status: { sync: { status: 'OutOfSync', revision: '1.5.0' }, history: [{ id: 7, revision: '0.9.0', source: { ...source, chart: 'old' } }] } });
    assert.equal(b?.syncedRevision, '1.5.0');
    // Multi-source: revisions and sources of the entry line up with spec.sources.
    const sources = [{ repoURL: 'https://git.example/x.git', path: 'values', ref: 'v' }, { repoURL: 'registry.example/charts', chart: 'api', targetRevision: '2.*' }];
    const [c] = helmSourcesOf({ metadata: meta, spec: { sources }, status: { sync: { status: 'OutOfSync', revisions: ['abc', '2.1.0'] }, history: [{ id: 3, revisions: ['abd', '2.0.0'], sources }] } });
    assert.equal(c?.syncedRevision, '2.0.0');
  });

  it('an Application without Helm sources has none', () => {
    assert.deepEqual(helmSourcesOf({ metadata: meta, spec: { source: { repoURL: 'https://git.example/x.git', path: '.' } } }), []);
  });

  it('`<app>-<index>` that is another Application\'s name: that Application keeps the ChartOrigin, the later source gets none, whatever the list order', () => {
    const multi = { metadata: { name: 'web', namespace: 'argocd' }, spec: { sources: [{ repoURL: 'https://charts.example', chart: 'web', targetRevision: '1.0.0' }, { repoURL: 'https://charts.example', chart: 'db', targetRevision: '2.0.0' }] } };
    const single = { metadata: { name: 'web-1', namespace: 'argocd' }, spec: { source: { repoURL: 'https://charts.example', chart: 'cache', targetRevision: '3.0.0' } } };
    for (const apps of [[multi, single], [single, multi]]) {
      const { kept, dropped } = uniqueOriginNames(apps.flatMap(helmSourcesOf));
      assert.deepEqual(kept.map((d) => [d.originName, d.application, d.chart]).sort(), [['web', 'web', 'web'], ['web-1', 'web-1', 'cache']]);
      assert.deepEqual(dropped.map((x) => [x.source.application, x.source.index, x.keptBy.application]), [['web', 1, 'web-1']]);
    }
    const alone = uniqueOriginNames(helmSourcesOf(multi));
    assert.equal(alone.kept.length, 2);
    assert.equal(alone.dropped.length, 0);
  });
});
