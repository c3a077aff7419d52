import type { Credentials, RepositoryConfig } from '../../model/repository.ts';
import type { RepoError } from '../../model/repository.ts';
import type { KubeConfig } from '../../kube/kubeconfig.ts';
import type { FluxSourceObjects } from './flux.ts';

/** One repository found by a discoverer (or read from --config). */
export interface DiscoveredRepository {
  config: RepositoryConfig;
  /** Helm's cached index.yaml for this repository, used instead of a download while younger than the interval. */
  cachedIndex?: { path: string; mtimeMs: number } | undefined;
  /** Declared but unusable (an unreadable Secret, an invalid entry): kept so that releases name the error. */
  error?: RepoError | undefined;
}

/**
 * What one discoverer found. `origin` names it on the "sources used" line of stderr (`--config repos.yaml`,
 * `ChartRepositories in the cluster`, `Helm (~/.config/helm/repositories.yaml)`); `notes` add facts
 * (`2 cached indexes`) or why it found nothing usable (`not allowed to list chartrepositories`).
 */
export interface SourceSet {
  origin: string;
  repositories: DiscoveredRepository[];
  notes: string[];
}

/** What a discoverer may use. `kubeConfig` is absent for `inspect` (no cluster). */
export interface DiscoveryContext {
  kubeConfig?: KubeConfig | undefined;
  env: NodeJS.ProcessEnv;
  /** Namespace for a ChartRepository's secretRef without one (the controller uses its own namespace). */
  defaultNamespace: string;
  /** Clock (ms), for freshness of cached indexes. */
  now: number;
  /** Flux sources as this run lists them, shared with what reads each Flux release's source (`scan`). */
  fluxObjects?: FluxSourceObjects | undefined;
}

/** Registry logins (Helm's registry config, Docker's config.json): credentials for OCI hosts. */
export interface RegistryLogins {
  /** Where they were read from, for the stderr line. */
  files: string[];
  /** Hosts with a login (`host[:port]`). */
  hosts: string[];
  lookup(host: string): Promise<Credentials | undefined>;
}
