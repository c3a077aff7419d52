/** The ChartOrigin status shape (../shared/docs/product.md): what every publisher (CRD, metrics, CLI) prints. */

import type { Referrer } from './repository.ts';

/**
 * `Unreachable`: nothing was found, but a repository that may publish the chart could not be searched, so
 * NotFound ("no configured repository has it") would be a claim without evidence.
 */
export type MatchKind = 'Verified' | 'Unverified' | 'Mismatch' | 'Ambiguous' | 'NotFound' | 'Unreachable';
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
  /** The installed version, or the chart (its newest published version), is deprecated. */
  deprecated: boolean;
  /** Which of the two is deprecated, when `deprecated`. */
  deprecationMessage?: string | undefined;
}

export interface OriginCandidate {
  repository: string;
  repoURL: string;
  tarballDigest?: string | undefined;
}

/**
 * helm-prov: Helm's OpenPGP .prov; cosign: `cosign sign --key` (`.sig` tag); cosign-keyless: a Fulcio
 * certificate and a Rekor entry, as a `.sig` tag or a Sigstore bundle referrer; notation: detected only.
 */
export type SignatureType = 'helm-prov' | 'cosign' | 'cosign-keyless' | 'notation';

/** A .prov check (HIP-0018 provenance made stronger by the publisher's signature), or an OCI signature check. */
export interface SignatureStatus {
  type: SignatureType;
  verified: boolean;
  /**
   * Verified | Unsigned | UnknownKey | BadSignature | DigestMismatch | Malformed (all types);
   * IdentityMismatch | UntrustedRoot | CertificateInvalid | TlogMissing | TimestampInvalid (keyless);
   * NotVerifiable (a signature kind chartorigin only detects, such as notation).
   */
  reason: string;
  keyID?: string | undefined;
  /** helm-prov: the key's user ID; cosign-keyless: the certificate's subject (SAN) and issuer. */
  signer?: string | undefined;
  message: string;
  /** The origin repository requires a good signature (ChartRepository spec.requireSignature). */
  required: boolean;
}

/** A source claim Helm itself wrote into the release (read, shown, checked against the proof). */
export interface SourceClaim {
  /** Where it was read: `chart.metadata.repoURL` or the annotation `meta.helm.sh/release-source`. */
  field: string;
  /** The claimed source, credentials removed. */
  repoURL: string;
  /** Set when the content proof found an origin: whether it is the claimed one. */
  agrees?: boolean | undefined;
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
  /** A source claim found in the release itself (a newer Helm's), never trusted without the proof. */
  claim?: SourceClaim | undefined;
}

/** One entry of a publisher's `artifacthub.io/changes` annotation, bounded (src/chart/publisher-notes.ts). */
export interface ChartChange {
  /** added | changed | deprecated | removed | fixed | security; absent for plain-text entries. */
  kind?: string | undefined;
  description: string;
  links?: { name: string; url: string }[] | undefined;
}

export interface LatestStatus {
  version: string;
  appVersion?: string | undefined;
  created?: string | undefined;
  /** Shown, but never the upgrade target: `upgrade`, `sameMajor` and `versionsBehind` skip deprecated versions. */
  deprecated: boolean;
  /** Changes of the versions newer than the installed one up to this one, newest first (at most 20). */
  changes?: ChartChange[] | undefined;
  /** A newer allowed version says `artifacthub.io/containsSecurityUpdates: "true"`. */
  securityUpdates?: boolean | undefined;
  /** Where to read more: the chart's `home`, else its first `sources` URL. */
  home?: string | undefined;
}

/** metav1.Condition's limit on message (maxLength 32768): messages are cut to it, as plain text (util/terminal.ts plainText). */
export const MAX_CONDITION_MESSAGE = 32768;

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
  /** The newest published version is older than --upstream-stale-after; absent when its age is unknown. */
  upstreamStale?: boolean | undefined;
  /** Not in the CRD status; the version `upgrade` points at (never a deprecated one); feeds the outdated metric. */
  upgradeTarget?: string | undefined;
  /** Not in the CRD status; feeds chartorigin_release_major_versions_behind. */
  majorVersionsBehind?: number | undefined;
  /** Not in the CRD status; feeds chartorigin_release_installed_version_created_timestamp_seconds. */
  installedCreated?: string | undefined;
  lastChecked: string;
  conditions: Condition[];
}
