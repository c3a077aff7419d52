/**
 * The cluster's ChartRepository objects as a source of repositories, read exactly as the controller reads
 * them (resolveChartRepository: the same spec parser, credentials, CA and keys from the referenced Secrets).
 * Absent CRD (404) means "not installed here": no set. Not allowed to list (403) is said on stderr, since
 * the user may expect them.
 */
import { GROUP, VERSION } from '../../model/api.ts';
import { RepoError } from '../../model/repository.ts';
import { KubeApiError, kubeRequest } from '../../kube/raw-client.ts';
import { isObject, str } from '../../util/guards.ts';
import { credentialReadingOf, parseRepositorySpec, resolveChartRepository } from '../chart-repository.ts';
import type { DiscoveredRepository, DiscoveryContext, SourceSet } from './source-set.ts';

const ORIGIN = 'ChartRepositories in the cluster';

export async function discoverChartRepositories(ctx: DiscoveryContext): Promise<SourceSet | undefined> {
  const kc = ctx.kubeConfig;
  if (!kc) return undefined;
  let list: unknown;
  try {
    list = await kubeRequest<unknown>(kc, { path: `/apis/${GROUP}/${VERSION}/chartrepositories` });
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return undefined;
    if (err instanceof KubeApiError && (err.status === 403 || err.status === 401)) return { origin: ORIGIN, repositories: [], notes: ['not allowed to list chartrepositories, skipped'] };
    return { origin: ORIGIN, repositories: [], notes: [`cannot list them: ${(err as Error).message}`] };
  }
  const items = isObject(list) && Array.isArray(list['items']) ? list['items'] : [];
  const repositories = await Promise.all(
    items.filter(isObject).map(async (item): Promise<DiscoveredRepository | undefined> => {
      const name = isObject(item['metadata']) ? str(item['metadata']['name']) : undefined;
      if (!name) return undefined;
      try {
        return { config: await resolveChartRepository(kc, name, item['spec'], ctx.defaultNamespace, credentialReadingOf(isObject(item['metadata']) ? item['metadata']['labels'] : undefined)) };
      } catch (err) {
        // Unusable (bad spec, unreadable Secret): kept, so that releases name the error rather than NotFound.
        let url = 'https://invalid.invalid';
        let intervalSeconds = 3600;
        try {
          const spec = parseRepositorySpec(item['spec'], ctx.defaultNamespace);
          url = spec.url;
          intervalSeconds = spec.intervalSeconds;
        } catch {
          // the spec itself is what failed
        }
        const reason = err instanceof KubeApiError && err.status === 403 ? 'forbidden' : err instanceof KubeApiError && err.status === 404 ? 'not_found' : 'invalid_config';
        return {
          config: { name, url, priority: 0, intervalSeconds, insecureSkipTLSVerify: false, plainHTTP: false },
          error: new RepoError(name, reason, `ChartRepository ${name}: ${(err as Error).message}`),
        };
      }
    }),
  );
  const found = repositories.filter((r): r is DiscoveredRepository => r !== undefined);
  return found.length ? { origin: ORIGIN, repositories: found, notes: [] } : undefined;
}
