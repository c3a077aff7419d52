/**
 * Zero-configuration sources for the CLI: every place the user already declared repositories, assembled into
 * one list. Order is precedence: `--config` first, then the cluster's ChartRepositories, then Flux sources,
 * then the user's Helm. One URL declared in several places is one repository (the first declaration wins,
 * product.md); a name already taken by another URL gets the origin as suffix (`main@helm`), since the
 * report names repositories and two different ones must not share a name.
 */
import type { RepositoryConfig } from '../../model/repository.ts';
import { discoverChartRepositories } from './cluster.ts';
import { discoverFluxSources } from './flux-sources.ts';
import { discoverHelmRepositories, helmPaths, loadRegistryLogins, shortPath } from './helm-config.ts';
import type { DiscoveredRepository, DiscoveryContext, RegistryLogins, SourceSet } from './source-set.ts';

export type { DiscoveredRepository, DiscoveryContext, RegistryLogins, SourceSet } from './source-set.ts';

/**
 * Every discoverer, in precedence order. Each returns a SourceSet (or undefined when it found nothing);
 * one that needs the cluster returns undefined without `ctx.kubeConfig`. Add a discoverer with one line here.
 */
export async function discoverSourceSets(ctx: DiscoveryContext): Promise<SourceSet[]> {
  const found = await Promise.all([
    discoverChartRepositories(ctx),
    discoverFluxSources(ctx),
    discoverHelmRepositories(ctx),
  ]);
  return found.filter((s): s is SourceSet => s !== undefined);
}

const SUFFIX: Record<string, string> = { 'ChartRepositories in the cluster': 'cluster', 'Flux sources in the cluster': 'flux' };

function urlKey(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return `${u.protocol}//${u.host.toLowerCase()}${u.pathname.replace(/\/+$/, '')}${u.search}`;
  } catch {
    return url;
  }
}

function suffixFor(origin: string): string {
  return SUFFIX[origin] ?? origin.split(/[\s(]/)[0]?.toLowerCase().replace(/[^a-z0-9-]/g, '') ?? 'other';
}

/**
 * One list from the sets: duplicates by URL dropped (first wins), names made unique. `used[i]` receives how
 * many of set i's repositories made it into the list.
 */
export function assembleRepositories(sets: readonly SourceSet[], used: number[] = []): DiscoveredRepository[] {
  const byUrl = new Set<string>();
  const names = new Set<string>();
  const out: DiscoveredRepository[] = [];
  for (const [i, set] of sets.entries()) {
    used[i] = 0;
    for (const r of set.repositories) {
      const key = urlKey(r.config.url);
      if (!r.error && byUrl.has(key)) continue;
      used[i] = (used[i] ?? 0) + 1;
      byUrl.add(key);
      let name = r.config.name;
      if (names.has(name)) {
        const base = `${name}@${suffixFor(set.origin)}`;
        name = base;
        for (let i = 2; names.has(name); i++) name = `${base}-${i}`;
      }
      names.add(name);
      out.push(name === r.config.name ? r : { ...r, config: { ...r.config, name } });
    }
  }
  return out;
}

/** OCI repositories without credentials of their own take the user's registry login for their host. */
export async function withRegistryLogins(repos: readonly DiscoveredRepository[], logins: RegistryLogins): Promise<{ repositories: DiscoveredRepository[]; used: string[] }> {
  const used = new Set<string>();
  const repositories = await Promise.all(
    repos.map(async (r) => {
      if (r.error || r.config.credentials || !r.config.url.startsWith('oci://')) return r;
      let u: URL;
      try {
        u = new URL(r.config.url.replace(/^oci:/, 'https:'));
      } catch {
        return r;
      }
      if (u.username) return r; // credentials in the URL are the repository's own
      const host = u.host;
      const credentials = await logins.lookup(host);
      if (!credentials) return r;
      used.add(host);
      const config: RepositoryConfig = { ...r.config, credentials };
      return { ...r, config };
    }),
  );
  return { repositories, used: [...used].sort() };
}

/** Everything the CLI uses: the sets found and the final list. */
export interface SourcesFound {
  sets: SourceSet[];
  /** Per set: how many of its repositories are used (the others were declared earlier under the same URL). */
  used: number[];
  repositories: DiscoveredRepository[];
  registryLogins: string[];
}

/**
 * `--config` (as a set, or undefined) + discovery (unless `discover` is false) → the repositories to use.
 * Discovery failures never throw: they become notes on the stderr line.
 */
export async function findSources(configSet: SourceSet | undefined, ctx: DiscoveryContext, discover: boolean): Promise<SourcesFound> {
  const sets = [...(configSet ? [configSet] : []), ...(discover ? await discoverSourceSets(ctx) : [])];
  const used: number[] = [];
  const assembled = assembleRepositories(sets, used);
  const logins = discover ? await withRegistryLogins(assembled, loadRegistryLogins(ctx.env)) : { repositories: assembled, used: [] };
  return { sets, used, repositories: logins.repositories, registryLogins: logins.used };
}

/** The line on stderr naming the sources used, or the hint when there are none. */
export function describeSources(found: SourcesFound, ctx: DiscoveryContext, discover: boolean): string {
  if (found.repositories.length === 0) {
    const notes = found.sets.flatMap((s) => s.notes.map((n) => `${s.origin}: ${n}`));
    const looked = discover
      ? `looked in ${ctx.kubeConfig ? 'the cluster (ChartRepository objects, Flux sources), ' : ''}Helm's ${shortPath(helmPaths(ctx.env).repositoryConfig, ctx.env)} and --config`
      : 'discovery is off (--no-discover) and --config names none';
    return `chartorigin: no chart repositories to compare with (${looked}${notes.length ? `; ${notes.join('; ')}` : ''}), so every release will show NotFound. Add one with "helm repo add NAME URL", or give --config repos.yaml.`;
  }
  const parts = found.sets.map((s, i) => {
    const n = found.used[i] ?? s.repositories.length;
    const dropped = s.repositories.length - n;
    const notes = [...s.notes, ...(dropped ? [`${dropped} more declared earlier under the same URL`] : [])];
    return `${s.origin}: ${n} ${n === 1 ? 'repository' : 'repositories'}${notes.length ? ` (${notes.join(', ')})` : ''}`;
  });
  if (found.registryLogins.length) parts.push(`registry logins for ${found.registryLogins.join(', ')}`);
  return `chartorigin: using ${parts.join('; ')}`;
}
