/**
 * Release objects captured from a real API server after real helm 3 / helm 4 runs
 * (scripts/capture-release-fixtures.ts): every one decodes, agrees with its labels, and carries the
 * chart it was installed from, byte for byte in content.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fingerprintChart, fingerprintDifferences } from '../../../src/chart/fingerprint.ts';
import { decodeStoredRelease } from '../../../src/decode/decode.ts';
import type { StoredReleaseObject } from '../../../src/model/release.ts';
import { readChartArchive } from '../../../src/chart/archive.ts';
import { FIXTURES } from '../helpers.ts';
import type { Capture } from '../../../scripts/capture-release-fixtures.ts';


const manifest = JSON.parse(readFileSync(`${FIXTURES}releases/manifest.json`, 'utf8')) as { captures: Capture[] };

describe('releases captured from real helm 3 and helm 4', () => {
  test('cover both helm versions, both drivers and several statuses', () => {
    const seen = new Set(manifest.captures.map((c) => `${c.helm}/${c.driver}`));
    assert.deepEqual([...seen].sort(), ['3/configmap', '3/secret', '4/configmap', '4/secret']);
    const statuses = new Set(manifest.captures.map((c) => c.status));
    for (const s of ['deployed', 'superseded', 'failed', 'uninstalled']) assert.ok(statuses.has(s), s);
  });

  for (const c of manifest.captures) {
    test(c.file, () => {
      const obj = JSON.parse(readFileSync(`${FIXTURES}releases/${c.file}`, 'utf8')) as StoredReleaseObject;
      const rec = decodeStoredRelease(obj);
      assert.equal(rec.release.name, c.release);
      assert.equal(rec.release.namespace, c.namespace);
      assert.equal(rec.release.revision, c.revision);
      assert.equal(rec.release.status, c.status);
      assert.equal(rec.release.storage, c.driver === 'secret' ? 'Secret' : 'ConfigMap');
      assert.equal(`${rec.chart.name}-${rec.chart.version}`, c.chart);
      assert.equal(obj.metadata?.labels?.['status'], c.status);
      assert.equal(obj.metadata?.labels?.['version'], String(c.revision));
      const published = fingerprintChart(readChartArchive(readFileSync(`${FIXTURES}${c.installedFrom}`)));
      assert.deepEqual(fingerprintDifferences(rec.fingerprint, published), []);
      // Charts that render objects, no Flux labels: plain Helm's without a list of HelmReleases (flux.ts fluxListNeeded).
      assert.equal(rec.manifestObjects, true);
      assert.equal(rec.flux, undefined);
    });
  }
});

describe('equal fingerprints are one object', () => {
  test('releases of the same chart content share one frozen fingerprint; other content gets its own', () => {
    const tarball = manifest.captures[0]?.installedFrom as string;
    const one = fingerprintChart(readChartArchive(readFileSync(`${FIXTURES}${tarball}`)));
    const again = fingerprintChart(readChartArchive(readFileSync(`${FIXTURES}${tarball}`)));
    assert.equal(again, one, 'the same tarball read twice: the same object');
    assert.ok(Object.isFrozen(one) && Object.isFrozen(one.templates), 'shared, so nobody may change it');
    const content = readChartArchive(readFileSync(`${FIXTURES}${tarball}`));
    const other = fingerprintChart({ ...content, metadata: { ...content.metadata, version: '9.9.9' } });
    assert.notEqual(other, one, 'other content, another object');
    assert.notEqual(other.metadata, one.metadata);
    // Every capture installed from that tarball whose fingerprint equals it is that very object.
    let same = 0;
    for (const c of manifest.captures) {
      const rec = decodeStoredRelease(JSON.parse(readFileSync(`${FIXTURES}releases/${c.file}`, 'utf8')) as StoredReleaseObject);
      if (JSON.stringify(rec.fingerprint) !== JSON.stringify(one)) continue;
      assert.equal(rec.fingerprint, one, c.file);
      same++;
    }
    assert.ok(same >= 2, `several captures share the tarball's fingerprint (${same})`);
  });
});
