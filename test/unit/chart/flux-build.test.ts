import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHelmYaml, type ChartContent } from '../../../src/chart/content.ts';
import { fingerprintChart } from '../../../src/chart/fingerprint.ts';
import { effectiveValuesFiles, fluxBuild, fluxMergeMaps, fluxTransformations, withBuildMetadata, FluxBuildError, type FluxHint } from '../../../src/chart/flux-build.ts';
import { fluxTransformation } from '../../../src/resolve/flux-proof.ts';
import { proveContent } from '../../../src/resolve/proof.ts';
import { chartFromJson, treeJson, type HelmChart } from '../../../src/chart/helm-install.ts';
import type { ReleaseRecord } from '../../../src/model/release.ts';
import { chartRelative } from '../../../src/sources/discovery/flux.ts';

const enc = new TextEncoder();
const parseValues = (text: string): unknown => parseHelmYaml(text, 'values.yaml');
const file = (name: string, text: string): { name: string; data: Uint8Array } => ({ name, data: enc.encode(text) });

function chart(version = '6.5.0'): ChartContent {
  return {
    metadata: { apiVersion: 'v2', name: 'podinfo', version },
    values: { replicaCount: 1, image: { repository: 'ghcr.io/stefanprodan/podinfo', tag: '6.5.0' }, ports: [80, 443] },
    schema: undefined,
    templates: [file('templates/deployment.yaml', 'kind: Deployment\n')],
    files: [file('values-prod.yaml', 'replicaCount: 3\nimage:\n  tag: 6.5.1\nports: [8080]\n'), file('values-ha.yaml', 'replicaCount: 5\nha: true\n'), file('README.md', '# podinfo\n')],
  };
}

describe('Flux build (source-controller v1.9 / helm-controller v1.6 semantics)', () => {
  it('MergeMaps: nested maps merge, lists and scalars replace, b wins', () => {
    assert.deepEqual(fluxMergeMaps({ a: { x: 1, y: [1, 2] }, b: 1 }, { a: { y: [3], z: 2 }, b: { c: 1 } }), { a: { x: 1, y: [3], z: 2 }, b: { c: 1 } });
  });

  it('values.yaml alone is no values-files build; any other list is', () => {
    assert.deepEqual(effectiveValuesFiles(['./values.yaml']), []);
    assert.deepEqual(effectiveValuesFiles(['values.yaml', 'values-prod.yaml']), ['values.yaml', 'values-prod.yaml']);
  });

  it('merges in the listed order, starting from nothing: without values.yaml the defaults are gone', () => {
    const c = chart();
    assert.deepEqual(fluxBuild(c, { valuesFiles: ['values.yaml', 'values-prod.yaml'] }).values, { replicaCount: 3, image: { repository: 'ghcr.io/stefanprodan/podinfo', tag: '6.5.1' }, ports: [8080] });
    assert.deepEqual(fluxBuild(c, { valuesFiles: ['values-prod.yaml', 'values.yaml'] }).values, c.values);
    assert.deepEqual(fluxBuild(c, { valuesFiles: ['values-ha.yaml'] }).values, { replicaCount: 5, ha: true });
  });

  // Expected values printed by source-controller v1.9.0's own mergeChartValues + OverwriteChartDefaultValues +
  // setBuildMetaData on the same charts (a one-off Go program in its module; see the gitops branch report).
  it('matches source-controller on YAML 1.1 scalars, nulls, nested maps and a key that YAML 1.1 reads as a boolean', () => {
    const c: ChartContent = {
      ...chart('2.1.0-rc.1'),
      values: parseValues('a:\n  b:\n    c: 1\n    d: [1, 2]\n  e: null\nf: on\ng: 0755\nh: 1.50\n'),
      files: [file('ci/prod-values.yaml', 'a:\n  b:\n    d: [3]\n  e:\n    x: 1\nf: null\nk: 1e3\n')],
    };
    const b = fluxBuild(c, { valuesFiles: ['./values.yaml', 'ci/prod-values.yaml'], versionMetadata: '17' });
    assert.deepEqual(b.values, { a: { b: { c: 1, d: [3] }, e: { x: 1 } }, f: null, g: 493, h: 1.5, k: 1000 });
    assert.equal(b.metadata['version'], '2.1.0-rc.1+17');
    const d: ChartContent = { ...chart('0.3.0'), values: { x: 1 }, files: [file('values-prod.yaml', 'y: {z: [a, b]}\n'), file('values-eu.yaml', 'y: {w: 2}\nx: 9\n')] };
    assert.deepEqual(fluxBuild(d, { valuesFiles: ['values-prod.yaml', 'values.yaml', 'values-eu.yaml'], versionMetadata: '1' }).values, { true: { w: 2, z: ['a', 'b'] }, x: 9 });
  });

  it('a missing values file fails the build unless ignoreMissingValuesFiles', () => {
    assert.throws(() => fluxBuild(chart(), { valuesFiles: ['values.yaml', 'nope.yaml'] }), FluxBuildError);
    assert.deepEqual(fluxBuild(chart(), { valuesFiles: ['values.yaml', 'nope.yaml'], ignoreMissingValuesFiles: true }).values, chart().values);
  });

  it('build metadata replaces the published one and renders the version canonically', () => {
    assert.equal(withBuildMetadata('6.5.0', '2'), '6.5.0+2');
    assert.equal(withBuildMetadata('v1.2', 'abc'), '1.2.0+abc');
    assert.equal(withBuildMetadata('1.0.0-rc.1+old', '7'), '1.0.0-rc.1+7');
    assert.equal(fluxBuild(chart(), { versionMetadata: '3' }).metadata['version'], '6.5.0+3');
  });

  it('templates, files and schema are untouched', () => {
    const c = chart();
    const b = fluxBuild(c, { valuesFiles: ['values.yaml', 'values-prod.yaml'], versionMetadata: '2' });
    assert.equal(b.templates, c.templates);
    assert.equal(b.files, c.files);
  });

  it('transformations need the installed version to be the published one plus Flux build metadata', () => {
    assert.deepEqual(fluxTransformations(chart(), '6.5.0'), []);
    assert.deepEqual(fluxTransformations(chart(), '6.5.1+2'), []);
    const inferred = fluxTransformations(chart(), '6.5.0+2');
    assert.ok(inferred.length > 3 && inferred.length <= 400);
    const hinted = fluxTransformations(chart(), '6.5.0+2', undefined, { valuesFiles: ['values.yaml', 'values-prod.yaml'], from: 'HelmRelease apps/web' });
    assert.equal(hinted.length, inferred.length, 'the hinted list first, then the inferred ones without it');
    assert.match(hinted[0]?.description ?? '', /^values merged from values.yaml, values-prod.yaml by Flux \(version \+2 = the HelmChart generation, HelmRelease apps\/web\)$/);
    assert.ok(hinted.slice(1).every((t) => t.description.includes('inferred')));
  });
});

