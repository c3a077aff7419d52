/** The contract between the repository clients (I/O) and the engine that uses them. */

export type Credentials =
  | {
      kind: 'basic';
      username: string;
      password: string;
      /**
       * A Docker-format or credential-helper login read as Helm's registry client reads it (oras-go v2): a Basic
       * challenge takes it only when the user and the password are both non-empty (auth.Client fetchBasicAuth,
       * "missing username or password for basic auth"); a token service still gets what there is.
       */
      basicNeedsBoth?: true | undefined;
    }
  | { kind: 'bearer'; token: string }
  /**
   * An OAuth2 refresh token for an OCI registry's token service: a Docker-format login's `identitytoken`
   * (`az acr login`, `docker login` to registries that hand one out) or a credential helper's
   * `Username: <token>`. Never sent as a header: exchanged for access tokens by `POST <realm>` with
   * `grant_type=refresh_token`, as Helm's registry client does (src/sources/oci/client.ts).
   */
  | { kind: 'refresh'; token: string; basic?: BasicPair | undefined }
  /**
   * A registry token (a Docker-format login's `registrytoken`): an access token for the registry itself, sent
   * as `Authorization: Bearer <token>` to the registry's Bearer challenge without asking its token service, as
   * Helm's registry client does (oras-go v2 Credential.AccessToken, fetchBearerToken).
   */
  | {
      kind: 'access';
      token: string;
      basic?: BasicPair | undefined;
      /**
       * Also answer a Basic challenge with `Bearer <token>`, before the user and password: go-containerregistry's
       * reading (transport basicTransport, authn.AuthConfig.RegistryToken), which Flux's OCIRepository uses.
       * Helm's (oras-go v2) sends no token to Basic; see CredentialReading in sources/chart-repository.ts.
       */
      answersBasic?: true | undefined;
    };

/**
 * The user and password of a token login (`refresh`, `access`), for a registry that asks for Basic: oras-go v2
 * keeps them beside the tokens and answers a Basic challenge with them (fetchBasicAuth), only when both are
 * non-empty, else fails with "missing username or password for basic auth". Present only when both are.
 */
export interface BasicPair {
  username: string;
  password: string;
}

/**
 * A TLS client certificate (mutual TLS): the PEM certificate chain, leaf first, and its unencrypted PEM private
 * key. Presented to every server of the repository that asks for one, as Helm's getter and Flux's transport do.
 * The key is a secret like a password: never in a message, a log line, a status or a metric.
 */
export interface ClientCertificate {
  certPem: string;
  keyPem: string;
}

/** One configured repository, from a ChartRepository object or the CLI's --config file. */
export interface RepositoryConfig {
  name: string;
  /** https://… for a classic index.yaml repository, oci://host/prefix for an OCI registry. */
  url: string;
  /** Tie-break only, never over content evidence: the higher number wins. */
  priority: number;
  /** Refresh period in seconds. */
  intervalSeconds: number;
  /** Whole-request timeout in seconds, body included (default 60). */
  timeoutSeconds?: number | undefined;
  credentials?: Credentials | undefined;
  /**
   * Send the credentials to chart URLs on other hosts as well (`helm repo add --pass-credentials`, Helm's
   * `pass_credentials_all`); otherwise they go only to the repository's own scheme, host and port, as in Helm.
   */
  passCredentials?: boolean | undefined;
  /** PEM bundle trusted in addition to the system roots. */
  caPem?: string | undefined;
  /** Checked when declared (src/sources/client-certificate.ts): the key belongs to the certificate. */
  clientCertificate?: ClientCertificate | undefined;
  insecureSkipTLSVerify: boolean;
  /**
   * OCI: registry credentials from the ambient cloud identity (Flux's `spec.provider`), used when no
   * `credentials` are configured (src/sources/oci/cloud-identity.ts).
   */
  provider?: 'aws' | 'azure' | 'gcp' | undefined;
  /** OCI over http (local registries). */
  plainHTTP: boolean;
  /** Armored OpenPGP public keys that may sign this repository's .prov files. */
  keyring?: readonly string[] | undefined;
  /** A chart from here counts as proven only with a good .prov signature by a keyring key. */
  requireSignature?: boolean | undefined;
  /** OCI: PEM public keys that cosign `.sig` signatures of charts are verified against (`cosign sign --key`). */
  cosignPublicKeys?: string[] | undefined;
  /** OCI: keyless (Sigstore) signatures are verified and must come from one of these identities. */
  keyless?: KeylessPolicy | undefined;
}

