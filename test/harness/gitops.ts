/** GitOps CRDs for tests: Flux source-controller's and Argo CD's from their Go modules, HelmRelease schemaless. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { kubectl, type ClusterInfo } from './controlplane.ts';
import { REPO_ROOT } from './tools.ts';

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
  await kubectl(cluster, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/helmreleases.helm.toolkit.fluxcd.io', 'crd/helmcharts.source.toolkit.fluxcd.io', 'crd/helmrepositories.source.toolkit.fluxcd.io', 'crd/ocirepositories.source.toolkit.fluxcd.io', 'crd/applications.argoproj.io']);
}
