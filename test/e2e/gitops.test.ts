/**
 * Flux- and Argo CD-managed charts against the real control plane, real helm and the real registry.
 *
 * Flux: source-controller v1.9's CRDs (HelmRepository, HelmChart, OCIRepository) come from its Go module
 * (scripts/tools.sh gitops-crds); helm-controller's module is not served by the module proxy here, so the
 * HelmRelease CRD below is a schemaless one for helm.toolkit.fluxcd.io/v2 and the objects are shaped as its
 * API types say. The chart Flux builds is produced here the way source-controller v1.9 does it
 * (internal/helm/chart/builder_remote.go): values.yaml replaced by the merge of the listed files (written
 * out literally in test/harness/gitops.ts, not computed by chartorigin's code), version `+<HelmChart generation>`, repackaged;
 * test/e2e/flux-source-controller.test.ts runs the real source-controller and checks that build equals its artifact.
 * It is installed with real helm 3 through a post-renderer that adds the origin labels helm-controller's
 * post-renderer adds (`helm.toolkit.fluxcd.io/name`, `/namespace`).
 * Argo CD: its Application CRD from github.com/argoproj/argo-cd/v3 and Applications with the status fields
 * Argo CD writes (status.sync.revision(s), status.history).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { eventually, installCrds, startControllerProcess, type ControllerProcess } from '../harness/controller-process.ts';
import { adminKubeConfig, testEnv, uniqueNamespace } from '../harness/env.ts';
import { helm, helmInstall } from '../harness/helm.ts';
import { runHelm, scratchDir } from '../harness/charts.ts';
import { startChartRepoServer, type ChartRepoServer } from '../harness/chart-repo-server.ts';
import { runChartorigin } from '../harness/cli.ts';
import { buildFluxAppCharts, fluxPostRenderer, installGitOpsCrds, withOciDigestVersion } from '../harness/gitops.ts';
import { OCI_EMPTY, OCI_MANIFEST, pushBlob, pushManifest } from '../harness/oci-artifacts.ts';

const env = testEnv();
const cluster = env.cluster;
const core = adminKubeConfig().makeApiClient(CoreV1Api);
const ns = uniqueNamespace('e2e-flux');
const ns2 = uniqueNamespace('e2e-flux2');
const argoNs = uniqueNamespace('e2e-argo');

let server: ChartRepoServer;
let controller: ControllerProcess;
const artifacts: Record<string, string> = {};


async function apply(obj: unknown): Promise<void> {
  await kubectl(cluster, ['apply', '--server-side', '--force-conflicts', '-f', '-'], { input: JSON.stringify(obj) });
}

interface OriginStatus {
  managedBy?: string;
  release?: { storage?: string; name?: string };
  chart?: { name?: string; version?: string };
  origin?: { match?: string; repository?: string; message?: string; repoURL?: string; manifestDigest?: string };
  latest?: { version?: string };
  upgrade?: string;
}

async function origin(namespace: string, name: string, match: string, timeoutMs = 90_000): Promise<OriginStatus> {
  return eventually(`ChartOrigin ${namespace}/${name} ${match}`, async () => {
    const o = JSON.parse(await kubectl(cluster, ['get', 'chartorigin', name, '-n', namespace, '-o', 'json'])) as { status?: OriginStatus };
    return o.status?.origin?.match === match ? o.status : undefined;
  }, timeoutMs, 500);
}

async function helmReleaseObject(name: string, spec: Record<string, unknown>): Promise<void> {
  await apply({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name, namespace: ns }, spec: { interval: '10m', ...spec } });
}

before(async () => {
  await installCrds(cluster);
  await installGitOpsCrds(cluster);
  for (const n of [ns, ns2, argoNs]) await ensureNamespace(cluster, n);

  // The published repository (fluxapp 1.0.0 and 1.1.0) and what source-controller builds of it.
  const charts = await buildFluxAppCharts();
  Object.assign(artifacts, { published: charts.published, built: charts.built, tampered: charts.tampered });
  server = await startChartRepoServer({ dir: charts.repoDir });
  await runHelm(['repo', 'index', charts.repoDir, '--url', server.url]);

  // Flux's declarations: one URL declared twice (two namespaces), and an OCIRepository on the registry.
  await apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name: 'charts', namespace: ns }, spec: { url: server.url, interval: '10m' } });
  await apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name: 'same-charts', namespace: ns2 }, spec: { url: `${server.url}/`, interval: '5m' } });
  const oci = env.oci['ocichart-1.0.0'];
  assert.ok(oci, 'the standard OCI chart is pushed');
  await apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'OCIRepository', metadata: { name: 'ocichart', namespace: ns }, spec: { url: oci.ref, ref: { tag: '1.0.0' }, insecure: true, interval: '10m' } });

  // Flux sources with a cloud provider: one on a registry its provider serves, one on a registry it does not.
  await apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'OCIRepository', metadata: { name: 'gar', namespace: ns }, spec: { url: 'oci://europe-docker.pkg.dev/proj/charts/app', ref: { tag: '1.0.0' }, provider: 'gcp', interval: '10m' } });
  await apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name: 'acr-elsewhere', namespace: ns }, spec: { type: 'oci', url: 'oci://ghcr.io/someone/charts', provider: 'azure', interval: '10m' } });

  controller = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', `${ns},${argoNs}`, '--write-back=release', '--gitops-interval=2s'], 'gitops', { namespace: ns, env: NO_CLOUD });
});

after(async () => {
  await controller?.stop();
  await server?.close();
  for (const kind of ['helmrepository', 'ocirepository']) await kubectl(cluster, ['delete', kind, '--all', '-n', ns, '--ignore-not-found']).catch(() => undefined);
  await kubectl(cluster, ['delete', 'helmrepository', '--all', '-n', ns2, '--ignore-not-found']).catch(() => undefined);
  // The ChartRepositories the controller made of them (cluster-scoped; this control plane has no garbage
  // collector to follow their owner references): left behind, a later test's discovery would find them
  // pointing at this test's closed server.
  const names = (await kubectl(cluster, ['get', 'chartrepositories', '-o', 'name']).catch(() => '')).split('\n').filter((n) => n.includes(ns) || n.includes(ns2));
  for (const n of names) await kubectl(cluster, ['delete', n, '--ignore-not-found']).catch(() => undefined);
});

/**
 * The gcp OCIRepository names the real europe-docker.pkg.dev: its metadata server is a closed local port, so that
 * no real metadata server is ever asked for a token (on a GCE CI machine 169.254.169.254 would answer).
 */
