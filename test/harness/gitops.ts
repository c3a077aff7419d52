/** GitOps CRDs for tests: Flux source-controller's and Argo CD's from their Go modules, HelmRelease schemaless. */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubectl, type ClusterInfo } from './controlplane.ts';
import { REPO_ROOT } from './tools.ts';
import { runHelm, scratchDir } from './charts.ts';
import { waitEstablished } from './controller-process.ts';

/** scripts/tools.sh gitops-crds: every source-controller v1.9.0 kind (HelmRepository, HelmChart, OCIRepository, GitRepository, Bucket, ExternalArtifact), Application (argo-cd v3.2.0). */
export const GITOPS_CRDS = join(REPO_ROOT, '.tools', 'gitops-crds');

/**
 * helm-controller's module is not served by the module proxy here, so its CRD is not available: this one
 * serves helm.toolkit.fluxcd.io/v2 HelmRelease without a schema; the objects the tests create follow the
 * API type (spec.chart.spec / spec.chartRef).
 */
export const HELMRELEASE_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'helmreleases.helm.toolkit.fluxcd.io' },
  spec: {
    group: 'helm.toolkit.fluxcd.io',
    names: { kind: 'HelmRelease', listKind: 'HelmReleaseList', plural: 'helmreleases', singular: 'helmrelease', shortNames: ['hr'] },
    scope: 'Namespaced',
    versions: [{ name: 'v2', served: true, storage: true, subresources: { status: {} }, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
};

export async function installGitOpsCrds(cluster: Pick<ClusterInfo, 'kubeconfig'>): Promise<void> {
  // Server-side: Argo CD's Application CRD (330 kB) is too big for the last-applied annotation.
  for (const f of readdirSync(GITOPS_CRDS)) await kubectl(cluster, ['apply', '--server-side', '--force-conflicts', '-f', join(GITOPS_CRDS, f)]);
  await kubectl(cluster, ['apply', '--server-side', '--force-conflicts', '-f', '-'], { input: JSON.stringify(HELMRELEASE_CRD) });
  await waitEstablished(cluster, ['helmreleases.helm.toolkit.fluxcd.io', 'helmcharts.source.toolkit.fluxcd.io', 'helmrepositories.source.toolkit.fluxcd.io', 'ocirepositories.source.toolkit.fluxcd.io', 'applications.argoproj.io']);
}

/**
 * A helm 3 `--post-renderer` that adds the origin labels helm-controller's post-renderer adds to every
 * rendered object (internal/postrender/common_renderer.go): how a release installed here looks Flux-managed.
 */
export function fluxPostRenderer(dir: string, hrNamespace: string, hrName: string): string {
  const script = join(dir, `flux-labels-${hrName}.mjs`);
  writeFileSync(
    script,
    `import YAML from ${JSON.stringify(join(REPO_ROOT, 'node_modules/yaml/dist/index.js'))};
let input = '';
for await (const c of process.stdin) input += c;
const docs = YAML.parseAllDocuments(input).map((d) => d.toJS()).filter(Boolean);
for (const o of docs) { o.metadata ??= {}; o.metadata.labels = { ...(o.metadata.labels ?? {}), 'helm.toolkit.fluxcd.io/name': ${JSON.stringify(hrName)}, 'helm.toolkit.fluxcd.io/namespace': ${JSON.stringify(hrNamespace)} }; }
process.stdout.write(docs.map((o) => '---\\n' + YAML.stringify(o)).join(''));
`,
  );
  const sh = join(dir, `flux-labels-${hrName}.sh`);
  writeFileSync(sh, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(script)}\n`);
  chmodSync(sh, 0o755);
  return sh;
}

/**
 * helm-controller's chartRef to an OCIRepository: the pulled chart installed with its version's build
 * metadata set to the first 12 hex of the artifact's manifest digest (mutateChartWithSourceRevision).
 * Unpacks `tgz` and packages it again with `helm package --version`.
 */
export async function withOciDigestVersion(tgz: string, manifestDigest: string, outDir: string): Promise<{ path: string; version: string }> {
  const work = mkdtempSync(join(tmpdir(), 'flux-oci-'));
  await new Promise<void>((resolve, reject) => execFile('tar', ['-xzf', tgz, '-C', work], (err) => (err ? reject(err) : resolve())));
  const dir = join(work, readdirSync(work)[0] ?? '');
  const base = /^version:\s*(\S+)/m.exec(readFileSync(join(dir, 'Chart.yaml'), 'utf8'))?.[1] ?? '';
  const version = `${base.replace(/\+.*$/, '')}+${manifestDigest.replace(/^sha256:/, '').slice(0, 12)}`;
  mkdirSync(outDir, { recursive: true });
  await runHelm(['package', dir, '--version', version, '-d', outDir]);
  const made = readdirSync(outDir).find((f) => f.endsWith(`${version}.tgz`));
  if (!made) throw new Error(`helm package wrote no chart with version ${version}`);
  rmSync(work, { recursive: true, force: true });
  return { path: join(outDir, made), version };
}

const CHART_YAML = (version: string): string => `apiVersion: v2\nname: fluxapp\nversion: ${version}\nappVersion: "1.0"\ndescription: a chart Flux installs\n`;
const VALUES = 'replicaCount: 1\nimage:\n  repository: example/app\n  tag: "1.0"\nports: [80, 443]\n';
const VALUES_PROD = 'replicaCount: 3\nimage:\n  tag: "1.1"\nports: [8080]\n';
/** What source-controller writes as values.yaml for valuesFiles [values.yaml, values-prod.yaml]: maps merged, lists replaced. */
const MERGED = 'image:\n  repository: example/app\n  tag: "1.1"\nports:\n- 8080\nreplicaCount: 3\n';
const TEMPLATE = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\n  labels:\n    app: {{ .Release.Name }}\ndata:\n  replicas: "{{ .Values.replicaCount }}"\n  image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"\n';

function fluxAppDir(parent: string, o: { version: string; values: string; template?: string }): string {
  const dir = join(parent, 'fluxapp');
  mkdirSync(join(dir, 'templates'), { recursive: true });
  writeFileSync(join(dir, 'Chart.yaml'), CHART_YAML(o.version));
  writeFileSync(join(dir, 'values.yaml'), o.values);
  writeFileSync(join(dir, 'values-prod.yaml'), VALUES_PROD);
  writeFileSync(join(dir, 'templates', 'configmap.yaml'), o.template ?? TEMPLATE);
  return dir;
}

async function packageTo(dir: string, out: string): Promise<string> {
  const before = new Set(readdirSync(out));
  await runHelm(['package', dir, '-d', out]);
  const made = readdirSync(out).find((f) => f.endsWith('.tgz') && !before.has(f));
  if (!made) throw new Error(`helm package wrote no .tgz into ${out}`);
  return join(out, made);
}

export interface FluxAppCharts {
  /** The published repository's folder: fluxapp 1.0.0 and 1.1.0 (run `helm repo index` on it once its URL is known). */
  repoDir: string;
  /** fluxapp 1.0.0 as published. */
  published: string;
  /**
   * What source-controller v1.9 builds of 1.0.0 for valuesFiles [values.yaml, values-prod.yaml] at HelmChart
   * generation 1 (internal/helm/chart/builder_remote.go: values.yaml replaced by the merge, written out
   * literally above, version `+1`, repackaged; test/e2e/flux-source-controller.test.ts checks it equals what the
   * real source-controller v1.9.0 builds). Installed by plain helm it is a chart whose values were edited.
   */
  built: string;
  /** The same build with a template edited afterwards (out of band). */
  tampered: string;
}

/** The chart Flux installs in the GitOps tests, with real `helm package`. */
export async function buildFluxAppCharts(): Promise<FluxAppCharts> {
  const repoDir = scratchDir('flux-repo');
  const work = scratchDir('flux-work');
  const published = await packageTo(fluxAppDir(join(work, 'p100'), { version: '1.0.0', values: VALUES }), repoDir);
  await packageTo(fluxAppDir(join(work, 'p110'), { version: '1.1.0', values: VALUES }), repoDir);
  const builtDir = join(work, 'built');
  mkdirSync(builtDir);
  const built = await packageTo(fluxAppDir(join(work, 'b'), { version: '1.0.0+1', values: MERGED }), builtDir);
  const tamperedDir = join(work, 'tampered');
  mkdirSync(tamperedDir);
  const tampered = await packageTo(fluxAppDir(join(work, 't'), { version: '1.0.0+1', values: MERGED, template: TEMPLATE.replace('data:\n', 'data:\n  injected: "yes"\n') }), tamperedDir);
  return { repoDir, published, built, tampered };
}
