/**
 * The releases real helm 3 and helm 4 write into a real API server (Secret and ConfigMap drivers),
 * read back with @kubernetes/client-node and decoded by chartorigin's own decoder. The installed chart's
 * fingerprint must equal the fingerprint of the .tgz it was installed from: the premise of `Verified`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { fingerprintChart, fingerprintDifferences } from '../../src/chart/fingerprint.ts';
import type { ChartFingerprint } from '../../src/model/chart.ts';
import { currentRevisions, revisionRef } from '../../src/watch/current.ts';
import { decodeStoredRelease } from '../../src/decode/decode.ts';
import type { ReleaseRecord, StoredReleaseObject } from '../../src/model/release.ts';
import { readChartArchive } from '../../src/chart/archive.ts';
import { ensureNamespace } from '../harness/controlplane.ts';
import { adminKubeConfig, testEnv, uniqueNamespace, type TestEnv } from '../harness/env.ts';
import { HELM_DRIVERS, HELM_VERSIONS, helmInstall, helmRollback, helmUninstall, helmUpgrade, type HelmDriver } from '../harness/helm.ts';

let env: TestEnv;
let core: CoreV1Api;

before(() => {
  env = testEnv();
  core = adminKubeConfig().makeApiClient(CoreV1Api);
});

/** Helm's release objects for one release, exactly as the API lists them (items carry no `kind`). */
async function storedObjects(driver: HelmDriver, namespace: string, release: string): Promise<StoredReleaseObject[]> {
  const labelSelector = `owner=helm,name=${release}`;
  if (driver === 'secret') {
    const list = await core.listNamespacedSecret({ namespace, labelSelector });
    return list.items.map((s) => ({ type: s.type, metadata: s.metadata, data: s.data }));
  }
  const list = await core.listNamespacedConfigMap({ namespace, labelSelector });
  return list.items.map((c) => ({ metadata: c.metadata, data: c.data }));
}

interface Decoded {
  obj: StoredReleaseObject;
  rec: ReleaseRecord;
}

/** Decodes every revision, checks the invariants shared by all of them, returns them by revision. */
async function decodeAll(driver: HelmDriver, namespace: string, release: string): Promise<Decoded[]> {
  const objs = await storedObjects(driver, namespace, release);
  const out = objs.map((obj) => ({ obj, rec: decodeStoredRelease(obj) }));
  for (const { obj, rec } of out) {
    const labels = obj.metadata?.labels ?? {};
    assert.equal(obj.metadata?.name, `sh.helm.release.v1.${release}.v${rec.release.revision}`);
    assert.equal(labels['owner'], 'helm');
    assert.equal(labels['name'], release);
    assert.equal(labels['version'], String(rec.release.revision), 'version label = revision inside the release');
    assert.equal(labels['status'], rec.release.status, 'status label = status inside the release');
    assert.equal(rec.release.name, release);
    assert.equal(rec.release.namespace, namespace);
    assert.equal(rec.release.storage, driver === 'secret' ? 'Secret' : 'ConfigMap');
    if (driver === 'secret') assert.equal(obj.type, 'helm.sh/release.v1');
    assert.ok(rec.release.lastDeployed, 'lastDeployed is set');
  }
  return out.sort((a, b) => a.rec.release.revision - b.rec.release.revision);
}

/** The current revision as chartorigin picks it (highest `version` label), decoded. */
function current(all: Decoded[]): ReleaseRecord {
  const refs = all.map((d) => revisionRef(d.obj)).filter((r) => r !== undefined);
  assert.equal(refs.length, all.length);
  const cur = [...currentRevisions(refs).values()];
  assert.equal(cur.length, 1);
  const max = Math.max(...all.map((d) => d.rec.release.revision));
  assert.equal(cur[0]?.revision, max, 'current = highest version label');
  const rec = all.find((d) => d.rec.release.revision === max)?.rec;
  assert.ok(rec);
  return rec;
}

const tgzFingerprints = new Map<string, ChartFingerprint>();
function tarballFingerprint(path: string): ChartFingerprint {
  let fp = tgzFingerprints.get(path);
  if (!fp) {
    fp = fingerprintChart(readChartArchive(readFileSync(path)));
    tgzFingerprints.set(path, fp);
  }
  return fp;
}

function summary(d: Decoded[]): string[] {
  return d.map(({ rec }) => `${rec.release.revision}:${rec.release.status}:${rec.chart.name}-${rec.chart.version}`);
}