const NO_CLOUD: NodeJS.ProcessEnv = { GCE_METADATA_HOST: '127.0.0.1:1' };

describe('Flux sources are discovered', () => {
  it('one ChartRepository per URL, with status.source and the SOURCE column; the OCIRepository becomes its registry prefix', async () => {
    const name = `flux-${ns}-charts`;
    const repo = await eventually('discovered ChartRepository Ready', async () => {
      const r = JSON.parse(await kubectl(cluster, ['get', 'chartrepository', name, '-o', 'json'])) as { metadata: { labels?: Record<string, string> }; spec: { url: string }; status?: { source?: { kind: string; namespace: string; name: string }; conditions?: { status: string }[] } };
      return r.status?.conditions?.[0]?.status === 'True' && r.status.source ? r : undefined;
    }, 60_000, 500);
    assert.deepEqual(repo.status?.source, { kind: 'HelmRepository', namespace: ns, name: 'charts' });
    assert.equal(repo.spec.url, server.url);
    assert.equal(repo.metadata.labels?.['chartorigin.io/discovered-from'], 'flux');
    // Which fetcher's reading of the Secret applies (Helm's for a HelmRepository, go-containerregistry's for an OCIRepository).
    assert.equal(repo.metadata.labels?.['chartorigin.io/flux-source-kind'], 'HelmRepository');
    const all = JSON.parse(await kubectl(cluster, ['get', 'chartrepositories', '-o', 'json'])) as { items: { spec: { url: string } }[] };
    assert.equal(all.items.filter((i) => i.spec.url.replace(/\/+$/, '') === server.url).length, 1, 'the URL declared in two namespaces is one repository');
    const table = await kubectl(cluster, ['get', 'chartrepositories', name]);
    assert.match(table, /SOURCE/);
    assert.match(table, /HelmRepository/);
    const ociRepo = await eventually('OCIRepository discovered', async () => {
      const r = JSON.parse(await kubectl(cluster, ['get', 'chartrepository', `flux-${ns}-ocichart`, '-o', 'json'])) as { metadata: { labels?: Record<string, string> }; spec: { url: string; plainHTTP?: boolean }; status?: { source?: { kind: string } } };
      return r.status?.source ? r : undefined;
    }, 60_000, 500);
    assert.equal(ociRepo.spec.url, env.registry.url);
    assert.equal(ociRepo.spec.plainHTTP, true, 'Flux `insecure` on an OCI source is plain HTTP');
    assert.equal(ociRepo.status?.source?.kind, 'OCIRepository');
    assert.equal(ociRepo.metadata.labels?.['chartorigin.io/flux-source-kind'], 'OCIRepository');
  });
});

