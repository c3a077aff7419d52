/**
 * Which registries a Flux `spec.provider` (aws | azure | gcp) may get cloud credentials for, and what the
 * credential request needs from the registry's host. Pure: the rules of fluxcd/pkg auth (aws/, azure/, gcp/
 * provider.go ParseArtifactRepository, as of fluxcd/pkg e2cfd1a, 2026-07), so a source Flux refuses is refused
 * with the same pattern in the message; stricter than Flux's for aws (AWS_REGISTRY_PATTERN) and for host names
 * that are not the whole host (registryOf). The I/O is in cloud-identity.ts.
 */

export const CLOUD_PROVIDERS = ['aws', 'azure', 'gcp'] as const;
export type CloudProvider = (typeof CLOUD_PROVIDERS)[number];

export function isCloudProvider(v: unknown): v is CloudProvider {
  return typeof v === 'string' && (CLOUD_PROVIDERS as readonly string[]).includes(v);
}

/**
 * fluxcd/pkg auth/aws's pattern (awslabs/amazon-ecr-credential-helper's), anchored and with its dots escaped:
 * Flux applies it unanchored with `.` matching anything, so `1.dkr.ecr.us-east-1.amazonaws.com.evil.example`
 * passes there and would receive the account's ECR token (12 h, every private image of the account).
 * product.md forbids sending credentials to another host, so here the whole host name must be ECR's; the
 * second group is the region. `amazonaws\.com[.cn]*` becomes `amazonaws\.com(\.cn)?` (the only suffix it
 * was written for), the account and region are non-empty.
 */
export const AWS_REGISTRY_PATTERN = String.raw`^([0-9]+)\.dkr[.-]ecr(?:-fips)?\.([a-z0-9-]+)\.(amazonaws\.com(?:\.cn)?|amazonaws\.eu|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov|on\.aws)$`;
/** ECR Public: its token comes from ecr-public in us-east-1, whatever the region of the caller. */
export const AWS_PUBLIC_ECR = 'public.ecr.aws';
/** fluxcd/pkg auth/azure (from Kubernetes' legacy ACR credential provider); anchored there already. */
export const AZURE_REGISTRY_PATTERN = String.raw`^.+\.(azurecr\.io|azurecr\.cn|azurecr\.de|azurecr\.us)$`;
/** fluxcd/pkg auth/gcp: Container Registry, Artifact Registry (`<location>-docker.pkg.dev`), S3NS's registry. */
export const GCP_REGISTRY_PATTERN = String.raw`^(((.+\.)?gcr\.io)|(.+-docker\.pkg\.dev)|(docker\.s3nsregistry\.fr))$`;

const AWS_RE = new RegExp(AWS_REGISTRY_PATTERN);
const AZURE_RE = new RegExp(AZURE_REGISTRY_PATTERN);
const GCP_RE = new RegExp(GCP_REGISTRY_PATTERN);

/**
 * What a provider's credential request needs from the registry (fluxcd/pkg's "registry input", also its cache
 * key): aws → the ECR region, or `public.ecr.aws`; azure → the registry host (the token exchange is made
 * there); gcp → nothing (the token is the same for every registry), `gcp`.
 */
export type RegistryInput = { input: string } | { error: string };

/**
 * The host requests for `artifactRepository` (`host[:port][/path…]`, no scheme) go to, as the clients parse it
 * (WHATWG URL rules: names are lower-cased, IDNs punycoded) with its port as written; undefined when
 * it is not a plain reference. The patterns are matched against this host, never against the string as
 * written: `evil.example#x.gcr.io` or `x@1.dkr.ecr…` must not pass on a part of the string that is not the
 * host. Userinfo, `?`, `#` and `\` are refused outright (go-containerregistry's name.ParseReference, which
 * Flux uses, refuses them too).
 */
