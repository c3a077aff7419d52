import type { ChartFingerprint } from './chart.ts';
import type { ChartStatus, ReleaseStatus } from './report.ts';

/** A decoded release revision: only what the product needs; values, manifests and notes are gone. */
export interface ReleaseRecord {
  release: ReleaseStatus;
  chart: ChartStatus;
  fingerprint: ChartFingerprint;
  /**
   * The Flux HelmRelease that installed this release, from the origin labels helm-controller's
   * post-renderer puts on every object it renders (`helm.toolkit.fluxcd.io/name`, `/namespace`);
   * helm-controller puts no label on the release Secret itself.
   */
  flux?: { namespace: string; name: string } | undefined;
}

/** Kubernetes object as the API returns it (Secret or ConfigMap), only the fields decoding reads. */
export interface StoredReleaseObject {
  kind?: string | undefined;
  type?: string | undefined;
  metadata?: {
    name?: string | undefined;
    namespace?: string | undefined;
    labels?: Record<string, string> | undefined;
    resourceVersion?: string | undefined;
  } | undefined;
  data?: Record<string, string> | undefined;
}
