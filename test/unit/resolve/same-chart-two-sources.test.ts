/**
 * One chart served byte for byte by an HTTP repository and an OCI registry (podinfo's GitHub Pages repository and
 * ghcr.io), proven through analyzeRelease with one shared published-chart cache: the Flux release's HelmRelease
 * source picks the repository, and each repository keeps its own manifest digest although the tarball (the
 * cache key) is one.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { readChartArchive } from '../../../src/chart/archive.ts';
import { fingerprintChart } from '../../../src/chart/fingerprint.ts';
import { analyzeRelease } from '../../../src/resolve/analyze.ts';
import { PublishedChartCache } from '../../../src/resolve/chart-cache.ts';
import type { FluxSourceHint } from '../../../src/chart/flux-build.ts';
import type { ChartSource, ChartVersionEntry } from '../../../src/model/repository.ts';
import type { ReleaseRecord } from '../../../src/model/release.ts';
import { tgz } from '../chart/tar-writer.ts';

const BYTES = tgz([
  { name: 'podinfo/Chart.yaml', data: 'apiVersion: v2\nname: podinfo\nversion: 6.5.0\n' },
  { name: 'podinfo/values.yaml', data: 'replicaCount: 1\n' },
  { name: 'podinfo/templates/cm.yaml', data: 'kind: ConfigMap\n' },
]);
const TARBALL = `sha256:${createHash('sha256').update(BYTES).digest('hex')}`;
const MANIFEST = `sha256:${'c'.repeat(64)}`;
const HTTP_URL = 'https://stefanprodan.github.io/podinfo';
const OCI_PREFIX = 'oci://ghcr.io/stefanprodan/charts';

function source(kind: 'http' | 'oci'): ChartSource {
  // As the real sources list them: the index advertises the digest, the registry's details name layer and manifest.
  const entry: ChartVersionEntry = { name: 'podinfo', version: '6.5.0', deprecated: false, digest: TARBALL, urls: [kind === 'http' ? `${HTTP_URL}/podinfo-6.5.0.tgz` : `${OCI_PREFIX}/podinfo:6.5.0`], ...(kind === 'oci' ? { manifestDigest: MANIFEST } : {}) };
  return {
    config: { name: kind === 'http' ? 'podinfo' : 'podinfo-oci', url: kind === 'http' ? HTTP_URL : OCI_PREFIX, priority: 0, intervalSeconds: 3600, insecureSkipTLSVerify: false, plainHTTP: false },
    kind,
    versions: async () => [entry],
    details: async (e) => e,
    fetchChart: async () => ({ bytes: BYTES, tarballDigest: TARBALL, manifestDigest: kind === 'oci' ? MANIFEST : undefined }),
    repoURL: (chart) => (kind === 'http' ? HTTP_URL : `${OCI_PREFIX}/${chart}`),
    probe: async () => ({ charts: 1, changed: false }),
    close: async () => {},
  };
}

function release(flux: boolean): ReleaseRecord {
  return {
    release: { name: 'podinfo', namespace: 'apps', revision: 1, status: 'deployed', storage: 'Secret' },
    chart: { name: 'podinfo', version: '6.5.0', deprecated: false },
    fingerprint: fingerprintChart(readChartArchive(BYTES)),
    ...(flux ? { flux: { namespace: 'apps', name: 'podinfo' } } : {}),
  };
}

const helmRepo = (url: string): FluxSourceHint => ({ kind: 'HelmRepository', namespace: 'apps', name: 'podinfo', url, via: "HelmRelease apps/podinfo's sourceRef" });

async function origin(order: ('http' | 'oci')[], flux: boolean, declared?: FluxSourceHint) {
  const analysis = await analyzeRelease(release(flux), { sources: order.map(source), cache: new PublishedChartCache(), flux: declared ? { source: declared } : undefined, now: () => new Date('2026-01-01T00:00:00Z') });
  return analysis.report.origin;
}

describe('the same chart over HTTP and OCI', () => {
  it("a Flux release is Verified from its HelmRelease's source, whichever repository downloaded the shared tarball first", async () => {
    for (const order of [['http', 'oci'], ['oci', 'http']] as ('http' | 'oci')[][]) {
      const fromHttp = await origin(order, true, helmRepo(`${HTTP_URL}/`));
      assert.deepEqual([fromHttp.match, fromHttp.repository, fromHttp.repoURL, fromHttp.tarballDigest], ['Verified', 'podinfo', HTTP_URL, TARBALL], order.join());
      assert.equal(fromHttp.manifestDigest, undefined, `${order.join()}: an HTTP repository has no manifest (never the registry's)`);
      const fromOci = await origin(order, true, helmRepo(OCI_PREFIX));
      assert.deepEqual([fromOci.match, fromOci.repository, fromOci.repoURL, fromOci.tarballDigest], ['Verified', 'podinfo-oci', `${OCI_PREFIX}/podinfo`, TARBALL], order.join());
      assert.equal(fromOci.manifestDigest, MANIFEST, `${order.join()}: the registry's own manifest`);
      assert.deepEqual(fromOci.candidates?.map((c) => c.repository), ['podinfo', 'podinfo-oci']);
    }
  });

  it('a Helm release (no HelmRelease) stays Ambiguous, even with a hint at hand', async () => {
    const o = await origin(['http', 'oci'], false, helmRepo(OCI_PREFIX));
    assert.equal(o.match, 'Ambiguous');
    assert.equal(o.message, 'identical chart served by podinfo, podinfo-oci with equal priority');
  });
});
