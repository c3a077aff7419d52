import type { Logger } from 'pino';
import type { KubeConfig } from '../kube/kubeconfig.ts';
import { KubeApiError, kubeRequest } from '../kube/raw-client.ts';
import { sleep } from '../util/sleep.ts';
import { GROUP, VERSION } from '../publish/chart-origins.ts';
import { discoverFluxRepositories, type DiscoveredRepository } from '../sources/discovery/flux.ts';
import { FLUX_SOURCE_KIND_LABEL } from '../sources/chart-repository.ts';
import { redactUrl } from '../sources/url.ts';

/** Label on ChartRepositories the controller created from Flux sources (and may delete again). */
export const DISCOVERED_LABEL = 'chartorigin.io/discovered-from';
const FIELD_MANAGER = 'chartorigin-discovery';
const APPLY = { 'Content-Type': 'application/apply-patch+yaml' };
/** Flux sources change rarely; one list of each kind a minute costs two requests. */
const PERIOD_MS = 60_000;

interface ExistingRepository {
  name: string;
  url: string;
  discovered: boolean;
}

function secs(n: number): string {
  return n % 3600 === 0 ? `${n / 3600}h` : n % 60 === 0 ? `${n / 60}m` : `${n}s`;
}

/**
 * Keeps one ChartRepository per URL that Flux HelmRepository/OCIRepository objects declare, labelled
 * `chartorigin.io/discovered-from: flux`, with status.source naming the declaring object. A URL that a
 * ChartRepository written by hand already declares is left to it. Discovered objects whose URL no Flux
 * object declares any more are deleted. The RepositoryManager then serves them like any other.
 */
export async function runFluxDiscovery(kc: KubeConfig, logger: Logger, signal: AbortSignal, periodMs: number = PERIOD_MS): Promise<void> {
  let warned = false;
  while (!signal.aborted) {
    try {
      await syncOnce(kc, logger);
      warned = false;
    } catch (err) {
      if (!warned) logger.warn({ err: (err as Error).message }, 'Flux source discovery failed; will retry');
      warned = true;
    }
    await sleep(periodMs, signal);
  }
}

export async function syncOnce(kc: KubeConfig, logger: Logger): Promise<DiscoveredRepository[]> {
  const discovered = await discoverFluxRepositories(kc);
  const list = await kubeRequest<{ items?: { metadata?: { name?: string; labels?: Record<string, string> }; spec?: { url?: string } }[] }>(kc, { path: `/apis/${GROUP}/${VERSION}/chartrepositories` });
  const existing: ExistingRepository[] = (list.items ?? []).map((i) => ({
    name: i.metadata?.name ?? '',
    url: (i.spec?.url ?? '').replace(/\/+$/, ''),
    discovered: i.metadata?.labels?.[DISCOVERED_LABEL] === 'flux',
  }));
  const declaredByHand = new Set(existing.filter((e) => !e.discovered).map((e) => e.url));
  const wanted = discovered.filter((d) => !declaredByHand.has(d.spec.url));
  for (const d of wanted) {
    const s = d.spec;
    await kubeRequest(kc, {
      method: 'PATCH',
      path: `/apis/${GROUP}/${VERSION}/chartrepositories/${encodeURIComponent(d.name)}`,
      query: { fieldManager: FIELD_MANAGER, force: true },
      headers: APPLY,
      body: JSON.stringify({
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'ChartRepository',
        // The kind of the object whose Secret is used, in the same write as the spec (a label, not status, so
        // that the controller has it from the first event): its Secret is read as that kind's fetcher reads it.
        metadata: { name: d.name, labels: { [DISCOVERED_LABEL]: 'flux', [FLUX_SOURCE_KIND_LABEL]: d.sources[0]?.kind ?? 'HelmRepository', 'app.kubernetes.io/managed-by': 'chartorigin' } },
        spec: {
          url: s.url,
          interval: secs(s.intervalSeconds),
          ...(s.secretRef ? { secretRef: s.secretRef } : {}),
          ...(s.caSecretRef ? { caSecretRef: s.caSecretRef } : {}),
          ...(s.plainHTTP ? { plainHTTP: true } : {}),
          ...(s.provider ? { provider: s.provider } : {}),
        },
      }),
    });
    const source = d.sources[0];
    await kubeRequest(kc, {
      method: 'PATCH',
      path: `/apis/${GROUP}/${VERSION}/chartrepositories/${encodeURIComponent(d.name)}/status`,
      query: { fieldManager: FIELD_MANAGER, force: true },
      headers: APPLY,
      body: JSON.stringify({ apiVersion: `${GROUP}/${VERSION}`, kind: 'ChartRepository', metadata: { name: d.name }, status: { source } }),
    });
    if (!existing.some((e) => e.name === d.name)) {
      logger.info({ repository: d.name, url: redactUrl(s.url), sources: d.sources.map((x) => `${x.kind} ${x.namespace}/${x.name}`), notes: d.notes }, 'repository discovered from Flux');
    }
  }
  const keep = new Set(wanted.map((d) => d.name));
  for (const e of existing.filter((x) => x.discovered && !keep.has(x.name))) {
    try {
      await kubeRequest(kc, { method: 'DELETE', path: `/apis/${GROUP}/${VERSION}/chartrepositories/${encodeURIComponent(e.name)}` });
      logger.info({ repository: e.name }, 'discovered repository no longer declared by Flux; deleted');
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    }
  }
  return wanted;
}