describe('helm release storage decoded by chartorigin', () => {
  for (const v of HELM_VERSIONS) {
    for (const driver of HELM_DRIVERS) {
      test(`helm ${v}, ${driver} driver: install, upgrade, rollback, uninstall`, async () => {
        const main = env.chartRepo.repos.main;
        const ns = uniqueNamespace(`h${v}-${driver}`);
        await ensureNamespace(env.cluster, ns);
        const o = { namespace: ns, driver };
        const v100 = main.charts['webapp-1.0.0'];
        const v110 = main.charts['webapp-1.1.0'];
        assert.ok(v100 && v110);

        // install from the classic repository (`--repo`), as users do
        await helmInstall(env.cluster, v, 'web', 'webapp', { ...o, repo: main.url, version: '1.0.0', set: { 'image.tag': 'fixture-dummy' } });
        let all = await decodeAll(driver, ns, 'web');
        assert.deepEqual(summary(all), ['1:deployed:webapp-1.0.0']);
        let cur = current(all);
        assert.equal(cur.chart.appVersion, '1.0.0');
        assert.equal(cur.chart.deprecated, false);
        assert.ok(cur.release.firstDeployed);
        assert.deepEqual(fingerprintDifferences(cur.fingerprint, tarballFingerprint(v100.path)), [], 'installed chart = published tarball');
        assert.notDeepEqual(fingerprintDifferences(cur.fingerprint, tarballFingerprint(v110.path)), []);

        // upgrade from a local .tgz
        await helmUpgrade(env.cluster, v, 'web', v110.path, o);
        all = await decodeAll(driver, ns, 'web');
        assert.deepEqual(summary(all), ['1:superseded:webapp-1.0.0', '2:deployed:webapp-1.1.0']);
        cur = current(all);
        assert.deepEqual(fingerprintDifferences(cur.fingerprint, tarballFingerprint(v110.path)), []);

        await helmRollback(env.cluster, v, 'web', 1, o);
        all = await decodeAll(driver, ns, 'web');
        assert.deepEqual(summary(all), ['1:superseded:webapp-1.0.0', '2:superseded:webapp-1.1.0', '3:deployed:webapp-1.0.0']);
        cur = current(all);
        assert.deepEqual(fingerprintDifferences(cur.fingerprint, tarballFingerprint(v100.path)), [], 'a rollback stores the old chart again');

        await helmUninstall(env.cluster, v, 'web', { ...o, keepHistory: true });
        all = await decodeAll(driver, ns, 'web');
        assert.deepEqual(summary(all), ['1:superseded:webapp-1.0.0', '2:superseded:webapp-1.1.0', '3:uninstalled:webapp-1.0.0']);
        assert.equal(current(all).release.status, 'uninstalled');

        await helmUninstall(env.cluster, v, 'web', o);
        assert.deepEqual(await storedObjects(driver, ns, 'web'), [], 'a plain uninstall removes every revision');
      });
    }
  }

  test('helm 3 and helm 4 store the same chart identically, from an OCI registry too', async () => {
    const ns = uniqueNamespace('oci');
    await ensureNamespace(env.cluster, ns);
    const oci = env.oci['ocichart-1.1.0'];
    assert.ok(oci);
    const fps: ChartFingerprint[] = [];
    for (const v of HELM_VERSIONS) {
      const release = `oci-h${v}`;
      await helmInstall(env.cluster, v, release, oci.ref, { namespace: ns, version: '1.1.0' });
      const all = await decodeAll('secret', ns, release);
      assert.deepEqual(summary(all), ['1:deployed:ocichart-1.1.0']);
      fps.push(current(all).fingerprint);
    }
    const [h3, h4] = fps;
    assert.ok(h3 && h4);
    assert.deepEqual(fingerprintDifferences(h3, h4), []);
    assert.deepEqual(fingerprintDifferences(h4, tarballFingerprint(oci.path)), []);
  });

  test('a fork with the same name and version does not fingerprint like the original', async () => {
    const ns = uniqueNamespace('fork');
    await ensureNamespace(env.cluster, ns);
    const fork = env.chartRepo.repos.fork;
    const original = env.chartRepo.repos.main.charts['webapp-1.1.0'];
    assert.ok(original);
    await helmInstall(env.cluster, 4, 'forked', 'webapp', { namespace: ns, repo: fork.url, version: '1.1.0' });
    const cur = current(await decodeAll('secret', ns, 'forked'));
    assert.equal(cur.chart.version, '1.1.0');
    assert.deepEqual(fingerprintDifferences(cur.fingerprint, tarballFingerprint(original.path)), ['templates/deployment.yaml']);
  });

  test('a failed install is stored with status failed and is still decodable', async () => {
    const ns = uniqueNamespace('failed');
    await ensureNamespace(env.cluster, ns);
    const chart = env.chartRepo.repos.main.charts['legacy-1.0.0'];
    assert.ok(chart);
    for (const v of HELM_VERSIONS) {
      const release = `bad-h${v}`;
      // The API server rejects the Service (invalid type), so helm records the release as failed.
      await assert.rejects(helmInstall(env.cluster, v, release, chart.path, { namespace: ns, set: { 'service.type': 'NoSuchType' } }));
      const cur = current(await decodeAll('secret', ns, release));
      assert.equal(cur.release.status, 'failed');
      assert.equal(cur.chart.name, 'legacy');
      assert.equal(cur.chart.deprecated, true);
    }
  });
});
