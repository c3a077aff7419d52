/**
 * Which registries a Flux `spec.provider` (aws | azure | gcp) may get cloud credentials for, and what the
 * credential request needs from the registry's host. Pure: the rules of fluxcd/pkg auth (aws/, azure/, gcp/
 * provider.go ParseArtifactRepository, as of fluxcd/pkg e2cfd1a, 2026-07), so a source Flux accepts is accepted
 * here and one Flux refuses is refused with the same pattern in the message. The I/O is in cloud-identity.ts.
 */

export const CLOUD_PROVIDERS = ['aws', 'azure', 'gcp'] as const;
export type CloudProvider = (typeof CLOUD_PROVIDERS)[number];

export function isCloudProvider(v: unknown): v is CloudProvider {
  return typeof v === 'string' && (CLOUD_PROVIDERS as readonly string[]).includes(v);
}

/**
 * fluxcd/pkg auth/aws: the ECR credential helper's pattern (awslabs/amazon-ecr-credential-helper), unanchored
 * and with its unescaped dots, as Go's regexp applies it; the second group is the region.
 */
export const AWS_REGISTRY_PATTERN = String.raw`([0-9+]*).dkr[.-]ecr(?:-fips)?\.([^/.]*)\.(amazonaws\.com[.cn]*|amazonaws\.eu|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov|on\.aws)`;
/** ECR Public: its token comes from ecr-public in us-east-1, whatever the region of the caller. */
export const AWS_PUBLIC_ECR = 'public.ecr.aws';
/** fluxcd/pkg auth/azure (from Kubernetes' legacy ACR credential provider). */
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
 * The registry of `artifactRepository` (`host[:port][/path…]`, no scheme) as fluxcd/pkg's
 * GetRegistryFromArtifactRepository has it: the host and port as written (go-containerregistry's RegistryStr;
 * Docker Hub's names cannot match any cloud pattern, so its normalisation is left out).
 */
export function registryOf(artifactRepository: string): string {
  const s = artifactRepository.replace(/\/$/, '');
  const slash = s.indexOf('/');
  return slash < 0 ? s : s.slice(0, slash);
}

/** The provider's registry input for `artifactRepository`, or the error Flux gives for a registry it does not serve. */
export function cloudRegistryInput(provider: CloudProvider, artifactRepository: string): RegistryInput {
  const registry = registryOf(artifactRepository);
  switch (provider) {
    case 'aws': {
      if (registry === AWS_PUBLIC_ECR) return { input: AWS_PUBLIC_ECR };
      const m = AWS_RE.exec(registry);
      // Go's FindAllStringSubmatch: the first match's second group, which may be empty (Flux does not check).
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
