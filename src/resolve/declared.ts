import { analyzeRelease, type Analysis, type AnalyzeOptions } from './analyze.ts';
import type { ChartSource } from '../model/repository.ts';
import type { ReleaseRecord } from '../model/release.ts';
import { versionCandidates } from '../chart/version.ts';
import { MAX_SAME_VERSION_CANDIDATES } from './candidates.ts';

/** A chart that a GitOps tool declares and renders itself (Argo CD): no Helm release, no stored chart. */
export interface DeclaredChart {
  namespace: string;
  /** The ChartOrigin's name. */
  name: string;
  /** e.g. "Argo CD Application argocd/web" */
  declaredBy: string;
  chart: string;
  /** The chart version (for native OCI sources: the tag targetRevision names). */
  version: string;
  /** A manifest digest the tool synced (native OCI sources), checked against the registry. */
  syncedDigest?: string | undefined;
  revision: number;
  status: string;
  firstDeployed?: string | undefined;
  lastDeployed?: string | undefined;
}

const NOT_STORED = 'Argo CD renders charts with helm template and keeps no copy of the chart, so its content cannot be compared';

/**
 * Origin and advice for a declared chart: the same resolve → recommend path as a Helm release (so
 * recommendations, metrics and alerts are the same), restricted to the repository the tool declares.
 * Content cannot be compared (there is none), so a version found is Unverified — except when the tool
 * synced an OCI manifest digest: the registry serving that very digest under the tag is proof (Verified),
 * another digest is a Mismatch (the tag was re-pushed after the sync, or the sync did not come from here).
 */
export async function analyzeDeclared(d: DeclaredChart, source: ChartSource, options: Omit<AnalyzeOptions, 'sources' | 'verify'>): Promise<Analysis> {
  const record: ReleaseRecord = {
    release: { name: d.name, namespace: d.namespace, revision: d.revision, status: d.status, firstDeployed: d.firstDeployed, lastDeployed: d.lastDeployed, storage: 'Application' },
    chart: { name: d.chart, version: d.version, deprecated: false },
    // Never read: with verify false nothing is compared.
    fingerprint: { metadata: '', values: '', schema: '', lock: '', templates: {}, files: {} },
  };
  const analysis = await analyzeRelease(record, { ...options, sources: [source], verify: false });
  const { report } = analysis;
  report.managedBy = 'ArgoCD';
  const origin = report.origin;
  if (origin.match === 'Unverified') origin.message = `declared by ${d.declaredBy}; ${NOT_STORED}`;
  if (d.syncedDigest && origin.match === 'Unverified' && source.kind === 'oci') {
    try {
      // The tag Argo CD synced, looked up as Helm resolves a version (exact first). Several semver-equal
      // tags and none exact: only the synced digest can single one out, and no other digest is a Mismatch.
      const matches = versionCandidates(await source.versions(d.chart, options.signal), d.version);
      const served: string[] = [];
      for (const entry of matches.slice(0, MAX_SAME_VERSION_CANDIDATES)) {
        const fetched = await source.fetchChart(entry, options.signal);
        if (fetched.manifestDigest === d.syncedDigest || matches.length === 1) {
          origin.tarballDigest = fetched.tarballDigest;
          origin.manifestDigest = fetched.manifestDigest;
        }
        if (fetched.manifestDigest === d.syncedDigest) {
          origin.match = 'Verified';
          origin.message = `declared by ${d.declaredBy}; the registry serves manifest ${d.syncedDigest} for ${d.chart}:${entry.version}, the digest Argo CD synced`;
          break;
        }
        if (matches.length === 1) {
          origin.match = 'Mismatch';
          origin.message = `declared by ${d.declaredBy}; Argo CD synced manifest ${d.syncedDigest}, but the registry serves ${fetched.manifestDigest ?? 'another manifest'} for ${d.chart}:${entry.version}`;
        } else {
          served.push(`${entry.version}: ${fetched.manifestDigest ?? 'another manifest'}`);
        }
      }
      if (served.length > 0 && origin.match === 'Unverified') {
        origin.message = `${origin.message ?? ''}; Argo CD synced manifest ${d.syncedDigest}, which none of the ${matches.length} tags that may be ${d.chart}:${d.version} serves (${served.join('; ')}${matches.length > MAX_SAME_VERSION_CANDIDATES ? '; more not read' : ''})`;
      }
    } catch (err) {
      analysis.failures.push({ repository: source.config.name, reason: typeof err === 'object' && err !== null && 'reason' in err && typeof err.reason === 'string' ? err.reason : 'error', message: err instanceof Error ? err.message : String(err) });
    }
  }
  const ready = report.conditions.find((c) => c.type === 'Ready');
  if (ready && ready.status === 'True' && ready.reason !== origin.match) {
    ready.reason = origin.match;
    ready.message = `origin ${origin.match}${origin.repository ? ` in ${origin.repository}` : ''}.`;
  }
  return analysis;
}