describe('Flux sources with spec.provider', () => {
  interface Repo {
    spec: { url: string; provider?: string; secretRef?: unknown };
    status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
  }
  const get = async (name: string): Promise<Repo> => JSON.parse(await kubectl(cluster, ['get', 'chartrepository', name, '-o', 'json'])) as Repo;

  it('the provider is carried into the discovered ChartRepository (the CRD keeps it)', async () => {
    const repo = await eventually('gar discovered', async () => (await get(`flux-${ns}-gar`).catch(() => undefined)) ?? undefined, 60_000, 500);
    assert.equal(repo.spec.url, 'oci://europe-docker.pkg.dev/proj/charts');
    assert.equal(repo.spec.provider, 'gcp');
    assert.equal(repo.spec.secretRef, undefined);
  });

  it("a provider on a registry it does not serve: Ready False InvalidSpec with Flux's message", async () => {
    const repo = await eventually('acr-elsewhere InvalidSpec', async () => {
      const r = await get(`flux-${ns}-acr-elsewhere`).catch(() => undefined);
      const ready = r?.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'False' ? r : undefined;
    }, 60_000, 500);
    assert.equal(repo.spec.provider, 'azure');
    const ready = repo.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.reason, 'InvalidSpec');
    assert.match(ready?.message ?? '', /spec\.provider: invalid Azure registry: 'ghcr\.io'\. must match \^\.\+\\\.\(azurecr/);
  });
});

