/**
 * Flux's REAL source-controller (v1.9.0 = Flux v2.9, built from its Go module by scripts/tools.sh
 * source-controller) against the real control plane, the real HTTP chart repository server and the real OCI
 * registry: what it builds is what chartorigin must prove, with nothing hand-written in between.
 *
 * For each HelmRelease the test creates the HelmChart helm-controller would create for it (named
 * `<HelmRelease namespace>-<HelmRelease name>` in the source's namespace, spec copied from spec.chart.spec),
 * waits for source-controller to build it, downloads status.artifact.url and installs that archive with real
 * helm under the HelmRelease's name (helm-controller's release name without targetNamespace/releaseName).
 * The oldest and the newest helm built here install it (3.12.3 and 4.3.2): helm 3 through the post-renderer
 * that adds helm-controller's origin labels (test/harness/gitops.ts fluxPostRenderer); helm 4's CLI takes a
 * post-renderer only as a plugin, so its releases are known by their HelmRelease alone (the storage key).
 * helm-controller itself is not run: its module is not served by the module proxy here.
 *
 * Checked: every such release is Verified and managedBy Flux by `chartorigin scan` and by the controller, with the source's URL and
 * the version source-controller gave the chart; a copy of the real artifact with one template or one default
 * value edited is a Mismatch; and src/chart/flux-build.ts predicts the real artifact's Chart.yaml and values
 * (a differential check that catches any change in a later source-controller).
 *
 * fluxapp 1.0.0 is served identically by the HTTP repository and the registry (as podinfo is by its GitHub
 * Pages repository and ghcr.io): content cannot tell them apart, the HelmRelease's source does — releases
 * naming the HTTP HelmRepository are Verified from it, those naming the OCI HelmRepository or an OCIRepository
 * from the registry (resolve/decide.ts), by scan and by the controller alike.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readChartArchive } from '../../src/chart/archive.ts';
import { fluxBuild } from '../../src/chart/flux-build.ts';
import { helmValuesReadings, parseHelmYaml, type ChartContent } from '../../src/chart/content.ts';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess } from '../harness/controller-process.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { pushChart, runHelm, scratchDir } from '../harness/charts.ts';
import { startChartRepoServer, type ChartRepoServer } from '../harness/chart-repo-server.ts';
import { runChartorigin } from '../harness/cli.ts';
import { buildFluxAppCharts, fluxPostRenderer, installGitOpsCrds, withOciDigestVersion, type FluxAppCharts } from '../harness/gitops.ts';
import { runHelmBinary } from '../harness/helm-proof.ts';
import { startSourceController, type SourceController } from '../harness/source-controller.ts';
import type { HelmBinaryName } from '../harness/tools.ts';

const env = testEnv();
const cluster = env.cluster;
const ns = uniqueNamespace('e2e-fluxsc');
const HELMS = [
  ['helm3-old', '3'],
  ['helm4-latest', '4'],
] as const satisfies readonly (readonly [HelmBinaryName, string])[];
const VALUES_FILES = ['values.yaml', 'values-prod.yaml'];
/** Helm's media type of a chart's content layer (pkg/registry ChartLayerMediaType). */
const HELM_CHART_LAYER = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';

let server: ChartRepoServer;
let sc: SourceController;
let charts: FluxAppCharts;
/** A chart whose values.yaml has two YAML documents (Helm 4 merges them, Helm 3 reads the first). */
let multidoc: string;
const MULTIDOC_VALUES = 'replicaCount: 1\nimage:\n  tag: "1.0"\n---\nextra:\n  enabled: true\n';
let ociRepo: string;
/**
 * fluxapp 1.0.0 renamed `ocifluxapp`, a chart only the registry serves (the OCI builds' differential and proofs
 * without a second repository); fluxapp 1.0.0 itself is pushed there too, the same bytes as over HTTP.
 */
let ociPublished: string;
let ociManifestDigest: string;
/** The manifest of fluxapp 1.0.0 in the registry (the HTTP repository's archive, pushed as is). */
let sameManifestDigest: string;
const work = mkdtempSync(join(tmpdir(), 'fluxsc-'));

