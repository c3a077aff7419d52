import type { ChartFingerprint } from './chart.ts';
import type { ChartStatus, ReleaseStatus } from './report.ts';

/** A decoded release revision: only what the product needs; values, manifests and notes are gone. */
export interface ReleaseRecord {
  release: ReleaseStatus;
  chart: ChartStatus;
  fingerprint: ChartFingerprint;
  /**
   * The Helm major that wrote the release, when the release says: Helm 4 always writes
   * `chart.schemamodtime` and `apply_method`, Helm 3 never does. Absent: unknown.
   */
  helmMajor?: 3 | 4 | undefined;
  /**
   * `helm rollback` copies revision N's chart and user values (info.description "Rollback to N"): the
   * values of a rolled-back --reuse-values upgrade come from revision N-1, not from this one's previous.
   */
  rollbackTo?: number | undefined;
  /** A source claim written by Helm itself (chart.metadata.repoURL or annotation meta.helm.sh/release-source). */
  claim?: { field: 'chart.metadata.repoURL' | 'meta.helm.sh/release-source'; value: string } | undefined;
  /**
   * The Flux HelmRelease that installed this release, from the origin labels helm-controller's
   * post-renderer puts on every object it renders (`helm.toolkit.fluxcd.io/name`, `/namespace`);
   * helm-controller puts no label on the release Secret itself.
   */
  flux?: { namespace: string; name: string } | undefined;
  /**
   * Whether the stored manifest holds an object (decode/flux-owner.ts manifestHasObject). helm-controller's
   * post-renderer labels every object it renders (since v0.9.0), so without `flux` a release with one is not
   * a current helm-controller's rendering, while one with none (a chart of hooks only, or nothing enabled) may
   * be Flux's with no label to say so: only its HelmRelease does (controller/flux-owners.ts).
   * Absent: not known (a record not decoded from a stored release).
   */
  manifestObjects?: boolean | undefined;
  /**
   * When the API server created the Secret or ConfigMap that stores this revision (its creationTimestamp, RFC
   * 3339), a deploy time no clock of Helm's writes (sources/discovery/flux.ts fluxOwnershipCandidate).
   * Absent: not known.
   */
  storedAt?: string | undefined;
}

/** A release's stored values, read only for --reuse-values proofs and dropped right after. */
export interface StoredValues {
  revision: number;
  status: string;
  values: Record<string, unknown> | null;
  config: Record<string, unknown> | null;
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
    /**
     * When the API server created the object: when this revision was first written (RFC 3339 as the API sends
     * it; a Date as @kubernetes/client-node's types deserialise it).
     */
    creationTimestamp?: string | Date | undefined;
  } | undefined;
  data?: Record<string, string> | undefined;
}