describe('Flux-built charts are proven, not flagged', () => {
  it('a HelmRelease without valuesFiles: the published chart, Verified, managedBy Flux', async () => {
    await helmReleaseObject('plain', { chart: { spec: { chart: 'fluxapp', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts' } } } });
    await helm(cluster, 3, ['install', 'plain', artifacts['published'] ?? '', '--post-renderer', fluxPostRenderer(scratchDir('pr'), ns, 'plain')], { namespace: ns });
    const s = await origin(ns, 'plain', 'Verified');
    assert.equal(s.managedBy, 'Flux');
    assert.equal(s.origin?.repository, `flux-${ns}-charts`);
    assert.equal(s.latest?.version, '1.1.0');
  });

  it('a HelmRelease with valuesFiles: the merged values and the +generation version are Flux’s, named in origin.message', async () => {
    await helmReleaseObject('prod', { chart: { spec: { chart: 'fluxapp', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts' }, valuesFiles: ['values.yaml', 'values-prod.yaml'] } } });
    await helm(cluster, 3, ['install', 'prod', artifacts['built'] ?? '', '--post-renderer', fluxPostRenderer(scratchDir('pr'), ns, 'prod')], { namespace: ns });
    const s = await origin(ns, 'prod', 'Verified');
    assert.equal(s.managedBy, 'Flux');
    assert.equal(s.chart?.version, '1.0.0+1');
    assert.match(s.origin?.message ?? '', new RegExp(`^proven with values merged from values.yaml, values-prod.yaml by Flux \\(version \\+1 = the HelmChart generation, HelmRelease ${ns}/prod\\)`));
  });

  it('without a readable HelmRelease the merge is inferred from the chart’s own values files', async () => {
    await helm(cluster, 3, ['install', 'nohr', artifacts['built'] ?? '', '--post-renderer', fluxPostRenderer(scratchDir('pr'), ns, 'nohr')], { namespace: ns });
    const s = await origin(ns, 'nohr', 'Verified');
    assert.match(s.origin?.message ?? '', /values merged from values.yaml, values-prod.yaml by Flux .*inferred from the chart/);
  });

  it('a HelmRelease with chartRef to an OCIRepository: the version carries the manifest digest, checked against the registry', async () => {
    const oci = env.oci['ocichart-1.0.0'];
    assert.ok(oci);
    await helmReleaseObject('from-oci', { chartRef: { kind: 'OCIRepository', name: 'ocichart' } });
    const built = await withOciDigestVersion(oci.path, oci.manifestDigest, scratchDir('flux-oci'));
    await helm(cluster, 3, ['install', 'from-oci', built.path, '--post-renderer', fluxPostRenderer(scratchDir('pr'), ns, 'from-oci')], { namespace: ns });
    const s = await origin(ns, 'from-oci', 'Verified');
    assert.equal(s.chart?.version, built.version);
    assert.equal(s.origin?.repository, `flux-${ns}-ocichart`);
    assert.match(s.origin?.message ?? '', new RegExp(`built by Flux \\(version \\+${oci.manifestDigest.slice(7, 19)} = the OCI manifest digest \\(helm-controller\\), HelmRelease ${ns}/from-oci\\)`));
  });

  it('a template edited out of band stays Mismatch; the same build installed by plain helm is not explained by Flux', async () => {
    await helmReleaseObject('tampered', { chart: { spec: { chart: 'fluxapp', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts' }, valuesFiles: ['values.yaml', 'values-prod.yaml'] } } });
    await helm(cluster, 3, ['install', 'tampered', artifacts['tampered'] ?? '', '--post-renderer', fluxPostRenderer(scratchDir('pr'), ns, 'tampered')], { namespace: ns });
    const t = await origin(ns, 'tampered', 'Mismatch');
    assert.match(t.origin?.message ?? '', /templates\/configmap\.yaml/);
    await helmInstall(cluster, 3, 'helm-only', artifacts['built'] ?? '', { namespace: ns });
    const h = await origin(ns, 'helm-only', 'Mismatch');
    assert.equal(h.managedBy, 'Helm');
    assert.match(h.origin?.message ?? '', /values/);
  });

  it('a release none of whose rendered objects carries Flux\'s origin labels (hooks only, nothing enabled) is known by its HelmRelease: proven as Flux built it, by the controller and by scan', async () => {
    // Installed without the post-renderer: the manifest names no HelmRelease, as when nothing is rendered
    // outside hooks (Helm 3 post-renders no hook). Plain helm would make this build a Mismatch (the test above).
    await helmReleaseObject('nolabels', { chart: { spec: { chart: 'fluxapp', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts' }, valuesFiles: ['values.yaml', 'values-prod.yaml'] } } });
    await helmInstall(cluster, 3, 'nolabels', artifacts['built'] ?? '', { namespace: ns });
    const s = await origin(ns, 'nolabels', 'Verified');
    assert.equal(s.managedBy, 'Flux');
    assert.match(s.origin?.message ?? '', new RegExp(`values merged from values.yaml, values-prod.yaml by Flux .*HelmRelease ${ns}/nolabels`));
    const config = join(scratchDir('flux-scan'), 'config.yaml');
    writeFileSync(config, `repositories:\n  - name: charts\n    url: ${server.url}\n`);
    const r = await runChartorigin(['scan', '-n', ns, '--kubeconfig', cluster.kubeconfig, '--config', config, '--no-discover', '-o', 'json'], { env: { ...process.env, ...NO_CLOUD, HOME: scratchDir('flux-scan-home') } });
    const reports = JSON.parse(r.stdout) as { name: string; managedBy?: string; origin: { match: string } }[];
    const byName = new Map(reports.map((x) => [x.name, x]));
    assert.deepEqual([byName.get('nolabels')?.managedBy, byName.get('nolabels')?.origin.match], ['Flux', 'Verified'], r.stderr);
    assert.deepEqual([byName.get('helm-only')?.managedBy, byName.get('helm-only')?.origin.match], ['Helm', 'Mismatch'], 'no HelmRelease names helm-only');
    // Without --config: the cluster's ChartRepositories and Flux's own sources (product.md).
    const z = await runChartorigin(['scan', '-n', ns, '--kubeconfig', cluster.kubeconfig, '-o', 'json'], { env: { ...process.env, ...NO_CLOUD, HOME: scratchDir('flux-scan-home2') } });
    assert.match(z.stderr, /Flux sources in the cluster: \d+ repositor/);
    const zero = new Map((JSON.parse(z.stdout) as typeof reports).map((x) => [x.name, x]));
    assert.deepEqual([zero.get('nolabels')?.managedBy, zero.get('nolabels')?.origin.match], ['Flux', 'Verified'], z.stderr);
  });

  it('a HelmRelease applied after the controller last listed them, its release installed at once: no tamper alarm, ever — a Mismatch waits for a fresh list', async () => {
    // A controller that lists HelmReleases every 10 minutes: only the list before a Mismatch can know this one.
    const late = uniqueNamespace('e2e-flux-late');
    await ensureNamespace(cluster, late);
    const slow = await startControllerProcess(cluster, ['--leader-elect=false', '--namespaces', late, '--gitops-interval=10m', '--argocd=false', '--discover-flux-sources=false', '--write-back=release'], 'gitops-slow', { namespace: late });
    try {
      await eventually('the slow controller is ready (its first list of HelmReleases is done)', async () => ((await slow.ready()) ? true : undefined), 60_000, 250);
      await apply({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: 'late', namespace: late }, spec: { interval: '10m', chart: { spec: { chart: 'fluxapp', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts', namespace: ns }, valuesFiles: ['values.yaml', 'values-prod.yaml'] } } } });
      await helmInstall(cluster, 3, 'late', artifacts['built'] ?? '', { namespace: late });
      const s = await origin(late, 'late', 'Verified', 60_000);
      assert.equal(s.managedBy, 'Flux');
      const events = await kubectl(cluster, ['get', 'events', '-n', late, '--field-selector', 'involvedObject.name=late', '-o', 'jsonpath={range .items[*]}{.reason}{"\\n"}{end}']);
      assert.doesNotMatch(events, /OriginMismatch/, 'no tamper Event was ever emitted');
      // The published chart as it is (no values files): Verified by plain Helm's rules too, so only the owner
      // check before --write-back keeps chartorigin out of this Flux release.
      await apply({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: 'late-plain', namespace: late }, spec: { interval: '10m', chart: { spec: { chart: 'fluxapp', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts', namespace: ns } } } } });
      await helmInstall(cluster, 3, 'late-plain', artifacts['published'] ?? '', { namespace: late });
      assert.equal((await origin(late, 'late-plain', 'Verified', 60_000)).managedBy, 'Flux');
      const stored = await core.readNamespacedSecret({ name: 'sh.helm.release.v1.late-plain.v1', namespace: late });
      assert.equal(stored.metadata?.annotations?.['chartorigin.io/tarball-digest'], undefined, 'nothing written into the Flux release');
      // A plain helm release beside it is still written (the write-back works in this controller).
      await helmInstall(cluster, 3, 'late-helm', artifacts['published'] ?? '', { namespace: late });
      await eventually('provenance written into the Helm-managed release', async () => {
        const h = await core.readNamespacedSecret({ name: 'sh.helm.release.v1.late-helm.v1', namespace: late });
        return h.metadata?.annotations?.['chartorigin.io/tarball-digest'] ? true : undefined;
      }, 30_000, 500);
    } finally {
      await slow.stop();
    }
  });

  it('targetNamespace without storageNamespace: the release says one namespace, its Secret is in the HelmRelease\'s; ChartOrigin, metrics and uninstall follow the Secret', async () => {
    // helm-controller installs into targetNamespace and stores the release in the HelmRelease's namespace
    // (GetStorageNamespace); helm itself cannot split them, so the Secret helm wrote is moved as Flux would keep it.
    await helmReleaseObject('target', { targetNamespace: ns2, chart: { spec: { chart: 'fluxapp', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts' } } } });
    await helm(cluster, 3, ['install', 'target', artifacts['published'] ?? '', '--post-renderer', fluxPostRenderer(scratchDir('pr'), ns, 'target')], { namespace: ns2 });
    const stored = await core.readNamespacedSecret({ name: 'sh.helm.release.v1.target.v1', namespace: ns2 });
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'sh.helm.release.v1.target.v1', namespace: ns, labels: stored.metadata?.labels }, type: stored.type, data: stored.data } });
    await core.deleteNamespacedSecret({ name: 'sh.helm.release.v1.target.v1', namespace: ns2 });
    const s = await origin(ns, 'target', 'Verified');
    assert.equal(s.managedBy, 'Flux');
    const line = (text: string): string | undefined => text.split('\n').find((l) => l.startsWith('chartorigin_release_info{') && l.includes('release="target"'));
    const info = await eventually('the release\'s metrics', async () => line(await controller.metrics()), 30_000, 500);
    assert.match(info, new RegExp(`namespace="${ns}"`), 'labelled with the ChartOrigin\'s namespace, where the alert\'s kubectl finds it');
    await core.deleteNamespacedSecret({ name: 'sh.helm.release.v1.target.v1', namespace: ns });
    await eventually('series removed on uninstall', async () => (line(await controller.metrics()) === undefined ? true : undefined), 30_000, 500);
  });

  it('--write-back=release never touches a Flux-managed release, but still writes a Helm one', async () => {
    await helmInstall(cluster, 3, 'by-hand', artifacts['published'] ?? '', { namespace: ns });
    await origin(ns, 'by-hand', 'Verified');
    await eventually('provenance written into the Helm-managed release', async () => {
      const s = await core.readNamespacedSecret({ name: 'sh.helm.release.v1.by-hand.v1', namespace: ns });
      return s.metadata?.annotations?.['chartorigin.io/tarball-digest'] ? true : undefined;
    }, 30_000, 500);
    for (const r of ['plain', 'prod', 'nolabels']) {
      const s = await core.readNamespacedSecret({ name: `sh.helm.release.v1.${r}.v1`, namespace: ns });
      assert.equal(s.metadata?.annotations?.['chartorigin.io/tarball-digest'], undefined, `${r}: no annotation`);
      assert.equal(s.metadata?.resourceVersion !== undefined, true);
    }
    const log = readFileSync(controller.proc.logFile, 'utf8');
    assert.equal(log.split('\n').filter((l) => l.includes('"release":"prod"') && l.includes('managed by Flux; write-back skipped')).length, 1, 'said once per release');
  });
});

describe('Argo CD Applications with Helm sources', () => {
  const app = (name: string, spec: Record<string, unknown>, status: Record<string, unknown>) => ({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: { name, namespace: argoNs }, spec: { project: 'default', destination: { server: 'https://kubernetes.default.svc', namespace: 'apps' }, ...spec }, status });
  const history = (revision: string | string[]) => [{ id: 3, ...(Array.isArray(revision) ? { revisions: revision } : { revision }), deployedAt: '2026-11-30T10:00:00Z', deployStartedAt: '2026-11-30T09:59:58Z' }];

  it('single source (HTTP repository): the declared chart and synced version, with recommendations', async () => {
    await apply(app('web', { source: { repoURL: server.url, chart: 'fluxapp', targetRevision: '1.0.*' } }, { sync: { status: 'Synced', revision: '1.0.0' }, history: history('1.0.0') }));
    const s = await origin(argoNs, 'web', 'Unverified');
    assert.equal(s.managedBy, 'ArgoCD');
    assert.equal(s.release?.storage, 'Application');
    assert.equal(s.chart?.version, '1.0.0');
    assert.equal(s.latest?.version, '1.1.0');
    assert.equal(s.upgrade, 'Minor');
    assert.match(s.origin?.message ?? '', new RegExp(`Argo CD Application ${argoNs}/web`));
  });

  it('multi-source with a native OCI source: the synced manifest digest is checked against the registry', async () => {
    const oci = env.oci['ocichart-1.0.0'];
    assert.ok(oci);
    await apply(app('multi', {
      sources: [
        { repoURL: 'https://git.example/config.git', targetRevision: 'main', ref: 'values' },
        { repoURL: oci.ref, targetRevision: '1.0.0' },
        { repoURL: server.url, chart: 'fluxapp', targetRevision: '1.1.0' },
      ],
    }, { sync: { status: 'Synced', revisions: ['0123456789abcdef0123456789abcdef01234567', oci.manifestDigest, '1.1.0'] }, history: history(['0123456789abcdef0123456789abcdef01234567', oci.manifestDigest, '1.1.0']) }));
    const first = await origin(argoNs, 'multi', 'Verified');
    assert.equal(first.managedBy, 'ArgoCD');
    assert.equal(first.chart?.name, 'ocichart');
    assert.equal(first.origin?.manifestDigest, oci.manifestDigest);
    assert.equal(first.origin?.repository, `flux-${ns}-ocichart`);
    const second = await origin(argoNs, 'multi-2', 'Unverified');
    assert.equal(second.chart?.version, '1.1.0');
    assert.equal(second.upgrade, 'None');
  });

  it('a digest the registry does not serve under that tag is a Mismatch; a deleted Application takes its ChartOrigin', async () => {
    const oci = env.oci['ocichart-1.0.0'];
    assert.ok(oci);
    await apply(app('repushed', { source: { repoURL: oci.ref, targetRevision: '1.0.0' } }, { sync: { status: 'Synced', revision: `sha256:${'0'.repeat(64)}` }, history: history(`sha256:${'0'.repeat(64)}`) }));
    const s = await origin(argoNs, 'repushed', 'Mismatch');
    assert.match(s.origin?.message ?? '', /Argo CD synced manifest sha256:0{64}, but the registry serves sha256:/);
    await kubectl(cluster, ['delete', 'application', 'repushed', '-n', argoNs]);
    await eventually('ChartOrigin of the deleted Application gone', async () => {
      const out = await kubectl(cluster, ['get', 'chartorigin', '-n', argoNs, '-o', 'name']);
      return out.includes('repushed') ? undefined : true;
    }, 30_000, 500);
  });

  it('an Application named like a helm-installed release it took over: the release keeps the ChartOrigin, the two never alternate', async () => {
    await helmInstall(cluster, 3, 'selfmanaged', artifacts['published'] ?? '', { namespace: argoNs });
    await origin(argoNs, 'selfmanaged', 'Verified');
    await apply(app('selfmanaged', { source: { repoURL: server.url, chart: 'fluxapp', targetRevision: '1.1.0' } }, { sync: { status: 'Synced', revision: '1.1.0' }, history: history('1.1.0') }));
    // Several Argo CD sync periods (2 s): the status stays the release's, the Application's label never returns.
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 2_000));
      const o = JSON.parse(await kubectl(cluster, ['get', 'chartorigin', 'selfmanaged', '-n', argoNs, '-o', 'json'])) as { metadata: { labels?: Record<string, string> }; status?: OriginStatus };
      assert.equal(o.status?.managedBy, 'Helm', `round ${i}`);
      assert.equal(o.status?.chart?.version, '1.0.0', `round ${i}`);
      assert.equal(o.metadata.labels?.['chartorigin.io/declared-by'], undefined, `round ${i}`);
    }
  });

  it('a native OCI source of plain manifests (oras push; Argo CD 3.1+) gets no ChartOrigin', async () => {
    const oci = env.oci['ocichart-1.0.0'];
    assert.ok(oci);
    const host = oci.ref.replace(/^oci:\/\//, '').split('/')[0] ?? '';
    // What `oras push <host>/manifests/guestbook:1.16.1 guestbook.yaml` makes: an empty config, a tar+gzip layer.
    const empty = Buffer.from('{}');
    const layer = Buffer.from('not a chart, just manifests');
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_EMPTY, digest: await pushBlob(host, 'manifests/guestbook', empty), size: empty.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: await pushBlob(host, 'manifests/guestbook', layer), size: layer.length }],
    };
    const pushed = await pushManifest(host, 'manifests/guestbook', manifest, '1.16.1');
    await apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'OCIRepository', metadata: { name: 'guestbook', namespace: ns }, spec: { url: `oci://${host}/manifests/guestbook`, ref: { tag: '1.16.1' }, insecure: true, interval: '10m' } });
    await apply(app('guestbook', { source: { repoURL: `oci://${host}/manifests/guestbook`, targetRevision: '1.16.1', path: '.' } }, { sync: { status: 'Synced', revision: pushed.digest }, history: history(pushed.digest) }));
    await eventually('the controller looked at it', async () => (readFileSync(controller.proc.logFile, 'utf8').includes('Argo CD OCI source is not a Helm chart') ? true : undefined), 60_000, 500);
    const names = await kubectl(cluster, ['get', 'chartorigin', '-n', argoNs, '-o', 'name']);
    assert.doesNotMatch(names, /guestbook/);
  });

  it('kubectl get chartorigins -A shows Flux- and Argo-managed charts', async () => {
    const out = await kubectl(cluster, ['get', 'chartorigins', '-A', '-o', 'custom-columns=NS:.metadata.namespace,NAME:.metadata.name,BY:.status.managedBy']);
    assert.match(out, new RegExp(`${ns}\\s+prod\\s+Flux`));
    assert.match(out, new RegExp(`${argoNs}\\s+web\\s+ArgoCD`));
  });
});