async function apply(obj: unknown): Promise<void> {
  await kubectl(cluster, ['apply', '--server-side', '--force-conflicts', '-f', '-'], { input: JSON.stringify(obj) });
}

interface Artifact {
  url: string;
  revision: string;
  digest: string;
}

interface SourceObject {
  metadata: { generation: number };
  status?: { observedGeneration?: number; artifact?: Artifact; conditions?: { type: string; status: string; message?: string }[] };
}

/** The object once source-controller reconciled its current generation and reports Ready with an artifact. */
async function ready(kind: 'helmchart' | 'ocirepository' | 'helmrepository', name: string): Promise<Required<Pick<NonNullable<SourceObject['status']>, 'artifact'>> & SourceObject> {
  let last = '';
  try {
    return await eventually(`${kind} ${ns}/${name} Ready with an artifact`, async () => {
      const o = JSON.parse(await kubectl(cluster, ['get', kind, name, '-n', ns, '-o', 'json'])) as SourceObject;
      const c = o.status?.conditions?.find((x) => x.type === 'Ready');
      last = c?.message ?? '';
      const artifact = o.status?.artifact;
      return c?.status === 'True' && artifact && o.status?.observedGeneration === o.metadata.generation ? { ...o, artifact } : undefined;
    }, 45_000, 250);
  } catch (err) {
    throw new Error(`${(err as Error).message} (Ready says: ${last}; source-controller log ${sc.proc.logFile})`);
  }
}

/** status.artifact.url's bytes, checked against status.artifact.digest, saved under their file name. */
async function download(a: Artifact): Promise<{ path: string; bytes: Buffer }> {
  const res = await fetch(a.url, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200, a.url);
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, a.digest, 'the artifact is what status.artifact.digest says');
  const dir = join(work, createHash('sha256').update(a.url).digest('hex').slice(0, 8));
  mkdirSync(dir, { recursive: true });
  const path = join(dir, a.url.split('/').pop() ?? 'chart.tgz');
  writeFileSync(path, bytes);
  return { path, bytes };
}

/** The HelmRelease (helm.toolkit.fluxcd.io/v2) and the HelmChart helm-controller makes of its spec.chart.spec. */
async function helmReleaseWithChart(name: string, chartSpec: Record<string, unknown>): Promise<string> {
  await apply({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name, namespace: ns }, spec: { interval: '10m', chart: { spec: chartSpec } } });
  const chartName = `${ns}-${name}`;
  await apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmChart', metadata: { name: chartName, namespace: ns }, spec: { interval: '10m', reconcileStrategy: 'ChartVersion', ...chartSpec } });
  return chartName;
}

/** `helm install <release> <tgz>` as helm-controller would run it for HelmRelease ns/<release>. */
async function install(helm: HelmBinaryName, release: string, tgz: string): Promise<void> {
  const postRender = helm.startsWith('helm3') ? ['--post-renderer', fluxPostRenderer(scratchDir('fluxsc-pr'), ns, release)] : [];
  await runHelmBinary(cluster, helm, ['install', release, tgz, '--namespace', ns, ...postRender]);
}

function untar(tgz: string, into: string): Promise<void> {
  mkdirSync(into, { recursive: true });
  return new Promise((resolve, reject) => execFile('tar', ['-xzf', tgz, '-C', into], (err) => (err ? reject(err) : resolve())));
}

/** A copy of a real artifact with one file edited, packaged again (same name and version). */
async function editedCopy(tgz: string, label: string, file: string, edit: (text: string) => string): Promise<string> {
  const dir = join(work, `edit-${label}`);
  await untar(tgz, dir);
  const chartDir = join(dir, readdirSync(dir)[0] ?? '');
  const path = join(chartDir, file);
  const before = readFileSync(path, 'utf8');
  const after = edit(before);
  assert.notEqual(after, before, `${label}: the edit changes ${file}`);
  writeFileSync(path, after);
  const out = join(dir, 'out');
  mkdirSync(out);
  await runHelm(['package', chartDir, '-d', out]);
  return join(out, readdirSync(out)[0] ?? '');
}

const text = (data: Uint8Array): string => Buffer.from(data).toString('utf8');
const byName = (files: readonly { name: string; data: Uint8Array }[]): Record<string, string> => Object.fromEntries(files.map((f) => [f.name, text(f.data)]));

