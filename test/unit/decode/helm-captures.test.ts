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
    });
  }
});