describe('the Flux build as a proof transformation: the published chart as it is, then each build Flux could have made', () => {
  const flux = { namespace: 'apps', name: 'web' };
  const decoder = new TextDecoder();
  /** The published chart as the proof holds it: a tree with the parent's extra YAML files. */
  const published = (c: ChartContent, manifestDigest?: string) => ({
    fingerprint: fingerprintChart(c),
    manifestDigest,
    tree: treeJson({
      metadata: c.metadata as HelmChart['metadata'],
      values: c.values as HelmChart['values'],
      subcharts: [],
      yamlFiles: Object.fromEntries(c.files.filter((f) => /\.ya?ml$/.test(f.name)).map((f) => [f.name, decoder.decode(f.data)])),
    }),
  });
  const record = (version: string, built: ChartContent, managed = true): ReleaseRecord => ({
    release: { name: 'web', namespace: 'apps', revision: 1, status: 'deployed', storage: 'Secret' },
    chart: { name: 'podinfo', version, deprecated: false },
    fingerprint: fingerprintChart(built),
    ...(managed ? { flux } : {}),
  });
  const prove = (r: ReleaseRecord, p: ReturnType<typeof published>, hint?: FluxHint) => proveContent(r, p, { transformations: [fluxTransformation(hint)] });

  it('a Flux values-file build is proven, with the merge named, with and without the HelmRelease', async () => {
    const built = fluxBuild(chart(), { valuesFiles: ['values.yaml', 'values-prod.yaml'], versionMetadata: '2' });
    const hinted = await prove(record('6.5.0+2', built), published(chart()), { valuesFiles: ['values.yaml', 'values-prod.yaml'], from: 'HelmRelease apps/web' });
    assert.deepEqual(hinted.differences, []);
    assert.match(hinted.accounted.join('; '), /values merged from values.yaml, values-prod.yaml by Flux/);
    const inferred = await prove(record('6.5.0+2', built), published(chart()));
    assert.deepEqual(inferred.differences, []);
    assert.match(inferred.accounted.join('; '), /values merged from values.yaml, values-prod.yaml by Flux .*inferred/);
  });

  it('a stale hint falls back to the chart’s files; values no merge of them gives stay a difference; a Helm-managed release is never explained by a merge', async () => {
    const built = fluxBuild(chart(), { valuesFiles: ['values.yaml', 'values-prod.yaml'], versionMetadata: '2' });
    assert.match((await prove(record('6.5.0+2', built), published(chart()), { valuesFiles: ['values-ha.yaml'] })).accounted.join('; '), /inferred/);
    const other = { ...built, values: { replicaCount: 7 } };
    assert.ok((await prove(record('6.5.0+2', other), published(chart()), { valuesFiles: ['values-ha.yaml'] })).differences.includes('values'));
    assert.ok((await prove(record('6.5.0+2', built, false), published(chart()))).differences.includes('values'));
  });

  it('values files the published chart does not hold (a git source\'s file outside the chart): not reproducible, so Unverified, never Mismatch; a template edit still is one', async () => {
    // What Flux built from the git source: the chart's values with a file from elsewhere in the repository.
    const built = { ...fluxBuild(chart(), { valuesFiles: ['values.yaml'], versionMetadata: '3' }), values: { replicaCount: 9, fromClusterDir: true } };
    const hint: FluxHint = { valuesFiles: ['values.yaml', 'clusters/prod/app-values.yaml'], from: 'HelmRelease apps/web' };
    const p = await prove(record('6.5.0+3', built), published(chart()), hint);
    assert.deepEqual(p.differences, []);
    assert.match(p.unverifiable ?? '', /Flux merged values files the published chart does not hold \(values.yaml, clusters\/prod\/app-values.yaml, HelmRelease apps\/web\): no values file found at path 'clusters\/prod\/app-values.yaml'/);
    const edited = { ...built, templates: [file('templates/deployment.yaml', 'kind: Deployment\nspec: {hostNetwork: true}\n')] };
    assert.ok((await prove(record('6.5.0+3', edited), published(chart()), hint)).differences.includes('templates/deployment.yaml'));
    // The same values on a release Helm installed stay a difference.
    assert.ok((await prove(record('6.5.0+3', built, false), published(chart()), hint)).differences.includes('values'));
  });

  it('a git source\'s values-file paths are read from the source root: those inside the chart become the chart\'s names', () => {
    assert.equal(chartRelative('./charts/app', './charts/app/values-prod.yaml'), 'values-prod.yaml');
    assert.equal(chartRelative('charts/app/', 'charts/app/values.yaml'), 'values.yaml');
    assert.equal(chartRelative('./charts/app', './clusters/prod/app.yaml'), 'clusters/prod/app.yaml');
    assert.equal(chartRelative('./charts/app', 'charts/application/values.yaml'), 'charts/application/values.yaml');
  });

  it('an edited template stays a difference even with a Flux build', async () => {
    const edited = { ...chart(), templates: [file('templates/deployment.yaml', 'kind: Deployment\nspec: {hostNetwork: true}\n')] };
    const built = fluxBuild(edited, { valuesFiles: ['values.yaml', 'values-prod.yaml'], versionMetadata: '2' });
    const p = await prove(record('6.5.0+2', built), published(chart()));
    assert.ok(p.differences.includes('templates/deployment.yaml'));
    assert.deepEqual(p.accounted, []);
  });

  it('a values.yaml of several YAML documents: Flux 2.8+ (source-controller on Helm 4) merges them all before the values files, older Flux took the first; both are proven', async () => {
    // What the real source-controller v1.9.0 built (test/e2e/flux-source-controller.test.ts): `extra` from the
    // second document is in the artifact's values.yaml.
    const docs = { first: { replicaCount: 1, image: { repository: 'ghcr.io/stefanprodan/podinfo', tag: '6.5.0' } }, helm4: { replicaCount: 1, image: { repository: 'ghcr.io/stefanprodan/podinfo', tag: '6.5.0' }, extra: { enabled: true } } };
    const base = { ...chart(), values: docs.first };
    const p = published(base);
    const tree = JSON.parse(p.tree) as Record<string, unknown>;
    const multi = { ...p, tree: JSON.stringify({ ...tree, v4: docs.helm4 }) };
    const files = ['values.yaml', 'values-prod.yaml'];
    const hint: FluxHint = { valuesFiles: files, from: 'HelmRelease apps/web' };
    const current = fluxBuild({ ...base, values: docs.helm4 }, { valuesFiles: files, versionMetadata: '1' });
    assert.deepEqual((current.values as { extra?: unknown }).extra, { enabled: true });
    const byCurrent = await prove(record('6.5.0+1', current), multi, hint);
    assert.deepEqual(byCurrent.differences, []);
    assert.match(byCurrent.accounted.join('; '), /values.yaml's YAML documents merged, as source-controller 1.8\+ \(Helm 4\) loads it/);
    const older = fluxBuild(base, { valuesFiles: files, versionMetadata: '1' });
    assert.deepEqual((await prove(record('6.5.0+1', older), multi, hint)).differences, []);
    // The values files without values.yaml: the reading changes nothing, one variant.
    const helm4 = fluxTransformation(hint).variants(chartFromJson(multi.tree), record('6.5.0+1', current), {}).filter((v) => v.name.includes('Helm 4'));
    assert.ok(helm4.length > 0 && helm4.every((v) => /merged from (?:[^(]*, )?values\.yaml(?:,| by)/.test(v.name)), 'only merges that read values.yaml get a Helm 4 variant');
  });

  it('the OCI digest suffix of helm-controller is named when it matches the manifest digest', async () => {
    const digest = `sha256:0123456789ab${'c'.repeat(52)}`;
    const built = fluxBuild(chart(), { versionMetadata: '0123456789ab' });
    const p = await prove(record('6.5.0+0123456789ab', built), published(chart(), digest));
    assert.deepEqual(p.differences, []);
  });
});