/** Everything the built chart holds, as comparable plain data. */
function comparable(c: ChartContent): unknown {
  return { metadata: c.metadata, values: c.values, schema: c.schema ? text(c.schema) : undefined, templates: byName(c.templates), files: byName(c.files) };
}

const artifacts: Record<string, { path: string; bytes: Buffer; revision: string }> = {};

before(async () => {
  await installCrds(cluster);
  await installGitOpsCrds(cluster);
  await ensureNamespace(cluster, ns);
  charts = await buildFluxAppCharts();
  const md = join(work, 'multidoc');
  mkdirSync(join(md, 'templates'), { recursive: true });
  writeFileSync(join(md, 'Chart.yaml'), 'apiVersion: v2\nname: multidoc\nversion: 1.0.0\n');
  writeFileSync(join(md, 'values.yaml'), MULTIDOC_VALUES);
  writeFileSync(join(md, 'values-prod.yaml'), 'replicaCount: 3\n');
  writeFileSync(join(md, 'templates', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-md\ndata:\n  replicas: "{{ .Values.replicaCount }}"\n  extra: "{{ .Values.extra }}"\n');
  await runHelm(['package', md, '-d', charts.repoDir]);
  multidoc = join(charts.repoDir, 'multidoc-1.0.0.tgz');
  server = await startChartRepoServer({ dir: charts.repoDir });
  await runHelm(['repo', 'index', charts.repoDir, '--url', server.url]);
  ociRepo = `oci://${env.registry.host}/${ns}`;
  ociPublished = await editedCopy(charts.published, 'ocifluxapp', 'Chart.yaml', (t) => t.replace('name: fluxapp', 'name: ocifluxapp'));
  ociManifestDigest = (await pushChart(ociPublished, ociRepo)).manifestDigest;
  sameManifestDigest = (await pushChart(charts.published, ociRepo)).manifestDigest;
  sc = await startSourceController(cluster);

  await apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name: 'charts', namespace: ns }, spec: { url: server.url, interval: '10m' } });
  await apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name: 'ocicharts', namespace: ns }, spec: { type: 'oci', url: ociRepo, insecure: true, interval: '10m' } });
  await apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'OCIRepository', metadata: { name: 'fluxapp-oci', namespace: ns }, spec: { url: `${ociRepo}/ocifluxapp`, ref: { tag: '1.0.0' }, insecure: true, interval: '10m', layerSelector: { mediaType: HELM_CHART_LAYER, operation: 'copy' } } });
  await apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'OCIRepository', metadata: { name: 'fluxapp-same', namespace: ns }, spec: { url: `${ociRepo}/fluxapp`, ref: { tag: '1.0.0' }, insecure: true, interval: '10m', layerSelector: { mediaType: HELM_CHART_LAYER, operation: 'copy' } } });
  const made: Record<string, string> = {};
  for (const [, h] of HELMS) {
    made[`plain-${h}`] = await helmReleaseWithChart(`plain-${h}`, { chart: 'fluxapp', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts' } });
    made[`prod-${h}`] = await helmReleaseWithChart(`prod-${h}`, { chart: 'fluxapp', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts' }, valuesFiles: VALUES_FILES });
    made[`ociprod-${h}`] = await helmReleaseWithChart(`ociprod-${h}`, { chart: 'ocifluxapp', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'ocicharts' }, valuesFiles: VALUES_FILES });
    made[`multidoc-${h}`] = await helmReleaseWithChart(`multidoc-${h}`, { chart: 'multidoc', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts' }, valuesFiles: VALUES_FILES });
    // fluxapp from the registry: the same chart plain-* installs from the HTTP repository.
    made[`ocisame-${h}`] = await helmReleaseWithChart(`ocisame-${h}`, { chart: 'fluxapp', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'ocicharts' } });
    await apply({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: `fromoci-${h}`, namespace: ns }, spec: { interval: '10m', chartRef: { kind: 'OCIRepository', name: 'fluxapp-oci' } } });
    await apply({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: `samefromoci-${h}`, namespace: ns }, spec: { interval: '10m', chartRef: { kind: 'OCIRepository', name: 'fluxapp-same' } } });
  }
  // The HTTP HelmRepository's artifact is its index; a type `oci` HelmRepository is not reconciled at all
  // since source-controller 1.8 ("maintenance mode"): its HelmCharts read the registry themselves.
  await ready('helmrepository', 'charts');
  for (const [release, chart] of Object.entries(made)) {
    const o = await ready('helmchart', chart);
    artifacts[release] = { ...(await download(o.artifact)), revision: o.artifact.revision };
  }
  const oci = await ready('ocirepository', 'fluxapp-oci');
  artifacts['oci'] = { ...(await download(oci.artifact)), revision: oci.artifact.revision };
  const same = await ready('ocirepository', 'fluxapp-same');
  artifacts['same'] = { ...(await download(same.artifact)), revision: same.artifact.revision };
});

