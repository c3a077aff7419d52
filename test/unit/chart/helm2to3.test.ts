/**
 * Releases installed by Helm 2 and converted by helm-2to3, made with Helm 2's real loader and requirements
 * processing (k8s.io/helm v2.17.0) and helm-2to3's mapping (test/fixtures/helm2to3/README.md), against the
 * tarballs they came from. Before the Helm 2 rule every one of them was a Mismatch (metadata: 2to3 adds
 * `type: application`; lock: 2to3 stores none; schema: Helm 2 kept values.schema.json among the files; values:
 * Helm 2 wrote the coalesced values of a chart with requirements.yaml back into it). Anything else changed in
 * such a release is still a Mismatch, and a release Helm 4 marked is never proven this way.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { readChartTree } from '../../../src/chart/chart-tree.ts';
import { fingerprintChart, metadataDigest, valuesDigest } from '../../../src/chart/fingerprint.ts';
import { chartFromJson, HELM2TO3_ID, HELM_BEHAVIOURS, helmProcessChart, treeJson } from '../../../src/chart/helm-install.ts';
import { CoalesceError } from '../../../src/chart/coalesce.ts';
import { releaseFromJson } from '../../../src/decode/decode.ts';
import { proofInputsOf } from '../../../src/decode/proof-inputs.ts';
import { proveContent, type PublishedForProof } from '../../../src/resolve/proof.ts';
import { FIXTURES } from '../helpers.ts';

const DIR = `${FIXTURES}helm2to3/`;
const NOTE = "converted from a Helm 2 release by helm-2to3 (Helm 2's loading and requirements processing)";

interface StoredFile {
  name: string;
  data: string;
}
interface Stored {
  chart: { metadata: Record<string, unknown>; values: Record<string, unknown> | null; templates: StoredFile[]; files: StoredFile[] | null; schema?: string | null; lock?: unknown; schemamodtime?: string };
}

const CASES = [
  { file: 'legacy-umbrella.v1.json', chart: 'legacy-umbrella-1.2.3.tgz' },
  { file: 'legacy-umbrella-enabled.v1.json', chart: 'legacy-umbrella-1.2.3.tgz' },
  { file: 'plain.v1.json', chart: 'plain-0.4.0.tgz' },
  { file: 'no-api.v1.json', chart: 'no-api-0.0.9.tgz' },
  { file: 'with-schema.v1.json', chart: 'with-schema-3.0.0.tgz' },
  { file: 'nested.v1.json', chart: 'nested-2.0.0.tgz' },
  { file: 'nested-tags-on.v1.json', chart: 'nested-2.0.0.tgz' },
  { file: 'bom.v1.json', chart: 'bom-0.2.0.tgz' },
  { file: 'loose.v1.json', chart: 'loose-0.5.0.tgz' },
] as const;
type Case = (typeof CASES)[number];

function load(c: Case, edit?: (r: Stored) => void) {
  const release = JSON.parse(readFileSync(`${DIR}${c.file}`, 'utf8')) as Stored;
  edit?.(release);
  const record = releaseFromJson(JSON.stringify(release), c.file, 'Secret', 'helm2to3');
  const { content, tree } = readChartTree(readFileSync(`${DIR}charts/${c.chart}`));
  const published: PublishedForProof = { fingerprint: fingerprintChart(content), tree: treeJson(tree) };
  return { record, published };
}

const umbrella = CASES[0];
const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('releases converted from Helm 2 by helm-2to3 (Helm 2.17.0 loader and processing)', () => {
  for (const c of CASES) {
    it(`${c.file} is Verified, by the Helm 2 rule only`, async () => {
      const { record, published } = load(c);
      const proof = await proveContent(record, published);
      assert.deepEqual(proof.differences, []);
      assert.equal(proof.unverifiable, undefined);
      assert.ok(proof.accounted.includes(NOTE), proof.accounted.join('; '));
      // What the Helm 2 rule computes is what Helm 2 + helm-2to3 stored; no Helm 3 or 4 rule computes it.
      const inputs = proofInputsOf(record);
      const reproducing = HELM_BEHAVIOURS.filter((b) => {
        const parts = helmProcessChart(chartFromJson(published.tree), inputs?.conditionValues ?? null, b);
        return metadataDigest(parts.metadata) === record.fingerprint.metadata && valuesDigest(parts.values) === record.fingerprint.values;
      }).map((b) => b.id);
      assert.deepEqual(reproducing, [HELM2TO3_ID]);
    });
  }

  it('the umbrella: disabled subchart left out of the values, the enabled one coalesced and imported (names only)', async () => {
    const { record, published } = load(umbrella);
    const accounted = (await proveContent(record, published)).accounted.join('; ');
    assert.match(accounted, /disabled disabled-dep dropped/);
    assert.match(accounted, /import-values applied/);
    assert.doesNotMatch(accounted, /requirements\.yaml folded into metadata/, 'Helm 2 never put dependencies in the metadata');
    const enabled = load(CASES[1]);
    assert.doesNotMatch((await proveContent(enabled.record, enabled.published)).accounted.join('; '), /disabled/, 'enabled by the user values');
    // One subchart under two aliases whose own requirements import from its subchart; a tag disables another.
    const nested = load(CASES[5]);
    assert.match((await proveContent(nested.record, nested.published)).accounted.join('; '), /alias mid→first, mid→second, disabled tagged dropped/);
    const tagsOn = load(CASES[6]);
    assert.doesNotMatch((await proveContent(tagsOn.record, tagsOn.published)).accounted.join('; '), /disabled/, 'the user enabled the tag');
  });

  it('byte order marks stay in templates, files and values.schema.json (Helm 2 never trimmed them)', async () => {
    const { record, published } = load(CASES[7]);
    assert.ok(published.fingerprint.withBom?.['templates/cm.yaml'] && published.fingerprint.withBom['schema'], 'the published chart has them');
    assert.deepEqual((await proveContent(record, published)).differences, []);
    const trimmed = load(CASES[7], (r) => void ((r.chart.templates[0] as StoredFile).data = b64('kind: ConfigMap\n')));
    assert.deepEqual((await proveContent(trimmed.record, trimmed.published)).differences, ['templates/cm.yaml'], 'Helm 3.3+ would trim it, Helm 2 did not');
  });

  it('the tree keeps what Helm 2 reads: requirements.yaml only, and an absent or empty values.yaml', () => {
    const { tree } = readChartTree(readFileSync(`${DIR}charts/legacy-umbrella-1.2.3.tgz`));
    const again = chartFromJson(treeJson(tree));
    assert.deepEqual(again.helm2Requirements?.map((d) => d.name), ['enabled-dep', 'disabled-dep']);
    assert.equal(again.helm2EmptyValues, undefined);
    const plain = chartFromJson(treeJson(readChartTree(readFileSync(`${DIR}charts/plain-0.4.0.tgz`)).tree));
    assert.equal(plain.helm2Requirements, undefined);
  });

  it('an edited value, template, file, metadata field, or a schema or lock is still a Mismatch', async () => {
    const edits: [Case, (r: Stored) => void, string[]][] = [
      [umbrella, (r) => void ((r.chart.values?.['image'] as Record<string, unknown>)['tag'] = '6.6.6'), ['values']],
      [umbrella, (r) => void delete (r.chart.values?.['enabled-dep'] as Record<string, unknown>)['replicas'], ['values']],
      [umbrella, (r) => void ((r.chart.values as Record<string, unknown>)['imported'] = { port: 1 }), ['values']],
      [CASES[2], (r) => void ((r.chart.values as Record<string, unknown>)['port'] = 81), ['values']],
      [umbrella, (r) => void (r.chart.metadata['description'] = 'another chart'), ['metadata']],
      [umbrella, (r) => void (r.chart.metadata['type'] = 'library'), ['metadata']],
      [CASES[3], (r) => void (r.chart.metadata['kubeVersion'] = '>=1.10'), ['metadata']],
    ];
    for (const [c, edit, expected] of edits) {
      const { record, published } = load(c, edit);
      // Values: the Helm 2 rule explains the metadata, so the rest is named against what Helm 2 stores (no `lock`).
      // Metadata: no rule explains it, and the rest is named against the published chart.
      const differences = (await proveContent(record, published)).differences;
      if (expected[0] === 'values') assert.deepEqual(differences, expected, `${c.file}: ${edit.toString()}`);
      else assert.equal(differences[0], expected[0], `${c.file}: ${edit.toString()}`);
    }
    const template = load(umbrella, (r) => void ((r.chart.templates[1] as StoredFile).data = b64('kind: Secret\n')));
    assert.ok((await proveContent(template.record, template.published)).differences.includes('templates/cm.yaml'));
    const file = load(umbrella, (r) => void (r.chart.files = [...(r.chart.files ?? []), { name: 'extra.txt', data: b64('x') }]));
    assert.ok((await proveContent(file.record, file.published)).differences.length > 0);
    const requirements = load(umbrella, (r) => void (((r.chart.files ?? []).find((f) => f.name === 'requirements.yaml') as StoredFile).data = b64('dependencies: []\n')));
    assert.ok((await proveContent(requirements.record, requirements.published)).differences.includes('files/requirements.yaml'));
    // Helm 2 kept values.schema.json among the files and stored no schema: both at once is no Helm's doing.
    const schema = load(CASES[4], (r) => void (r.chart.schema = (r.chart.files ?? [])[0]?.data ?? null));
    assert.ok((await proveContent(schema.record, schema.published)).differences.length > 0);
    const lost = load(CASES[4], (r) => void (r.chart.files = null));
    assert.deepEqual((await proveContent(lost.record, lost.published)).differences, ['files/values.schema.json'], 'named against what Helm 2 stores');
  });

  it('a release Helm 4 marked never takes the Helm 2 rule', async () => {
    for (const c of CASES) {
      const { record, published } = load(c, (r) => void (r.chart.schemamodtime = '2020-11-12T10:00:00Z'));
      assert.equal(record.helmMajor, 4);
      const proof = await proveContent(record, published);
      assert.ok(proof.differences.length > 0, c.file);
      assert.ok(!proof.accounted.includes(NOTE));
    }
  });

  it('Helm 2 loads only apiVersion v1 charts (or none): a v2 chart is no Helm 2 release', () => {
    const { tree } = readChartTree(readFileSync(`${DIR}charts/plain-0.4.0.tgz`));
    tree.metadata['apiVersion'] = 'v2';
    const b = HELM_BEHAVIOURS.find((x) => x.id === HELM2TO3_ID);
    assert.ok(b);
    assert.throws(() => helmProcessChart(tree, null, b), CoalesceError);
  });
});
