/** The ChartOrigin status shape (../shared/docs/product.md): what every publisher (CRD, metrics, CLI) prints. */

import type { Referrer } from './repository.ts';

export type MatchKind = 'Verified' | 'Unverified' | 'Mismatch' | 'Ambiguous' | 'NotFound';
export type UpgradeKind = 'None' | 'Patch' | 'Minor' | 'Major';
export type ReleaseStorage = 'Secret' | 'ConfigMap';

export interface ReleaseStatus {
  name: string;
  namespace: string;
  revision: number;
  status: string;
  firstDeployed?: string | undefined;
  lastDeployed?: string | undefined;
  storage: ReleaseStorage;
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