export function registryOf(artifactRepository: string): string | undefined {
  const s = artifactRepository.replace(/\/$/, '');
  if (/[@?#\\]/.test(s)) return undefined;
  try {
    const u = new URL(`https://${s}`);
    // A port as written stays, `:443` too (URL parsing drops it): Flux's anchored patterns refuse any port.
    const port = /^[^/]*:(\d+)(?:\/|$)/.exec(s)?.[1];
    return port === undefined ? u.host : `${u.hostname}:${port}`;
  } catch {
    return undefined;
  }
}

/**
 * The provider's registry input for `artifactRepository`, or the error Flux gives for a registry it does not
 * serve. A port is refused by every pattern (cloud registries serve on 443 only; Flux's anchored gcp and
 * azure patterns refuse `host:port` too, its unanchored aws one took it).
 */
export function cloudRegistryInput(provider: CloudProvider, artifactRepository: string): RegistryInput {
  const registry = registryOf(artifactRepository);
  // Nothing of the string is quoted: user info may hold a password.
  if (registry === undefined) return { error: 'the registry is not a plain host[:port] (user info, ?, # or a backslash in the reference)' };
  switch (provider) {
    case 'aws': {
      if (registry === AWS_PUBLIC_ECR) return { input: AWS_PUBLIC_ECR };
      const m = AWS_RE.exec(registry);
      if (!m) return { error: `invalid AWS registry: '${registry}'. must match ${AWS_REGISTRY_PATTERN}` };
      return { input: m[2] ?? '' };
    }
    case 'azure':
      // Custom clouds (AZURE_ENVIRONMENT_FILEPATH with a containerRegistryDNSSuffix) are not read here.
      return AZURE_RE.test(registry) ? { input: registry } : { error: `invalid Azure registry: '${registry}'. must match ${AZURE_REGISTRY_PATTERN}` };
    case 'gcp':
      return GCP_RE.test(registry) ? { input: 'gcp' } : { error: `invalid GCP registry: '${registry}'. must match ${GCP_REGISTRY_PATTERN}` };
  }
}

/**
 * Why a repository's transport may not carry a cloud credential, or undefined. A cloud token (ECR's is good
 * for 12 h and every image of the account) must never travel in clear or to a peer whose certificate was not
 * verified, so `provider` with plainHTTP or insecureSkipTLSVerify is a declaration error. Flux does not refuse
 * it: an OCIRepository with `insecure: true` (name.Insecure and InsecureSkipVerify, source-controller
 * ocirepository_controller.go transport/getTLSConfig) hands the provider's credential to whatever answers.
 */
export function cloudTransportProblem(t: { plainHTTP: boolean; insecureSkipTLSVerify: boolean }): string | undefined {
  const what = t.plainHTTP ? 'plainHTTP (Flux: insecure)' : t.insecureSkipTLSVerify ? 'insecureSkipTLSVerify' : undefined;
  return what && `not with ${what}: a cloud credential is sent only over https to a verified registry`;
}

/** The region AWS credentials and the ECR token are requested in (ECR Public's token exists in us-east-1 only). */
export function awsRegionOf(input: string): string {
  return input === AWS_PUBLIC_ECR ? 'us-east-1' : input;
}

/**
 * The Entra ID scope of an ACR token: azcontainerregistry v0.2.3's audience (the version fluxcd/pkg builds
 * with), the same in every cloud (fluxcd/pkg's tests expect it for azurecr.io, .cn and .us).
 */
export const AZURE_ACR_SCOPE = 'https://containerregistry.azure.net/.default';

/** The scopes fluxcd/pkg auth/gcp asks the metadata server for. */
export const GCP_SCOPES = ['https://www.googleapis.com/auth/cloud-platform', 'https://www.googleapis.com/auth/userinfo.email'] as const;

/** The registry user names of the credentials each provider's token becomes (fluxcd/pkg NewArtifactRegistryCredentials). */
export const GCP_REGISTRY_USER = 'oauth2accesstoken';
export const AZURE_REGISTRY_USER = '00000000-0000-0000-0000-000000000000';

/**
 * How long an issued credential is reused: 80 % of its lifetime, at most an hour — fluxcd/pkg cache TokenCache
 * (kubelet's rule for rotating ServiceAccount tokens, and TokenMaxDuration). ms.
 */
export function reuseFor(lifetimeMs: number): number {
  return Math.max(0, Math.min((lifetimeMs * 8) / 10, 3_600_000));
}

