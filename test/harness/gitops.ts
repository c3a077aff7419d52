/** GitOps CRDs for tests: Flux source-controller's and Argo CD's from their Go modules, HelmRelease schemaless. */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubectl, type ClusterInfo } from './controlplane.ts';
import { REPO_ROOT } from './tools.ts';
import { runHelm } from './charts.ts';
import { waitEstablished } from './controller-process.ts';

/** scripts/tools.sh gitops-crds: HelmRepository, HelmChart, OCIRepository (source-controller v1.9.0), Application (argo-cd v3.2.0). */
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
