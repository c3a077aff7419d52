/**
 * A chart that aliases one subchart three times (foo, bar, baz), the subchart importing values from its own
 * subchart and that one from its own, as each tested helm really stored it (captured by
 * scripts/capture-aliased-import-fixtures.ts; the shape of Helm's testdata chart
 * chart-with-import-from-aliased-dependencies, where test/e2e/helm-testdata-charts.test.ts found it). Helm 3
 * shares the dependency objects between the alias copies, and processImportValues' type switch does not match
 * the entries it rewrote itself: every alias after the first imports nothing (bar-defaults is never set), Helm 4
 * copies them. Before the rule (RewrittenImports in src/chart/helm-install.ts) every Helm 3 capture was a false
 * Mismatch.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { readChartTree } from '../../../src/chart/chart-tree.ts';
import { fingerprintChart, metadataDigest, valuesDigest } from '../../../src/chart/fingerprint.ts';
import { chartFromJson, HELM_BEHAVIOURS, helmProcessChart, treeJson } from '../../../src/chart/helm-install.ts';
import { releaseFromJson } from '../../../src/decode/decode.ts';
import { proveContent, type PublishedForProof } from '../../../src/resolve/proof.ts';
import type { AliasedImportCapture } from '../../../scripts/capture-aliased-import-fixtures.ts';
import { FIXTURES } from '../helpers.ts';

const DIR = `${FIXTURES}aliased-imports/`;
type Stored = { chart: { values: Record<string, unknown> } };
const table = (v: unknown): Record<string, unknown> => v as Record<string, unknown>;
const manifest = JSON.parse(readFileSync(`${DIR}manifest.json`, 'utf8')) as { captures: AliasedImportCapture[] };
const version = (c: AliasedImportCapture): string => /^v\d+\.\d+\.\d+/.exec(c.helm)?.[0] ?? '';

const HELM3_MERGE = ['helm 3.20.1+', 'helm 3.19.5-3.20.0', 'helm 3.17.1-3.19.4', 'helm 3.13.1-3.17.0', 'helm 3.13.0'];
const HELM3_COALESCE = ['helm 3.8.2-3.12', 'helm 3.7-3.8.1', 'helm 3.2-3.6', 'helm 3.1.2-3.1.3', 'helm 3.0-3.1.1'];
/** The rules that reproduce each capture's metadata and values: never one of the other major version. */
const EXPECTED: Record<string, string[]> = {
  'v3.12.3': HELM3_COALESCE,
  'v3.17.2': HELM3_MERGE,
  'v3.22.0': HELM3_MERGE,
  'v4.1.4': ['helm 4.2+', 'helm 4.1.3+', 'helm 4.0-4.1.2'],
  'v4.3.2': ['helm 4.2+', 'helm 4.1.3+', 'helm 4.0-4.1.2'],
};

function load(c: AliasedImportCapture, edit?: (release: Stored) => void) {
  const release = JSON.parse(readFileSync(`${DIR}${c.file}`, 'utf8')) as Stored;
  edit?.(release);
  const record = releaseFromJson(JSON.stringify(release), c.file, 'Secret', 'aliased');
  const { content, tree } = readChartTree(readFileSync(`${DIR}${c.chart}`));
  const published: PublishedForProof = { fingerprint: fingerprintChart(content), tree: treeJson(tree) };
  return { release, record, published };
}

describe('a subchart aliased three times whose own subcharts import values (real captures)', () => {
  it('covers every tested helm', () => {
    assert.deepEqual(manifest.captures.map(version).sort(), Object.keys(EXPECTED).sort());
  });

  for (const c of manifest.captures) {
    it(`${c.file} (${c.helm}) is proven, by the rules of its own major version only`, async () => {
      const { release, record, published } = load(c);
      const helm4 = c.helm.startsWith('v4');
      // What Helm stored: the second alias got its imports in Helm 4 only; mid's own imports from leaf too.
      assert.equal('bar-defaults' in release.chart.values, helm4, 'bar-defaults');
      assert.equal('fromLeaf' in table(release.chart.values['bar-mid']), helm4, 'bar-mid.fromLeaf');
      assert.ok('foo-defaults' in release.chart.values, 'the first alias imports in every version');

      const proof = await proveContent(record, published);
      assert.deepEqual(proof.differences, []);
      assert.match(proof.accounted.join('; '), /alias child→foo, child→bar, child→baz, import-values applied/);
      // Helm 3 and 4 stored these; the Helm 2 rule (major 2) is checked on its own captures (helm2to3.test.ts).
      const reproducing = HELM_BEHAVIOURS.filter((b) => b.major !== 2).filter((b) => {
        const parts = helmProcessChart(chartFromJson(published.tree), null, b);
        return metadataDigest(parts.metadata) === record.fingerprint.metadata && valuesDigest(parts.values) === record.fingerprint.values;
      }).map((b) => b.id);
      assert.deepEqual(reproducing, EXPECTED[version(c)]);
    });
  }

  it('values made to look like the other major version stored them are a Mismatch', async () => {
    const helm3 = manifest.captures.find((c) => version(c) === 'v3.22.0');
    const helm4 = manifest.captures.find((c) => version(c) === 'v4.3.2');
    assert.ok(helm3 && helm4);
    const edits: [AliasedImportCapture, (r: Stored) => void][] = [
      // Helm 3 never sets bar-defaults; Helm 4 always does.
      [helm3, (r) => void (r.chart.values['bar-defaults'] = { defaultValue: '42' })],
      [helm4, (r) => void delete r.chart.values['bar-defaults']],
      [helm3, (r) => void (table(r.chart.values['baz-mid'])['fromLeaf'] = { k: 'v' })],
    ];
    for (const [c, edit] of edits) {
      const { record, published } = load(c, edit);
      assert.deepEqual((await proveContent(record, published)).differences, ['values'], `${c.file}: ${edit.toString()}`);
    }
  });
});
