/** The ChartOrigin status shape (../shared/docs/product.md): what every publisher (CRD, metrics, CLI) prints. */

import type { Referrer } from './repository.ts';

export type MatchKind = 'Verified' | 'Unverified' | 'Mismatch' | 'Ambiguous' | 'NotFound';
export type UpgradeKind = 'None' | 'Patch' | 'Minor' | 'Major';
export type ReleaseStorage = 'Secret' | 'ConfigMap';
/** Who installs the chart (product.md Additions): a person or CI with helm, Flux's helm-controller, or Argo CD. */
export type ManagedBy = 'Helm' | 'Flux' | 'ArgoCD';

export interface ReleaseStatus {
  name: string;
  namespace: string;
  revision: number;
  status: string;
  firstDeployed?: string | undefined;
  lastDeployed?: string | undefined;
  /** Application: the chart is declared by an Argo CD Application, and there is no Helm release. */
  storage: ReleaseStorage | 'Application';
}

export interface ChartStatus {
  name: string;
  version: string;
  appVersion?: string | undefined;
  deprecated: boolean;
}

export interface OriginCandidate {
  repository: string;
  repoURL: string;
  tarballDigest?: string | undefined;
}

/** A .prov check (HIP-0018 provenance made stronger by the publisher's signature). */
export interface SignatureStatus {
  type: 'helm-prov';
  verified: boolean;
  /** Verified | Unsigned | UnknownKey | BadSignature | DigestMismatch | Malformed */
  reason: string;
  keyID?: string | undefined;
  signer?: string | undefined;
  message: string;
  /** The origin repository requires a good signature (ChartRepository spec.requireSignature). */
  required: boolean;
}

export interface OriginStatus {
  repoURL?: string | undefined;
  tarballDigest?: string | undefined;
  manifestDigest?: string | undefined;
  repository?: string | undefined;
  match: MatchKind;
  candidates?: OriginCandidate[] | undefined;
  /** Why the match is what it is (which parts differ for Mismatch, which repos failed): no values. */
  message?: string | undefined;
  signature?: SignatureStatus | undefined;
  /** OCI: artifacts referring to the chart manifest (signatures, SBOMs, attestations), capped. */
  referrers?: Referrer[] | undefined;
  /** OCI: why the referrers list may be incomplete (lookup failed, cap reached). */
  referrersMessage?: string | undefined;
}

export interface LatestStatus {
  version: string;
  appVersion?: string | undefined;
  created?: string | undefined;
  deprecated: boolean;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number | undefined;
}

export interface OriginReport {
  release: ReleaseStatus;
  managedBy?: ManagedBy | undefined;
  chart: ChartStatus;
  origin: OriginStatus;
  latest?: LatestStatus | undefined;
  sameMajor?: { version: string } | undefined;
  upgrade?: UpgradeKind | undefined;
  versionsBehind?: number | undefined;
  /** Not in the CRD status; feeds chartorigin_release_major_versions_behind. */
  majorVersionsBehind?: number | undefined;
  /** Not in the CRD status; feeds chartorigin_release_installed_version_created_timestamp_seconds. */
  installedCreated?: string | undefined;
  lastChecked: string;
  conditions: Condition[];
}
