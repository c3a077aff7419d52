/**
 * Flux's HelmRepository and OCIRepository objects as a source of repositories for the CLI (`scan`/`inspect`
 * without --config, product.md): the same reading as the controller's discovery (sources/discovery/flux.ts),
 * with the Secrets they reference read with the user's permissions. Ranked after the cluster's
 * ChartRepositories, so that a URL the controller already turned into one is read from there.
 */
import { RepoError } from '../../model/repository.ts';
import { fluxRepositoryConfigs } from './flux.ts';
import type { DiscoveryContext, SourceSet } from './source-set.ts';

const ORIGIN = 'Flux sources in the cluster';

export async function discoverFluxSources(ctx: DiscoveryContext): Promise<SourceSet | undefined> {
  const kc = ctx.kubeConfig;
  if (!kc) return undefined;
  try {
    const found = await fluxRepositoryConfigs(kc, ctx.fluxObjects);
    if (!found.length) return undefined;
    // Notes name the Flux object and what could not be carried over (never a Secret's content).
    const notes = found.flatMap((f) => f.notes.map((n) => `${f.sources[0]?.kind ?? 'source'} ${f.sources[0]?.namespace ?? ''}/${f.sources[0]?.name ?? ''}: ${n}`));
    return { origin: ORIGIN, repositories: found.map((f) => ({ config: f.config, ...(f.error ? { error: new RepoError(f.config.name, 'invalid_config', `repository ${f.config.name}: ${f.error}`) } : {}) })), notes };
  } catch (err) {
    return { origin: ORIGIN, repositories: [], notes: [`cannot list them: ${(err as Error).message}`] };
  }
}
