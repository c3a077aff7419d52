import { arr, isObject, str, type JsonObject } from '../../util/guards.ts';
import { byCodeUnits } from '../../util/order.ts';

/*
 * Argo CD Applications with Helm sources, read as Argo CD v3.2's API types define them
 * (pkg/apis/application/v1alpha1/types.go: ApplicationSource, SyncStatus). Argo CD renders charts with
 * `helm template`: there is no Helm release, so what it declares and what it synced is all there is.
 * How the repo-server resolves a source (reposerver/repository/repository.go, v3.2):
 *  - `repoURL` starting with oci:// is a native OCI source (IsOCI is checked before IsHelm): the revision
 *    it synced (status.sync.revision / revisions[i]) is the manifest digest; targetRevision is the tag.
 *  - `chart` set and repoURL http(s)://: a classic Helm repository; the revision is the chart version.
 *  - `chart` set and repoURL without a scheme (`registry/path`): a Helm OCI repository; the revision is the
 *    chart version, the chart at registry/path/<chart>.
 */

export const ARGOCD_GROUP = 'argoproj.io';

export interface DeclaredHelmSource {
  /** The ChartOrigin's name: the Application's, `<app>-<index>` for a later Helm source of a multi-source app. */
  originName: string;
  namespace: string;
  application: string;
  /** Index in spec.sources (0 for spec.source). */
  index: number;
  /** The repository as chartorigin addresses it: https://… or oci://<registry>/<path> (a prefix). */
  repositoryURL: string;
  chart: string;
  kind: 'http' | 'oci';
  /** A native OCI source (oci:// repoURL, no `chart`): the artifact may be a chart or plain manifests. */
  native: boolean;
  targetRevision: string;
  /**
   * What Argo CD deployed (status.history's last entry, for the same source), else what it last resolved the
   * target to (status.sync): a chart version, or for native OCI sources a manifest digest.
   */
  syncedRevision?: string | undefined;
  /** The Application's sync status (Synced, OutOfSync, Unknown). */
  syncStatus: string;
  /** status.history: the last deployment's id and time. */
  historyId?: number | undefined;
  deployedAt?: string | undefined;
  firstDeployedAt?: string | undefined;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

function sourceOf(v: unknown): { repoURL: string; chart: string; targetRevision: string } | undefined {
  if (!isObject(v)) return undefined;
  const repoURL = (str(v['repoURL']) ?? '').replace(/\/+$/, '');
  if (!repoURL) return undefined;
  let chart = str(v['chart']) ?? '';
  if (repoURL.startsWith('oci://')) {
    // Native OCI: the repoURL names the artifact; a Helm chart's repository ends with the chart name.
    if (!chart) chart = repoURL.slice(repoURL.lastIndexOf('/') + 1);
  } else if (!chart) {
    return undefined; // git or plain directory source: not a chart from a repository
  }
  return { repoURL, chart, targetRevision: str(v['targetRevision']) ?? '' };
}

/** Every Helm source of an Application (spec.source, or each of spec.sources), with what Argo CD synced. Pure. */
export function helmSourcesOf(app: JsonObject): DeclaredHelmSource[] {
  const m = isObject(app['metadata']) ? app['metadata'] : {};
  const namespace = str(m['namespace']) ?? '';
  const application = str(m['name']) ?? '';
  const spec = isObject(app['spec']) ? app['spec'] : {};
  const status = isObject(app['status']) ? app['status'] : {};
  const sync = isObject(status['sync']) ? status['sync'] : {};
  const history = arr(status['history']).filter(isObject);
  const last = history[history.length - 1];
  const multi = Array.isArray(spec['sources']) && spec['sources'].length > 0;
  const sources = multi ? arr(spec['sources']) : [spec['source']];
  const revisions = multi ? arr(sync['revisions']).map((r) => str(r)) : [str(sync['revision'])];
  // What was deployed is the last history entry's revision; status.sync.revision is what the last comparison
  // resolved targetRevision to (controller/state.go), which may not be deployed yet (manual sync, a failed
  // sync, a range that moved). The history entry counts only while it deployed the same source.
  const deployedSources = last ? (Array.isArray(last['sources']) && last['sources'].length ? arr(last['sources']) : [last['source']]) : [];
  const deployedRevisions = last ? (Array.isArray(last['revisions']) && last['revisions'].length ? arr(last['revisions']).map((r) => str(r)) : [str(last['revision'])]) : [];
  const out: DeclaredHelmSource[] = [];
  sources.forEach((raw, index) => {
    const s = sourceOf(raw);
    if (!s) return;
    const was = sourceOf(deployedSources[index]);
    const deployed = was && was.repoURL === s.repoURL && was.chart === s.chart ? deployedRevisions[index] : undefined;
    let repositoryURL: string;
    let chart = s.chart;
    let kind: DeclaredHelmSource['kind'];
    if (s.repoURL.startsWith('oci://')) {
      kind = 'oci';
      const withChart = str(isObject(raw) ? raw['chart'] : undefined) ? `${s.repoURL}/${s.chart}` : s.repoURL;
      repositoryURL = withChart.slice(0, withChart.lastIndexOf('/'));
      chart = withChart.slice(withChart.lastIndexOf('/') + 1);
    } else if (/^https?:\/\//.test(s.repoURL)) {
      kind = 'http';
      repositoryURL = s.repoURL;
    } else {
      kind = 'oci';
      repositoryURL = `oci://${s.repoURL}`;
    }
    out.push({
      originName: out.length === 0 ? application : `${application}-${index}`,
      namespace,
      application,
      index,
      repositoryURL,
      chart,
      kind,
      native: s.repoURL.startsWith('oci://') && !str(isObject(raw) ? raw['chart'] : undefined),
      targetRevision: s.targetRevision,
      syncedRevision: deployed || revisions[index] || undefined,
      syncStatus: str(sync['status']) ?? 'Unknown',
      historyId: typeof last?.['id'] === 'number' ? last['id'] : undefined,
      deployedAt: str(last?.['deployedAt']),
      firstDeployedAt: str(history[0]?.['deployedAt']),
    });
  });
  return out;
}

/** The synced revision is an OCI manifest digest (native OCI sources), not a version. */
export function isManifestDigest(revision: string | undefined): boolean {
  return revision !== undefined && DIGEST.test(revision);
}

/**
 * One declared source per ChartOrigin name. `<app>-<index>` can be another Application's own name (an app
 * `web` with a second Helm source and an app `web-1`): an Application's first Helm source keeps the name,
 * which is the Application's; otherwise the first by application name. The others are returned as dropped
 * (to be said once), so no ChartOrigin is written alternately by two sources.
 */
export function uniqueOriginNames(declared: readonly DeclaredHelmSource[]): { kept: DeclaredHelmSource[]; dropped: { source: DeclaredHelmSource; keptBy: DeclaredHelmSource }[] } {
  const rank = (d: DeclaredHelmSource): number => (d.originName === d.application ? 0 : 1);
  const order = [...declared].sort((a, b) => rank(a) - rank(b) || byCodeUnits(a.application, b.application) || a.index - b.index);
  const byKey = new Map<string, DeclaredHelmSource>();
  const dropped: { source: DeclaredHelmSource; keptBy: DeclaredHelmSource }[] = [];
  for (const d of order) {
    const key = `${d.namespace}/${d.originName}`;
    const held = byKey.get(key);
    if (held) dropped.push({ source: d, keptBy: held });
    else byKey.set(key, d);
  }
  return { kept: declared.filter((d) => byKey.get(`${d.namespace}/${d.originName}`) === d), dropped };
}