/**
 * Who may sign keyless (a Fulcio certificate's OIDC issuer and subject, cosign's
 * `--certificate-oidc-issuer[-regexp]` / `--certificate-identity[-regexp]`, Flux's `matchOIDCIdentity`):
 * one of `issuer`/`issuerRegExp` and one of `subject`/`subjectRegExp`. Regular expressions are unanchored
 * as in cosign and Flux; write `^…$` to match the whole value.
 */
export interface OidcIdentity {
  issuer?: string | undefined;
  issuerRegExp?: string | undefined;
  subject?: string | undefined;
  subjectRegExp?: string | undefined;
}

export interface KeylessPolicy {
  /** A signature counts when its certificate matches any of these. */
  identities: OidcIdentity[];
  /**
   * Sigstore `trusted_root.json` (Fulcio CAs, Rekor and CT log keys, timestamp authorities) for
   * air-gapped clusters and private Sigstore instances; absent: Sigstore's public TUF root.
   */
  trustedRootJson?: string | undefined;
}

/** OCI only: reads the manifests and blobs that refer to a chart (for the signature checks in signatures/). */
export interface ArtifactReader {
  /** A manifest of the chart's repository by tag or digest, its digest checked; undefined on 404. */
  manifest(reference: string, signal?: AbortSignal): Promise<{ digest: string; body: Record<string, unknown> } | undefined>;
  /** A blob of the chart's repository, size-limited and checked against its digest. */
  blob(desc: { digest: string; size?: number | undefined }, maxBytes: number, what: string, signal?: AbortSignal): Promise<Buffer>;
}

/** One published version of a chart, as a repository describes it. */
export interface ChartVersionEntry {
  name: string;
  version: string;
  appVersion?: string | undefined;
  /** RFC 3339, from index.yaml `created` or the OCI `org.opencontainers.image.created` annotation. */
  created?: string | undefined;
  deprecated: boolean;
  /** `sha256:<hex>` of the .tgz when the repository advertises it (index.yaml `digest`, OCI layer). */
  digest?: string | undefined;
  /** Absolute chart URLs (index.yaml: resolved like Helm; OCI: oci://host/repo:tag). */
  urls: string[];
  /** OCI: the manifest the tag named when its details were read (this repository's, not the tarball's). */
  manifestDigest?: string | undefined;
  /** What the publisher says about this version beyond the version fields; absent when nothing. */
  notes?: PublisherNotes | undefined;
}

/**
 * Chart.yaml `home`/`sources` and the Artifact Hub annotations publishers already write, kept raw and
 * bounded while listing (a 20 MiB index has tens of thousands of versions); `changes` is parsed only for
 * the versions between the installed and the latest one.
 */
export interface PublisherNotes {
  /** `artifacthub.io/changes`, unparsed YAML; dropped when longer than 16 KiB. */
  changes?: string | undefined;
  /** `artifacthub.io/containsSecurityUpdates: "true"`. */
  securityUpdates?: boolean | undefined;
  /** `artifacthub.io/prerelease: "true"`: a pre-release whatever its version says. */
  prerelease?: boolean | undefined;
  home?: string | undefined;
  /** First entry of `sources`. */
  source?: string | undefined;
}

export interface FetchedChart {
  /** `sha256:<hex>` of the bytes received, after checking them against the advertised digest. */
  tarballDigest: string;
  /** OCI only: the manifest digest (`helm pull` prints it). */
  manifestDigest?: string | undefined;
  bytes: Buffer;
  /** The .prov file when the repository serves one. */
  provenance?: Buffer | undefined;
}

/** What kind of artifact refers to a chart manifest, from its artifact/config/layer media types. */
export type ReferrerKind = 'signature' | 'sbom' | 'attestation' | 'other';
/** How it was found: the OCI 1.1 referrers API, the `sha256-<hex>` tag schema fallback, or cosign's `.sig`/`.att`/`.sbom` tags. */
export type ReferrerSource = 'referrers-api' | 'tag-schema' | 'cosign-tag';