after(async () => {
  // Flux's objects first, while source-controller runs to remove its finalizers; then the ChartRepositories the
  // chartorigin controller made of them (cluster-scoped; no garbage collector here follows owner references).
  // Left behind, every later test that scans the whole cluster without --config would find them (zero-config).
  const kinds = 'helmchart,helmrepository,ocirepository';
  await kubectl(cluster, ['delete', kinds, '--all', '-n', ns, '--ignore-not-found', '--timeout=60s']).catch(() => undefined);
  await sc?.stop();
  // Still there (source-controller died before removing its finalizers): nobody else will remove them, and every
  // later controller's cluster-wide discovery would recreate ChartRepositories from them.
  const left = (await kubectl(cluster, ['get', kinds, '-n', ns, '-o', 'name']).catch(() => '')).split('\n').filter(Boolean);
  for (const n of left) {
    await kubectl(cluster, ['patch', n, '-n', ns, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']).catch(() => undefined);
    await kubectl(cluster, ['delete', n, '-n', ns, '--ignore-not-found', '--wait=false']).catch(() => undefined);
  }
  const names = (await kubectl(cluster, ['get', 'chartrepositories', '-o', 'name']).catch(() => '')).split('\n').filter((n) => n.includes(ns));
  for (const n of names) await kubectl(cluster, ['delete', n, '--ignore-not-found']).catch(() => undefined);
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('real source-controller builds, proven by chartorigin', () => {
  it('source-controller builds what Flux documents: the published archive as is without valuesFiles, merged values and `+<generation>` with them', async () => {
    const published = readFileSync(charts.published);
    assert.ok(artifacts['plain-3']?.bytes.equals(published), 'without valuesFiles the artifact is the published archive, byte for byte');
    assert.equal(artifacts['plain-3']?.revision, '1.0.0');
    for (const key of ['prod-3', 'ociprod-3']) {
      const built = readChartArchive(artifacts[key]?.bytes ?? new Uint8Array());
      assert.equal(built.metadata['version'], '1.0.0+1', `${key}: HelmChart generation 1`);
      assert.equal(artifacts[key]?.revision, '1.0.0+1');
    }
    assert.ok(artifacts['oci']?.bytes.equals(readFileSync(ociPublished)), 'OCIRepository layerSelector copy: the pushed chart layer itself');
    assert.equal(artifacts['oci']?.revision, `1.0.0@${ociManifestDigest}`);
    // The same chart from the registry, through a HelmRepository of type oci and an OCIRepository: the HTTP bytes.
    assert.ok(artifacts['ocisame-3']?.bytes.equals(published), 'HelmRepository type oci without valuesFiles: the pushed archive');
    assert.ok(artifacts['same']?.bytes.equals(published), 'OCIRepository copy of fluxapp: the HTTP archive too');
  });

  it('differential: src/chart/flux-build.ts predicts the real artifact (Chart.yaml, values, templates, files) for HTTP and OCI HelmRepositories, and for a reordered list at generation 2', async () => {
    const published = readChartArchive(readFileSync(charts.published));
    for (const [key, from] of [['prod-3', published], ['ociprod-3', readChartArchive(readFileSync(ociPublished))], ['prod-4', published]] as const) {
      const real = readChartArchive(artifacts[key]?.bytes ?? new Uint8Array());
      assert.deepEqual(comparable(real), comparable(fluxBuild(from, { valuesFiles: VALUES_FILES, versionMetadata: '1' })), key);
    }
    // values.yaml of two YAML documents: source-controller 1.9 loads the chart with Helm 4, which merges them.
    const md = readChartArchive(artifacts['multidoc-3']?.bytes ?? new Uint8Array());
    const mdPublished = readChartArchive(readFileSync(multidoc));
    const helm4Reading = helmValuesReadings(MULTIDOC_VALUES, 'values.yaml').helm4;
    assert.ok(helm4Reading, 'two documents');
    assert.deepEqual(md.values, { replicaCount: 3, image: { tag: '1.0' }, extra: { enabled: true } }, 'the second document is in the built values');
    assert.deepEqual(comparable(md), comparable(fluxBuild({ ...mdPublished, values: helm4Reading }, { valuesFiles: VALUES_FILES, versionMetadata: '1' })));
    // The hand-written build the other GitOps tests install (test/harness/gitops.ts MERGED) says the same.
    const handWritten = readChartArchive(readFileSync(charts.built));
    assert.deepEqual(comparable(handWritten), comparable(readChartArchive(artifacts['prod-3']?.bytes ?? new Uint8Array())));
    // A new generation with the files in the other order: lists replace, maps merge the other way round.
    const name = `${ns}-reordered`;
    await apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmChart', metadata: { name, namespace: ns }, spec: { interval: '10m', chart: 'fluxapp', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts' }, valuesFiles: VALUES_FILES } });
    await ready('helmchart', name);
    const reversed = [...VALUES_FILES].reverse();
    await apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmChart', metadata: { name, namespace: ns }, spec: { interval: '10m', chart: 'fluxapp', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts' }, valuesFiles: reversed } });
    const o = await ready('helmchart', name);
    assert.equal(o.metadata.generation, 2);
    const real = readChartArchive((await download(o.artifact)).bytes);
    assert.equal(real.metadata['version'], '1.0.0+2');
    assert.deepEqual(comparable(real), comparable(fluxBuild(published, { valuesFiles: reversed, versionMetadata: '2' })));
    assert.deepEqual(parseHelmYaml('image:\n  repository: example/app\n  tag: "1.0"\nports: [80, 443]\nreplicaCount: 1\n', 'expected'), real.values, 'values.yaml last: its maps and lists win');
  });

  it('every release installed from a real artifact is Verified, managedBy Flux, with its source and version; an edited template or default value is a Mismatch', async () => {
    const tmpl = await editedCopy(artifacts['prod-3']?.path ?? '', 'template', 'templates/configmap.yaml', (t) => t.replace('\ndata:\n', '\ndata:\n  injected: by-hand\n'));
    const vals = await editedCopy(artifacts['prod-3']?.path ?? '', 'values', 'values.yaml', (t) => t.replace(/replicaCount: 3/, 'replicaCount: 4'));
    const fromOci = await withOciDigestVersion(artifacts['oci']?.path ?? '', ociManifestDigest, join(work, 'fromoci'));
    const sameFromOci = await withOciDigestVersion(artifacts['same']?.path ?? '', sameManifestDigest, join(work, 'samefromoci'));
    const sameRef = `${ociRepo}/fluxapp`;
    const expected: Record<string, { match: string; version: string; repoURL?: string }> = {};
    for (const [helm, h] of HELMS) {
      for (const kind of ['plain', 'prod', 'ociprod', 'multidoc', 'ocisame'] as const) {
        const a = artifacts[`${kind}-${h}`];
        assert.ok(a);
        await install(helm, `${kind}-${h}`, a.path);
        expected[`${kind}-${h}`] = { match: 'Verified', version: a.revision, repoURL: kind === 'ociprod' ? `${ociRepo}/ocifluxapp` : kind === 'ocisame' ? sameRef : server.url };
      }
      // helm-controller's chartRef to the OCIRepository: the artifact, its version `+<12 hex of the manifest digest>`.
      await install(helm, `fromoci-${h}`, fromOci.path);
      expected[`fromoci-${h}`] = { match: 'Verified', version: fromOci.version, repoURL: `${ociRepo}/ocifluxapp` };
      await install(helm, `samefromoci-${h}`, sameFromOci.path);
      expected[`samefromoci-${h}`] = { match: 'Verified', version: sameFromOci.version, repoURL: sameRef };
      for (const [label, tgz] of [['tmpl', tmpl], ['vals', vals]] as const) {
        const release = `${label}-${h}`;
        await apply({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: release, namespace: ns }, spec: { interval: '10m', chart: { spec: { chart: 'fluxapp', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts' }, valuesFiles: VALUES_FILES } } } });
        await install(helm, release, tgz);
        expected[release] = { match: 'Mismatch', version: '1.0.0+1' };
      }
    }
    // No --config: the repositories are Flux's own sources, discovered in the cluster (product.md).
    const r = await runChartorigin(['scan', '-n', ns, '--kubeconfig', cluster.kubeconfig, '-o', 'json'], { env: { ...process.env, HOME: scratchDir('fluxsc-scan-home') }, timeoutMs: 90_000 });
    const reports = JSON.parse(r.stdout) as { name: string; managedBy?: string; chart: { version: string }; origin: { match: string; repoURL?: string; manifestDigest?: string; message?: string; candidates?: { repoURL: string }[] } }[];
    const got = new Map(reports.map((x) => [x.name, x]));
    for (const [name, want] of Object.entries(expected)) {
      const rep = got.get(name);
      assert.ok(rep, `${name} scanned\n${r.stderr}`);
      assert.deepEqual([rep.managedBy, rep.origin.match, rep.chart.version], ['Flux', want.match, want.version], `${name}: ${rep.origin.message ?? ''}`);
      if (want.repoURL) assert.equal(rep.origin.repoURL?.replace(/\/+$/, ''), want.repoURL, name);
    }
    // The controller decides alike (its ChartOrigin status).
    const controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', ns, '--gitops-interval=2s'], 'fluxsc-controller', { namespace: ns });
    try {
      for (const [name, want] of Object.entries(expected)) {
        const o = await eventually(`ChartOrigin ${ns}/${name} ${want.match}`, async () => {
          const c = JSON.parse(await kubectl(cluster, ['get', 'chartorigin', name, '-n', ns, '-o', 'json'])) as { status?: { managedBy?: string; chart?: { version?: string }; origin?: { match?: string; repoURL?: string } } };
          return c.status?.origin?.match === want.match ? c.status : undefined;
        }, 60_000, 500);
        assert.deepEqual([o.managedBy, o.chart?.version], ['Flux', want.version], name);
        if (want.repoURL) assert.equal(o.origin?.repoURL?.replace(/\/+$/, ''), want.repoURL, `${name}: the controller picks the HelmRelease's source too`);
      }
    } finally {
      await controller.stop();
    }
    for (const [, h] of HELMS) {
      // The same chart in both repositories: each release Verified from the source its HelmRelease names, both listed.
      for (const [release, field, source] of [
        [`plain-${h}`, 'sourceRef', 'HelmRepository'],
        [`prod-${h}`, 'sourceRef', 'HelmRepository'],
        [`ocisame-${h}`, 'sourceRef', 'HelmRepository'],
        [`samefromoci-${h}`, 'chartRef', 'OCIRepository'],
      ] as const) {
        const origin = got.get(release)?.origin;
        assert.deepEqual(origin?.candidates?.map((c) => c.repoURL.replace(/\/+$/, '')).sort(), [server.url.replace(/\/+$/, ''), sameRef].sort(), `${release}: both repositories serve it`);
        assert.match(origin?.message ?? '', new RegExp(`; chosen among .+ by HelmRelease ${ns}/${release}'s ${field} ${source} ${ns}/`), release);
      }
      assert.equal(got.get(`samefromoci-${h}`)?.origin.manifestDigest, sameManifestDigest);
      assert.equal(got.get(`fromoci-${h}`)?.origin.manifestDigest, ociManifestDigest);
      assert.match(got.get(`tmpl-${h}`)?.origin.message ?? '', /templates\/configmap\.yaml/);
      assert.match(got.get(`vals-${h}`)?.origin.message ?? '', /values/);
    }
  });
});