export interface Referrer {
  kind: ReferrerKind;
  /** The artifact type (or, without one, the media type that decided the kind). */
  artifactType: string;
  /** Digest of the referring manifest. */
  digest: string;
  mediaType?: string | undefined;
  source: ReferrerSource;
  /** Signatures, when the repository configures keys or keyless identities: this one verifies (signatures/cosign.ts). */
  verified?: boolean | undefined;
}

export interface ReferrersReport {
  /** At most the configured cap, signatures first. */
  referrers: Referrer[];
  /** Referrers found in all (may exceed the listed ones). */
  total: number;
  /** Why the list may be incomplete (a lookup failed, the cap was hit); never fatal for the origin. */
  note?: string | undefined;
}

/** A tag that served another manifest than the one first read from it (OCI tags are mutable). */
export interface MovedTag {
  tag: string;
  previousManifestDigest: string;
  manifestDigest: string;
  detectedAt: string;
}

export interface ChartSource {
  readonly config: RepositoryConfig;
  readonly kind: 'http' | 'oci';
  /** Every version the repository publishes for `chart`, newest first; [] when it has none. */
  versions(chart: string, signal?: AbortSignal): Promise<ChartVersionEntry[]>;
  /** Fills what a listing leaves out (OCI: created, appVersion, deprecated, digest from the manifest). */
  details(entry: ChartVersionEntry, signal?: AbortSignal): Promise<ChartVersionEntry>;
  /** Downloads the chart once and checks its digest. */
  fetchChart(entry: ChartVersionEntry, signal?: AbortSignal): Promise<FetchedChart>;
  /** HIP-0018 `repoURL` for `chart`, credentials removed. */
  repoURL(chart: string): string;
  /**
   * Checks the repository now (HTTP: conditional re-fetch of index.yaml; OCI: the registry's /v2/
   * endpoint with auth) for the controller's refresh loop and ChartRepository status. `changed` is true
   * when content may differ from the last probe (a new index, or the first success).
   */
  probe(signal?: AbortSignal): Promise<ProbeResult>;
  /** OCI only: artifacts referring to the chart manifest `manifestDigest` (cached per digest). Never throws. */
  referrers?(chart: string, manifestDigest: string, signal?: AbortSignal): Promise<ReferrersReport>;
  /** OCI only: reads artifacts referring to manifests of `chart` (signatures). */
  artifacts?(chart: string): ArtifactReader;
  /** OCI only: set when the tag of `chart` `version` was seen serving another manifest than before. */
  movedTag?(chart: string, version: string): MovedTag | undefined;
  /**
   * Starts loading what versions() needs for any chart (HTTP: index.yaml) without waiting; a failure
   * surfaces on the next versions() call. OCI sources have nothing chart-independent to load.
   */
  prefetch?(): void;
  /** Releases connections (keep-alive sockets would otherwise hold a CLI process open). */
  close(): Promise<void>;
}

export interface ProbeResult {
  /** HTTP: chart names in the index; OCI: chart repositories looked up so far. */
  charts: number;
  changed: boolean;
}

/**
 * Every failure of a repository client. `reason` is stable (metric label
 * `chartorigin_repository_fetch_errors_total{reason}`); the message names the repository and what
 * failed, never a credential.
 */
export const REPO_ERROR_REASONS = [
  'timeout',
  'network',
  'tls',
  'unauthorized',
  'forbidden',
  'not_found',
  'rate_limited',
  'server_error',
  'http_error',
  'too_large',
  'invalid_index',
  'invalid_manifest',
  'digest_mismatch',
  'invalid_archive',
  'redirect',
  /** The repository's declaration, or a Secret it references, could not be used. */
  'invalid_config',
] as const;
export type RepoErrorReason = (typeof REPO_ERROR_REASONS)[number];

export class RepoError extends Error {
  readonly reason: RepoErrorReason;
  readonly repository: string;
  constructor(repository: string, reason: RepoErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RepoError';
    this.reason = reason;
    this.repository = repository;
  }
}
